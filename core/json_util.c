// json_util.c: input text files and JSON helpers (see json_util.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_util.h"

// ---------------------------------------------------------------- reading
// Grows *buf (capacity *cap) to hold at least `need` bytes, doubling.
static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 65536;
    while (c < need) c *= 2;
    char *bigger = realloc(*buf, c);
    if (!bigger) return -1;
    *buf = bigger; *cap = c;
    return 0;
}

int hl_read_text_stream(FILE *fp, const char *name, size_t max_bytes, char **text, size_t *len,
                        char *err, size_t errlen) {
    *text = NULL;
    if (len) *len = 0;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    // read at most max_bytes + 1: one byte more tells a file over the limit
    // (a pipe or /dev/zero has no size to ask for first)
    do {
        size_t want = max_bytes + 1 - n;
        if (want > 65536) want = 65536;
        if (grow(&buf, &cap, n + want + 1)) { free(buf); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory reading the file", name); }
        got = fread(buf + n, 1, want, fp);
        n += got;
    } while (got > 0 && n <= max_bytes);
    if (ferror(fp)) { free(buf); return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot read: %s", name, strerror(errno)); }
    if (n > max_bytes) {
        free(buf);
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: larger than the limit of %zu bytes (%zu MiB) for input files",
                       name, max_bytes, max_bytes >> 20);
    }
    const char *nul = memchr(buf, '\0', n);
    if (nul) {
        size_t offset = (size_t)(nul - buf);
        free(buf);
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: NUL byte at offset %zu (not a text file)", name, offset);
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return HL_OK;
}

int hl_read_text_file(const char *path, size_t max_bytes, char **text, size_t *len, char *err, size_t errlen) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot open: %s", path, strerror(errno));
    int rc = hl_read_text_stream(f, path, max_bytes, text, len, err, errlen);
    fclose(f);
    return rc;
}

int hl_json_read_file(const char *path, char **text, char *err, size_t errlen) {
    return hl_read_text_file(path, HL_MAX_INPUT_BYTES, text, NULL, err, errlen);
}

// ---------------------------------------------------------------- parsing
static void path_join(char *out, size_t len, const char *parent, const char *key) {
    if (parent[0]) snprintf(out, len, "%s.%s", parent, key);
    else snprintf(out, len, "%s", key);
}

typedef struct { cJSON *item; int index; } keyed_child;

static int compare_keyed(const void *a, const void *b) {
    const keyed_child *x = a, *y = b;
    int c = strcmp(x->item->string, y->item->string);
    return c ? c : x->index - y->index;
}

const cJSON *hl_json_find_duplicate(const cJSON *obj) {
    int n = cJSON_IsObject(obj) ? cJSON_GetArraySize(obj) : 0;
    if (n < 2) return NULL;
    keyed_child *kids = malloc((size_t)n * sizeof *kids);
    if (!kids) return NULL;
    int i = 0;
    for (cJSON *c = obj->child; c; c = c->next, i++) { kids[i].item = c; kids[i].index = i; }
    qsort(kids, (size_t)n, sizeof *kids, compare_keyed);
    // sorted by (key, index): a repeat sits right after an earlier copy
    const keyed_child *first = NULL;
    for (i = 1; i < n; i++)
        if (!strcmp(kids[i].item->string, kids[i - 1].item->string) && (!first || kids[i].index < first->index))
            first = &kids[i];
    const cJSON *dup = first ? first->item : NULL;
    free(kids);
    return dup;
}

// Depth-first (document order) search for a repeated key; path of the first.
static const cJSON *find_duplicate_deep(const cJSON *item, const char *path, char *out, size_t outlen) {
    char child_path[HL_ERR_LEN / 2];
    const cJSON *dup = hl_json_find_duplicate(item);
    if (dup) { path_join(out, outlen, path, dup->string); return dup; }
    int i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        if (cJSON_IsObject(item)) path_join(child_path, sizeof child_path, path, c->string);
        else snprintf(child_path, sizeof child_path, "%s[%d]", path, i);
        if ((dup = find_duplicate_deep(c, child_path, out, outlen))) return dup;
    }
    return NULL;
}

int hl_json_check_duplicates(const cJSON *root, const char *source, char *err, size_t errlen) {
    char path[HL_ERR_LEN / 2];
    if (!find_duplicate_deep(root, "", path, sizeof path)) return HL_OK;
    return hl_fail(err, errlen, HL_EBADINPUT, "%s: %s: duplicate key", source, path);
}

// A number literal that a double cannot hold: overflow (cJSON makes it inf,
// printed as null) or a non-zero value that underflows to 0.
static int literal_out_of_range(const char *lit, size_t n) {
    char buf[64];
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, lit, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (isinf(v)) return 1;
    if (v != 0) return 0;
    for (size_t i = 0; i < n && buf[i] != 'e' && buf[i] != 'E'; i++)
        if (buf[i] >= '1' && buf[i] <= '9') return 1;
    return 0;
}

// The first out-of-range number literal of text (outside strings): its
// index among all number literals, its start and length. -1 when none.
static int first_bad_literal(const char *text, const char **start, size_t *len) {
    int index = 0;
    for (const char *p = text; *p; ) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (*p) p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            size_t n = strspn(p, "0123456789+-.eE");
            if (literal_out_of_range(p, n)) { *start = p; *len = n; return index; }
            index++;
            p += n;
        } else {
            p++;
        }
    }
    return -1;
}

