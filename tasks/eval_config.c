// eval_config.c: the section of an evaluation task, TASK arguments and
// groups (contract in tasks/eval_config.h).
#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/eval.h"
#include "tasks/eval_config.h"

#define OFF(f) offsetof(hl_eval_config, f)
#define CAP(f) (int)sizeof(((hl_eval_config *)0)->f)

// Keys a family reads beyond the generic ones (task, limit, max_length,
// skip_truncated, metric). A family-specific key of another family must
// keep its default.
typedef struct { const char *family; const char *keys; } family_keys;
static const family_keys FAMILY_KEYS[] = {
    {"multiple_choice", " target_delimiter "},
    {"schema", " target_delimiter "},
    {"language_modeling", " target_delimiter "},
    {"generation", " max_new_tokens stop "},
    {"squad", " max_new_tokens stop chunk_tokens "},
    {"niah", " max_new_tokens stop needle haystack value_kind lengths depths samples seed "},
    {NULL, NULL},
};
static const char *const GENERIC = " task limit max_length skip_truncated metric ";

static int read_task(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj);
static cJSON *write_task(const void *obj);
static int eval_finish(const hl_cfg_ctx *c, const char *path, void *obj);

static const hl_cfg_key KEYS[] = {
    {.name = "task", .kind = HL_CFG_STRING, .capacity = CAP(path), .read = read_task, .write = write_task},
    {.name = "limit", .kind = HL_CFG_LONG, .offset = OFF(limit), .dflt = 0, .min = 0, .max = 1e9},
    {.name = "max_length", .kind = HL_CFG_INT, .offset = OFF(max_length), .dflt = 0, .min = 0, .max = 1 << 20},
    {.name = "skip_truncated", .kind = HL_CFG_BOOL, .offset = OFF(skip_truncated), .dflt = 0},
    {.name = "metric", .kind = HL_CFG_STRING, .offset = OFF(metric), .capacity = CAP(metric), .dflt_text = ""},
    {.name = "target_delimiter", .kind = HL_CFG_STRING, .offset = OFF(target_delimiter),
     .capacity = CAP(target_delimiter), .dflt_text = " "},
    {.name = "max_new_tokens", .kind = HL_CFG_INT, .offset = OFF(max_new_tokens), .dflt = 0, .min = 0, .max = 1 << 16},
    {.name = "stop", .kind = HL_CFG_STRING, .offset = OFF(stop), .capacity = CAP(stop), .dflt_text = ""},
    {.name = "chunk_tokens", .kind = HL_CFG_INT, .offset = OFF(chunk_tokens), .dflt = 0, .min = 0, .max = 1 << 20},
    {.name = "needle", .kind = HL_CFG_STRING, .offset = OFF(needle), .capacity = CAP(needle), .dflt_text = ""},
    {.name = "haystack", .kind = HL_CFG_STRING, .offset = OFF(haystack), .capacity = CAP(haystack), .dflt_text = ""},
    {.name = "value_kind", .kind = HL_CFG_STRING, .offset = OFF(value_kind), .capacity = CAP(value_kind),
     .dflt_text = ""},
    {.name = "lengths", .kind = HL_CFG_INT_LIST, .offset = OFF(lengths), .count_offset = OFF(n_lengths),
     .capacity = HL_EVAL_MAX_GRID, .min = 1, .max = 1 << 20},
    {.name = "depths", .kind = HL_CFG_INT_LIST, .offset = OFF(depths), .count_offset = OFF(n_depths),
     .capacity = HL_EVAL_MAX_GRID, .min = 0, .max = 100},
    {.name = "samples", .kind = HL_CFG_INT, .offset = OFF(samples), .dflt = 0, .min = 0, .max = 1 << 20},
    {.name = "seed", .kind = HL_CFG_U64, .offset = OFF(seed), .dflt = 0, .min = 0, .max = 1.8e19},
    {.name = NULL},
};
static const hl_cfg_section SECTION = {.name = "eval", .keys = KEYS, .finish = eval_finish};

const hl_cfg_section *hl_eval_section(void) { return &SECTION; }

const hl_eval_group *hl_eval_group_find(const char *name) {
    for (const hl_eval_group *g = hl_eval_groups; g->name; g++)
        if (!strcmp(g->name, name)) return g;
    return NULL;
}

