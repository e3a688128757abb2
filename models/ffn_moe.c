// ffn_moe.c: FFN "moe", a mixture of SwiGLU experts (Mixtral, Jiang et al.
// 2024; Jamba, Lieber et al. 2024). Keys: model.ffn.moe (models/ffn.c).
// Per token x (d):
//   logits = router(x)                      (E)
//   p      = softmax(logits)                (E, in double, stored as float)
//   S      = the top_k experts by p (ties: the lower index first)
//   w_j    = p_j (softmax_topk) or p_j / sum_{i in S} p_i (softmax_topk_renorm)
//   out    = sum_{j in S} w_j * down_j(silu(gate_j(x)) * up_j(x))
// No capacity limit: no token is dropped. Computed grouped by expert: the
// rows routed to expert e are gathered (by token, ascending), run through
// one matmul per projection, and scattered back with their weights.
// Auxiliary losses (layer.h aux_loss; summed by hl_loss_aux, gradient added
// by backward), over the n = B*T positions of the forward (meta tokens included):
//   load balance  load_balance * E * sum_e f_e * P_e, f_e = (assignments to e) / n,
//                 P_e = mean_t p_te (HF transformers' load_balancing_loss_func;
//                 f has no gradient; with top_k > 1 f sums to top_k)
//   z-loss        z_loss * mean_t logsumexp(logits_t)^2 (ST-MoE, Zoph et al. 2022)
// Tensors (no biases): mlp.router.weight (E, d), mlp.experts.gate_proj
// (E, F, d), mlp.experts.up_proj (E, F, d), mlp.experts.down_proj (E, d, F).
// Init as swiglu: normal(0, 0.02), down_proj 0.02/sqrt(2*n_layers).
// Routing, gathering and scattering run on the host (the CPU backends' memory
// is host memory); the matmuls and the SwiGLU go through the op table.
#include <math.h>
#include <string.h>
#include "models/layer.h"

enum { SLOT_ROUTER, SLOT_GATE, SLOT_UP, SLOT_DOWN, N_SLOTS };

typedef struct {
    float *aux;     // (2) load-balance and z-loss terms of the last forward (coefficients applied)
    float *logits;  // (n, E) router logits
    float *probs;   // (n, E) softmax(logits)
    float *sel;     // (n, k) chosen experts (exact small integers)
    float *w;       // (n, k) their combine weights
    float *pos;     // (n*k) grouped row r -> its assignment t*k + j
    float *offs;    // (E + 1) expert e's rows are [offs[e], offs[e+1])
    float *xs;      // (n*k, d) gathered inputs
    float *gate;    // (n*k, F) gate_proj(xs)
    float *up;      // (n*k, F) up_proj(xs)
    float *h;       // (n*k, F) silu(gate) * up
    float *eo;      // (n*k, d) expert outputs (unweighted)
} moe_bufs;

static void carve(const hl_model_config *cfg, int B, int T, float *base, size_t *off, moe_bufs *b) {
    size_t n = (size_t)B * T, E = cfg->ffn.moe.n_experts, k = cfg->ffn.moe.top_k;
    size_t F = cfg->ffn.moe.d_ff, C = cfg->d_model;
    b->aux = hl_take(base, off, 2);
    b->logits = hl_take(base, off, n * E);
    b->probs = hl_take(base, off, n * E);
    b->sel = hl_take(base, off, n * k);
    b->w = hl_take(base, off, n * k);
    b->pos = hl_take(base, off, n * k);
    b->offs = hl_take(base, off, E + 1);
    b->xs = hl_take(base, off, n * k * C);
    b->gate = hl_take(base, off, n * k * F);
    b->up = hl_take(base, off, n * k * F);
    b->h = hl_take(base, off, n * k * F);
    b->eo = hl_take(base, off, n * k * C);
}

static void moe_declare(const hl_model_config *cfg, int layer, hl_decl *d) {
    (void)layer;
    int64_t E = cfg->ffn.moe.n_experts, F = cfg->ffn.moe.d_ff, C = cfg->d_model;
    hl_decl_layer(d, SLOT_ROUTER, "mlp.router.weight", "ffn", 1, 2, E, C, 0);
    hl_decl_layer(d, SLOT_GATE, "mlp.experts.gate_proj", "ffn", 1, 3, E, F, C);
    hl_decl_layer(d, SLOT_UP, "mlp.experts.up_proj", "ffn", 1, 3, E, F, C);
    hl_decl_layer(d, SLOT_DOWN, "mlp.experts.down_proj", "ffn", 1, 3, E, C, F);
}