// Path of the k-th number in document order (cJSON keeps the file's order).
static int nth_number_path(const cJSON *item, const char *path, int *k, char *out, size_t outlen) {
    if (cJSON_IsNumber(item) && (*k)-- == 0) { snprintf(out, outlen, "%s", path); return 1; }
    char child_path[HL_ERR_LEN / 2];
    int i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        if (cJSON_IsObject(item)) path_join(child_path, sizeof child_path, path, c->string);
        else snprintf(child_path, sizeof child_path, "%s[%d]", path, i);
        if (nth_number_path(c, child_path, k, out, outlen)) return 1;
    }
    return 0;
}

int hl_json_check_numbers(const char *text, const cJSON *root, const char *source, const char *where,
                          char *err, size_t errlen) {
    const char *lit;
    size_t len;
    int k = first_bad_literal(text, &lit, &len);
    if (k < 0) return HL_OK;
    char path[HL_ERR_LEN / 2] = "";
    nth_number_path(root, where, &k, path, sizeof path);
    int shown = len > 40 ? 40 : (int)len;
    return hl_fail(err, errlen, HL_EBADINPUT, "%s: %s: number out of range for a double (got %.*s%s)",
                   source, path[0] ? path : "(top level)", shown, lit, len > 40 ? "..." : "");
}

// 1-based line and column of pos in text.
static void line_and_column(const char *text, const char *pos, int *line, int *col) {
    *line = 1; *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
    }
}

static int syntax_error(const char *text, const char *end, const char *source, char *err, size_t errlen) {
    if (!end) end = text + strlen(text);
    int line, col;
    line_and_column(text, end, &line, &col);
    int near_len = (int)strcspn(end, "\r\n");
    if (near_len > 16) near_len = 16;
    if (*end == '\0') snprintf(err, errlen, "%s: invalid JSON at line %d, column %d (unexpected end of input)", source, line, col);
    else if (near_len == 0) snprintf(err, errlen, "%s: invalid JSON at line %d, column %d (at the end of the line)", source, line, col);
    else snprintf(err, errlen, "%s: invalid JSON at line %d, column %d (near '%.*s')", source, line, col, near_len, end);
    return HL_EBADINPUT;
}

int hl_json_parse(const char *text, const char *source, cJSON **root, char *err, size_t errlen) {
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!*root) return syntax_error(text, end, source, err, errlen);
    int rc = hl_json_check_numbers(text, *root, source, "", err, errlen);
    if (rc == HL_OK) rc = hl_json_check_duplicates(*root, source, err, errlen);
    if (rc != HL_OK) { cJSON_Delete(*root); *root = NULL; }
    return rc;
}

// Re-links an object's children in key order (cJSON keeps child->prev
// pointing at the last child).
static void sort_object_children(cJSON *obj) {
    int n = cJSON_GetArraySize(obj);
    if (n < 2) return;
    keyed_child *kids = malloc((size_t)n * sizeof *kids);
    if (!kids) return;  // leaves the order as is; callers still get valid JSON
    int i = 0;
    for (cJSON *c = obj->child; c; c = c->next, i++) { kids[i].item = c; kids[i].index = i; }
    qsort(kids, (size_t)n, sizeof *kids, compare_keyed);
    for (i = 0; i < n; i++) {
        kids[i].item->next = (i + 1 < n) ? kids[i + 1].item : NULL;
        kids[i].item->prev = (i > 0) ? kids[i - 1].item : kids[n - 1].item;
    }
    obj->child = kids[0].item;
    free(kids);
}

void hl_json_sort_keys(cJSON *item) {
    if (!item) return;
    if (cJSON_IsObject(item)) sort_object_children(item);
    for (cJSON *c = item->child; c; c = c->next) hl_json_sort_keys(c);
}

// cJSON prints a non-integer number with 15 significant digits whenever that
// reads back within a relative DBL_EPSILON, so 0.1 and the next double both
// print "0.1". Numbers that 15 digits do not give back exactly become raw
// 17-digit text; every other number prints as cJSON prints it (so canonical
// texts, and spec hashes, of values that round-trip stay as they were).
static int exact_numbers(cJSON *item) {
    if (cJSON_IsNumber(item) && item->valuedouble != (double)item->valueint && isfinite(item->valuedouble)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%1.15g", item->valuedouble);
        if (strtod(buf, NULL) != item->valuedouble) {
            snprintf(buf, sizeof buf, "%1.17g", item->valuedouble);
            char *raw = strdup(buf);
            if (!raw) return -1;
            item->type = cJSON_Raw;
            item->valuestring = raw;
        }
    }
    for (cJSON *c = item->child; c; c = c->next)
        if (exact_numbers(c)) return -1;
    return 0;
}

char *hl_json_canonical(const cJSON *item) {
    cJSON *copy = cJSON_Duplicate(item, 1);
    if (!copy) return NULL;
    if (exact_numbers(copy)) { cJSON_Delete(copy); return NULL; }
    hl_json_sort_keys(copy);
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

void hl_json_brief(const cJSON *item, char *buf, size_t buflen) {
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    if (!text) { snprintf(buf, buflen, "?"); return; }
    if (strlen(text) > 60) snprintf(buf, buflen, "%.57s...", text);
    else snprintf(buf, buflen, "%s", text);
    free(text);
}

void hl_json_basename(const char *path, char *out, size_t outlen) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".json")) n -= 5;
    snprintf(out, outlen, "%.*s", (int)n, base);
}
