// config.c: configuration sections (contract in core/config.h).
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/config.h"
#include "core/json_util.h"

#define MAX_EXACT_INT 9007199254740992.0  // 2^53: larger JSON integers are not exact
#define TRY(x) do { int rc_ = (x); if (rc_ != HL_OK) return rc_; } while (0)

int hl_cfg_fail(const hl_cfg_ctx *c, const char *path, const char *fmt, ...) {
    int n = snprintf(c->err, c->errlen, "%s: %s: ", c->source, path[0] ? path : "(top level)");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap; va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return HL_EBADINPUT;
}

// Paths are short; one over HL_CFG_PATH_LEN is cut, which only shortens a message.
static void path_printf(char *out, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vsnprintf(out, HL_CFG_PATH_LEN, fmt, ap);
    va_end(ap);
}

void hl_cfg_join(char *out, const char *parent, const char *key) {
    if (parent[0]) path_printf(out, "%s.%s", parent, key);
    else path_printf(out, "%s", key);
}

void hl_cfg_index(char *out, const char *parent, int i) {
    path_printf(out, "%s[%d]", parent, i);
}

const hl_cfg_key *hl_cfg_find(const hl_cfg_section *sec, const char *name, size_t len) {
    for (const hl_cfg_key *k = sec->keys; k->name; k++)
        if (strlen(k->name) == len && !strncmp(k->name, name, len)) return k;
    return NULL;
}

const hl_cfg_section *hl_cfg_child(const hl_cfg_key *k) {
    return k->section ? k->section : k->section_fn ? k->section_fn() : NULL;
}

// ------------------------------------------------------------ schema
static int is_json_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
           fabs(v->valuedouble) <= MAX_EXACT_INT;
}

static int check_int_list(const hl_cfg_ctx *c, const cJSON *v, const char *path, const char *what) {
    char got[80], item[HL_CFG_PATH_LEN];
    if (!cJSON_IsArray(v)) {
        hl_json_brief(v, got, sizeof got);
        return hl_cfg_fail(c, path, "must be an array of %s (got %s)", what, got);
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        hl_cfg_index(item, path, i);
        if (!is_json_integer(e)) {
            hl_json_brief(e, got, sizeof got);
            return hl_cfg_fail(c, item, "must be an integer (got %s)", got);
        }
    }
    return HL_OK;
}

int hl_cfg_check(const hl_cfg_ctx *c, const cJSON *obj, const hl_cfg_section *sec, const char *path) {
    char got[80], child[HL_CFG_PATH_LEN];
    if (!cJSON_IsObject(obj)) {
        hl_json_brief(obj, got, sizeof got);
        return hl_cfg_fail(c, path, "must be an object (got %s)", got);
    }
    const cJSON *dup = hl_json_find_duplicate(obj);
    if (dup) {
        hl_cfg_join(child, path, dup->string);
        return hl_cfg_fail(c, child, "duplicate key");
    }
    for (const cJSON *e = obj->child; e; e = e->next) {
        hl_cfg_join(child, path, e->string);
        const hl_cfg_key *k = hl_cfg_find(sec, e->string, strlen(e->string));
        if (!k) return hl_cfg_fail(c, child, "unknown key");
        TRY(hl_cfg_check_value(c, e, k, child));
    }
    return HL_OK;
}