const hl_eval_preset *hl_eval_preset_find(const char *name) {
    for (const hl_eval_preset *p = hl_eval_presets; p->name; p++)
        if (!strcmp(p->name, name)) return p;
    return NULL;
}

// FORMAT of FORMAT:PATH when the text before the first ':' is a
// registered family with a non-empty PATH after it; else NULL.
static const hl_eval_family *format_of(const char *name, const char **path) {
    const char *colon = strchr(name, ':');
    if (!colon || !colon[1] || colon == name || (size_t)(colon - name) >= 32) return NULL;
    char fam[32];
    memcpy(fam, name, (size_t)(colon - name));
    fam[colon - name] = '\0';
    const hl_eval_family *f = hl_eval_family_find(fam);
    if (f && path) *path = colon + 1;
    return f;
}

static int preset_usable(const hl_eval_preset *p) { return p && hl_eval_family_find(p->family) != NULL; }

int hl_eval_task_known(const char *name) {
    if (!name) return 0;
    if (preset_usable(hl_eval_preset_find(name))) return 1;
    const hl_eval_group *g = hl_eval_group_find(name);
    if (g) {
        for (const char *const *m = g->members; *m; m++)
            if (!preset_usable(hl_eval_preset_find(*m))) return 0;
        return 1;
    }
    return format_of(name, NULL) != NULL;
}

