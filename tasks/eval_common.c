// eval_common.c: what every evaluation family shares (tasks/eval.h):
// lm-evaluation-harness's pair rule and the metric list.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/eval.h"

// Length in bytes of the trailing whitespace of s[0..n), as Python's
// str.rstrip() counts it (str.isspace over code points; s is UTF-8).
static size_t trailing_space(const char *s, size_t n) {
    size_t end = n;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80 && end - start < 4) start--;
        const unsigned char *p = (const unsigned char *)s + start;
        size_t k = end - start;
        unsigned cp;
        if (k == 1 && p[0] < 0x80) cp = p[0];
        else if (k == 2 && (p[0] & 0xE0) == 0xC0) cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
        else if (k == 3 && (p[0] & 0xF0) == 0xE0)
            cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        else break;   // 4-byte code points are never whitespace; invalid UTF-8 stops
        int space = (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
                    cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
                    cp == 0x202F || cp == 0x205F || cp == 0x3000;
        if (!space) break;
        end = start;
    }
    return n - end;
}

void hl_eval_pair_free(hl_eval_pair *p) {
    free(p->ctx);
    free(p->cont);
    memset(p, 0, sizeof *p);
}

int hl_eval_pair_encode(const hl_tokenizer *tok, const char *context, const char *continuation,
                        hl_eval_pair *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    size_t nc = strlen(context), nk = strlen(continuation);
    size_t sp = trailing_space(context, nc);
    size_t nctx = nc - sp;                       // context without its trailing whitespace
    hl_ids whole = {0}, ctx = {0};
    int rc = HL_OK;
    if (nc == 0) {
        // an empty context: eos as the context, the continuation alone
        int32_t eos = hl_tokenizer_eos(tok);
        if (eos < 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "an empty context needs an end-of-text token, and tokenizer %s has none",
                           hl_tokenizer_name(tok));
        rc = hl_ids_push(&ctx, eos);
        if (!rc) rc = hl_tokenizer_encode(tok, continuation, nk, &whole, err, errlen);
        if (rc) goto out;
        p->cont = whole.v; p->n_cont = (int)whole.n;
        whole.v = NULL;
    } else {
        char *joined = malloc(nc + nk + 1);
        if (!joined) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
        memcpy(joined, context, nc);
        memcpy(joined + nc, continuation, nk + 1);
        rc = hl_tokenizer_encode(tok, joined, nc + nk, &whole, err, errlen);
        free(joined);
        if (!rc) rc = hl_tokenizer_encode(tok, context, nctx, &ctx, err, errlen);
        if (rc) goto out;
        size_t n_cont = whole.n > ctx.n ? whole.n - ctx.n : 0;
        p->cont = malloc((n_cont ? n_cont : 1) * sizeof *p->cont);
        if (!p->cont) { rc = hl_fail(err, errlen, HL_EFAIL, "out of memory"); goto out; }
        memcpy(p->cont, whole.v + ctx.n, n_cont * sizeof *p->cont);
        p->n_cont = (int)n_cont;
    }
    p->ctx = ctx.v; p->n_ctx = (int)ctx.n;
    ctx.v = NULL;
    if (p->n_ctx < 1) rc = hl_fail(err, errlen, HL_EBADINPUT, "the context is only whitespace: nothing to condition on");
    else if (p->n_cont < 1) rc = hl_fail(err, errlen, HL_EBADINPUT, "the continuation encodes to no tokens");
out:
    hl_ids_free(&whole);
    hl_ids_free(&ctx);
    if (rc) hl_eval_pair_free(p);
    return rc;
}

int hl_eval_report_add(hl_eval_report *r, const char *name, double value, long n, double sem,
                       const char *params_json) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        hl_eval_metric *m = realloc(r->m, (size_t)cap * sizeof *m);
        if (!m) return HL_EFAIL;
        r->m = m;
        r->cap = cap;
    }
    hl_eval_metric *e = &r->m[r->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->value = value;
    e->n = n;
    e->sem = sem;
    snprintf(e->params_json, sizeof e->params_json, "%s", params_json ? params_json : "{}");
    return HL_OK;
}

void hl_eval_report_free(hl_eval_report *r) {
    free(r->m);
    r->m = NULL;
    r->n = r->cap = 0;
}