static void moe_init(hl_layer *L, uint64_t seed) {
    hl_init_normal(L, SLOT_ROUTER, 0.02, seed);
    hl_init_normal(L, SLOT_GATE, 0.02, seed);
    hl_init_normal(L, SLOT_UP, 0.02, seed);
    hl_init_normal(L, SLOT_DOWN, hl_resid_std(L->cfg), seed);
}

static size_t moe_act_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    moe_bufs b; size_t off = 0;
    carve(cfg, B, T, NULL, &off, &b);
    return off;
}

// Scratch: deo, dxs, dpart (n*k, d); dh, dgate, dup (n*k, F); dprobs, dlogits (n, E); dxr (n, d);
// dw (n*k doubles).
static size_t moe_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    size_t n = (size_t)B * T, nk = n * cfg->ffn.moe.top_k, off = 0;
    for (int i = 0; i < 3; i++) hl_take(NULL, &off, nk * cfg->d_model);
    for (int i = 0; i < 3; i++) hl_take(NULL, &off, nk * cfg->ffn.moe.d_ff);
    for (int i = 0; i < 2; i++) hl_take(NULL, &off, n * cfg->ffn.moe.n_experts);
    hl_take(NULL, &off, n * cfg->d_model);
    hl_take(NULL, &off, 2 * nk);
    return off;
}

// Row t: probs (softmax in double), the top-k experts and their weights;
// returns logsumexp(logits_t).
static double route_row(const hl_moe_config *m, const float *lg, float *pr, float *sel, float *w) {
    int E = m->n_experts, k = m->top_k;
    double mx = lg[0], s = 0.0;
    for (int e = 1; e < E; e++) if (lg[e] > mx) mx = lg[e];
    for (int e = 0; e < E; e++) s += exp((double)lg[e] - mx);
    for (int e = 0; e < E; e++) pr[e] = (float)(exp((double)lg[e] - mx) / s);
    double sum = 0.0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int i = 0; i < j; i++) taken |= (int)sel[i] == e;
            if (!taken && (best < 0 || pr[e] > pr[best])) best = e;
        }
        sel[j] = (float)best;
        w[j] = pr[best];
        sum += pr[best];
    }
    if (m->router == HL_MOE_SOFTMAX_TOPK_RENORM)
        for (int j = 0; j < k; j++) w[j] = (float)(w[j] / sum);
    return mx + log(s);
}

static void moe_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    int E = m->n_experts, k = m->top_k, F = m->d_ff, C = L->cfg->d_model, n = r->B * r->T;
    moe_bufs b; size_t off = 0;
    carve(L->cfg, r->B, r->T, L->act, &off, &b);
    if (hl_linear(r, b.logits, inp, L->p[SLOT_ROUTER], n, C, E)) return;   // (n, E)
    double z = 0.0;
    for (int t = 0; t < n; t++) {
        double lse = route_row(m, b.logits + (size_t)t * E, b.probs + (size_t)t * E, b.sel + (size_t)t * k,
                               b.w + (size_t)t * k);
        z += lse * lse;
    }
    // group by expert: counts, offsets, rows in token order
    int cnt[1024 + 1] = {0}, fill[1024];
    for (int a = 0; a < n * k; a++) cnt[(int)b.sel[a]]++;
    double lb = 0.0;
    for (int e = 0, o = 0; e < E; e++) {
        double P = 0.0;
        for (int t = 0; t < n; t++) P += b.probs[(size_t)t * E + e];
        lb += ((double)cnt[e] / n) * (P / n);
        b.offs[e] = (float)o; fill[e] = o; o += cnt[e];
    }
    b.offs[E] = (float)(n * k);
    b.aux[0] = (float)(m->load_balance * E * lb);
    b.aux[1] = (float)(m->z_loss * z / n);
    for (int a = 0; a < n * k; a++) {
        int row = fill[(int)b.sel[a]]++;
        b.pos[row] = (float)a;
        memcpy(b.xs + (size_t)row * C, inp + (size_t)(a / k) * C, sizeof(float) * C);
    }
    for (int e = 0; e < E; e++) {
        int o = (int)b.offs[e], c = (int)b.offs[e + 1] - o;
        if (c == 0) continue;
        size_t wo = (size_t)e * F * C;
        hl_linear(r, b.gate + (size_t)o * F, b.xs + (size_t)o * C, L->p[SLOT_GATE] + wo, c, C, F);
        hl_linear(r, b.up + (size_t)o * F, b.xs + (size_t)o * C, L->p[SLOT_UP] + wo, c, C, F);
        hl_swiglu_fwd_args s = { .out = b.h + (size_t)o * F, .gate = b.gate + (size_t)o * F,
                                 .up = b.up + (size_t)o * F, .n = (size_t)c * F };
        HL_RUN_OP(r, swiglu_fwd, &s);
        hl_linear(r, b.eo + (size_t)o * C, b.h + (size_t)o * F, L->p[SLOT_DOWN] + wo, c, F, C);
    }
    memset(out, 0, sizeof(float) * (size_t)n * C);   // out (B, T, d)
    for (int row = 0; row < n * k; row++) {
        int a = (int)b.pos[row];
        float wt = b.w[a], *o = out + (size_t)(a / k) * C;
        const float *y = b.eo + (size_t)row * C;
        for (int c = 0; c < C; c++) o[c] += wt * y[c];
    }
}

