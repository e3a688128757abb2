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
// by backward), over all n = B*T positions of the forward. Masking: none, by
// decision. Meta tokens and positions whose target is ignored are routed and
// run through their experts like any other, so they load the experts and
// count in the balance (the losses balance compute, which they use). This is
// what HF's load_balancing_loss_func does without an attention mask; hylab
// batches have no padding for such a mask to remove.
//   load balance  load_balance * E * sum_e f_e * P_e, f_e = (assignments to e) / n,
//                 P_e = mean_t p_te (HF transformers' load_balancing_loss_func;
//                 f has no gradient; with top_k > 1 f sums to top_k)
//   z-loss        z_loss * mean_t logsumexp(logits_t)^2 (ST-MoE, Zoph et al. 2022)
// Tensors (no biases): mlp.router.weight (E, d), mlp.experts.gate_proj
// (E, F, d), mlp.experts.up_proj (E, F, d), mlp.experts.down_proj (E, d, F).
// Init as swiglu: normal(0, 0.02), down_proj 0.02/sqrt(2*n_layers).
// Every step is an op (kernels.h "mixture of experts"): moe_route_fwd,
// moe_group (rows sorted by expert), moe_dispatch_fwd (gather), one matmul
// per expert and projection over its block of rows, one swiglu_fwd over all
// rows, moe_combine_fwd (each token sums its k rows times their weights),
// and their backwards. The host reads only the E + 1 expert offsets (to size
// the matmuls) and the statistics (aux_loss, and the stat hook: the router
// statistics harness/train records as curves moe.L<l>.*).
#include <stdio.h>
#include "models/layer.h"

enum { SLOT_ROUTER, SLOT_GATE, SLOT_UP, SLOT_DOWN, N_SLOTS };

typedef struct {
    float *stats;   // (HL_MOE_STATS(E)) moe_route_fwd's statistics of the last forward (first: carve(cfg, 1, 1) finds it)
    float *logits;  // (n, E) router logits
    float *probs;   // (n, E) softmax(logits)
    int32_t *sel;   // (n, k) chosen experts
    float *w;       // (n, k) their combine weights
    float *lse;     // (n) logsumexp(logits)
    int32_t *offs;  // (E + 1) expert e's grouped rows are [offs[e], offs[e+1])
    int32_t *rows;  // (n*k) assignment t*k + j -> its grouped row
    float *xs;      // (n*k, d) gathered inputs
    float *gate;    // (n*k, F) gate_proj(xs)
    float *up;      // (n*k, F) up_proj(xs)
    float *h;       // (n*k, F) silu(gate) * up
    float *eo;      // (n*k, d) expert outputs (unweighted)
} moe_bufs;

// int32 arrays live in the float arenas (same size, 64-byte aligned carving).
static int32_t *take_i32(float *base, size_t *off, size_t n) { return (int32_t *)(void *)hl_take(base, off, n); }

