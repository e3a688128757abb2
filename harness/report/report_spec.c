// report_spec.c: loads a report file (plots/NAME.json) strictly: unknown or
// repeated keys, wrong types and bad values are errors naming the JSON path.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_util.h"
#include "harness/report/report.h"
#include "harness/spec.h"

typedef struct {
    const char *file;
    char *err; size_t errlen;
} ctx;

static int fail(ctx *c, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s%s%s", c->file, path, *path ? ": " : "", msg);
    return HL_REP_EBADINPUT;
}

#define PLEN 256
// Path formatting through vsnprintf: long paths are cut, never overflow.
static void pathf(char *out, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vsnprintf(out, PLEN, fmt, ap); va_end(ap);
}

static void subpath(char *out, size_t len, const char *base, const char *key) {
    (void)len;
    pathf(out, "%s%s%s", base, *base ? "." : "", key);
}

// Unknown and repeated keys are errors.
static int check_keys(ctx *c, const cJSON *obj, const char *path, const char *const *allowed) {
    const cJSON *dup = hl_json_find_duplicate(obj);
    if (dup) {
        char p[PLEN]; subpath(p, sizeof p, path, dup->string);
        return fail(c, p, "duplicate key");
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++) if (!strcmp(it->string, allowed[i])) ok = 1;
        if (!ok) {
            char p[PLEN]; subpath(p, sizeof p, path, it->string);
            char list[512] = ""; size_t n = 0;
            for (int i = 0; allowed[i] && n < sizeof list - 1; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
            return fail(c, p, "unknown key (expected one of: %s)", list);
        }
    }
    return HL_REP_OK;
}

