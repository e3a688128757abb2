// prompts.c: token files and JSON-lines prompt batches (see prompts.h).
#include "harness/prompts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_util.h"
#include "core/status.h"

static int read_input(const char *path, char **text, char *err, size_t errlen) {
    return strcmp(path, "-") ? hl_read_text_file(path, HL_MAX_INPUT_BYTES, text, NULL, err, errlen)
                             : hl_read_text_stream(stdin, path, HL_MAX_INPUT_BYTES, text, NULL, err, errlen);
}

// Appends one id to a growing array.
static int push_token(int32_t **ids, int *n, int *cap, int32_t id) {
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 256;
        int32_t *p = realloc(*ids, (size_t)ncap * sizeof *p);
        if (!p) return -1;
        *ids = p;
        *cap = ncap;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

#define SPACES " \t\n\r\v\f"

// Ids from text; *first_line gets the line of the first id.
static int parse_token_text(const char *path, const char *text, int vocab, int32_t **ids, int *n,
                            int *first_line, char *err, size_t errlen) {
    int cap = 0, line = 1, rc = HL_OK;
    *ids = NULL;
    *n = 0;
    *first_line = 1;
    for (const char *p = text; rc == HL_OK; ) {
        size_t gap = strspn(p, SPACES);
        for (size_t i = 0; i < gap; i++) line += p[i] == '\n';
        p += gap;
        if (!*p) break;
        if (*n == 0) *first_line = line;
        int len = (int)strcspn(p, SPACES);
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end != p + len || errno)
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: token %d ('%.*s%s'): not an integer", path, line, *n,
                         len > 60 ? 60 : len, p, len > 60 ? "..." : "");
        else if (v < 0 || v >= vocab)
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: token %d: id %lld out of range [0, %d)", path, line,
                         *n, v, vocab);
        else if (push_token(ids, n, &cap, (int32_t)v))
            rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory after %d tokens", path, *n);
        p += len;
    }
    if (rc == HL_OK && *n == 0) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: no tokens", path);
    if (rc) { free(*ids); *ids = NULL; *n = 0; }
    return rc;
}

int hl_read_token_ids(const char *path, int vocab, int32_t **ids, int *n, char *err, size_t errlen) {
    char *text = NULL;
    int line;
    *ids = NULL;
    *n = 0;
    int rc = read_input(path, &text, err, errlen);
    if (rc == HL_OK) rc = parse_token_text(path, text, vocab, ids, n, &line, err, errlen);
    free(text);
    return rc;
}

void hl_prompts_free(hl_prompts *p) {
    for (int i = 0; i < p->n; i++) free(p->p[i].ids);
    free(p->p);
    p->p = NULL;
    p->n = 0;
}

static int push_prompt(hl_prompts *out, int *cap, hl_prompt pr) {
    if (out->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        hl_prompt *q = realloc(out->p, (size_t)ncap * sizeof *q);
        if (!q) return -1;
        out->p = q;
        *cap = ncap;
    }
    out->p[out->n++] = pr;
    return 0;
}

int hl_prompts_read_tokens(const char *path, int vocab, hl_prompts *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    hl_prompt pr = {0};
    char *text = NULL;
    int cap = 0;
    int rc = read_input(path, &text, err, errlen);
    if (rc == HL_OK) rc = parse_token_text(path, text, vocab, &pr.ids, &pr.n, &pr.line, err, errlen);
    free(text);
    if (rc == HL_OK && push_prompt(out, &cap, pr)) {
        free(pr.ids);
        rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    }
    return rc;
}

// One batch line's object into pr; src is "PATH:LINE".
static int parse_batch_object(const cJSON *root, const char *src, int vocab, hl_prompt *pr, char *err,
                              size_t errlen) {
    if (!cJSON_IsObject(root))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: expected an object {\"tokens\": [ids...]}", src);
    const cJSON *toks = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "prompt"))
            return hl_fail(err, errlen, HL_EBADINPUT,
                           "%s: prompt: text prompts need a tokenizer, which hylab does not have yet (next issue);"
                           " give token ids as {\"tokens\": [...]}", src);
        if (strcmp(c->string, "tokens"))
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: %s: unknown key (expected \"tokens\")", src, c->string);
        toks = c;
    }
    if (!toks) return hl_fail(err, errlen, HL_EBADINPUT, "%s: tokens: missing", src);
    char brief[96];
    if (!cJSON_IsArray(toks)) {
        hl_json_brief(toks, brief, sizeof brief);
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tokens: expected an array of token ids, got %s", src, brief);
    }
    int n = cJSON_GetArraySize(toks);
    if (n == 0) return hl_fail(err, errlen, HL_EBADINPUT, "%s: tokens: empty prompt", src);
    pr->ids = malloc((size_t)n * sizeof *pr->ids);
    if (!pr->ids) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", src);
    pr->n = n;
    int i = 0;
    for (const cJSON *t = toks->child; t; t = t->next, i++) {
        double v = cJSON_IsNumber(t) ? t->valuedouble : NAN;
        if (!(v == floor(v))) {
            hl_json_brief(t, brief, sizeof brief);
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tokens[%d]: expected an integer token id, got %s", src, i,
                           brief);
        }
        if (v < 0 || v >= vocab)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tokens[%d]: id %.0f out of range [0, %d)", src, i, v,
                           vocab);
        pr->ids[i] = (int32_t)v;
    }
    return HL_OK;
}

int hl_prompts_read_jsonl(const char *path, int vocab, hl_prompts *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    char *text = NULL;
    int rc = read_input(path, &text, err, errlen), cap = 0, line = 0;
    for (char *p = text; rc == HL_OK && p && *p; ) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        if (p[strspn(p, SPACES)]) {
            char src[4200];
            snprintf(src, sizeof src, "%s:%d", path, line);
            cJSON *root = NULL;
            hl_prompt pr = {NULL, 0, line};
            rc = hl_json_parse(p, src, &root, err, errlen);
            if (rc == HL_OK) rc = parse_batch_object(root, src, vocab, &pr, err, errlen);
            if (rc == HL_OK && push_prompt(out, &cap, pr)) rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", src);
            if (rc) free(pr.ids);
            cJSON_Delete(root);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rc == HL_OK && out->n == 0) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: no prompts", path);
    if (rc) hl_prompts_free(out);
    return rc;
}