void hl_eval_task_names(char *out, size_t n) {
    size_t len = 0;
    out[0] = '\0';
    for (const hl_eval_preset *p = hl_eval_presets; p->name; p++)
        if (preset_usable(p) && len < n) len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", p->name);
    for (const hl_eval_group *g = hl_eval_groups; g->name; g++)
        if (hl_eval_task_known(g->name) && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", g->name);
    for (int i = 0; hl_eval_families[i]; i++)
        if (len < n) len += (size_t)snprintf(out + len, n - len, "%s%s:PATH", len ? ", " : "", hl_eval_families[i]->name);
}

void hl_eval_task_text(const hl_eval_config *cfg, char *out, size_t n) {
    if (cfg->from_format) snprintf(out, n, "%s:%s", cfg->family, cfg->path);
    else snprintf(out, n, "%s", cfg->task);
}

static int read_task(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj) {
    hl_eval_config *e = obj;
    if (!v) return hl_cfg_fail(c, path, "missing: a preset, a group or FORMAT:PATH");
    const char *name = v->valuestring, *file = NULL;
    const hl_eval_preset *p = hl_eval_preset_find(name);
    const hl_eval_family *f = NULL;
    char known[1024];
    if (hl_eval_group_find(name))
        return hl_cfg_fail(c, path, "\"%s\" is a group: name its members one by one here", name);
    if (preset_usable(p)) {
        snprintf(e->task, sizeof e->task, "%s", p->name);
        snprintf(e->family, sizeof e->family, "%s", p->family);
        snprintf(e->path, sizeof e->path, "%s", p->path ? p->path : "");
        e->from_format = 0;
        return HL_OK;
    }
    if ((f = format_of(name, &file)) != NULL) {
        if (strlen(file) >= sizeof e->path) return hl_cfg_fail(c, path, "the path is too long (at most %zu bytes)", sizeof e->path - 1);
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        snprintf(e->task, sizeof e->task, "%s:%.*s", f->name, (int)(sizeof e->task - 2 - strlen(f->name)), base);
        snprintf(e->family, sizeof e->family, "%s", f->name);
        snprintf(e->path, sizeof e->path, "%s", file);
        e->from_format = 1;
        return HL_OK;
    }
    hl_eval_task_names(known, sizeof known);
    return hl_cfg_fail(c, path, "unknown task '%s' (known: %s)", name, known);
}

static cJSON *write_task(const void *obj) {
    char text[1200];
    hl_eval_task_text(obj, text, sizeof text);
    return cJSON_CreateString(text);
}

// Whether the config's value of row k is the row's default.
static int at_default(const hl_eval_config *e, const hl_cfg_key *k) {
    const char *p = (const char *)e + k->offset;
    switch (k->kind) {
    case HL_CFG_INT: return *(const int *)p == (int)k->dflt;
    case HL_CFG_U64: return *(const uint64_t *)p == (uint64_t)k->dflt;
    case HL_CFG_STRING: return !strcmp(p, k->dflt_text ? k->dflt_text : "");
    case HL_CFG_INT_LIST: return *(const int *)((const char *)e + k->count_offset) == 0;
    default: return 1;
    }
}

static int eval_finish(const hl_cfg_ctx *c, const char *path, void *obj) {
    hl_eval_config *e = obj;
    const char *uses = NULL;
    for (const family_keys *f = FAMILY_KEYS; f->family; f++)
        if (!strcmp(f->family, e->family)) uses = f->keys;
    char p[HL_CFG_PATH_LEN], word[40];
    for (const hl_cfg_key *k = KEYS; k->name; k++) {
        snprintf(word, sizeof word, " %s ", k->name);
        if (strstr(GENERIC, word) || (uses && strstr(uses, word)) || at_default(e, k)) continue;
        hl_cfg_join(p, path, k->name);
        return hl_cfg_fail(c, p, "not a setting of task %s (family %s)", e->task, e->family);
    }
    const hl_eval_preset *pr = e->from_format ? NULL : hl_eval_preset_find(e->task);
    int niah = !strcmp(e->family, "niah"), gen = niah || !strcmp(e->family, "generation") || !strcmp(e->family, "squad");
    if (!e->metric[0] && pr && pr->metric) snprintf(e->metric, sizeof e->metric, "%s", pr->metric);
    if (!e->metric[0])
        snprintf(e->metric, sizeof e->metric, "%s", niah ? "string_match_all" : gen ? "contains" : "acc");
    if (gen && !e->max_new_tokens) e->max_new_tokens = niah ? 128 : 48;
    if (gen && !niah && !e->stop[0]) snprintf(e->stop, sizeof e->stop, "\n");
    if (!strcmp(e->family, "squad") && !e->chunk_tokens) e->chunk_tokens = 1920;
    if (niah && !e->needle[0] && pr && pr->needle) snprintf(e->needle, sizeof e->needle, "%s", pr->needle);
    if (niah && !e->haystack[0] && pr && pr->haystack) snprintf(e->haystack, sizeof e->haystack, "%s", pr->haystack);
    return HL_OK;
}

// Reads one task object (already a cJSON object) into *out.
static int read_object(const cJSON *obj, const char *source, hl_eval_config *out, char *err, size_t errlen) {
    hl_cfg_ctx c = {source, err, errlen, NULL};
    memset(out, 0, sizeof *out);
    int rc = hl_cfg_check(&c, obj, &SECTION, "");
    if (!rc) rc = hl_cfg_read(&c, &SECTION, obj, "", out, NULL);
    return rc;
}

int hl_eval_parse_arg(const char *arg, const char *source, hl_eval_config *out, int max, int *n,
                      char *err, size_t errlen) {
    *n = 0;
    cJSON *obj = NULL;
    int rc = HL_OK;
    if (arg[0] == '{') {
        obj = cJSON_Parse(arg);
        if (!obj || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: not a JSON object", source);
        }
    } else {
        obj = cJSON_CreateObject();
        if (!obj || !cJSON_AddStringToObject(obj, "task", arg)) {
            cJSON_Delete(obj);
            return hl_fail(err, errlen, HL_EFAIL, "out of memory");
        }
    }
    cJSON *task = cJSON_GetObjectItemCaseSensitive(obj, "task");
    const hl_eval_group *g = cJSON_IsString(task) ? hl_eval_group_find(task->valuestring) : NULL;
    if (g && !hl_eval_task_known(g->name)) g = NULL;   // members not built: read_task names it
    if (!g) {
        if (max < 1) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: too many tasks (at most %d)", source, HL_EVAL_MAX_TASKS);
        else rc = read_object(obj, source, &out[0], err, errlen);
        if (!rc) *n = 1;
    } else {
        for (const char *const *m = g->members; *m && !rc; m++) {
            if (*n >= max) {
                rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: too many tasks (at most %d)", source, HL_EVAL_MAX_TASKS);
                break;
            }
            cJSON_ReplaceItemInObjectCaseSensitive(obj, "task", cJSON_CreateString(*m));
            rc = read_object(obj, source, &out[*n], err, errlen);
            if (!rc) (*n)++;
        }
        if (rc) *n = 0;
    }
    cJSON_Delete(obj);
    return rc;
}