// Optional string (or required if req). *out = NULL when absent.
static int get_str(ctx *c, const cJSON *obj, const char *path, const char *key, int req,
                   const char **out) {
    char p[PLEN]; subpath(p, sizeof p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return req ? fail(c, p, "missing (must be a string)") : HL_REP_OK;
    if (!cJSON_IsString(v)) return fail(c, p, "must be a string");
    if (req && !*v->valuestring) return fail(c, p, "must not be empty");
    *out = v->valuestring;
    return HL_REP_OK;
}

static int get_bool(ctx *c, const cJSON *obj, const char *path, const char *key, int *out) {
    char p[PLEN]; subpath(p, sizeof p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return HL_REP_OK;
    if (!cJSON_IsBool(v)) return fail(c, p, "must be true or false");
    *out = cJSON_IsTrue(v);
    return HL_REP_OK;
}

static int check_name(ctx *c, const char *path, const char *name) {
    for (const char *s = name; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return fail(c, path, "'%s': only letters, digits, '_', '-' and '.' (it names files)", name);
    if (name[0] == '.') return fail(c, path, "'%s': must not start with '.'", name);
    return HL_REP_OK;
}

// SQL must fix its row order so that regenerated output is byte-identical.
static int has_order_by(const char *sql) {
    for (const char *s = sql; *s; s++) {
        if (strncasecmp(s, "order", 5) || (s > sql && (isalnum((unsigned char)s[-1]) || s[-1] == '_')))
            continue;
        const char *t = s + 5;
        if (!isspace((unsigned char)*t)) continue;
        while (isspace((unsigned char)*t)) t++;
        if (!strncasecmp(t, "by", 2) && !isalnum((unsigned char)t[2]) && t[2] != '_') return 1;
    }
    return 0;
}

static int get_sql(ctx *c, const cJSON *obj, const char *path, const char **out) {
    int rc = get_str(c, obj, path, "sql", 1, out);
    if (rc) return rc;
    char p[PLEN]; subpath(p, sizeof p, path, "sql");
    if (!has_order_by(*out))
        return fail(c, p, "must have an ORDER BY (the output must not depend on row order)");
    return HL_REP_OK;
}

static const struct { const char *name; hl_agg agg; } AGGS[] = {
    {"first", HL_AGG_FIRST}, {"mean", HL_AGG_MEAN}, {"std", HL_AGG_STD},
    {"mean_std", HL_AGG_MEAN_STD}, {"min", HL_AGG_MIN}, {"max", HL_AGG_MAX},
    {"sum", HL_AGG_SUM}, {"count", HL_AGG_COUNT},
};

static int parse_agg(ctx *c, const char *path, const char *s, hl_agg *out) {
    for (size_t i = 0; i < sizeof AGGS / sizeof AGGS[0]; i++)
        if (!strcmp(s, AGGS[i].name)) { *out = AGGS[i].agg; return HL_REP_OK; }
    return fail(c, path, "'%s' is not one of first, mean, std, mean_std, min, max, sum, count", s);
}

static int parse_align(ctx *c, const char *path, const char *s, char *out) {
    if (!strcmp(s, "left") || !strcmp(s, "l")) *out = 'l';
    else if (!strcmp(s, "right") || !strcmp(s, "r")) *out = 'r';
    else if (!strcmp(s, "center") || !strcmp(s, "c")) *out = 'c';
    else return fail(c, path, "'%s' is not one of left, right, center", s);
    return HL_REP_OK;
}

static int parse_column(ctx *c, const cJSON *o, const char *path, int grouped, hl_rep_column *col) {
    static const char *const keys[] = {"name", "std", "label", "label_tex", "format", "align", "agg", NULL};
    if (!cJSON_IsObject(o)) return fail(c, path, "must be an object");
    int rc = check_keys(c, o, path, keys);
    const char *align = NULL, *agg = NULL;
    if (!rc) rc = get_str(c, o, path, "name", 1, &col->name);
    if (!rc) rc = get_str(c, o, path, "std", 0, &col->std);
    if (!rc) rc = get_str(c, o, path, "label", 0, &col->label);
    if (!rc) rc = get_str(c, o, path, "label_tex", 0, &col->label_tex);
    if (!rc) rc = get_str(c, o, path, "format", 0, &col->format);
    if (!rc) rc = get_str(c, o, path, "align", 0, &align);
    if (!rc) rc = get_str(c, o, path, "agg", 0, &agg);
    if (rc) return rc;
    char p[256], why[256];
    if (col->format && hl_report_check_format(col->format, why, sizeof why)) {
        subpath(p, sizeof p, path, "format");
        return fail(c, p, "%s", why);
    }
    col->agg = HL_AGG_NONE;
    if (agg) {
        subpath(p, sizeof p, path, "agg");
        if (!grouped) return fail(c, p, "only meaningful with the table's group_by");
        if ((rc = parse_agg(c, p, agg, &col->agg))) return rc;
        if (col->std && col->agg != HL_AGG_FIRST && col->agg != HL_AGG_MEAN)
            return fail(c, p, "a column with \"std\" takes agg first or mean");
    }
    if (!col->label) col->label = col->name;
    int numeric = col->format || col->std || (col->agg != HL_AGG_NONE && col->agg != HL_AGG_FIRST);
    col->align = numeric ? 'r' : 'l';
    if (align) {
        subpath(p, sizeof p, path, "align");
        if ((rc = parse_align(c, p, align, &col->align))) return rc;
    }
    return HL_REP_OK;
}

static int parse_group_by(ctx *c, const cJSON *t, const char *path, hl_rep_table *tab) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group_by");
    char p[PLEN]; subpath(p, sizeof p, path, "group_by");
    if (!g) return HL_REP_OK;
    if (cJSON_IsString(g)) {
        tab->group_by = calloc(1, sizeof *tab->group_by);
        if (!tab->group_by) return fail(c, p, "out of memory");
        tab->group_by[0] = g->valuestring; tab->n_group_by = 1;
        return HL_REP_OK;
    }
    if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) == 0)
        return fail(c, p, "must be a column name or a non-empty array of column names");
    int n = cJSON_GetArraySize(g);
    tab->group_by = calloc((size_t)n, sizeof *tab->group_by);
    if (!tab->group_by) return fail(c, p, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(g, i);
        if (!cJSON_IsString(e)) {
            char pe[PLEN]; pathf(pe, "%s[%d]", p, i);
            return fail(c, pe, "must be a string");
        }
        tab->group_by[tab->n_group_by++] = e->valuestring;
    }
    return HL_REP_OK;
}

