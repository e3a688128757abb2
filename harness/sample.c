// sample.c: greedy, temperature, top-k and top-p token choice (see sample.h).
#include "harness/sample.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"

struct hl_sampler {
    int vocab;
    hl_sample_opts o;
    double *x;      // scaled logits (vocab)
    double *p;      // unnormalised probabilities in sorted order (vocab)
    double *q;      // hl_sample_next's probabilities by id (vocab)
    int *order;     // token ids, sorted (vocab)
};

hl_sample_opts hl_sample_greedy(void) {
    hl_sample_opts o = {0.0, 0, 1.0, 0};
    return o;
}

const char *hl_sample_check(const hl_sample_opts *o) {
    if (!isfinite(o->temperature) || o->temperature < 0) return "temperature must be finite and >= 0";
    if (o->top_k < 0) return "top_k must be >= 0 (0: off)";
    if (!(o->top_p > 0 && o->top_p <= 1)) return "top_p must be in (0, 1] (1: off)";
    if (o->temperature == 0 && o->top_k > 0) return "top_k needs temperature > 0 (greedy takes the argmax)";
    if (o->temperature == 0 && o->top_p < 1) return "top_p needs temperature > 0 (greedy takes the argmax)";
    return NULL;
}

hl_sampler *hl_sampler_create(int vocab, const hl_sample_opts *o) {
    if (vocab < 1 || hl_sample_check(o)) return NULL;
    hl_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->vocab = vocab;
    s->o = *o;
    s->x = malloc((size_t)vocab * sizeof *s->x);
    s->p = malloc((size_t)vocab * sizeof *s->p);
    s->q = malloc((size_t)vocab * sizeof *s->q);
    s->order = malloc((size_t)vocab * sizeof *s->order);
    if (!s->x || !s->p || !s->q || !s->order) { hl_sampler_free(s); return NULL; }
    return s;
}

void hl_sampler_free(hl_sampler *s) {
    if (!s) return;
    free(s->x);
    free(s->p);
    free(s->q);
    free(s->order);
    free(s);
}

double hl_sample_uniform(uint64_t seed, uint64_t seq, uint64_t step) {
    uint64_t z = hl_mix64(hl_mix64(hl_mix64(seed ^ 0x243F6A8885A308D3ULL) + seq) + step);
    hl_rng r = {z};
    return hl_rng_uniform(&r);
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

// qsort has no context argument: the keys being sorted are read through this
// (one sort at a time per thread).
static _Thread_local const double *sort_key;

// Descending key, lower id first among equals.
static int cmp_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_key[i] != sort_key[j]) return sort_key[i] > sort_key[j] ? -1 : 1;
    return (i > j) - (i < j);
}

void hl_sample_probs(hl_sampler *s, const float *logits, double *probs) {
    int V = s->vocab;
    const hl_sample_opts *o = &s->o;
    if (o->temperature == 0) {
        for (int i = 0; i < V; i++) probs[i] = 0;
        probs[argmax(logits, V)] = 1;
        return;
    }
    double *x = s->x;
    for (int i = 0; i < V; i++) x[i] = (double)logits[i] / o->temperature;
    // Sort ids by x descending once: top-k's k-th value and top-p's order
    // (probabilities are monotone in x) both come from it.
    int *ord = s->order;
    for (int i = 0; i < V; i++) ord[i] = i;
    sort_key = x;
    qsort(ord, (size_t)V, sizeof *ord, cmp_desc);
    int n = V;                                   // kept: ord[0..n)
    if (o->top_k > 0 && o->top_k < V) {
        double kth = x[ord[o->top_k - 1]];
        n = o->top_k;
        while (n < V && x[ord[n]] >= kth) n++;   // ties with the k-th value stay
    }
    double mx = x[ord[0]], z = 0;
    for (int r = 0; r < n; r++) z += (s->p[r] = exp(x[ord[r]] - mx));
    if (o->top_p < 1) {
        // Ascending cumulative probability from the least probable kept
        // token (ord[n-1]) up; remove while it is <= 1 - top_p, never the
        // most probable (r = 0).
        double cum = 0, limit = 1 - o->top_p;
        int keep = n;
        for (int r = n - 1; r > 0; r--) {
            cum += s->p[r] / z;
            if (cum <= limit) keep = r;
            else break;
        }
        n = keep;
        z = 0;
        for (int r = 0; r < n; r++) z += s->p[r];
    }
    for (int i = 0; i < V; i++) probs[i] = 0;
    for (int r = 0; r < n; r++) probs[ord[r]] = s->p[r] / z;
}

int32_t hl_sample_next(hl_sampler *s, const float *logits, uint64_t seq, uint64_t step) {
    if (s->o.temperature == 0) return argmax(logits, s->vocab);
    hl_sample_probs(s, logits, s->q);
    const double *probs = s->q;
    double u = hl_sample_uniform(s->o.seed, seq, step), cum = 0;
    int last = -1;
    for (int i = 0; i < s->vocab; i++) {
        if (probs[i] <= 0) continue;
        cum += probs[i];
        last = i;
        if (u < cum) return i;
    }
    return last;   // rounding left the sum just under u: the last kept token
}
