// sweep.c: sweep files -> one hl_spec per run.
//
// A file is a sweep when its top level has "base", "variants" or "grid";
// otherwise it is a plain spec and loads as a sweep of one run (variant = the
// spec's name, is_sweep = 0).
//   {"name": "...",                       default: the file's base name
//    "base": "path.json" | {inline spec}, required; a path is looked up next
//                                         to the sweep file first, then as given
//    "variants": [{"name": "...", "set": {"dotted.key": value}}],
//                                         default: one variant named after the sweep
//    "grid": {"dotted.key": [values...]}} default: {}
// Runs = variants x grid points: variants in file order; grid points as the
// cartesian product over the grid keys in sorted order, the last key varying
// fastest, values in file order. Each run's tree is base, then the variant's
// set, then the grid point, then the CLI's --set overrides (so all of them
// enter the spec hash). A run keeps the base spec's name; the variant name and
// grid point are recorded in hl_sweep_run.
// Limits: the file is read through hl_json_read_file (16 MiB) and parsed by
// hl_json_parse, so a key repeated anywhere (a variant's "set", "grid", an
// inline base) is an error; a sweep expands to at most MAX_RUNS runs (the
// count, variants x grid points, is checked before anything is expanded);
// every run must fit in memory for training (hl_spec_check_train_memory)
// and a teacher's checkpoint must match it (hl_spec_check_teacher): sweeps
// are loaded to be run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness/spec_internal.h"
#include "harness/spec.h"

#define MAX_RUNS 10000
#define TRY(x) do { int rc_ = (x); if (rc_ != HL_OK) return rc_; } while (0)

typedef struct {
    const char *source;    // the sweep file, for messages
    char *err; size_t errlen;
} sweep_ctx;

typedef struct {
    const char *name;
    const cJSON *set;      // object of dotted key -> value, or NULL
} variant;

typedef struct {
    const char *key;       // dotted key
    const cJSON *values;   // non-empty array
    int n;
} grid_axis;

static int sweep_fail(const sweep_ctx *c, const char *path, const char *fmt, const char *what) {
    snprintf(c->err, c->errlen, "%s: %s: ", c->source, path);
    size_t used = strlen(c->err);
    snprintf(c->err + used, c->errlen - used, fmt, what);
    return HL_EBADINPUT;
}

static int is_sweep_tree(const cJSON *root) {
    return cJSON_IsObject(root) && (cJSON_HasObjectItem(root, "base") || cJSON_HasObjectItem(root, "variants") ||
                                    cJSON_HasObjectItem(root, "grid"));
}

static int check_top_level_keys(const sweep_ctx *c, const cJSON *root) {
    static const char *const allowed[] = {"name", "base", "variants", "grid", NULL};
    for (const cJSON *k = root->child; k; k = k->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++) ok |= !strcmp(allowed[i], k->string);
        if (!ok) return sweep_fail(c, k->string, "%s", "unknown key (a sweep has name, base, variants, grid)");
    }
    return HL_OK;
}

// ------------------------------------------------------------ base
// "dir/of/sweep.json" + "x.json" -> "dir/of/x.json" (malloc'd).
static char *path_next_to(const char *sweep_path, const char *rel) {
    const char *slash = strrchr(sweep_path, '/');
    size_t dir_len = slash ? (size_t)(slash - sweep_path + 1) : 0;
    char *p = malloc(dir_len + strlen(rel) + 1);
    if (!p) return NULL;
    memcpy(p, sweep_path, dir_len);
    strcpy(p + dir_len, rel);
    return p;
}

// Loads the base spec tree (a copy the caller frees) and its default name.
static int load_base(const sweep_ctx *c, const cJSON *base, const char *sweep_name,
                     cJSON **tree, char *base_name, size_t name_len) {
    char got[80];
    *tree = NULL;
    if (!base) return sweep_fail(c, "base", "%s", "required: a spec path or an inline spec object");
    if (cJSON_IsObject(base)) {
        snprintf(base_name, name_len, "%s", sweep_name);
        *tree = cJSON_Duplicate(base, 1);
        return *tree ? HL_OK : sweep_fail(c, "base", "%s", "out of memory");
    }
    if (!cJSON_IsString(base) || !base->valuestring[0]) {
        hl_json_brief(base, got, sizeof got);
        return sweep_fail(c, "base", "must be a spec path or an inline spec object (got %s)", got);
    }
    char *path = base->valuestring[0] == '/' ? strdup(base->valuestring) : path_next_to(c->source, base->valuestring);
    if (!path) return sweep_fail(c, "base", "%s", "out of memory");
    if (access(path, R_OK) != 0 && access(base->valuestring, R_OK) == 0) {
        free(path);
        path = strdup(base->valuestring);
        if (!path) return sweep_fail(c, "base", "%s", "out of memory");
    }
    char *text = NULL, why[HL_ERR_LEN];
    int rc = hl_json_read_file(path, &text, why, sizeof why);
    if (rc == HL_OK) rc = hl_json_parse(text, path, tree, why, sizeof why);
    free(text);
    if (rc == HL_OK && is_sweep_tree(*tree)) {
        snprintf(why, sizeof why, "%s: is a sweep, not a spec", path);
        rc = HL_EBADINPUT;
    }
    if (rc == HL_OK) rc = hl_spec_check_tree(*tree, path, why, sizeof why);
    hl_json_basename(path, base_name, name_len);
    free(path);
    if (rc != HL_OK) {
        cJSON_Delete(*tree); *tree = NULL;
        return sweep_fail(c, "base", "%s", why);
    }
    return HL_OK;
}