static int parse_table(ctx *c, const cJSON *t, const char *path, hl_rep_table *tab) {
    static const char *const keys[] = {"name", "title", "caption", "sql", "group_by", "columns",
                                       "empty_note", NULL};
    if (!cJSON_IsObject(t)) return fail(c, path, "must be an object");
    int rc = check_keys(c, t, path, keys);
    char p[PLEN];
    if (!rc) rc = get_str(c, t, path, "name", 1, &tab->name);
    if (!rc) { subpath(p, sizeof p, path, "name"); rc = check_name(c, p, tab->name); }
    if (!rc) rc = get_str(c, t, path, "title", 0, &tab->title);
    if (!rc) rc = get_str(c, t, path, "caption", 0, &tab->caption);
    if (!rc) rc = get_str(c, t, path, "empty_note", 0, &tab->note_empty);
    if (!rc) rc = get_sql(c, t, path, &tab->sql);
    if (!rc) rc = parse_group_by(c, t, path, tab);
    if (rc) return rc;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(t, "columns");
    subpath(p, sizeof p, path, "columns");
    if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) == 0)
        return fail(c, p, cols ? "must be a non-empty array" : "missing (a non-empty array of columns)");
    tab->n_cols = cJSON_GetArraySize(cols);
    tab->cols = calloc((size_t)tab->n_cols, sizeof *tab->cols);
    if (!tab->cols) return fail(c, p, "out of memory");
    for (int i = 0; i < tab->n_cols; i++) {
        char pc[PLEN]; pathf(pc, "%s[%d]", p, i);
        if ((rc = parse_column(c, cJSON_GetArrayItem(cols, i), pc, tab->n_group_by > 0, &tab->cols[i])))
            return rc;
        hl_rep_column *col = &tab->cols[i];
        int is_key = 0;
        for (int g = 0; g < tab->n_group_by; g++) if (!strcmp(tab->group_by[g], col->name)) is_key = 1;
        if (tab->n_group_by && !is_key && col->agg == HL_AGG_NONE) {
            char pa[PLEN]; pathf(pa, "%s.agg", pc);
            return fail(c, pa, "required for '%s': it is not in group_by (use first, mean, mean_std, ...)",
                        col->name);
        }
        if (is_key && col->agg == HL_AGG_NONE) col->agg = HL_AGG_FIRST;
    }
    return HL_REP_OK;
}

static int parse_range(ctx *c, const cJSON *o, const char *path, const char *key,
                       int has[2], double r[2]) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char p[PLEN]; subpath(p, sizeof p, path, key);
    has[0] = has[1] = 0;
    if (!v) return HL_REP_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return fail(c, p, "must be [min, max] (null for automatic)");
    for (int i = 0; i < 2; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (cJSON_IsNull(e)) continue;
        if (!cJSON_IsNumber(e)) { char pe[PLEN]; pathf(pe, "%s[%d]", p, i); return fail(c, pe, "must be a number or null"); }
        has[i] = 1; r[i] = e->valuedouble;
    }
    if (has[0] && has[1] && !(r[0] < r[1])) return fail(c, p, "min must be below max");
    return HL_REP_OK;
}

static int parse_size(ctx *c, const cJSON *o, const char *path, hl_rep_figure *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "size");
    char p[PLEN]; subpath(p, sizeof p, path, "size");
    f->width = 800; f->height = 560;
    if (!v) return HL_REP_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return fail(c, p, "must be [width, height] in pixels");
    int wh[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != (int)e->valuedouble || e->valuedouble < 200 ||
            e->valuedouble > 4000) {
            char pe[PLEN]; pathf(pe, "%s[%d]", p, i);
            return fail(c, pe, "must be an integer number of pixels in 200..4000");
        }
        wh[i] = (int)e->valuedouble;
    }
    f->width = wh[0]; f->height = wh[1];
    return HL_REP_OK;
}

