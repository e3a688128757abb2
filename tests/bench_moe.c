// bench_moe.c: training throughput (forward + backward) of one mixture-of-
// experts FFN layer (models/ffn_moe.c: 8 experts of width F, top 2) against
// the dense SwiGLU FFN of the same ACTIVE width (d_ff = 2F: the same matmul
// FLOPs per token), same run, same backend ("cpu"), same threads, same
// tokens. Both layers are driven through their layer vtables on n = B*T
// tokens of width d_model; each is timed over `steps` steps (best step; the
// first warms caches and pages) and the two are interleaved step by step, so
// a burst of load from other processes hits both alike.
//
// Prints tokens/s of both, the ratio moe / dense (target: >= 0.60), the
// matmul GFLOP/s of each (the same count for both: 3 projections, forward and
// backward, over n*top_k rows of width F = n rows of width 2F) and the spread
// of the expert loads, with the BLAS core and threads. Exit status 1 if the
// ratio is below 0.60.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/clock.h"
#include "kernels/kernels.h"
#include "models/layer.h"
#include "models/model_config.h"

extern const hl_layer_type hl_layer_ffn_moe, hl_layer_ffn_swiglu;

// A layer of `type` with parameters (normal(0, std); the router wider so
// that tokens spread over the experts), gradients, activations and scratch.
typedef struct {
    hl_layer L;
    float *scratch;
    int status;
    hl_run r;
} rig;

static uint64_t g_rng = 12345;
static float rnd_normal(void) {
    double u, v;
    g_rng = g_rng * 6364136223846793005ULL + 1442695040888963407ULL; u = ((g_rng >> 11) + 0.5) / 9007199254740992.0;
    g_rng = g_rng * 6364136223846793005ULL + 1442695040888963407ULL; v = ((g_rng >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static int rig_make(rig *g, const hl_layer_type *type, const hl_model_config *c, int B, int T) {
    memset(g, 0, sizeof *g);
    g->L.type = type; g->L.cfg = c;
    hl_decl d; memset(&d, 0, sizeof d);
    type->declare(c, 0, &d);
    for (int i = 0; i < d.n; i++) {
        int s = d.owner_slot[i];
        size_t n = (size_t)d.infos[i].numel;
        float std = d.infos[i].ndim == 2 && type == &hl_layer_ffn_moe && s == 0 ? 1.0f / sqrtf((float)c->d_model) : 0.02f;
        g->L.p[s] = malloc(sizeof(float) * n);
        g->L.g[s] = calloc(n, sizeof(float));
        if (!g->L.p[s] || !g->L.g[s]) return 0;
        for (size_t j = 0; j < n; j++) g->L.p[s][j] = std * rnd_normal();
    }
    hl_decl_free(&d);
    g->L.act = calloc(type->act_floats(c, 0, B, T) + 16, sizeof(float));
    g->scratch = calloc(type->scratch_floats(c, 0, B, T) + 16, sizeof(float));
    g->r = (hl_run){ .ops = hl_ops_get("cpu"), .B = B, .T = T, .scratch = g->scratch, .status = &g->status };
    return g->L.act && g->scratch;
}

static void rig_free(rig *g) {
    for (int s = 0; s < HL_LAYER_MAX_SLOTS; s++) { free(g->L.p[s]); free(g->L.g[s]); }
    free(g->L.act); free(g->scratch);
}

// One training step of the layer (forward, backward); seconds.
static double step(rig *g, float *out, float *dinp, const float *dout, const float *inp) {
    double t0 = hl_now_s();
    g->L.type->forward(&g->L, &g->r, out, inp);
    g->L.type->backward(&g->L, &g->r, dinp, dout, inp);
    return hl_now_s() - t0;
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    const int B = 4, T = 512, C = 512, E = 8, k = 2, F = 1024, steps = 6;
    const int n = B * T;
    hl_model_config moe, dense;
    memset(&moe, 0, sizeof moe);
    moe.d_model = C; moe.n_layers = 1; moe.vocab_size = 16;
    moe.ffn.type = HL_FFN_MOE;
    moe.ffn.moe = (hl_moe_config){ .n_experts = E, .top_k = k, .d_ff = F, .router = HL_MOE_SOFTMAX_TOPK_RENORM,
                                   .load_balance = 0.01, .z_loss = 0.001, .every = 1, .offset = 0 };
    moe.layer[0].kind = 'A'; moe.layer[0].ffn = HL_FFN_MOE;
    dense = moe;
    dense.ffn.type = HL_FFN_SWIGLU; dense.ffn.d_ff = k * F; dense.layer[0].ffn = HL_FFN_SWIGLU;
    memset(&dense.ffn.moe, 0, sizeof dense.ffn.moe);
    rig gm, gd;
    float *inp = malloc(sizeof(float) * n * C), *dout = malloc(sizeof(float) * n * C);   // (n, C) each
    float *out = malloc(sizeof(float) * n * C), *dinp = malloc(sizeof(float) * n * C);
    if (!inp || !dout || !out || !dinp || !rig_make(&gm, &hl_layer_ffn_moe, &moe, B, T) ||
        !rig_make(&gd, &hl_layer_ffn_swiglu, &dense, B, T)) {
        fprintf(stderr, "bench_moe: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < (size_t)n * C; i++) { inp[i] = rnd_normal(); dout[i] = 1e-3f * rnd_normal(); }
    printf("bench_moe: BLAS core %s, %d threads; d_model %d, %d tokens (B %d, T %d)\n",
           hl_blas_core(), hl_blas_threads(), C, n, B, T);
    double best_m = 1e30, best_d = 1e30;
    for (int s = 0; s < steps; s++) {
        double tm = step(&gm, out, dinp, dout, inp), td = step(&gd, out, dinp, dout, inp);
        if (s > 0 && tm < best_m) best_m = tm;
        if (s > 0 && td < best_d) best_d = td;
    }
    if (gm.status || gd.status) {
        fprintf(stderr, "bench_moe: an op failed (moe %d, dense %d): %s\n", gm.status, gd.status, hl_op_error());
        return 2;
    }
    double flops = 6.0 * 3.0 * C * (double)F * k * n;   // fwd + bwd (x3) of gate, up, down over n*k rows of width F
    double fr_min = 1, fr_max = 0;   // the last forward's expert loads (stat hook: frac.e*, after 3 others)
    for (int e = 0; e < E; e++) {
        char name[32];
        double fr = 0;
        gm.L.type->stat(&gm.L, 3 + e, name, sizeof name, &fr);
        fr_min = fmin(fr_min, fr); fr_max = fmax(fr_max, fr);
    }
    double ratio = best_d / best_m;
    printf("%-34s %12s %10s %9s\n", "layer", "tokens/s", "s/step", "GFLOP/s");
    printf("dense swiglu d_ff %-16d %12.0f %10.4f %9.1f\n", k * F, n / best_d, best_d, flops / best_d * 1e-9);
    printf("moe %d experts top %d d_ff %-9d %12.0f %10.4f %9.1f\n", E, k, F, n / best_m, best_m, flops / best_m * 1e-9);
    printf("moe / dense tokens/s: %.2f (target >= 0.60); expert load fractions %.3f .. %.3f (balanced: %.3f)\n",
           ratio, fr_min, fr_max, 1.0 / E);
    rig_free(&gm); rig_free(&gd);
    free(inp); free(dout); free(out); free(dinp);
    return ratio >= 0.60 ? 0 : 1;
}