static void carve(const hl_model_config *cfg, int B, int T, float *base, size_t *off, moe_bufs *b) {
    size_t n = (size_t)B * T, E = cfg->ffn.moe.n_experts, k = cfg->ffn.moe.top_k;
    size_t F = cfg->ffn.moe.d_ff, C = cfg->d_model;
    b->stats = hl_take(base, off, HL_MOE_STATS(E));
    b->logits = hl_take(base, off, n * E);
    b->probs = hl_take(base, off, n * E);
    b->sel = take_i32(base, off, n * k);
    b->w = hl_take(base, off, n * k);
    b->lse = hl_take(base, off, n);
    b->offs = take_i32(base, off, E + 1);
    b->rows = take_i32(base, off, n * k);
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

// Backward temporaries (r->scratch), in this order.
typedef struct {
    float *deo, *dxs, *dpart;      // (n*k, d)
    float *dh, *dgate, *dup;       // (n*k, F)
    float *dw;                     // (n, k)
    float *dlogits;                // (n, E)
    float *dxr;                    // (n, d)
} moe_grads;

static void carve_grads(const hl_model_config *cfg, int B, int T, float *base, size_t *off, moe_grads *g) {
    size_t n = (size_t)B * T, nk = n * cfg->ffn.moe.top_k, C = cfg->d_model, F = cfg->ffn.moe.d_ff;
    g->deo = hl_take(base, off, nk * C);
    g->dxs = hl_take(base, off, nk * C);
    g->dpart = hl_take(base, off, nk * C);
    g->dh = hl_take(base, off, nk * F);
    g->dgate = hl_take(base, off, nk * F);
    g->dup = hl_take(base, off, nk * F);
    g->dw = hl_take(base, off, nk);
    g->dlogits = hl_take(base, off, n * cfg->ffn.moe.n_experts);
    g->dxr = hl_take(base, off, n * C);
}

static size_t moe_scratch_floats(const hl_model_config *cfg, int layer, int B, int T) {
    (void)layer;
    moe_grads g; size_t off = 0;
    carve_grads(cfg, B, T, NULL, &off, &g);
    return off;
}

static int router_kind(const hl_moe_config *m) {
    return m->router == HL_MOE_SOFTMAX_TOPK_RENORM ? HL_MOE_ROUTER_TOPK_RENORM : HL_MOE_ROUTER_TOPK;
}

static void moe_forward(hl_layer *L, const hl_run *r, float *out, const float *inp) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    int E = m->n_experts, k = m->top_k, F = m->d_ff, C = L->cfg->d_model, n = r->B * r->T;
    moe_bufs b; size_t off = 0;
    carve(L->cfg, r->B, r->T, L->act, &off, &b);
    if (hl_linear(r, b.logits, inp, L->p[SLOT_ROUTER], n, C, E)) return;   // (n, E)
    hl_moe_route_fwd_args ra = {b.probs, b.sel, b.w, b.lse, b.stats, b.logits, n, E, k, router_kind(m)};
    hl_moe_group_args ga = {b.offs, b.rows, b.sel, n, E, k};
    hl_moe_dispatch_fwd_args da = {b.xs, inp, b.rows, n, k, C};
    if (HL_RUN_OP(r, moe_route_fwd, &ra) || HL_RUN_OP(r, moe_group, &ga) || HL_RUN_OP(r, moe_dispatch_fwd, &da)) return;
    // offs is read on the host (the CPU backends' memory is host memory; a
    // device backend copies these E + 1 ints back first)
    for (int e = 0; e < E; e++) {
        int o = b.offs[e], c = b.offs[e + 1] - o;
        size_t wo = (size_t)e * F * C;
        hl_linear(r, b.gate + (size_t)o * F, b.xs + (size_t)o * C, L->p[SLOT_GATE] + wo, c, C, F);
        hl_linear(r, b.up + (size_t)o * F, b.xs + (size_t)o * C, L->p[SLOT_UP] + wo, c, C, F);
    }
    hl_swiglu_fwd_args s = { .out = b.h, .gate = b.gate, .up = b.up, .n = (size_t)n * k * F };
    HL_RUN_OP(r, swiglu_fwd, &s);
    for (int e = 0; e < E; e++) {
        int o = b.offs[e], c = b.offs[e + 1] - o;
        hl_linear(r, b.eo + (size_t)o * C, b.h + (size_t)o * F, L->p[SLOT_DOWN] + (size_t)e * F * C, c, F, C);
    }
    hl_moe_combine_fwd_args ca = {out, b.eo, b.w, b.rows, n, k, C};   // out (B, T, d)
    HL_RUN_OP(r, moe_combine_fwd, &ca);
}