static int parse_fig_enums(ctx *c, const cJSON *o, const char *path, hl_rep_figure *f) {
    const char *kind = NULL, *agg = NULL;
    char p[PLEN];
    int rc = get_str(c, o, path, "kind", 1, &kind);
    if (rc) return rc;
    subpath(p, sizeof p, path, "kind");
    if (!strcmp(kind, "line")) f->kind = HL_FIG_LINE;
    else if (!strcmp(kind, "bar")) f->kind = HL_FIG_BAR;
    else if (!strcmp(kind, "scatter")) f->kind = HL_FIG_SCATTER;
    else if (!strcmp(kind, "heatmap")) f->kind = HL_FIG_HEATMAP;
    else return fail(c, p, "'%s' is not one of line, bar, scatter, heatmap", kind);
    if ((rc = get_str(c, o, path, "aggregate", 0, &agg))) return rc;
    subpath(p, sizeof p, path, "aggregate");
    f->agg = HL_AGG_NONE;
    if (agg) {
        if (!strcmp(agg, "mean")) f->agg = HL_AGG_MEAN;
        else if (!strcmp(agg, "mean_std") && f->kind != HL_FIG_HEATMAP) f->agg = HL_AGG_MEAN_STD;
        else return fail(c, p, "'%s' is not one of mean%s", agg, f->kind == HL_FIG_HEATMAP ? " (a heatmap has no error bars)" : ", mean_std");
        if (f->yerr) return fail(c, p, "give either aggregate or yerr, not both");
    }
    if ((rc = get_str(c, o, path, "legend", 0, &f->legend))) return rc;
    if (!f->legend) f->legend = "above";
    subpath(p, sizeof p, path, "legend");
    static const char *const legends[] = {"above", "below", "right", "top left", "top right",
                                          "bottom left", "bottom right", "none", NULL};
    for (int i = 0; legends[i]; i++) if (!strcmp(f->legend, legends[i])) return HL_REP_OK;
    return fail(c, p, "'%s' is not one of above, below, right, top left, top right, "
                "bottom left, bottom right, none", f->legend);
}

static int parse_figure(ctx *c, const cJSON *o, const char *path, hl_rep_figure *f) {
    static const char *const keys[] = {"name", "title", "sql", "kind", "x", "y", "series", "yerr",
        "aggregate", "xlabel", "ylabel", "logx", "logy", "size", "xrange", "yrange", "legend",
        "optional", "z", "zlabel", "zrange", NULL};
    if (!cJSON_IsObject(o)) return fail(c, path, "must be an object");
    int rc = check_keys(c, o, path, keys);
    char p[PLEN];
    if (!rc) rc = get_str(c, o, path, "name", 1, &f->name);
    if (!rc) { subpath(p, sizeof p, path, "name"); rc = check_name(c, p, f->name); }
    if (!rc) rc = get_str(c, o, path, "title", 0, &f->title);
    if (!rc) rc = get_sql(c, o, path, &f->sql);
    if (!rc) rc = get_str(c, o, path, "x", 1, &f->x);
    if (!rc) rc = get_str(c, o, path, "y", 1, &f->y);
    if (!rc) rc = get_str(c, o, path, "series", 0, &f->series);
    if (!rc) rc = get_str(c, o, path, "yerr", 0, &f->yerr);
    if (!rc) rc = get_str(c, o, path, "xlabel", 0, &f->xlabel);
    if (!rc) rc = get_str(c, o, path, "ylabel", 0, &f->ylabel);
    if (!rc) rc = get_bool(c, o, path, "logx", &f->logx);
    if (!rc) rc = get_bool(c, o, path, "logy", &f->logy);
    if (!rc) rc = get_bool(c, o, path, "optional", &f->optional);
    if (!rc) rc = parse_fig_enums(c, o, path, f);
    if (!rc) rc = parse_size(c, o, path, f);
    if (!rc) rc = parse_range(c, o, path, "xrange", f->has_xrange, f->xrange);
    if (!rc) rc = parse_range(c, o, path, "yrange", f->has_yrange, f->yrange);
    if (!rc) rc = get_str(c, o, path, "z", 0, &f->z);
    if (!rc) rc = get_str(c, o, path, "zlabel", 0, &f->zlabel);
    if (!rc) rc = parse_range(c, o, path, "zrange", f->has_zrange, f->zrange);
    if (rc) return rc;
    if (f->kind == HL_FIG_HEATMAP) {
        // x and y are categories (one cell each), z the value; series: one panel per value
        static const char *const not_here[] = {"yerr", "logx", "logy", "xrange", "yrange", NULL};
        for (int i = 0; not_here[i]; i++)
            if (cJSON_GetObjectItemCaseSensitive(o, not_here[i])) {
                subpath(p, sizeof p, path, not_here[i]);
                return fail(c, p, "not for a heatmap (x and y are categories; the colour is z)");
            }
        if (!f->z) { subpath(p, sizeof p, path, "z"); return fail(c, p, "missing (a heatmap's cell value column)"); }
        if (!f->zlabel) f->zlabel = f->z;
    } else {
        static const char *const only_heatmap[] = {"z", "zlabel", "zrange", NULL};
        for (int i = 0; only_heatmap[i]; i++)
            if (cJSON_GetObjectItemCaseSensitive(o, only_heatmap[i])) {
                subpath(p, sizeof p, path, only_heatmap[i]);
                return fail(c, p, "only for kind \"heatmap\"");
            }
    }
    if (f->kind == HL_FIG_BAR && f->logx) {
        subpath(p, sizeof p, path, "logx");
        return fail(c, p, "a bar chart has a categorical x axis");
    }
    if (!f->xlabel) f->xlabel = f->x;
    if (!f->ylabel) f->ylabel = f->y;
    return HL_REP_OK;
}

