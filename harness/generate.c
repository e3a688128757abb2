// generate.c: batched generation over models/decode.h (see generate.h).
#include "harness/generate.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/decode.h"

void hl_gen_sizes(const hl_prompts *p, const hl_gen_opts *o, int *max_B, int *max_T, int *max_len) {
    int longest = 0;
    for (int i = 0; i < p->n; i++)
        if (p->p[i].n > longest) longest = p->p[i].n;
    *max_B = o->batch < p->n ? o->batch : p->n;
    *max_T = longest;
    *max_len = longest + o->max_new - 1;
}

// Prompts [first, first + rows) through state s: prefill, then steps.
static int generate_batch(hl_infer *s, hl_sampler *smp, int V, const hl_prompts *p, int first, int rows,
                          const hl_gen_opts *o, hl_gen_out *out, int32_t *buf, char *err, size_t errlen) {
    int T = 0;
    for (int b = 0; b < rows; b++)
        if (p->p[first + b].n > T) T = p->p[first + b].n;
    int32_t *lens = buf, *next = buf + rows, *done = buf + 2 * rows, *toks = buf + 3 * rows;
    memset(toks, 0, (size_t)rows * T * sizeof *toks);
    for (int b = 0; b < rows; b++) {
        const hl_prompt *pr = &p->p[first + b];
        memcpy(toks + (size_t)b * T, pr->ids, (size_t)pr->n * sizeof *toks);
        lens[b] = pr->n;
        done[b] = 0;
        out[first + b].n = 0;
        out[first + b].ids = malloc((size_t)o->max_new * sizeof *out[first + b].ids);
        if (!out[first + b].ids) return hl_fail(err, errlen, HL_EFAIL, "generate: out of memory");
    }
    const float *logits = NULL;
    int rc = hl_infer_prefill(s, toks, rows, T, lens, &logits, err, errlen);
    for (int step = 0, left = rows; rc == HL_OK; step++) {
        for (int b = 0; b < rows; b++) {
            if (done[b]) continue;
            hl_gen_out *g = &out[first + b];
            next[b] = hl_sample_next(smp, logits + (size_t)b * V, (uint64_t)(first + b), (uint64_t)step);
            g->ids[g->n++] = next[b];
            if (g->n == o->max_new || next[b] == o->eos) { done[b] = 1; left--; }
        }
        if (left == 0) break;
        rc = hl_infer_step(s, next, &logits, err, errlen);
    }
    return rc;
}

int hl_generate(hl_model *m, const hl_prompts *p, const hl_gen_opts *o, hl_gen_out *out, char *err,
                size_t errlen) {
    int V = hl_model_cfg(m)->vocab_size;
    for (int i = 0; i < p->n; i++) out[i] = (hl_gen_out){NULL, 0};
    const char *bad = hl_sample_check(&o->sample);
    if (bad) return hl_fail(err, errlen, HL_EBADINPUT, "generate: %s", bad);
    if (o->max_new < 1 || o->batch < 1 || o->eos < -1 || o->eos >= V || p->n < 1)
        return hl_fail(err, errlen, HL_EBADINPUT, "generate: max_new %d, batch %d, eos %d or %d prompts out of range",
                       o->max_new, o->batch, o->eos, p->n);
    int max_B, longest, max_len;
    hl_gen_sizes(p, o, &max_B, &longest, &max_len);
    hl_infer *s = hl_infer_create(m, max_B, max_len, err, errlen);
    if (!s) return HL_EFAIL;
    hl_sampler *smp = hl_sampler_create(V, &o->sample);
    int32_t *buf = malloc((size_t)max_B * (3 + (size_t)longest) * sizeof *buf);
    int rc = smp && buf ? HL_OK : hl_fail(err, errlen, HL_EFAIL, "generate: out of memory");
    for (int first = 0; rc == HL_OK && first < p->n; first += max_B) {
        int rows = p->n - first < max_B ? p->n - first : max_B;
        rc = generate_batch(s, smp, V, p, first, rows, o, out, buf, err, errlen);
    }
    free(buf);
    hl_sampler_free(smp);
    hl_infer_free(s);
    return rc;
}