// ------------------------------------------------------------ variants
static int read_variant(const sweep_ctx *c, const cJSON *v, int i, variant *out) {
    char path[64], where[96], got[80];
    snprintf(path, sizeof path, "variants[%d]", i);
    hl_json_brief(v, got, sizeof got);
    if (!cJSON_IsObject(v)) return sweep_fail(c, path, "must be an object {\"name\", \"set\"} (got %s)", got);
    for (const cJSON *k = v->child; k; k = k->next) {
        snprintf(where, sizeof where, "%s.%s", path, k->string);
        if (strcmp(k->string, "name") && strcmp(k->string, "set")) return sweep_fail(c, where, "%s", "unknown key (a variant has name, set)");
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    snprintf(where, sizeof where, "%s.name", path);
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        hl_json_brief(name, got, sizeof got);
        return sweep_fail(c, where, "must be a non-empty string (got %s)", name ? got : "nothing");
    }
    if (strlen(name->valuestring) >= HL_NAME_LEN) return sweep_fail(c, where, "%s", "too long");
    out->name = name->valuestring;
    out->set = cJSON_GetObjectItemCaseSensitive(v, "set");
    snprintf(where, sizeof where, "%s.set", path);
    if (out->set && !cJSON_IsObject(out->set)) {
        hl_json_brief(out->set, got, sizeof got);
        return sweep_fail(c, where, "must be an object of dotted keys (got %s)", got);
    }
    snprintf(where, sizeof where, "%s.set.", path);
    for (const cJSON *k = out->set ? out->set->child : NULL; k; k = k->next)
        TRY(hl_spec_check_override(k->string, k, c->source, where, c->err, c->errlen));
    return HL_OK;
}

static int read_variants(const sweep_ctx *c, const cJSON *list, const char *sweep_name,
                         variant **out, int *n_out) {
    char got[80];
    *out = NULL; *n_out = 0;
    if (!list) {
        *out = calloc(1, sizeof **out);
        if (!*out) return sweep_fail(c, "variants", "%s", "out of memory");
        (*out)[0].name = sweep_name;
        *n_out = 1;
        return HL_OK;
    }
    hl_json_brief(list, got, sizeof got);
    if (!cJSON_IsArray(list)) return sweep_fail(c, "variants", "must be an array of {\"name\", \"set\"} (got %s)", got);
    int n = cJSON_GetArraySize(list);
    if (n == 0) return sweep_fail(c, "variants", "%s", "must not be empty (leave it out for a single run)");
    *out = calloc((size_t)n, sizeof **out);
    if (!*out) return sweep_fail(c, "variants", "%s", "out of memory");
    int i = 0;
    for (const cJSON *v = list->child; v; v = v->next, i++) {
        TRY(read_variant(c, v, i, &(*out)[i]));
        *n_out = i + 1;
        for (int j = 0; j < i; j++)
            if (!strcmp((*out)[j].name, (*out)[i].name)) {
                char path[64];
                snprintf(path, sizeof path, "variants[%d].name", i);
                return sweep_fail(c, path, "duplicate variant name (got \"%s\")", (*out)[i].name);
            }
    }
    return HL_OK;
}

// ------------------------------------------------------------ grid
// Checks that a dotted key names a spec key, whatever its value.
static int check_key_only(const sweep_ctx *c, const char *dotted, const char *where) {
    cJSON *null_value = cJSON_CreateNull();
    if (!null_value) return sweep_fail(c, where, "%s", "out of memory");
    int rc = hl_spec_check_override(dotted, null_value, c->source, where, c->err, c->errlen);
    cJSON_Delete(null_value);
    return rc;
}

static int compare_axes(const void *a, const void *b) {
    return strcmp(((const grid_axis *)a)->key, ((const grid_axis *)b)->key);
}

