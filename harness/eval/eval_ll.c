// eval_ll.c: log-likelihood requests answered with hl_model_forward
// (contract in harness/eval/eval_internal.h). The pairs of an item go
// through the model as one batch of right-padded rows (in chunks of the
// model's max_B), logits only at each row's continuation positions; the
// log-softmax is taken in double from the fp32 logits. Padding is token 0
// after a row's end: the model is causal, so it never changes a row's
// logits.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness/eval/eval_internal.h"

// Row layout of one pair: input = (ctx + cont)[start : total - 1].
typedef struct { int start, inplen; } row_span;

static int32_t whole_at(const hl_eval_pair *p, int i) { return i < p->n_ctx ? p->ctx[i] : p->cont[i - p->n_ctx]; }

// log-softmax of x at target in double, and whether target is the argmax
// (ties: the lowest id, as torch.argmax).
static double log_prob(const float *x, int V, int target, int *greedy) {
    int best = 0;
    double mx = x[0];
    for (int v = 1; v < V; v++)
        if (x[v] > mx) { mx = x[v]; best = v; }
    double s = 0;
    for (int v = 0; v < V; v++) s += exp((double)x[v] - mx);
    *greedy = best == target;
    return (double)x[target] - mx - log(s);
}

static int run_batch(hl_model *m, const hl_eval_pair *p, int B, int max_length, hl_eval_ll *out, long *tokens,
                     char *err, size_t errlen) {
    row_span *sp = malloc((size_t)B * sizeof *sp);
    if (!sp) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    int T = 1, n_out = 0;
    for (int b = 0; b < B; b++) {
        int total = p[b].n_ctx + p[b].n_cont;
        sp[b].inplen = total - 1 < max_length ? total - 1 : max_length;
        sp[b].start = total - 1 - sp[b].inplen;
        if (sp[b].inplen > T) T = sp[b].inplen;
        n_out += p[b].n_cont;
    }
    int32_t *tok = calloc((size_t)B * (size_t)T + (size_t)n_out, sizeof *tok);   // (B, T) then out_pos (n_out)
    if (!tok) { free(sp); return hl_fail(err, errlen, HL_EFAIL, "out of memory"); }
    int32_t *pos = tok + (size_t)B * (size_t)T;
    int j = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < sp[b].inplen; t++) tok[(size_t)b * T + t] = whole_at(&p[b], sp[b].start + t);
        for (int t = sp[b].inplen - p[b].n_cont; t < sp[b].inplen; t++) pos[j++] = b * T + t;
        *tokens += sp[b].inplen;
    }
    const float *logits = NULL;
    int rc = hl_model_forward(m, tok, B, T, pos, n_out, &logits, err, errlen);
    if (!rc && hl_model_last_status(m) != HL_OK)
        rc = hl_fail(err, errlen, hl_model_last_status(m), "forward failed");
    if (!rc) {
        int V = hl_model_cfg(m)->vocab_size;
        j = 0;
        for (int b = 0; b < B; b++) {
            out[b].ll = 0;
            out[b].greedy = 1;
            out[b].n_tokens = p[b].n_cont;
            for (int c = 0; c < p[b].n_cont; c++, j++) {
                int g;
                out[b].ll += log_prob(logits + (size_t)j * V, V, p[b].cont[c], &g);
                out[b].greedy &= g;
            }
        }
    }
    free(tok);
    free(sp);
    return rc;
}

int hl_eval_answer_loglik(hl_model *m, const hl_eval_item *it, int max_length, hl_eval_ll *out, int *truncated,
                          long *tokens, char *err, size_t errlen) {
    *truncated = 0;
    if (max_length < 1 || max_length > hl_model_max_T(m))
        return hl_fail(err, errlen, HL_EBADINPUT, "max_length %d is outside the model's [1, %d]", max_length,
                       hl_model_max_T(m));
    for (int i = 0; i < it->n_req; i++) {
        const hl_eval_pair *p = &it->req[i];
        if (p->n_ctx < 1 || p->n_cont < 1)
            return hl_fail(err, errlen, HL_EBADINPUT, "request %d: empty context or continuation", i);
        if (p->n_cont > max_length)
            return hl_fail(err, errlen, HL_EBADINPUT,
                           "request %d: a continuation of %d tokens does not fit max_length %d", i, p->n_cont,
                           max_length);
        if (p->n_ctx + p->n_cont - 1 > max_length) *truncated = 1;
    }
    int maxB = hl_model_max_B(m);
    for (int i = 0; i < it->n_req; i += maxB) {
        int B = it->n_req - i < maxB ? it->n_req - i : maxB;
        int rc = run_batch(m, it->req + i, B, max_length, out + i, tokens, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}