static void moe_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    int E = m->n_experts, k = m->top_k, F = m->d_ff, C = L->cfg->d_model, n = r->B * r->T;
    size_t nk = (size_t)n * k;
    moe_bufs b; size_t off = 0, so = 0;
    carve(L->cfg, r->B, r->T, L->act, &off, &b);
    float *deo = hl_take(r->scratch, &so, nk * C);          // (n*k, d)
    float *dxs = hl_take(r->scratch, &so, nk * C);          // (n*k, d)
    float *dpart = hl_take(r->scratch, &so, nk * C);        // (n*k, d)
    float *dh = hl_take(r->scratch, &so, nk * F);           // (n*k, F)
    float *dgate = hl_take(r->scratch, &so, nk * F);        // (n*k, F)
    float *dup = hl_take(r->scratch, &so, nk * F);          // (n*k, F)
    float *dprobs = hl_take(r->scratch, &so, (size_t)n * E);  // (n, E)
    float *dlogits = hl_take(r->scratch, &so, (size_t)n * E); // (n, E)
    float *dxr = hl_take(r->scratch, &so, (size_t)n * C);   // (n, d)
    // weights: dw_a = dout_t . eo_row; experts: deo_row = w_a * dout_t
    memset(dprobs, 0, sizeof(float) * (size_t)n * E);
    double *dw = (double *)(void *)hl_take(r->scratch, &so, 2 * nk);   // (n*k) d(out)/d(w_a)
    for (int row = 0; row < (int)nk; row++) {
        int a = (int)b.pos[row];
        const float *g = dout + (size_t)(a / k) * C, *y = b.eo + (size_t)row * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) { s += (double)g[c] * y[c]; deo[(size_t)row * C + c] = b.w[a] * g[c]; }
        dw[a] = s;
    }
    for (int t = 0; t < n; t++) {
        const float *pr = b.probs + (size_t)t * E, *sel = b.sel + (size_t)t * k;
        float *dp = dprobs + (size_t)t * E;
        if (m->router == HL_MOE_SOFTMAX_TOPK) {
            for (int j = 0; j < k; j++) dp[(int)sel[j]] += (float)dw[(size_t)t * k + j];
        } else {   // w_j = p_j / S: dp_i = dw_i / S - sum_j dw_j p_j / S^2 (i in the top k)
            double S = 0.0, q = 0.0;
            for (int j = 0; j < k; j++) { S += pr[(int)sel[j]]; q += dw[(size_t)t * k + j] * pr[(int)sel[j]]; }
            for (int j = 0; j < k; j++) dp[(int)sel[j]] += (float)(dw[(size_t)t * k + j] / S - q / (S * S));
        }
    }
    if (m->load_balance != 0) {   // d/dp_te = load_balance * E * f_e / n
        for (int e = 0; e < E; e++) {
            double g = (double)m->load_balance * E * (((double)b.offs[e + 1] - b.offs[e]) / n) / n;
            for (int t = 0; t < n; t++) dprobs[(size_t)t * E + e] += (float)g;
        }
    }
    for (int t = 0; t < n; t++) {   // softmax backward, plus the z-loss: 2 z_loss lse p / n
        const float *pr = b.probs + (size_t)t * E, *lg = b.logits + (size_t)t * E, *dp = dprobs + (size_t)t * E;
        float *dl = dlogits + (size_t)t * E;
        double s = 0.0, zg = 0.0;
        for (int e = 0; e < E; e++) s += (double)pr[e] * dp[e];
        if (m->z_loss != 0) {
            double mx = lg[0], se = 0.0;
            for (int e = 1; e < E; e++) if (lg[e] > mx) mx = lg[e];
            for (int e = 0; e < E; e++) se += exp((double)lg[e] - mx);
            zg = 2.0 * m->z_loss * (mx + log(se)) / n;
        }
        for (int e = 0; e < E; e++) dl[e] = (float)(pr[e] * (dp[e] - s) + zg * pr[e]);
    }
    for (int e = 0; e < E; e++) {
        int o = (int)b.offs[e], c = (int)b.offs[e + 1] - o;
        if (c == 0) continue;
        size_t wo = (size_t)e * F * C, fo = (size_t)o * F, co = (size_t)o * C;
        hl_linear_bwd(r, dh + fo, L->g[SLOT_DOWN] + wo, deo + co, b.h + fo, L->p[SLOT_DOWN] + wo, c, F, C);
        hl_swiglu_bwd_args s = { .dgate = dgate + fo, .dup = dup + fo, .dout = dh + fo, .gate = b.gate + fo,
                                 .up = b.up + fo, .n = (size_t)c * F };
        HL_RUN_OP(r, swiglu_bwd, &s);
        hl_linear_bwd(r, dxs + co, L->g[SLOT_GATE] + wo, dgate + fo, b.xs + co, L->p[SLOT_GATE] + wo, c, C, F);
        hl_linear_bwd(r, dpart + co, L->g[SLOT_UP] + wo, dup + fo, b.xs + co, L->p[SLOT_UP] + wo, c, C, F);
        hl_add_inplace(r, dxs + co, dpart + co, (size_t)c * C);
    }
    memset(dinp, 0, sizeof(float) * (size_t)n * C);   // dinp (B, T, d)
    for (int row = 0; row < (int)nk; row++) {
        float *d = dinp + (size_t)((int)b.pos[row] / k) * C;
        const float *x = dxs + (size_t)row * C;
        for (int c = 0; c < C; c++) d[c] += x[c];
    }
    hl_linear_bwd(r, dxr, L->g[SLOT_ROUTER], dlogits, inp, L->p[SLOT_ROUTER], n, C, E);
    hl_add_inplace(r, dinp, dxr, (size_t)n * C);
}