int hl_cfg_check_value(const hl_cfg_ctx *c, const cJSON *v, const hl_cfg_key *k, const char *path) {
    char got[80], item[HL_CFG_PATH_LEN];
    hl_json_brief(v, got, sizeof got);
    int i = 0;
    switch (k->kind) {
    case HL_CFG_INT: case HL_CFG_LONG: case HL_CFG_U64:
        if (!is_json_integer(v)) return hl_cfg_fail(c, path, "must be an integer (got %s)", got);
        return HL_OK;
    case HL_CFG_DOUBLE: case HL_CFG_FLOAT:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return hl_cfg_fail(c, path, "must be a number (got %s)", got);
        return HL_OK;
    case HL_CFG_BOOL:
        if (!cJSON_IsBool(v)) return hl_cfg_fail(c, path, "must be true or false (got %s)", got);
        return HL_OK;
    case HL_CFG_STRING:
        if (!cJSON_IsString(v)) return hl_cfg_fail(c, path, "must be a string (got %s)", got);
        return HL_OK;
    case HL_CFG_INT_LIST: return check_int_list(c, v, path, "integers");
    case HL_CFG_INT_GROUPS:
        if (!cJSON_IsArray(v)) return hl_cfg_fail(c, path, "must be an array of arrays of layer indices (got %s)", got);
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            hl_cfg_index(item, path, i);
            TRY(check_int_list(c, e, item, "integers"));
        }
        return HL_OK;
    case HL_CFG_STRING_LIST:
        if (!cJSON_IsArray(v)) return hl_cfg_fail(c, path, "must be an array of strings (got %s)", got);
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            hl_cfg_index(item, path, i);
            if (!cJSON_IsString(e)) {
                hl_json_brief(e, got, sizeof got);
                return hl_cfg_fail(c, item, "must be a string (got %s)", got);
            }
        }
        return HL_OK;
    case HL_CFG_SECTION: return hl_cfg_check(c, v, hl_cfg_child(k), path);
    case HL_CFG_SECTION_LIST:
        if (!cJSON_IsArray(v)) return hl_cfg_fail(c, path, "must be an array of objects (got %s)", got);
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            hl_cfg_index(item, path, i);
            TRY(hl_cfg_check(c, e, hl_cfg_child(k), item));
        }
        return HL_OK;
    }
    return HL_OK;
}

// ------------------------------------------------------------ reading
static int int_range(const hl_cfg_ctx *c, const hl_cfg_key *k, const char *path, double value) {
    long long v = (long long)value;
    if (!(k->flags & HL_CFG_NO_RANGE) && value < k->min) {
        if (k->min == 1) return hl_cfg_fail(c, path, "must be positive (got %lld)", v);
        return hl_cfg_fail(c, path, "must be >= %lld (got %lld)", (long long)k->min, v);
    }
    if (!(k->flags & HL_CFG_NO_RANGE) && value > k->max)
        return hl_cfg_fail(c, path, "must be at most %lld (got %lld)", (long long)k->max, v);
    return HL_OK;
}

static int number_range(const hl_cfg_ctx *c, const hl_cfg_key *k, const char *path, double v) {
    if (k->flags & HL_CFG_NO_RANGE) return HL_OK;
    int lo_ex = (k->flags & HL_CFG_MIN_EXCLUSIVE) != 0, hi_ex = (k->flags & HL_CFG_MAX_EXCLUSIVE) != 0;
    int ok = (lo_ex ? v > k->min : v >= k->min) && (hi_ex ? v < k->max : v <= k->max);
    if (ok) return HL_OK;
    if (k->max < INFINITY)
        return hl_cfg_fail(c, path, "must be in %s%g, %g%s (got %g)", lo_ex ? "(" : "[", k->min, k->max, hi_ex ? ")" : "]", v);
    return hl_cfg_fail(c, path, "must be %s %g (got %g)", lo_ex ? ">" : ">=", k->min, v);
}

static size_t scalar_size(hl_cfg_kind kind) {
    switch (kind) {
    case HL_CFG_INT: case HL_CFG_BOOL: return sizeof(int);
    case HL_CFG_LONG: return sizeof(long);
    case HL_CFG_U64: return sizeof(uint64_t);
    case HL_CFG_DOUBLE: return sizeof(double);
    case HL_CFG_FLOAT: return sizeof(float);
    default: return 0;
    }
}

static double get_number(const hl_cfg_key *k, const void *obj) {
    const char *p = (const char *)obj + k->offset;
    switch (k->kind) {
    case HL_CFG_INT: case HL_CFG_BOOL: return *(const int *)(const void *)p;
    case HL_CFG_LONG: return (double)*(const long *)(const void *)p;
    case HL_CFG_U64: return (double)*(const uint64_t *)(const void *)p;
    case HL_CFG_DOUBLE: return *(const double *)(const void *)p;
    case HL_CFG_FLOAT: return *(const float *)(const void *)p;
    default: return 0;
    }
}