// ---------------------------------------------------------------- speculative decoding
void hl_gen_spec_sizes(const hl_prompts *p, const hl_gen_opts *o, int lookahead, int *max_B, int *max_T,
                       int *max_len) {
    hl_gen_sizes(p, o, max_B, max_T, max_len);
    *max_len += 2 + lookahead;
}

// Emits token t for row g (not done): 1 when the row is done after it.
static int spec_emit(hl_gen_out *g, int32_t t, const hl_gen_opts *o) {
    g->ids[g->n++] = t;
    return g->n == o->max_new || t == o->eos;
}

// Prompts [first, first + rows) through target state ts and draft state ds.
// prop (rows, K+1): row b's last emitted token then its K proposals.
static int spec_batch(hl_infer *ts, hl_infer *ds, hl_sampler *smp, int V, const hl_prompts *p, int first,
                      int rows, const hl_gen_opts *o, int K, hl_gen_out *out, hl_spec_stats *st,
                      char *err, size_t errlen) {
    int T = 0;
    for (int b = 0; b < rows; b++)
        if (p->p[first + b].n > T) T = p->p[first + b].n;
    int32_t *toks = calloc((size_t)rows * T, sizeof *toks);                      // (rows, T)
    int32_t *lens = malloc((size_t)rows * sizeof *lens), *done = malloc((size_t)rows * sizeof *done);
    int32_t *keep = malloc((size_t)rows * sizeof *keep), *col = malloc((size_t)rows * sizeof *col);
    int32_t *prop = malloc((size_t)rows * (K + 1) * sizeof *prop);              // (rows, K+1)
    int rc = toks && lens && done && keep && col && prop ? HL_OK : hl_fail(err, errlen, HL_EFAIL, "generate: out of memory");
    for (int b = 0; rc == HL_OK && b < rows; b++) {
        const hl_prompt *pr = &p->p[first + b];
        memcpy(toks + (size_t)b * T, pr->ids, (size_t)pr->n * sizeof *toks);
        lens[b] = pr->n;
        out[first + b].n = 0;
        out[first + b].ids = malloc((size_t)o->max_new * sizeof *out[first + b].ids);
        if (!out[first + b].ids) rc = hl_fail(err, errlen, HL_EFAIL, "generate: out of memory");
    }
    const float *tl = NULL, *dl = NULL;
    if (rc == HL_OK) rc = hl_infer_prefill(ts, toks, rows, T, lens, &tl, err, errlen);
    if (rc == HL_OK) rc = hl_infer_prefill(ds, toks, rows, T, lens, &dl, err, errlen);
    int left = rows;
    for (int b = 0; rc == HL_OK && b < rows; b++) {
        hl_gen_out *g = &out[first + b];
        prop[(size_t)b * (K + 1)] = hl_sample_next(smp, tl + (size_t)b * V, (uint64_t)(first + b), 0);
        done[b] = spec_emit(g, prop[(size_t)b * (K + 1)], o);
        left -= done[b];
    }
    while (rc == HL_OK && left > 0) {
        // the draft: feed the last token and its own proposals (K+1 steps; the last one's logits unused)
        for (int j = 0; rc == HL_OK && j <= K; j++) {
            for (int b = 0; b < rows; b++) col[b] = prop[(size_t)b * (K + 1) + j];
            rc = hl_infer_steps(ds, col, 1, &dl, err, errlen);
            for (int b = 0; rc == HL_OK && j < K && b < rows; b++)
                prop[(size_t)b * (K + 1) + j + 1] = hl_sample_next(smp, dl + (size_t)b * V, (uint64_t)(first + b), 0);
        }
        // the target: K+1 positions in one call; tl (K+1, max_B, V)
        if (rc == HL_OK) rc = hl_infer_steps(ts, prop, K + 1, &tl, err, errlen);
        if (rc != HL_OK) break;
        st->blocks++;
        for (int b = 0; b < rows; b++) {
            keep[b] = 0;   // a stopped row stays where it was
            if (done[b]) continue;
            hl_gen_out *g = &out[first + b];
            const int32_t *pb = prop + (size_t)b * (K + 1);
            int a = 0;
            for (; a <= K && !done[b]; a++) {
                int32_t t = hl_sample_next(smp, tl + ((size_t)a * rows + b) * V, (uint64_t)(first + b), (uint64_t)g->n);
                int agree = a < K && t == pb[a + 1];
                st->drafted += a < K;
                st->accepted += agree;
                done[b] = spec_emit(g, t, o);
                if (!agree) break;   // t is the correction (a < K) or the bonus token (a == K)
            }
            keep[b] = a + 1;
            if (done[b]) { left--; keep[b] = 0; }
            else prop[(size_t)b * (K + 1)] = g->ids[g->n - 1];
        }
        rc = hl_infer_rewind(ts, keep, NULL, err, errlen);
        if (rc == HL_OK) rc = hl_infer_rewind(ds, keep, NULL, err, errlen);
    }
    for (int b = 0; b < rows; b++) st->emitted += out[first + b].n;
    free(toks); free(lens); free(done); free(keep); free(col); free(prop);
    return rc;
}

