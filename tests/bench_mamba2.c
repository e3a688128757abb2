// bench_mamba2.c: training tokens/s (forward + backward, no optimizer) of a
// Mamba-2 mixer ('M', models/mamba2.c) against a Mamba-1 mixer ('S',
// models/mamba.c) at the same d_model, in the same run, same threads (run by
// `make bench`). Each model is 2 layers of one mixer kind, no FFN, vocab 256
// (embedding and head are < 2% of the FLOPs, so the figure is the mixers').
// Shared settings: d_model 256, expand 2, d_conv 4, batch 8, seq_len 512.
//   S        d_state 16, dt_rank 16 (Mamba-1's defaults at this width)
//   M N128   d_state 128, headdim 64, ngroups 1, chunk 256 (Mamba-2's defaults)
//   M N16    d_state 16 (S's state size), headdim 64, ngroups 1, chunk 256
//   M N128 c64  as M N128 with chunk 64
// The machine is shared and noisy: the models take turns, one step each per
// round (ROUNDS rounds, the first a warm-up), and each model's best step is
// reported, so a burst of load hits every model alike. Printed: tokens/s,
// ratio to S, s/step, threads, BLAS core.
//
// Exit status 1 if a step fails or gives a non-finite loss, 2 on a bad spec.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/clock.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "models/losses.h"
#include "harness/spec.h"

enum { B = 8, T = 512, ROUNDS = 5, N_KINDS = 4 };

static const char *const base_spec =
    "{\"name\": \"bench-mamba2\", \"model\": {\"vocab_size\": 256, \"d_model\": 256, \"n_layers\": 2,"
    " \"layers\": \"S\", \"ssm\": {\"d_state\": 16, \"d_conv\": 4, \"expand\": 2},"
    " \"ffn\": {\"type\": \"none\"}, \"tie_embeddings\": true},"
    " \"train\": {\"task\": {\"name\": \"mqar\", \"seq_len\": 128, \"num_kv_pairs\": 8}, \"steps\": 1, \"batch_size\": 8}}";

typedef struct { const char *label; const char *sets[4]; int n_sets; } kind;

static const kind kinds[N_KINDS] = {
    {"S", {"model.layers=\"SS\""}, 1},
    {"M N128", {"model.layers=\"MM\"", "model.ssm.d_state=128", "model.ssm.headdim=64", "model.ssm.chunk_size=256"}, 4},
    {"M N16", {"model.layers=\"MM\"", "model.ssm.d_state=16", "model.ssm.headdim=64", "model.ssm.chunk_size=256"}, 4},
    {"M N128 c64", {"model.layers=\"MM\"", "model.ssm.d_state=128", "model.ssm.headdim=64", "model.ssm.chunk_size=64"}, 4},
};

// One training step (zero grads, forward, next-token loss, backward): its
// seconds, or -1 after printing why it failed.
static double step(hl_model *m, const int32_t *tokens, const int32_t *targets) {
    char err[HL_ERR_LEN];
    const float *logits;
    float *dlogits, *row_losses, loss;
    double t0 = hl_now_s();
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    hl_model_zero_grad(m);
    if (hl_model_forward(m, tokens, B, T, NULL, B * T, &logits, err, sizeof err) != HL_OK ||
        hl_loss_xent(hl_model_ops(m), logits, targets, B * T, hl_model_cfg(m)->vocab_size, -1, row_losses, dlogits,
                     &loss, NULL, NULL, 0) != HL_OK ||
        hl_model_backward(m, dlogits, err, sizeof err) != HL_OK) {
        fprintf(stderr, "bench_mamba2: step failed: %s\n", err);
        return -1.0;
    }
    double dt = hl_now_s() - t0;
    if (hl_model_last_status(m) != HL_OK || !isfinite(loss)) {
        fprintf(stderr, "bench_mamba2: op status %d, loss %g\n", hl_model_last_status(m), loss);
        return -1.0;
    }
    return dt;
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    printf("bench_mamba2: BLAS core %s, %d threads; d_model 256, expand 2, d_conv 4, 2 layers, no FFN, "
           "vocab 256, batch %d x seq_len %d; best of %d rounds (models take turns)\n",
           hl_blas_core(), hl_blas_threads(), B, T, ROUNDS - 1);
    hl_spec spec[N_KINDS];
    hl_model *m[N_KINDS];
    char err[HL_ERR_LEN];
    for (int k = 0; k < N_KINDS; k++) {
        if (hl_spec_load_text(base_spec, "bench_mamba2", kinds[k].sets, kinds[k].n_sets, &spec[k], err,
                              sizeof err) != HL_OK) {
            fprintf(stderr, "bench_mamba2: %s\n", err);
            return 2;
        }
        m[k] = hl_model_create(&spec[k].model, hl_backend_get("cpu"), B, T, err, sizeof err);
        if (!m[k]) { fprintf(stderr, "bench_mamba2: %s\n", err); return 2; }
        hl_model_init(m[k], 0);
    }
    int32_t *tokens = malloc(sizeof(int32_t) * B * T), *targets = malloc(sizeof(int32_t) * B * T); // (B, T)
    unsigned r = 1;
    for (int i = 0; i < B * T; i++) { r = r * 1103515245u + 12345u; tokens[i] = (int32_t)((r >> 8) % 256); }
    for (int i = 0; i < B * T; i++) targets[i] = (i + 1) % T ? tokens[i + 1] : -1;
    double best[N_KINDS];
    int ok = 1;
    for (int k = 0; k < N_KINDS; k++) best[k] = 1e30;
    for (int round = 0; round < ROUNDS && ok; round++)
        for (int k = 0; k < N_KINDS && ok; k++) {
            double s = step(m[k], tokens, targets);
            if (s < 0) ok = 0;
            else if (round > 0 && s < best[k]) best[k] = s;   // round 0 warms caches and pages
        }
    if (ok) {
        printf("%-12s %10s %12s %10s %8s\n", "mixer", "params", "tokens/s", "vs S", "s/step");
        for (int k = 0; k < N_KINDS; k++) {
            hl_model_counts c = hl_model_count(&spec[k].model, T);
            printf("%-12s %10lld %12.0f %9.2fx %8.3f\n", kinds[k].label, (long long)c.params, B * T / best[k],
                   best[0] / best[k], best[k]);
        }
        printf("bench_mamba2: M (Mamba-2 defaults, N 128) / S training tokens/s = %.2f\n", best[0] / best[1]);
    }
    for (int k = 0; k < N_KINDS; k++) { hl_model_free(m[k]); hl_spec_free(&spec[k]); }
    free(tokens); free(targets);
    return ok ? 0 : 1;
}