static int parse_list(ctx *c, const cJSON *root, const char *key, int is_table, hl_report *rep) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!arr) return HL_REP_OK;
    if (!cJSON_IsArray(arr)) return fail(c, key, "must be an array");
    int n = cJSON_GetArraySize(arr);
    if (is_table) rep->tables = calloc((size_t)n + 1, sizeof *rep->tables);
    else rep->figures = calloc((size_t)n + 1, sizeof *rep->figures);
    if (is_table ? !rep->tables : !rep->figures) return fail(c, key, "out of memory");
    for (int i = 0; i < n; i++) {
        char p[PLEN]; pathf(p, "%s[%d]", key, i);
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        int rc = is_table ? parse_table(c, e, p, &rep->tables[i]) : parse_figure(c, e, p, &rep->figures[i]);
        if (rc) return rc;
        if (is_table) rep->n_tables++; else rep->n_figures++;
        const char *name = is_table ? rep->tables[i].name : rep->figures[i].name;
        for (int j = 0; j < i; j++)
            if (!strcmp(name, is_table ? rep->tables[j].name : rep->figures[j].name)) {
                char pn[PLEN]; pathf(pn, "%s.name", p);
                return fail(c, pn, "'%s' is also the name of %s[%d]", name, key, j);
            }
    }
    return HL_REP_OK;
}

// The whole file, bounded and NUL-free (hl_read_text_file), or NULL with err.
static char *read_file(const char *path, char *err, size_t errlen) {
    char *text = NULL;
    return hl_read_text_file(path, HL_MAX_INPUT_BYTES, &text, NULL, err, errlen) == HL_OK ? text : NULL;
}

int hl_report_load(const char *path, hl_report *rep, char *err, size_t errlen) {
    memset(rep, 0, sizeof *rep);
    rep->path = path;
    char *text = read_file(path, err, errlen);
    if (!text) return HL_REP_EBADINPUT;
    const char *end = NULL;
    rep->root = cJSON_ParseWithOpts(text, &end, 1);
    if (!rep->root) {
        int line = 1;
        for (const char *s = text; end && s < end; s++) line += *s == '\n';
        snprintf(err, errlen, "%s: invalid JSON near line %d", path, line);
        free(text);
        return HL_REP_EBADINPUT;
    }
    free(text);
    ctx c = {path, err, errlen};
    static const char *const keys[] = {"title", "description", "tables", "figures", NULL};
    if (!cJSON_IsObject(rep->root)) return fail(&c, "", "must be a JSON object");
    int rc = check_keys(&c, rep->root, "", keys);
    const char *desc;
    if (!rc) rc = get_str(&c, rep->root, "", "title", 0, &rep->title);
    if (!rc) rc = get_str(&c, rep->root, "", "description", 0, &desc);
    if (!rc) rc = parse_list(&c, rep->root, "tables", 1, rep);
    if (!rc) rc = parse_list(&c, rep->root, "figures", 0, rep);
    if (!rc && rep->n_tables + rep->n_figures == 0) rc = fail(&c, "", "no tables and no figures");
    return rc;
}

void hl_report_free(hl_report *rep) {
    // tables[] has one spare slot: a table that failed to parse sits at n_tables
    for (int i = 0; rep->tables && i <= rep->n_tables; i++) {
        free(rep->tables[i].cols);
        free(rep->tables[i].group_by);
    }
    free(rep->tables);
    free(rep->figures);
    cJSON_Delete(rep->root);
    memset(rep, 0, sizeof *rep);
}
