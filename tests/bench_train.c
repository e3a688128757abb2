// bench_train.c: end-to-end training throughput of 8-layer d_model 256
// models of each layer type (seq_len 512, batch 8, SwiGLU FFN, next-token
// loss on every position), as tokens/s and achieved GFLOP/s next to the
// sgemm GFLOP/s measured in the same run (machines are shared and noisy: the
// ratio is the number that means something). sgemm is re-measured before
// every step of every model and each model is compared with the best sgemm of
// its own time window (best step vs best sgemm), so a burst of load from
// other processes during one model's steps does not fail the check.
//
// Training FLOPs are counted as 3x the forward FLOPs per token at the
// sequence length (forward + backward w.r.t. activations + weights), using
// hl_model_count, the same count `hylab describe` prints.
//
// Exit status 1 if the attention+SwiGLU model is below 40% of sgemm.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "models/losses.h"
#include "harness/spec.h"

static int load_config(const char *layers, hl_spec *spec) {
    char err[HL_ERR_LEN], set_layers[64];
    snprintf(set_layers, sizeof set_layers, "model.layers=%s", layers);
    const char *sets[] = {set_layers};
    if (hl_spec_load_file("sweeps/specs/bench-8x256.json", sets, 1, spec, err, sizeof err) != HL_OK) {
        fprintf(stderr, "bench_train: %s\n", err);
        return 0;
    }
    return 1;
}

// Trains `steps` steps (forward + backward, no optimizer: it is memory-bound
// and not what the FLOP count measures) and returns the best seconds per
// step; *sgemm = the best sgemm GFLOP/s measured just before each step.
static double time_steps(hl_model *m, const int32_t *tokens, const int32_t *targets, int B, int T, int steps,
                         double *sgemm) {
    double best = 1e30;
    *sgemm = 0.0;
    for (int s = 0; s < steps; s++) {
        double g = hl_blas_sgemm_gflops(1024, 3);
        if (g > *sgemm) *sgemm = g;
        double t0 = hl_now_s();
        const float *logits;
        float *dlogits, *row_losses, loss;
        hl_model_loss_buffers(m, &dlogits, &row_losses);
        hl_model_zero_grad(m);
        hl_model_forward(m, tokens, B, T, NULL, B * T, &logits, NULL, 0);
        hl_loss_xent(hl_model_ops(m), logits, targets, B * T, hl_model_cfg(m)->vocab_size, -1,
                     row_losses, dlogits, &loss, NULL, NULL, 0);
        hl_model_backward(m, dlogits, NULL, 0);
        double dt = hl_now_s() - t0;
        if (s > 0 && dt < best) best = dt;   // first step warms caches and pages
    }
    return best;
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    const int B = 8, T = 512, steps = 5;
    double sgemm = hl_blas_sgemm_gflops(1024, 5);
    printf("bench_train: BLAS core %s, %d threads, sgemm(1024) %.1f GFLOP/s\n",
           hl_blas_core(), hl_blas_threads(), sgemm);
    printf("%-12s %10s %12s %10s %10s %10s %8s\n", "layers", "params", "tokens/s", "GFLOP/s", "sgemm now", "of sgemm",
           "s/step");
    const char *kinds[] = {"A", "S", "H"};
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        hl_spec spec;
        if (!load_config(kinds[k], &spec)) return 2;
        char err[HL_ERR_LEN];
        hl_model *m = hl_model_create(&spec.model, hl_backend_get("cpu"), B, T, err, sizeof err);
        if (!m) { fprintf(stderr, "bench_train: %s\n", err); return 2; }
        hl_model_init(m, 0);
        int V = spec.model.vocab_size;
        int32_t *tokens = malloc(sizeof(int32_t) * B * T), *targets = malloc(sizeof(int32_t) * B * T);
        unsigned r = 1;
        for (int i = 0; i < B * T; i++) { r = r * 1103515245u + 12345u; tokens[i] = (int32_t)((r >> 8) % V); }
        for (int i = 0; i < B * T; i++) targets[i] = (i + 1) % T ? tokens[i + 1] : -1;
        double sgemm_now, sec = time_steps(m, tokens, targets, B, T, steps, &sgemm_now);
        hl_model_counts c = hl_model_count(&spec.model, T);
        double gflops = 3.0 * c.flops_per_token * B * T / sec / 1e9;
        printf("%-12s %10lld %12.0f %10.1f %10.1f %9.0f%% %8.3f\n", kinds[k], (long long)c.params,
               B * T / sec, gflops, sgemm_now, 100 * gflops / sgemm_now, sec);
        if (k == 0 && gflops < 0.4 * sgemm_now) ok = 0;
        free(tokens); free(targets);
        hl_model_free(m);
        hl_spec_free(&spec);
    }
    printf("bench_train: attention+SwiGLU >= 40%% of sgemm: %s\n", ok ? "yes" : "NO");
    return ok ? 0 : 1;
}
