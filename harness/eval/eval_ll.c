// eval_ll.c: log-likelihood requests answered with hl_model_forward or a
// shared-context decode state (contract and the two paths in
// harness/eval/eval_internal.h). ROWS: the pairs of an item go through the
// model as one batch of right-padded rows (in chunks of the model's
// max_B), logits only at each row's continuation positions. SHARED: the
// context is prefilled once (models/decode.h), forked to one row per pair,
// and the continuations step one token at a time: continuation token 0 is
// scored from the prefill's logits, token j from step j-1's; a finished
// row feeds its last token and its logits are ignored. The
// log-softmax is taken from the fp32 logits with the exps in float (libm
// expf, ~1e-7 relative, 3x faster than exp) summed in double (within 1e-5
// of a float64 forward on tests/lmeval). Padding is token 0
// after a row's end: the model is causal, so it never changes a row's
// logits. A continuation longer than max_length (lm-eval leaves that case
// undefined) is cut from the left with the input: only its last max_length
// tokens are scored (n_tokens says how many) and the item counts as
// truncated.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness/eval/eval_internal.h"
#include "models/decode.h"
#include "models/layer.h"

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
    float mf = (float)mx;   // exp in float (the terms near the max dominate; ~1e-7 relative), summed in double
    for (int v = 0; v < V; v++) s += (double)expf(x[v] - mf);
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
        n_out += sp[b].inplen < p[b].n_cont ? sp[b].inplen : p[b].n_cont;
    }
    int32_t *tok = calloc((size_t)B * (size_t)T + (size_t)n_out, sizeof *tok);   // (B, T) then out_pos (n_out)
    if (!tok) { free(sp); return hl_fail(err, errlen, HL_EFAIL, "out of memory"); }
    int32_t *pos = tok + (size_t)B * (size_t)T;
    int j = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < sp[b].inplen; t++) tok[(size_t)b * T + t] = whole_at(&p[b], sp[b].start + t);
        int nc = sp[b].inplen < p[b].n_cont ? sp[b].inplen : p[b].n_cont;
        for (int t = sp[b].inplen - nc; t < sp[b].inplen; t++) pos[j++] = b * T + t;
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
            int nc = sp[b].inplen < p[b].n_cont ? sp[b].inplen : p[b].n_cont;
            out[b].n_tokens = nc;
            for (int c = p[b].n_cont - nc; c < p[b].n_cont; c++, j++) {
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

// ---------------------------------------------------------------- the shared context
struct hl_eval_ll_state {
    hl_model *m;
    int max_B, max_len;
    hl_infer *s;
    int32_t *tok;   // (max_B) step tokens
};

void hl_eval_ll_free(hl_eval_ll_state *s) {
    if (!s) return;
    hl_infer_free(s->s);
    free(s->tok);
    free(s);
}

const char *hl_eval_ll_path_name(hl_eval_ll_path p) {
    return p == HL_EVAL_LL_ROWS ? "rows" : p == HL_EVAL_LL_SHARED ? "shared" : "auto";
}

// A state for B rows (at most the model's max_B) of max_len positions in *sp
// (kept when it is big enough). HL_OK, or hl_infer_create's status.
static int state_for(hl_eval_ll_state **sp, hl_model *m, int B, int max_len, char *err, size_t errlen) {
    if (B > hl_model_max_B(m)) B = hl_model_max_B(m);
    hl_eval_ll_state *s = *sp;
    if (s && s->m == m && s->max_len == max_len && s->max_B >= B) return HL_OK;
    hl_eval_ll_free(s);
    *sp = NULL;
    s = calloc(1, sizeof *s);
    if (s) s->tok = malloc((size_t)B * sizeof *s->tok);
    if (!s || !s->tok) { hl_eval_ll_free(s); return hl_fail(err, errlen, HL_EFAIL, "out of memory"); }
    s->s = hl_infer_create(m, B, max_len, err, errlen);
    if (!s->s) { hl_eval_ll_free(s); return HL_EFAIL; }
    s->m = m; s->max_B = B; s->max_len = max_len;
    *sp = s;
    return HL_OK;
}

// 1 when every mixer of m keeps a state that can be forked (layer.h hooks).
static int forkable(hl_model *m) {
    const hl_model_config *cfg = hl_model_cfg(m);
    for (int l = 0; l < cfg->n_layers; l++) {
        const hl_layer_type *t = hl_model_part(m, l, HL_PART_MIXER)->type;
        if (!t->state_floats || !t->state_prefill || !t->state_step || !t->state_parts) return 0;
    }
    return 1;
}

// 1 when the item qualifies for the shared path: one context for all pairs, nothing cut.
static int shared_context(const hl_eval_item *it, int max_length) {
    const hl_eval_pair *p0 = &it->req[0];
    for (int i = 0; i < it->n_req; i++) {
        const hl_eval_pair *p = &it->req[i];
        if (p->n_ctx + p->n_cont - 1 > max_length) return 0;
        if (p->n_ctx != p0->n_ctx || memcmp(p->ctx, p0->ctx, (size_t)p0->n_ctx * sizeof *p0->ctx)) return 0;
    }
    return 1;
}

// The pairs p[0..n) (one context) through s: chunks of s->max_B rows.
static int run_shared(hl_eval_ll_state *s, const hl_eval_pair *p, int n, hl_eval_ll *out, long *tokens, char *err,
                      size_t errlen) {
    int V = hl_model_cfg(s->m)->vocab_size;
    for (int i0 = 0; i0 < n; i0 += s->max_B) {
        int B = n - i0 < s->max_B ? n - i0 : s->max_B, maxc = 0;
        const hl_eval_pair *q = p + i0;
        const float *lg;
        int rc = hl_infer_prefill(s->s, q[0].ctx, 1, q[0].n_ctx, NULL, &lg, err, errlen);
        if (!rc) rc = hl_infer_fork(s->s, 0, B, err, errlen);
        if (rc) return rc;
        *tokens += q[0].n_ctx;
        for (int b = 0; b < B; b++) {
            out[i0 + b] = (hl_eval_ll){ .ll = 0, .greedy = 1, .n_tokens = q[b].n_cont };
            if (q[b].n_cont > maxc) maxc = q[b].n_cont;
        }
        for (int j = 0; j < maxc; j++) {   // lg row b: the prediction of q[b].cont[j]
            for (int b = 0; b < B; b++) {
                if (j >= q[b].n_cont) continue;
                int g;
                out[i0 + b].ll += log_prob(lg + (size_t)b * V, V, q[b].cont[j], &g);
                out[i0 + b].greedy &= g;
            }
            if (j + 1 == maxc) break;
            for (int b = 0; b < B; b++) {
                int live = j + 1 < q[b].n_cont;
                s->tok[b] = q[b].cont[live ? j : q[b].n_cont - 1];
                *tokens += live;
            }
            rc = hl_infer_step(s->s, s->tok, &lg, err, errlen);
            if (rc) return rc;
        }
    }
    return HL_OK;
}

// AUTO's rule (figures: DESIGN.md "Evaluation", tests/bench_eval.c). A
// step costs about as much as STEP_POSITIONS positions of the batched
// forward (measured 30-50 on the cpu backend: it reads the whole LM head
// for a few rows, and every op runs on B rows; the rows path reads the head
// once per item); SHARED saves (n_req - 1) * n_ctx positions and spends
// max n_cont - 1 steps. So SHARED when n_req >= 2 and
// (n_req - 1) * n_ctx >= STEP_POSITIONS * (max n_cont - 1): always for
// one-token continuations (boolq: 1.5-1.8x), rarely for hellaswag, piqa and
// arc (0.14-0.63x on every item). Not for a model with a recurrent-state
// mixer (HL_CAP_STATE: S, H): capturing its state after the prefill
// re-runs the scan over the context (the cpu backend's scan_state, ~20x
// slower per position than the forward's scan), so H loses even on boolq
// (0.62x).
#define STEP_POSITIONS 64

int hl_eval_ll_auto_shared(hl_model *m, const hl_eval_item *it, int max_length) {
    if (it->n_req < 2 || !shared_context(it, max_length) || !forkable(m)) return 0;
    const hl_model_config *cfg = hl_model_cfg(m);
    for (int l = 0; l < cfg->n_layers; l++)
        if (hl_layer_caps(cfg, l) & HL_CAP_STATE) return 0;
    int maxc = 0;
    for (int i = 0; i < it->n_req; i++)
        if (it->req[i].n_cont > maxc) maxc = it->req[i].n_cont;
    return (int64_t)(it->n_req - 1) * it->req[0].n_ctx >= (int64_t)STEP_POSITIONS * (maxc - 1);
}

int hl_eval_answer_loglik(hl_eval_ll_state **st, hl_model *m, const hl_eval_item *it, int max_length,
                          hl_eval_ll_path want, hl_eval_ll *out, int *truncated, long *tokens,
                          hl_eval_ll_path *used, char *err, size_t errlen) {
    *truncated = 0;
    *used = HL_EVAL_LL_ROWS;
    if (max_length < 1 || max_length > hl_model_max_T(m))
        return hl_fail(err, errlen, HL_EBADINPUT, "max_length %d is outside the model's [1, %d]", max_length,
                       hl_model_max_T(m));
    for (int i = 0; i < it->n_req; i++) {
        const hl_eval_pair *p = &it->req[i];
        if (p->n_ctx < 1 || p->n_cont < 1)
            return hl_fail(err, errlen, HL_EBADINPUT, "request %d: empty context or continuation", i);
        if (p->n_ctx + p->n_cont - 1 > max_length) *truncated = 1;
    }
    if (it->n_req > 0 && (want == HL_EVAL_LL_SHARED ? shared_context(it, max_length)
                                                     : want == HL_EVAL_LL_AUTO && hl_eval_ll_auto_shared(m, it, max_length))) {
        if (!forkable(m))
            return hl_fail(err, errlen, HL_EUNSUPPORTED,
                           "the shared-context path: a mixer of the model keeps no forkable inference state");
        int rc = state_for(st, m, it->n_req, max_length, err, errlen);
        if (rc) return rc;
        *used = HL_EVAL_LL_SHARED;
        return run_shared(*st, it->req, it->n_req, out, tokens, err, errlen);
    }
    int maxB = hl_model_max_B(m);
    for (int i = 0; i < it->n_req; i += maxB) {
        int B = it->n_req - i < maxB ? it->n_req - i : maxB;
        int rc = run_batch(m, it->req + i, B, max_length, out + i, tokens, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}
