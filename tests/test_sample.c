// test_sample.c: harness/sample.h against hand-computed cases: greedy ties,
// temperature, top-k (ties kept), top-p (Hugging Face's TopPLogitsWarper
// boundary, at least one token), top-k then top-p, the inverse-CDF draw, and
// determinism per (seed, sequence, step).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/sample.h"
#include "tests/test.h"

#define V 4

static hl_sample_opts opts(double t, int k, double p) {
    hl_sample_opts o = hl_sample_greedy();
    o.temperature = t;
    o.top_k = k;
    o.top_p = p;
    o.seed = 7;
    return o;
}

// probs of `logits` under o equal want (to 1e-12)?
static void check_probs(const char *name, const float *logits, hl_sample_opts o, const double *want) {
    hl_sampler *s = hl_sampler_create(V, &o);
    double got[V];
    if (!s) { hl_check(0, name, "sampler not created (%s)", hl_sample_check(&o) ? hl_sample_check(&o) : "memory"); return; }
    hl_sample_probs(s, logits, got);
    hl_sampler_free(s);
    double worst = 0;
    for (int i = 0; i < V; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    hl_check(worst <= 1e-12, name, "got [%g %g %g %g], want [%g %g %g %g]", got[0], got[1], got[2], got[3],
             want[0], want[1], want[2], want[3]);
}

int main(void) {
    // log of 1, 2, 3, 4: softmax gives 0.1, 0.2, 0.3, 0.4.
    const float l1234[V] = {0.0f, (float)log(2.0), (float)log(3.0), (float)log(4.0)};
    // float rounding of the logs moves the probabilities by ~1e-8: compare
    // against the softmax of the float values as the exact answer.
    double e[V], z = 0;
    for (int i = 0; i < V; i++) z += (e[i] = exp((double)l1234[i]));
    double p[V];
    for (int i = 0; i < V; i++) p[i] = e[i] / z;

    {   // greedy: the argmax, the lowest id among equal maxima
        const float tie[V] = {1, 3, 3, 0};
        hl_sample_opts o = hl_sample_greedy();
        hl_sampler *s = hl_sampler_create(V, &o);
        int32_t t = hl_sample_next(s, tie, 0, 0);
        hl_check(t == 1, "greedy_lowest_argmax", "got %d, want 1", t);
        double want[V] = {0, 1, 0, 0};
        hl_sampler_free(s);
        check_probs("greedy_probs_one_hot", tie, o, want);
    }
    check_probs("temperature_1_softmax", l1234, opts(1, 0, 1), p);
    {   // T = 0.5 squares the probabilities: e^2 / sum e^2
        double w[V], zz = 0;
        for (int i = 0; i < V; i++) zz += (w[i] = e[i] * e[i]);
        for (int i = 0; i < V; i++) w[i] /= zz;
        check_probs("temperature_half_squares", l1234, opts(0.5, 0, 1), w);
    }
    {
        double w[V] = {0, 0, e[2] / (e[2] + e[3]), e[3] / (e[2] + e[3])};
        check_probs("top_k_2", l1234, opts(1, 2, 1), w);
        // top-p 0.65: ascending cum 0.1, 0.3 (<= 0.35: removed), 0.6, 1.0
        check_probs("top_p_065", l1234, opts(1, 0, 0.65), w);
        // top-k 3 (0.2, 0.3, 0.4 renormalised: 2/9, 3/9, 4/9), then top-p
        // 0.6: ascending cum 2/9 (<= 0.4: removed), 5/9 (kept)
        check_probs("top_k_then_top_p", l1234, opts(1, 3, 0.6), w);
    }
    {   // top-p 0.75: only 0.1 (cum 0.1 <= 0.25) goes
        double zz = e[1] + e[2] + e[3];
        double w[V] = {0, e[1] / zz, e[2] / zz, e[3] / zz};
        check_probs("top_p_075", l1234, opts(1, 0, 0.75), w);
    }
    {   // top-p 0.3 and 0.05: only the most probable is left (at least one)
        double w[V] = {0, 0, 0, 1};
        check_probs("top_p_03", l1234, opts(1, 0, 0.3), w);
        check_probs("top_p_tiny_keeps_one", l1234, opts(1, 0, 0.05), w);
        check_probs("top_k_1", l1234, opts(1, 1, 1), w);
    }
    {   // top-k ties with the k-th value are kept
        const float tie[V] = {1, 2, 2, 0};
        double w[V] = {0, 0.5, 0.5, 0};
        check_probs("top_k_keeps_ties", tie, opts(1, 1, 1), w);
    }
    {   // equal probabilities: lower ids kept first; cum 0.25, 0.5 <= 0.5 removed
        const float flat[V] = {0, 0, 0, 0};
        double w[V] = {0.5, 0.5, 0, 0};
        check_probs("top_p_ties_keep_lower_ids", flat, opts(1, 0, 0.5), w);
    }
    {   // inverse CDF: the token is the first id whose cumulative prob exceeds u
        hl_sample_opts o = opts(1, 0, 1);
        hl_sampler *s = hl_sampler_create(V, &o);
        int bad = 0, count[V] = {0};
        const int N = 20000;
        for (int i = 0; i < N; i++) {
            uint64_t seq = (uint64_t)(i % 100), step = (uint64_t)(i / 100);
            double u = hl_sample_uniform(o.seed, seq, step);
            int want = u < p[0] ? 0 : u < p[0] + p[1] ? 1 : u < p[0] + p[1] + p[2] ? 2 : 3;
            int got = hl_sample_next(s, l1234, seq, step);
            bad += got != want;
            count[got]++;
        }
        hl_check(bad == 0, "draw_is_inverse_cdf_of_u", "%d of %d draws differ from the inverse CDF", bad, N);
        double worst = 0;
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs((double)count[i] / N - p[i]));
        hl_check(worst < 0.015, "draw_frequencies", "counts %d %d %d %d of %d (want 0.1 0.2 0.3 0.4)",
                 count[0], count[1], count[2], count[3], N);
        hl_sampler_free(s);
    }
    {   // determinism: a pure function of (seed, seq, step); each argument matters
        int same = hl_sample_uniform(3, 5, 9) == hl_sample_uniform(3, 5, 9);
        int d_seed = 0, d_seq = 0, d_step = 0;
        for (uint64_t i = 0; i < 50; i++) {
            d_seed += hl_sample_uniform(i, 5, 9) != hl_sample_uniform(i + 1, 5, 9);
            d_seq += hl_sample_uniform(3, i, 9) != hl_sample_uniform(3, i + 1, 9);
            d_step += hl_sample_uniform(3, 5, i) != hl_sample_uniform(3, 5, i + 1);
        }
        hl_check(same && d_seed == 50 && d_seq == 50 && d_step == 50, "uniform_depends_on_seed_seq_step",
                 "same=%d, differ: seed %d, seq %d, step %d of 50", same, d_seed, d_seq, d_step);
        double lo = 1, hi = 0;
        for (uint64_t i = 0; i < 1000; i++) {
            double u = hl_sample_uniform(1, i, 0);
            lo = fmin(lo, u);
            hi = fmax(hi, u);
        }
        hl_check(lo >= 0 && lo < 0.01 && hi < 1 && hi > 0.99, "uniform_in_0_1", "range [%g, %g]", lo, hi);
    }
    {   // option checks
        struct { hl_sample_opts o; const char *want; } bad[] = {
            {opts(-1, 0, 1), "temperature"}, {opts(NAN, 0, 1), "temperature"},
            {opts(INFINITY, 0, 1), "temperature"}, {opts(1, -1, 1), "top_k"},
            {opts(1, 0, 0), "top_p"}, {opts(1, 0, 1.5), "top_p"}, {opts(1, 0, NAN), "top_p"},
            {opts(0, 5, 1), "top_k needs temperature"}, {opts(0, 0, 0.9), "top_p needs temperature"},
        };
        int n = (int)(sizeof bad / sizeof bad[0]), wrong = 0;
        for (int i = 0; i < n; i++) {
            const char *m = hl_sample_check(&bad[i].o);
            if (!m || !strstr(m, bad[i].want)) { wrong++; printf("# case %d: %s\n", i, m ? m : "(accepted)"); }
        }
        hl_check(wrong == 0, "bad_options_refused", "%d of %d bad options not refused as expected", wrong, n);
        hl_sample_opts good = opts(0.7, 40, 0.9);
        hl_check(!hl_sample_check(&good) && !hl_sample_check(&(hl_sample_opts){0, 0, 1, 0}), "good_options_accepted",
                 "refused: %s", hl_sample_check(&good));
    }
    return hl_test_done();
}
