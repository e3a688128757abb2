// jsonl.c: the JSON Lines reader (contract in tasks/jsonl.h).
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/jsonl.h"

int hl_jsonl_fail(const hl_jsonl *r, char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        int k = snprintf(err, errlen, "%s: line %ld: ", r->path, r->line);
        if (k >= 0 && (size_t)k < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return HL_EBADINPUT;
}

int hl_jsonl_open(hl_jsonl *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->f = fopen(path, "rb");
    if (!r->f) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot open: %s", path, strerror(errno));
    return HL_OK;
}

void hl_jsonl_close(hl_jsonl *r) {
    if (r->f) fclose(r->f);
    free(r->buf);
    r->f = NULL;
    r->buf = NULL;
    r->cap = 0;
}

// One line (without its newline) into r->buf; *len its length. 0 at EOF
// with nothing read, 1 a line, -1 memory.
static int read_line(hl_jsonl *r, size_t *len) {
    size_t n = 0;
    int c, any = 0;
    while ((c = getc(r->f)) != EOF) {
        any = 1;
        if (c == '\n') break;
        if (n + 2 > r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 4096;
            char *b = realloc(r->buf, cap);
            if (!b) return -1;
            r->buf = b;
            r->cap = cap;
        }
        r->buf[n++] = (char)c;
    }
    if (!any) return 0;
    if (!r->buf) {
        r->buf = malloc(16);
        if (!r->buf) return -1;
        r->cap = 16;
    }
    r->buf[n] = '\0';
    *len = n;
    return 1;
}

int hl_jsonl_next(hl_jsonl *r, int want_object, cJSON **out, char *err, size_t errlen) {
    *out = NULL;
    for (;;) {
        size_t len = 0;
        int k = read_line(r, &len);
        if (k < 0) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", r->path);
        if (k == 0) {
            if (ferror(r->f)) return hl_fail(err, errlen, HL_EFAIL, "%s: read error", r->path);
            return HL_OK;
        }
        r->line++;
        size_t i = 0;
        while (i < len && strchr(" \t\r\f\v", r->buf[i])) i++;
        if (i == len) continue;
        if (memchr(r->buf, '\0', len)) return hl_jsonl_fail(r, err, errlen, "a NUL byte in the line");
        const char *end = NULL;
        cJSON *v = cJSON_ParseWithOpts(r->buf, &end, 0);
        if (!v) {
            const char *at = cJSON_GetErrorPtr();
            long col = at && at >= r->buf && at <= r->buf + len ? (long)(at - r->buf) + 1 : 0;
            return hl_jsonl_fail(r, err, errlen, "not valid JSON (at column %ld)", col);
        }
        while (end && *end && strchr(" \t\r\f\v", *end)) end++;
        if (end && *end) {
            cJSON_Delete(v);
            return hl_jsonl_fail(r, err, errlen, "text after the JSON value (at column %ld)",
                                 (long)(end - r->buf) + 1);
        }
        if (want_object && !cJSON_IsObject(v)) {
            cJSON_Delete(v);
            return hl_jsonl_fail(r, err, errlen, "expected a JSON object");
        }
        *out = v;
        return HL_OK;
    }
}

static const cJSON *field(const hl_jsonl *r, const cJSON *o, const char *key, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) hl_jsonl_fail(r, err, errlen, "missing key \"%s\"", key);
    return v;
}

int hl_jsonl_string(const hl_jsonl *r, const cJSON *o, const char *key, const char **s, char *err,
                    size_t errlen) {
    const cJSON *v = field(r, o, key, err, errlen);
    if (!v) return HL_EBADINPUT;
    if (!cJSON_IsString(v)) return hl_jsonl_fail(r, err, errlen, "key \"%s\": expected a string", key);
    *s = v->valuestring;
    return HL_OK;
}

int hl_jsonl_int(const hl_jsonl *r, const cJSON *o, const char *key, int *out, char *err, size_t errlen) {
    const cJSON *v = field(r, o, key, err, errlen);
    if (!v) return HL_EBADINPUT;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(d) || d != floor(d) || d < -2147483648.0 || d > 2147483647.0)
        return hl_jsonl_fail(r, err, errlen, "key \"%s\": expected an integer", key);
    *out = (int)d;
    return HL_OK;
}

int hl_jsonl_strings(const hl_jsonl *r, const cJSON *o, const char *key, int min_n, const cJSON **arr,
                     int *n, char *err, size_t errlen) {
    const cJSON *v = field(r, o, key, err, errlen);
    if (!v) return HL_EBADINPUT;
    if (!cJSON_IsArray(v)) return hl_jsonl_fail(r, err, errlen, "key \"%s\": expected an array of strings", key);
    int k = 0;
    for (const cJSON *e = v->child; e; e = e->next, k++)
        if (!cJSON_IsString(e))
            return hl_jsonl_fail(r, err, errlen, "key \"%s\": entry %d: expected a string", key, k);
    if (k < min_n)
        return hl_jsonl_fail(r, err, errlen, "key \"%s\": %d entr%s, at least %d needed", key, k,
                             k == 1 ? "y" : "ies", min_n);
    *arr = v;
    *n = k;
    return HL_OK;
}