static void set_number(const hl_cfg_key *k, void *obj, double v) {
    char *p = (char *)obj + k->offset;
    switch (k->kind) {
    case HL_CFG_INT: case HL_CFG_BOOL: *(int *)(void *)p = (int)v; break;
    case HL_CFG_LONG: *(long *)(void *)p = (long)v; break;
    case HL_CFG_U64: *(uint64_t *)(void *)p = (uint64_t)v; break;
    case HL_CFG_DOUBLE: *(double *)(void *)p = v; break;
    case HL_CFG_FLOAT: *(float *)(void *)p = (float)v; break;
    default: break;
    }
}

static int read_number(const hl_cfg_ctx *c, const hl_cfg_key *k, const cJSON *v, const char *path,
                       void *out, const void *base) {
    double x = k->dflt;
    if (v) x = k->kind == HL_CFG_BOOL ? cJSON_IsTrue(v) : v->valuedouble;
    else if (base) x = get_number(k, base);
    else if (k->dflt_fn) {
        char why[HL_ERR_LEN / 2];
        if (k->dflt_fn(out, c->env, &x, why, sizeof why) != HL_OK) return hl_cfg_fail(c, path, "%s", why);
    }
    if (k->kind == HL_CFG_INT || k->kind == HL_CFG_LONG || k->kind == HL_CFG_U64) TRY(int_range(c, k, path, x));
    else if (k->kind != HL_CFG_BOOL) TRY(number_range(c, k, path, x));
    set_number(k, out, x);
    return HL_OK;
}

static int read_string(const hl_cfg_ctx *c, const hl_cfg_key *k, const cJSON *v, const char *path,
                       void *out, const void *base) {
    char *dst = (char *)out + k->offset;
    const char *s = v ? v->valuestring : base ? (const char *)base + k->offset : k->dflt_text ? k->dflt_text : "";
    if (strlen(s) >= (size_t)k->capacity) return hl_cfg_fail(c, path, "longer than %d characters", k->capacity - 1);
    if (dst != s) memmove(dst, s, strlen(s) + 1);
    return HL_OK;
}

static int read_int_list(const hl_cfg_ctx *c, const hl_cfg_key *k, const cJSON *v, const char *path,
                         void *out, const void *base) {
    int *dst = (int *)(void *)((char *)out + k->offset), *count = (int *)(void *)((char *)out + k->count_offset);
    if (!v) {
        if (base && base != out) {
            *count = *(const int *)(const void *)((const char *)base + k->count_offset);
            memcpy(dst, (const char *)base + k->offset, (size_t)*count * sizeof(int));
        } else if (!base) *count = 0;
        return HL_OK;
    }
    int n = cJSON_GetArraySize(v), i = 0;
    if (n > k->capacity) return hl_cfg_fail(c, path, "at most %d entries (got %d)", k->capacity, n);
    char item[HL_CFG_PATH_LEN];
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        hl_cfg_index(item, path, i);
        TRY(int_range(c, k, item, e->valuedouble));
        dst[i] = (int)e->valuedouble;
    }
    *count = n;
    return HL_OK;
}

int hl_cfg_read_key(const hl_cfg_ctx *c, const hl_cfg_key *k, const cJSON *v, const char *path,
                    void *out, const void *base) {
    switch (k->kind) {
    case HL_CFG_INT: case HL_CFG_LONG: case HL_CFG_U64: case HL_CFG_DOUBLE: case HL_CFG_FLOAT: case HL_CFG_BOOL:
        return read_number(c, k, v, path, out, base);
    case HL_CFG_STRING: return read_string(c, k, v, path, out, base);
    case HL_CFG_INT_LIST: return read_int_list(c, k, v, path, out, base);
    case HL_CFG_SECTION:
        return hl_cfg_read(c, hl_cfg_child(k), v, path, (char *)out + k->offset,
                           base ? (const char *)base + k->offset : NULL);
    default: return hl_cfg_fail(c, path, "no reader for this key (a hylab bug)");
    }
}