static double moe_aux_loss(const hl_layer *L) {
    moe_bufs b; size_t off = 0;
    carve(L->cfg, 1, 1, L->act, &off, &b);
    return (double)b.aux[0] + b.aux[1];
}

// Active FLOPs per token: the router and top_k experts.
static double moe_flops(const hl_model_config *cfg, int layer, int64_t T) {
    (void)layer; (void)T;
    const hl_moe_config *m = &cfg->ffn.moe;
    return 2.0 * cfg->d_model * m->n_experts + 6.0 * cfg->d_model * m->d_ff * m->top_k;
}

// The experts a token is not routed to: (n_experts - top_k) * 3 * d_ff * d_model.
static int64_t moe_inactive_params(const hl_model_config *cfg, int layer) {
    (void)layer;
    const hl_moe_config *m = &cfg->ffn.moe;
    return (int64_t)(m->n_experts - m->top_k) * 3 * m->d_ff * cfg->d_model;
}

static int64_t moe_cache_bytes(const hl_model_config *cfg, int layer, int64_t T, int bytes) {
    (void)cfg; (void)layer; (void)T; (void)bytes;
    return 0;
}

const hl_layer_type hl_layer_ffn_moe = {
    .letter = 0, .name = "moe", .part = HL_PART_FFN, .ffn = HL_FFN_MOE, .caps = HL_CAP_AUX_LOSS,
    .declare = moe_declare, .init = moe_init,
    .act_floats = moe_act_floats, .scratch_floats = moe_scratch_floats,
    .forward = moe_forward, .backward = moe_backward,
    .flops = moe_flops, .cache_bytes = moe_cache_bytes,
    .state_floats = NULL, .state_prefill = NULL, .state_step = NULL,
    .aux_loss = moe_aux_loss, .inactive_params = moe_inactive_params,
};
