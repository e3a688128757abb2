// json_util.c: JSON helpers for spec and sweep parsing (see json_util.h).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_util.h"

int hl_json_read_file(const char *path, char **text, char *err, size_t errlen) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return HL_EBADINPUT; }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger; cap *= 2;
        }
    }
    int read_error = ferror(f);
    fclose(f);
    if (!buf) { snprintf(err, errlen, "%s: out of memory reading the file", path); return HL_EFAIL; }
    if (read_error) { free(buf); snprintf(err, errlen, "%s: read error", path); return HL_EFAIL; }
    buf[len] = '\0';
    if (strlen(buf) != len) { free(buf); snprintf(err, errlen, "%s: invalid JSON: contains a NUL byte", path); return HL_EBADINPUT; }
    *text = buf;
    return HL_OK;
}

// 1-based line and column of pos in text.
static void line_and_column(const char *text, const char *pos, int *line, int *col) {
    *line = 1; *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') { (*line)++; *col = 1; } else (*col)++;
    }
}

int hl_json_parse(const char *text, const char *source, cJSON **root, char *err, size_t errlen) {
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (*root) return HL_OK;
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

const cJSON *hl_json_repeated_key(const cJSON *obj) {
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next)
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (c->string && d->string && !strcmp(c->string, d->string)) return c;
    return NULL;
}

typedef struct { cJSON *item; int index; } keyed_child;

static int compare_keys(const void *a, const void *b) {
    const keyed_child *x = a, *y = b;
    int c = strcmp(x->item->string, y->item->string);
    return c ? c : x->index - y->index;
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
    qsort(kids, (size_t)n, sizeof *kids, compare_keys);
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

char *hl_json_canonical(const cJSON *item) {
    cJSON *copy = cJSON_Duplicate(item, 1);
    if (!copy) return NULL;
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