static int read_grid(const sweep_ctx *c, const cJSON *grid, grid_axis **out, int *n_out) {
    char got[80], path[300];
    *out = NULL; *n_out = 0;
    if (!grid) return HL_OK;
    hl_json_brief(grid, got, sizeof got);
    if (!cJSON_IsObject(grid)) return sweep_fail(c, "grid", "must be an object {\"dotted.key\": [values...]} (got %s)", got);
    int n = cJSON_GetArraySize(grid), i = 0;
    if (n == 0) return HL_OK;
    *out = calloc((size_t)n, sizeof **out);
    if (!*out) return sweep_fail(c, "grid", "%s", "out of memory");
    for (const cJSON *k = grid->child; k; k = k->next, i++) {
        snprintf(path, sizeof path, "grid.%s", k->string);
        TRY(check_key_only(c, k->string, "grid."));
        hl_json_brief(k, got, sizeof got);
        if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) == 0)
            return sweep_fail(c, path, "must be a non-empty array of values (got %s)", got);
        for (const cJSON *v = k->child; v; v = v->next)
            TRY(hl_spec_check_override(k->string, v, c->source, "grid.", c->err, c->errlen));
        (*out)[i].key = k->string;
        (*out)[i].values = k;
        (*out)[i].n = cJSON_GetArraySize(k);
        *n_out = i + 1;
    }
    qsort(*out, (size_t)n, sizeof **out, compare_axes);
    return HL_OK;
}

// ------------------------------------------------------------ expansion
// Grid point `point` (0-based, last axis fastest) as {"key":value,...}.
static cJSON *grid_point(const grid_axis *axes, int n_axes, long point) {
    cJSON *obj = cJSON_CreateObject();
    for (int a = n_axes - 1; obj && a >= 0; a--) {
        const cJSON *v = cJSON_GetArrayItem(axes[a].values, (int)(point % axes[a].n));
        point /= axes[a].n;
        cJSON_AddItemToObject(obj, axes[a].key, cJSON_Duplicate(v, 1));
    }
    hl_json_sort_keys(obj);
    return obj;
}

static int build_run(const sweep_ctx *c, const cJSON *base, const char *base_name, const variant *v,
                     int vi, const cJSON *point, const char *const *sets, int n_sets, hl_sweep_run *run) {
    char where[96], source[HL_ERR_LEN / 2];
    run->grid_json = cJSON_PrintUnformatted(point);
    if (!run->grid_json) return sweep_fail(c, "grid", "%s", "out of memory");
    snprintf(run->variant, sizeof run->variant, "%s", v->name);
    cJSON *tree = cJSON_Duplicate(base, 1);
    if (!tree) return sweep_fail(c, "base", "%s", "out of memory");
    int rc = HL_OK;
    snprintf(where, sizeof where, "variants[%d].set.", vi);
    for (const cJSON *k = v->set ? v->set->child : NULL; rc == HL_OK && k; k = k->next)
        rc = hl_spec_apply_override(tree, k->string, k, c->source, where, c->err, c->errlen);
    for (const cJSON *k = point->child; rc == HL_OK && k; k = k->next)
        rc = hl_spec_apply_override(tree, k->string, k, c->source, "grid.", c->err, c->errlen);
    if (rc == HL_OK) {
        if (point->child) snprintf(source, sizeof source, "%s (variant %s, grid %s)", c->source, v->name, run->grid_json);
        else snprintf(source, sizeof source, "%s (variant %s)", c->source, v->name);
        rc = hl_spec_from_tree(tree, source, base_name, sets, n_sets, &run->spec, c->err, c->errlen);
    }
    if (rc == HL_OK) rc = hl_spec_check_train_memory(&run->spec, source, c->err, c->errlen);
    if (rc == HL_OK) rc = hl_spec_check_teacher(&run->spec, source, c->err, c->errlen);
    cJSON_Delete(tree);
    return rc;
}

// Variants x grid points, refused above MAX_RUNS before anything is built.
// Counted in a double: no overflow, and exact below 2^53.
static int count_runs(const sweep_ctx *c, int n_variants, const grid_axis *axes, int n_axes, long *n_points) {
    char why[200];
    double points = 1;
    for (int a = 0; a < n_axes; a++) points *= axes[a].n;
    double runs = points * n_variants;
    if (runs <= MAX_RUNS) { *n_points = (long)points; return HL_OK; }
    snprintf(why, sizeof why, "expands to %.0f runs (%d variants x %.0f grid points); a sweep has at most %d",
             runs, n_variants, points, MAX_RUNS);
    return sweep_fail(c, n_axes ? "grid" : "variants", "%s", why);
}