int hl_cfg_read(const hl_cfg_ctx *c, const hl_cfg_section *sec, const cJSON *obj, const char *path,
                void *out, const void *base) {
    char child[HL_CFG_PATH_LEN];
    for (const hl_cfg_key *k = sec->keys; k->name; k++) {
        const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, k->name) : NULL;
        hl_cfg_join(child, path, k->name);
        TRY(k->read ? k->read(c, v, child, out) : hl_cfg_read_key(c, k, v, child, out, base));
    }
    return sec->finish ? sec->finish(c, path, out) : HL_OK;
}

// ------------------------------------------------------------ writing
double hl_cfg_float_decimal(float f) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

static int at_default(const hl_cfg_key *k, const void *obj) {
    const char *p = (const char *)obj + k->offset;
    if (scalar_size(k->kind)) return get_number(k, obj) == k->dflt;
    if (k->kind == HL_CFG_STRING) return !strcmp(p, k->dflt_text ? k->dflt_text : "");
    if (k->kind == HL_CFG_INT_LIST) return *(const int *)(const void *)((const char *)obj + k->count_offset) == 0;
    return 0;
}

static cJSON *write_value(const hl_cfg_key *k, const void *obj) {
    const char *p = (const char *)obj + k->offset;
    if (k->write) return k->write(obj);
    switch (k->kind) {
    case HL_CFG_BOOL: return cJSON_CreateBool(*(const int *)(const void *)p);
    case HL_CFG_FLOAT: return cJSON_CreateNumber(hl_cfg_float_decimal(*(const float *)(const void *)p));
    case HL_CFG_INT: case HL_CFG_LONG: case HL_CFG_U64: case HL_CFG_DOUBLE: return cJSON_CreateNumber(get_number(k, obj));
    case HL_CFG_STRING: return cJSON_CreateString(p);
    case HL_CFG_INT_LIST: {
        const int *v = (const int *)(const void *)p;
        int n = *(const int *)(const void *)((const char *)obj + k->count_offset);
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
        return a;
    }
    case HL_CFG_SECTION: return hl_cfg_write(hl_cfg_child(k), p);
    default: return NULL;
    }
}

cJSON *hl_cfg_write(const hl_cfg_section *sec, const void *obj) {
    cJSON *o = cJSON_CreateObject();
    for (const hl_cfg_key *k = sec->keys; o && k->name; k++) {
        if ((k->flags & HL_CFG_OMIT_DEFAULT) && !k->write && at_default(k, obj)) continue;
        cJSON *v = write_value(k, obj);
        if (!v && (k->flags & HL_CFG_OMIT_DEFAULT)) continue;
        if (!v) { cJSON_Delete(o); return NULL; }
        cJSON_AddItemToObject(o, k->name, v);
    }
    return o;
}

// ------------------------------------------------------------ identity
static int same_text(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

int hl_cfg_same_section(const hl_cfg_section *a, const hl_cfg_section *b) {
    if (a == b) return 1;
    if (!same_text(a->name, b->name)) return 0;
    const hl_cfg_key *x = a->keys, *y = b->keys;
    for (; x->name && y->name; x++, y++) {
        if (strcmp(x->name, y->name) || x->kind != y->kind || x->offset != y->offset ||
            x->count_offset != y->count_offset || x->capacity != y->capacity || x->flags != y->flags ||
            !same_text(x->dflt_text, y->dflt_text) || memcmp(&x->dflt, &y->dflt, sizeof x->dflt) ||
            memcmp(&x->min, &y->min, sizeof x->min) || memcmp(&x->max, &y->max, sizeof x->max) ||
            !x->dflt_fn != !y->dflt_fn || !x->read != !y->read || !x->write != !y->write)
            return 0;
        const hl_cfg_section *cx = hl_cfg_child(x), *cy = hl_cfg_child(y);
        if (!cx != !cy || (cx && !hl_cfg_same_section(cx, cy))) return 0;
    }
    return !x->name && !y->name;
}