int hl_generate_spec(hl_model *m, hl_model *draft, const hl_prompts *p, const hl_gen_opts *o, int lookahead,
                     hl_gen_out *out, hl_spec_stats *stats, char *err, size_t errlen) {
    int V = hl_model_cfg(m)->vocab_size;
    for (int i = 0; i < p->n; i++) out[i] = (hl_gen_out){NULL, 0};
    hl_spec_stats st = {0, 0, 0, 0};
    if (stats) *stats = st;
    const char *bad = hl_sample_check(&o->sample);
    if (bad) return hl_fail(err, errlen, HL_EBADINPUT, "generate: %s", bad);
    if (o->sample.temperature != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "generate --draft: only greedy decoding (temperature 0) is implemented, got temperature %g",
                       o->sample.temperature);
    if (o->max_new < 1 || o->batch < 1 || o->eos < -1 || o->eos >= V || p->n < 1 || lookahead < 1)
        return hl_fail(err, errlen, HL_EBADINPUT, "generate: max_new %d, batch %d, eos %d, lookahead %d or %d prompts out of range",
                       o->max_new, o->batch, o->eos, lookahead, p->n);
    if (hl_model_cfg(draft)->vocab_size != V)
        return hl_fail(err, errlen, HL_EBADINPUT, "generate --draft: the draft's model.vocab_size %d differs from the target's %d",
                       hl_model_cfg(draft)->vocab_size, V);
    int max_B, longest, max_len;
    hl_gen_spec_sizes(p, o, lookahead, &max_B, &longest, &max_len);
    hl_infer *ts = hl_infer_create(m, max_B, max_len, err, errlen);
    hl_infer *ds = ts ? hl_infer_create(draft, max_B, max_len, err, errlen) : NULL;
    int rc = ts && ds ? HL_OK : HL_EFAIL;
    if (rc == HL_OK) rc = hl_infer_snapshots(ts, lookahead + 1, err, errlen);
    if (rc == HL_OK) rc = hl_infer_snapshots(ds, lookahead + 1, err, errlen);
    hl_sampler *smp = hl_sampler_create(V, &o->sample);
    if (rc == HL_OK && !smp) rc = hl_fail(err, errlen, HL_EFAIL, "generate: out of memory");
    for (int first = 0; rc == HL_OK && first < p->n; first += max_B) {
        int rows = p->n - first < max_B ? p->n - first : max_B;
        rc = spec_batch(ts, ds, smp, V, p, first, rows, o, lookahead, out, &st, err, errlen);
    }
    if (stats) *stats = st;
    hl_sampler_free(smp);
    hl_infer_free(ds);
    hl_infer_free(ts);
    return rc;
}