static void moe_backward(hl_layer *L, const hl_run *r, float *dinp, const float *dout, const float *inp) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    int E = m->n_experts, k = m->top_k, F = m->d_ff, C = L->cfg->d_model, n = r->B * r->T;
    size_t nk = (size_t)n * k;
    moe_bufs b; moe_grads g; size_t off = 0, so = 0;
    carve(L->cfg, r->B, r->T, L->act, &off, &b);
    carve_grads(L->cfg, r->B, r->T, r->scratch, &so, &g);
    // the combine: expert outputs and weights; then the router (with the aux losses' gradients)
    hl_moe_combine_bwd_args cb = {g.deo, g.dw, dout, b.eo, b.w, b.rows, n, k, C};
    hl_moe_route_bwd_args rb = {g.dlogits, g.dw, b.probs, b.sel, b.lse, n, E, k, router_kind(m),
                                (float)m->load_balance, (float)m->z_loss};
    if (HL_RUN_OP(r, moe_combine_bwd, &cb) || HL_RUN_OP(r, moe_route_bwd, &rb)) return;
    for (int e = 0; e < E; e++) {
        int o = b.offs[e], c = b.offs[e + 1] - o;
        size_t wo = (size_t)e * F * C, fo = (size_t)o * F, co = (size_t)o * C;
        hl_linear_bwd(r, g.dh + fo, L->g[SLOT_DOWN] + wo, g.deo + co, b.h + fo, L->p[SLOT_DOWN] + wo, c, F, C);
    }
    hl_swiglu_bwd_args s = { .dgate = g.dgate, .dup = g.dup, .dout = g.dh, .gate = b.gate, .up = b.up, .n = nk * F };
    HL_RUN_OP(r, swiglu_bwd, &s);
    for (int e = 0; e < E; e++) {
        int o = b.offs[e], c = b.offs[e + 1] - o;
        size_t wo = (size_t)e * F * C, fo = (size_t)o * F, co = (size_t)o * C;
        hl_linear_bwd(r, g.dxs + co, L->g[SLOT_GATE] + wo, g.dgate + fo, b.xs + co, L->p[SLOT_GATE] + wo, c, C, F);
        hl_linear_bwd(r, g.dpart + co, L->g[SLOT_UP] + wo, g.dup + fo, b.xs + co, L->p[SLOT_UP] + wo, c, C, F);
    }
    hl_add_inplace(r, g.dxs, g.dpart, nk * C);
    hl_moe_dispatch_bwd_args db = {dinp, g.dxs, b.rows, n, k, C};   // dinp (B, T, d)
    HL_RUN_OP(r, moe_dispatch_bwd, &db);
    hl_linear_bwd(r, g.dxr, L->g[SLOT_ROUTER], g.dlogits, inp, L->p[SLOT_ROUTER], n, C, E);
    hl_add_inplace(r, dinp, g.dxr, (size_t)n * C);
}

// The aux losses of the last forward: the coefficients times moe_route_fwd's
// balance and mean lse^2 (read on the host, as offs).
static double moe_aux_loss(const hl_layer *L) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    moe_bufs b; size_t off = 0;
    carve(L->cfg, 1, 1, L->act, &off, &b);
    return m->load_balance * b.stats[0] + m->z_loss * b.stats[1];
}

// Router statistics of the last forward (layer.h stat): load_balance (the
// balance term without its coefficient: E sum_e f_e P_e, top_k when
// balanced), z (mean lse^2), entropy (mean router entropy, nats), then
// frac.e{e}: the fraction of the n*top_k assignments that went to expert e
// (the fractions sum to 1; 1/E when balanced).
static int moe_stat(const hl_layer *L, int i, char *name, size_t len, double *value) {
    const hl_moe_config *m = &L->cfg->ffn.moe;
    static const char *const head[3] = {"load_balance", "z", "entropy"};
    if (i < 0 || i >= 3 + m->n_experts) return 0;
    moe_bufs b; size_t off = 0;
    carve(L->cfg, 1, 1, L->act, &off, &b);
    if (i < 3) { snprintf(name, len, "%s", head[i]); *value = b.stats[i]; }
    else { snprintf(name, len, "frac.e%d", i - 3); *value = (double)b.stats[i] / m->top_k; }
    return 1;
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
    .aux_loss = moe_aux_loss, .inactive_params = moe_inactive_params, .stat = moe_stat,
};