static int expand_runs(const sweep_ctx *c, const cJSON *base, const char *base_name,
                       const variant *variants, int n_variants, const grid_axis *axes, int n_axes,
                       const char *const *sets, int n_sets, hl_sweep *out) {
    long n_points;
    TRY(count_runs(c, n_variants, axes, n_axes, &n_points));
    out->runs = calloc((size_t)(n_points * n_variants), sizeof *out->runs);
    if (!out->runs) return sweep_fail(c, "variants", "%s", "out of memory");
    for (int v = 0; v < n_variants; v++)
        for (long p = 0; p < n_points; p++) {
            cJSON *point = grid_point(axes, n_axes, p);
            if (!point) return sweep_fail(c, "grid", "%s", "out of memory");
            int rc = build_run(c, base, base_name, &variants[v], v, point, sets, n_sets, &out->runs[out->n_runs]);
            out->n_runs++;  // counted even on failure so that hl_sweep_free releases it
            cJSON_Delete(point);
            if (rc != HL_OK) return rc;
        }
    return HL_OK;
}

static int load_sweep_tree(const sweep_ctx *c, const cJSON *root, const char *const *sets, int n_sets, hl_sweep *out) {
    TRY(check_top_level_keys(c, root));
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name) {
        char got[80];
        hl_json_brief(name, got, sizeof got);
        if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= HL_NAME_LEN)
            return sweep_fail(c, "name", "must be a non-empty string shorter than 128 characters (got %s)", got);
        snprintf(out->name, sizeof out->name, "%s", name->valuestring);
    }
    cJSON *base = NULL;
    variant *variants = NULL;
    grid_axis *axes = NULL;
    int n_variants = 0, n_axes = 0;
    char base_name[HL_NAME_LEN];
    int rc = load_base(c, cJSON_GetObjectItemCaseSensitive(root, "base"), out->name, &base, base_name, sizeof base_name);
    if (rc == HL_OK) rc = read_variants(c, cJSON_GetObjectItemCaseSensitive(root, "variants"), out->name, &variants, &n_variants);
    if (rc == HL_OK) rc = read_grid(c, cJSON_GetObjectItemCaseSensitive(root, "grid"), &axes, &n_axes);
    if (rc == HL_OK) rc = expand_runs(c, base, base_name, variants, n_variants, axes, n_axes, sets, n_sets, out);
    cJSON_Delete(base);
    free(variants);
    free(axes);
    return rc;
}

static int load_plain_spec(const sweep_ctx *c, cJSON *root, const char *const *sets, int n_sets, hl_sweep *out) {
    out->runs = calloc(1, sizeof *out->runs);
    if (!out->runs) return sweep_fail(c, "(top level)", "%s", "out of memory");
    out->n_runs = 1;
    hl_sweep_run *run = &out->runs[0];
    TRY(hl_spec_from_tree(root, c->source, out->name, sets, n_sets, &run->spec, c->err, c->errlen));
    TRY(hl_spec_check_train_memory(&run->spec, c->source, c->err, c->errlen));
    TRY(hl_spec_check_teacher(&run->spec, c->source, c->err, c->errlen));
    snprintf(out->name, sizeof out->name, "%s", run->spec.name);
    snprintf(run->variant, sizeof run->variant, "%s", run->spec.name);
    run->grid_json = strdup("{}");
    return run->grid_json ? HL_OK : sweep_fail(c, "(top level)", "%s", "out of memory");
}

int hl_sweep_load_file(const char *path, const char *const *sets, int n_sets,
                       hl_sweep *out, char *err, size_t errlen) {
    sweep_ctx c = {path, err, errlen};
    char *text = NULL;
    cJSON *root = NULL;
    memset(out, 0, sizeof *out);
    TRY(hl_json_read_file(path, &text, err, errlen));
    int rc = hl_json_parse(text, path, &root, err, errlen);
    free(text);
    if (rc != HL_OK) return rc;
    hl_json_basename(path, out->name, sizeof out->name);
    out->source_json = hl_json_canonical(root);
    if (!out->source_json) rc = sweep_fail(&c, "(top level)", "%s", "out of memory");
    else if (!cJSON_IsObject(root)) rc = sweep_fail(&c, "(top level)", "%s", "must be a JSON object (a spec or a sweep)");
    else if (is_sweep_tree(root)) { out->is_sweep = 1; rc = load_sweep_tree(&c, root, sets, n_sets, out); }
    else rc = load_plain_spec(&c, root, sets, n_sets, out);
    cJSON_Delete(root);
    if (rc != HL_OK) hl_sweep_free(out);
    return rc;
}

void hl_sweep_free(hl_sweep *s) {
    if (!s) return;
    for (int i = 0; i < s->n_runs; i++) {
        free(s->runs[i].grid_json);
        hl_spec_free(&s->runs[i].spec);
    }
    free(s->runs);
    free(s->source_json);
    memset(s, 0, sizeof *s);
}
