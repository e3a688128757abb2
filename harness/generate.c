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
