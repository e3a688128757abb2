// validate.c: the argument checks every backend's op runs first (op_table.h).
// One set of rules (kernels.h, "OP STATUS"): sizes >= 0, widths that are
// divided by or indexed > 0, a pointer that is read or written non-NULL
// (unless its tensor is empty or the op documents it optional), ids and
// targets inside their range. Failures set hl_op_error() and return
// HL_EBADINPUT; nothing is written.
#include <math.h>
#include "kernels/op_table.h"

// Each check returns from the validator with the message on failure.
#define NONNEG(op, x) \
    do { if ((x) < 0) return hl_op_fail(HL_EBADINPUT, "%s: %s = %lld must be >= 0", op, #x, (long long)(x)); } while (0)
#define POSITIVE(op, x) \
    do { if ((x) <= 0) return hl_op_fail(HL_EBADINPUT, "%s: %s = %lld must be > 0", op, #x, (long long)(x)); } while (0)
// p must be non-NULL when the tensor it points to has elements (`used`).
#define NEED(op, p, used) \
    do { if ((used) && !(p)) return hl_op_fail(HL_EBADINPUT, "%s: %s is NULL", op, #p); } while (0)

// Every id in [0, V) (n ids); `what` names the array in the message.
static int ids_in_range(const char *op, const char *what, const int32_t *ids, long long n, int V) {
    for (long long i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return hl_op_fail(HL_EBADINPUT, "%s: %s[%lld] = %d outside [0, %d)", op, what, i, (int)ids[i], V);
    return HL_OK;
}

int hl_validate_matmul_fwd(const hl_matmul_fwd_args *a) {
    NONNEG("matmul_fwd", a->N); NONNEG("matmul_fwd", a->IC); NONNEG("matmul_fwd", a->OC);
    int used = a->N > 0 && a->OC > 0;
    NEED("matmul_fwd", a->out, used);
    NEED("matmul_fwd", a->inp, used && a->IC > 0);
    NEED("matmul_fwd", a->weight, used && a->IC > 0);
    return HL_OK;
}

int hl_validate_matmul_bwd(const hl_matmul_bwd_args *a) {
    NONNEG("matmul_bwd", a->N); NONNEG("matmul_bwd", a->IC); NONNEG("matmul_bwd", a->OC);
    int used = a->N > 0 && a->OC > 0;
    NEED("matmul_bwd", a->dout, used);
    NEED("matmul_bwd", a->weight, used && a->dinp && a->IC > 0);
    NEED("matmul_bwd", a->inp, used && a->dweight && a->IC > 0);
    return HL_OK;
}

int hl_validate_embed_fwd(const hl_embed_fwd_args *a) {
    NONNEG("embed_fwd", a->N); NONNEG("embed_fwd", a->V); NONNEG("embed_fwd", a->C);
    NEED("embed_fwd", a->ids, a->N > 0);
    NEED("embed_fwd", a->out, a->N > 0 && a->C > 0);
    NEED("embed_fwd", a->table, a->N > 0 && a->C > 0);
    return ids_in_range("embed_fwd", "ids", a->ids, a->N, a->V);
}

int hl_validate_embed_bwd(const hl_embed_bwd_args *a) {
    NONNEG("embed_bwd", a->N); NONNEG("embed_bwd", a->V); NONNEG("embed_bwd", a->C);
    NEED("embed_bwd", a->ids, a->N > 0);
    NEED("embed_bwd", a->dtable, a->N > 0 && a->C > 0);
    NEED("embed_bwd", a->dout, a->N > 0 && a->C > 0);
    return ids_in_range("embed_bwd", "ids", a->ids, a->N, a->V);
}

// groups: 0 or 1 (the whole row), or G > 1 dividing C.
static int norm_groups_ok(const char *op, int groups, int C) {
    NONNEG(op, groups);
    if (groups > 1 && C % groups)
        return hl_op_fail(HL_EBADINPUT, "%s: C = %d is not a multiple of groups = %d", op, C, groups);
    return HL_OK;
}

int hl_validate_rmsnorm_fwd(const hl_rmsnorm_fwd_args *a) {
    NONNEG("rmsnorm_fwd", a->N); POSITIVE("rmsnorm_fwd", a->C);
    if (norm_groups_ok("rmsnorm_fwd", a->groups, a->C)) return HL_EBADINPUT;
    if (!(a->eps >= 0)) return hl_op_fail(HL_EBADINPUT, "rmsnorm_fwd: eps = %g must be >= 0", a->eps);
    int used = a->N > 0;
    NEED("rmsnorm_fwd", a->out, used); NEED("rmsnorm_fwd", a->rstd, used);
    NEED("rmsnorm_fwd", a->inp, used); NEED("rmsnorm_fwd", a->weight, used);
    return HL_OK;
}

int hl_validate_rmsnorm_bwd(const hl_rmsnorm_bwd_args *a) {
    NONNEG("rmsnorm_bwd", a->N); POSITIVE("rmsnorm_bwd", a->C);
    if (norm_groups_ok("rmsnorm_bwd", a->groups, a->C)) return HL_EBADINPUT;
    int used = a->N > 0;
    NEED("rmsnorm_bwd", a->dinp, used); NEED("rmsnorm_bwd", a->dweight, used);
    NEED("rmsnorm_bwd", a->dout, used); NEED("rmsnorm_bwd", a->inp, used);
    NEED("rmsnorm_bwd", a->weight, used); NEED("rmsnorm_bwd", a->rstd, used);
    return HL_OK;
}

static int rope_ok(const char *op, const hl_rope_args *a) {
    NONNEG(op, a->B); NONNEG(op, a->T); NONNEG(op, a->H); POSITIVE(op, a->hd);
    if (a->hd % 2) return hl_op_fail(HL_EBADINPUT, "%s: hd = %d must be even", op, a->hd);
    if (!(a->theta > 0)) return hl_op_fail(HL_EBADINPUT, "%s: theta = %g must be > 0", op, a->theta);
    int used = a->B > 0 && a->T > 0 && a->H > 0;
    NEED(op, a->out, used); NEED(op, a->inp, used);
    return HL_OK;
}
int hl_validate_rope_fwd(const hl_rope_args *a) { return rope_ok("rope_fwd", a); }
int hl_validate_rope_bwd(const hl_rope_args *a) { return rope_ok("rope_bwd", a); }

// The shape rules shared by attention forward and backward.
static int attn_shape_ok(const char *op, int B, int T, int H, int Hkv, int hd, int vd, int window, int n_meta) {
    NONNEG(op, B); NONNEG(op, T); POSITIVE(op, H); POSITIVE(op, Hkv); POSITIVE(op, hd); POSITIVE(op, vd);
    NONNEG(op, window); NONNEG(op, n_meta);
    if (H % Hkv) return hl_op_fail(HL_EBADINPUT, "%s: H = %d is not a multiple of Hkv = %d", op, H, Hkv);
    return HL_OK;
}

int hl_validate_attn_fwd(const hl_attn_fwd_args *a) {
    int rc = attn_shape_ok("attn_fwd", a->B, a->T, a->H, a->Hkv, a->hd, a->vd, a->window, a->n_meta);
    if (rc) return rc;
    int used = a->B > 0 && a->T > 0;
    NEED("attn_fwd", a->out, used); NEED("attn_fwd", a->lse, used);
    NEED("attn_fwd", a->q, used); NEED("attn_fwd", a->k, used); NEED("attn_fwd", a->v, used);
    return HL_OK;
}

int hl_validate_attn_bwd(const hl_attn_bwd_args *a) {
    int rc = attn_shape_ok("attn_bwd", a->B, a->T, a->H, a->Hkv, a->hd, a->vd, a->window, a->n_meta);
    if (rc) return rc;
    int used = a->B > 0 && a->T > 0;
    NEED("attn_bwd", a->dq, used); NEED("attn_bwd", a->dk, used); NEED("attn_bwd", a->dv, used);
    NEED("attn_bwd", a->dout, used); NEED("attn_bwd", a->out, used); NEED("attn_bwd", a->lse, used);
    NEED("attn_bwd", a->q, used); NEED("attn_bwd", a->k, used); NEED("attn_bwd", a->v, used);
    return HL_OK;
}

int hl_validate_conv1d_fwd(const hl_conv1d_fwd_args *a) {
    NONNEG("conv1d_fwd", a->B); NONNEG("conv1d_fwd", a->T); NONNEG("conv1d_fwd", a->C); POSITIVE("conv1d_fwd", a->K);
    int used = a->B > 0 && a->T > 0 && a->C > 0;
    NEED("conv1d_fwd", a->out, used); NEED("conv1d_fwd", a->inp, used); NEED("conv1d_fwd", a->weight, used);
    return HL_OK;
}

int hl_validate_conv1d_bwd(const hl_conv1d_bwd_args *a) {
    NONNEG("conv1d_bwd", a->B); NONNEG("conv1d_bwd", a->T); NONNEG("conv1d_bwd", a->C); POSITIVE("conv1d_bwd", a->K);
    int used = a->B > 0 && a->T > 0 && a->C > 0;
    NEED("conv1d_bwd", a->dinp, used); NEED("conv1d_bwd", a->dweight, used); NEED("conv1d_bwd", a->dout, used);
    NEED("conv1d_bwd", a->inp, used); NEED("conv1d_bwd", a->weight, used);
    return HL_OK;
}

int hl_validate_scan_fwd(const hl_scan_fwd_args *a) {
    NONNEG("scan_fwd", a->B); NONNEG("scan_fwd", a->T); NONNEG("scan_fwd", a->C); NONNEG("scan_fwd", a->N);
    int used = a->B > 0 && a->T > 0 && a->C > 0;
    NEED("scan_fwd", a->y, used); NEED("scan_fwd", a->u, used); NEED("scan_fwd", a->dt, used);
    NEED("scan_fwd", a->dt_bias, used); NEED("scan_fwd", a->D, used);
    NEED("scan_fwd", a->A_log, used && a->N > 0); NEED("scan_fwd", a->Bm, used && a->N > 0);
    NEED("scan_fwd", a->Cm, used && a->N > 0);
    return HL_OK;
}

int hl_validate_scan_bwd(const hl_scan_bwd_args *a) {
    NONNEG("scan_bwd", a->B); NONNEG("scan_bwd", a->T); NONNEG("scan_bwd", a->C); NONNEG("scan_bwd", a->N);
    int used = a->B > 0 && a->T > 0 && a->C > 0, usedN = used && a->N > 0;
    NEED("scan_bwd", a->du, used); NEED("scan_bwd", a->ddt, used); NEED("scan_bwd", a->ddt_bias, used);
    NEED("scan_bwd", a->dD, used); NEED("scan_bwd", a->dy, used); NEED("scan_bwd", a->u, used);
    NEED("scan_bwd", a->dt, used); NEED("scan_bwd", a->dt_bias, used); NEED("scan_bwd", a->D, used);
    NEED("scan_bwd", a->dBm, usedN); NEED("scan_bwd", a->dCm, usedN); NEED("scan_bwd", a->dA_log, usedN);
    NEED("scan_bwd", a->A_log, usedN); NEED("scan_bwd", a->Bm, usedN); NEED("scan_bwd", a->Cm, usedN);
    return HL_OK;
}

int hl_validate_silu_fwd(const hl_silu_fwd_args *a) {
    NEED("silu_fwd", a->out, a->n > 0); NEED("silu_fwd", a->inp, a->n > 0);
    return HL_OK;
}

int hl_validate_silu_bwd(const hl_silu_bwd_args *a) {
    NEED("silu_bwd", a->dinp, a->n > 0); NEED("silu_bwd", a->dout, a->n > 0); NEED("silu_bwd", a->inp, a->n > 0);
    return HL_OK;
}

int hl_validate_swiglu_fwd(const hl_swiglu_fwd_args *a) {
    NEED("swiglu_fwd", a->out, a->n > 0); NEED("swiglu_fwd", a->gate, a->n > 0); NEED("swiglu_fwd", a->up, a->n > 0);
    return HL_OK;
}

int hl_validate_swiglu_bwd(const hl_swiglu_bwd_args *a) {
    NEED("swiglu_bwd", a->dgate, a->n > 0); NEED("swiglu_bwd", a->dup, a->n > 0);
    NEED("swiglu_bwd", a->dout, a->n > 0); NEED("swiglu_bwd", a->gate, a->n > 0); NEED("swiglu_bwd", a->up, a->n > 0);
    return HL_OK;
}

// Targets in [0, V) or equal to ignore_index.
static int targets_ok(const char *op, const int32_t *targets, int N, int V, int32_t ignore) {
    for (int i = 0; i < N; i++)
        if (targets[i] != ignore && (targets[i] < 0 || targets[i] >= V))
            return hl_op_fail(HL_EBADINPUT, "%s: targets[%d] = %d outside [0, %d) and not ignore_index %d",
                              op, i, (int)targets[i], V, (int)ignore);
    return HL_OK;
}

int hl_validate_xent_fwd(const hl_xent_fwd_args *a) {
    NONNEG("xent_fwd", a->N); POSITIVE("xent_fwd", a->V);
    int used = a->N > 0;
    NEED("xent_fwd", a->losses, used); NEED("xent_fwd", a->logits, used); NEED("xent_fwd", a->targets, used);
    return targets_ok("xent_fwd", a->targets, a->N, a->V, a->ignore_index);
}

int hl_validate_xent_bwd(const hl_xent_bwd_args *a) {
    NONNEG("xent_bwd", a->N); POSITIVE("xent_bwd", a->V);
    int used = a->N > 0;
    NEED("xent_bwd", a->dlogits, used); NEED("xent_bwd", a->logits, used); NEED("xent_bwd", a->targets, used);
    return targets_ok("xent_bwd", a->targets, a->N, a->V, a->ignore_index);
}

int hl_validate_adamw(const hl_adamw_args *a) {
    POSITIVE("adamw", a->step);
    int used = a->n > 0;
    NEED("adamw", a->params, used); NEED("adamw", a->m, used); NEED("adamw", a->v, used); NEED("adamw", a->grads, used);
    return HL_OK;
}

int hl_validate_axpby(const hl_axpby_args *a) {
    NEED("axpby", a->out, a->n > 0); NEED("axpby", a->x, a->n > 0); NEED("axpby", a->y, a->n > 0);
    return HL_OK;
}

// ---------------------------------------------------------------- decoding
// Every entry of an int array (n of them) in [lo, hi]; `what` names it.
static int ints_within(const char *op, const char *what, const int32_t *v, long long n, long long lo, long long hi) {
    for (long long i = 0; i < n; i++)
        if (v[i] < lo || v[i] > hi)
            return hl_op_fail(HL_EBADINPUT, "%s: %s[%lld] = %d outside [%lld, %lld]", op, what, i, (int)v[i], lo, hi);
    return HL_OK;
}

int hl_validate_cache_fill(const hl_cache_fill_args *a) {
    NONNEG("cache_fill", a->B); NONNEG("cache_fill", a->T); NONNEG("cache_fill", a->C);
    NONNEG("cache_fill", a->n_meta); POSITIVE("cache_fill", a->R);
    int used = a->B > 0;
    NEED("cache_fill", a->lens, used);
    NEED("cache_fill", a->cache, used && a->C > 0);
    NEED("cache_fill", a->src, used && a->C > 0 && a->T > 0);
    return ints_within("cache_fill", "lens", a->lens, used ? a->B : 0, 0, a->T);
}

int hl_validate_attn_decode(const hl_attn_decode_args *a) {
    int rc = attn_shape_ok("attn_decode", a->B, 1, a->H, a->Hkv, a->hd, a->vd, a->window, a->n_meta);
    if (rc) return rc;
    POSITIVE("attn_decode", a->R);
    if (a->hd % 2) return hl_op_fail(HL_EBADINPUT, "attn_decode: hd = %d must be even", a->hd);
    if (!(a->theta > 0)) return hl_op_fail(HL_EBADINPUT, "attn_decode: theta = %g must be > 0", a->theta);
    if (!a->k != !a->v) return hl_op_fail(HL_EBADINPUT, "attn_decode: k and v must be given together");
    int used = a->B > 0;
    NEED("attn_decode", a->out, used); NEED("attn_decode", a->q, used); NEED("attn_decode", a->pos, used);
    NEED("attn_decode", a->kcache, used); NEED("attn_decode", a->vcache, used);
    return ints_within("attn_decode", "pos", a->pos, used ? a->B : 0, a->n_meta, INT32_MAX - 1);
}

int hl_validate_conv1d_step(const hl_conv1d_step_args *a) {
    NONNEG("conv1d_step", a->B); NONNEG("conv1d_step", a->C); POSITIVE("conv1d_step", a->K);
    int used = a->B > 0 && a->C > 0;
    NEED("conv1d_step", a->out, used); NEED("conv1d_step", a->state, used);
    NEED("conv1d_step", a->inp, used); NEED("conv1d_step", a->weight, used);
    NEED("conv1d_step", a->pos, a->B > 0);
    return ints_within("conv1d_step", "pos", a->pos, a->B > 0 ? a->B : 0, 0, INT32_MAX - 1);
}

int hl_validate_scan_state(const hl_scan_state_args *a) {
    NONNEG("scan_state", a->B); NONNEG("scan_state", a->T); NONNEG("scan_state", a->C); NONNEG("scan_state", a->N);
    int used = a->B > 0 && a->C > 0 && a->N > 0, seq = used && a->T > 0;
    NEED("scan_state", a->lens, a->B > 0);
    NEED("scan_state", a->h, used);
    NEED("scan_state", a->u, seq); NEED("scan_state", a->dt, seq); NEED("scan_state", a->dt_bias, seq);
    NEED("scan_state", a->A_log, seq); NEED("scan_state", a->Bm, seq);
    return ints_within("scan_state", "lens", a->lens, a->B > 0 ? a->B : 0, 0, a->T);
}

int hl_validate_scan_step(const hl_scan_step_args *a) {
    NONNEG("scan_step", a->B); NONNEG("scan_step", a->C); NONNEG("scan_step", a->N);
    int used = a->B > 0 && a->C > 0;
    NEED("scan_step", a->y, used); NEED("scan_step", a->u, used); NEED("scan_step", a->dt, used);
    NEED("scan_step", a->dt_bias, used); NEED("scan_step", a->D, used);
    NEED("scan_step", a->h, used && a->N > 0); NEED("scan_step", a->A_log, used && a->N > 0);
    NEED("scan_step", a->Bm, used && a->N > 0); NEED("scan_step", a->Cm, used && a->N > 0);
    return HL_OK;
}

// Shared by ssd_fwd and ssd_bwd: sizes >= 0, G > 0 dividing H, chunk > 0.
static int ssd_sizes_ok(const char *op, int B, int T, int H, int P, int G, int N, int chunk) {
    NONNEG(op, B); NONNEG(op, T); NONNEG(op, H); NONNEG(op, P); NONNEG(op, N);
    POSITIVE(op, G); POSITIVE(op, chunk);
    if (H % G) return hl_op_fail(HL_EBADINPUT, "%s: H = %d is not a multiple of G = %d", op, H, G);
    return HL_OK;
}

int hl_validate_ssd_fwd(const hl_ssd_fwd_args *a) {
    int rc = ssd_sizes_ok("ssd_fwd", a->B, a->T, a->H, a->P, a->G, a->N, a->chunk);
    if (rc) return rc;
    int used = a->B > 0 && a->T > 0 && a->H > 0 && a->P > 0, usedN = used && a->N > 0;
    NEED("ssd_fwd", a->y, used); NEED("ssd_fwd", a->x, used); NEED("ssd_fwd", a->dt, used && usedN);
    NEED("ssd_fwd", a->dt_bias, usedN); NEED("ssd_fwd", a->A_log, usedN); NEED("ssd_fwd", a->D, used);
    NEED("ssd_fwd", a->Bm, usedN); NEED("ssd_fwd", a->Cm, usedN);
    return HL_OK;
}

int hl_validate_ssd_bwd(const hl_ssd_bwd_args *a) {
    int rc = ssd_sizes_ok("ssd_bwd", a->B, a->T, a->H, a->P, a->G, a->N, a->chunk);
    if (rc) return rc;
    int used = a->B > 0 && a->T > 0 && a->H > 0 && a->P > 0, usedN = used && a->N > 0;
    NEED("ssd_bwd", a->dx, used); NEED("ssd_bwd", a->ddt, used); NEED("ssd_bwd", a->dD, used);
    NEED("ssd_bwd", a->ddt_bias, used); NEED("ssd_bwd", a->dA_log, used);
    NEED("ssd_bwd", a->dy, used); NEED("ssd_bwd", a->x, used); NEED("ssd_bwd", a->dt, used);
    NEED("ssd_bwd", a->dt_bias, used); NEED("ssd_bwd", a->A_log, used); NEED("ssd_bwd", a->D, used);
    NEED("ssd_bwd", a->dBm, usedN); NEED("ssd_bwd", a->dCm, usedN);
    NEED("ssd_bwd", a->Bm, usedN); NEED("ssd_bwd", a->Cm, usedN);
    return HL_OK;
}

int hl_validate_ssd_state(const hl_ssd_state_args *a) {
    int rc = ssd_sizes_ok("ssd_state", a->B, a->T, a->H, a->P, a->G, a->N, 1);
    if (rc) return rc;
    int used = a->B > 0 && a->H > 0 && a->P > 0 && a->N > 0, seq = used && a->T > 0;
    NEED("ssd_state", a->lens, a->B > 0);
    NEED("ssd_state", a->s, used);
    NEED("ssd_state", a->x, seq); NEED("ssd_state", a->dt, seq); NEED("ssd_state", a->dt_bias, seq);
    NEED("ssd_state", a->A_log, seq); NEED("ssd_state", a->Bm, seq);
    return ints_within("ssd_state", "lens", a->lens, a->B > 0 ? a->B : 0, 0, a->T);
}

int hl_validate_ssd_step(const hl_ssd_step_args *a) {
    int rc = ssd_sizes_ok("ssd_step", a->B, 1, a->H, a->P, a->G, a->N, 1);
    if (rc) return rc;
    int used = a->B > 0 && a->H > 0 && a->P > 0, usedN = used && a->N > 0;
    NEED("ssd_step", a->y, used); NEED("ssd_step", a->x, used); NEED("ssd_step", a->D, used);
    NEED("ssd_step", a->dt, usedN); NEED("ssd_step", a->dt_bias, usedN); NEED("ssd_step", a->A_log, usedN);
    NEED("ssd_step", a->s, usedN); NEED("ssd_step", a->Bm, usedN); NEED("ssd_step", a->Cm, usedN);
    return HL_OK;
}

// ---------------------------------------------------------------- mixture of experts
// Shared by the moe ops: n >= 0, E > 0, 1 <= k <= E (E < 0: not checked, for
// dispatch/combine, which do not see E), C >= 0.
static int moe_sizes_ok(const char *op, int n, int E, int k, int C) {
    NONNEG(op, n); NONNEG(op, C); POSITIVE(op, k);
    if (E >= 0) {
        POSITIVE(op, E);
        if (k > E) return hl_op_fail(HL_EBADINPUT, "%s: k = %d must be <= E = %d", op, k, E);
    }
    return HL_OK;
}
static int moe_router_ok(const char *op, int router) {
    if (router != HL_MOE_ROUTER_TOPK && router != HL_MOE_ROUTER_TOPK_RENORM)
        return hl_op_fail(HL_EBADINPUT, "%s: router = %d is not HL_MOE_ROUTER_TOPK (0) or _TOPK_RENORM (1)", op, router);
    return HL_OK;
}

int hl_validate_moe_route_fwd(const hl_moe_route_fwd_args *a) {
    if (moe_sizes_ok("moe_route_fwd", a->n, a->E, a->k, 0) || moe_router_ok("moe_route_fwd", a->router)) return HL_EBADINPUT;
    int used = a->n > 0;
    NEED("moe_route_fwd", a->stats, 1);
    NEED("moe_route_fwd", a->probs, used); NEED("moe_route_fwd", a->sel, used); NEED("moe_route_fwd", a->w, used);
    NEED("moe_route_fwd", a->lse, used); NEED("moe_route_fwd", a->logits, used);
    return HL_OK;
}

int hl_validate_moe_route_bwd(const hl_moe_route_bwd_args *a) {
    if (moe_sizes_ok("moe_route_bwd", a->n, a->E, a->k, 0) || moe_router_ok("moe_route_bwd", a->router)) return HL_EBADINPUT;
    int used = a->n > 0;
    NEED("moe_route_bwd", a->dlogits, used); NEED("moe_route_bwd", a->dw, used); NEED("moe_route_bwd", a->probs, used);
    NEED("moe_route_bwd", a->sel, used); NEED("moe_route_bwd", a->lse, used);
    if (!isfinite(a->load_balance) || !isfinite(a->z_loss))
        return hl_op_fail(HL_EBADINPUT, "moe_route_bwd: load_balance = %g and z_loss = %g must be finite", a->load_balance, a->z_loss);
    return ints_within("moe_route_bwd", "sel", a->sel, used ? (long long)a->n * a->k : 0, 0, a->E - 1);
}

int hl_validate_moe_group(const hl_moe_group_args *a) {
    if (moe_sizes_ok("moe_group", a->n, a->E, a->k, 0)) return HL_EBADINPUT;
    NEED("moe_group", a->offs, 1);
    NEED("moe_group", a->rows, a->n > 0); NEED("moe_group", a->sel, a->n > 0);
    return ints_within("moe_group", "sel", a->sel, a->n > 0 ? (long long)a->n * a->k : 0, 0, a->E - 1);
}

// dispatch and combine: rows inside [0, n*k).
static int moe_rows_ok(const char *op, const int32_t *rows, int n, int k, int C) {
    if (moe_sizes_ok(op, n, -1, k, C)) return HL_EBADINPUT;
    NEED(op, rows, n > 0);
    return ints_within(op, "rows", rows, n > 0 ? (long long)n * k : 0, 0, (long long)n * k - 1);
}

int hl_validate_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a) {
    int used = a->n > 0 && a->C > 0;
    NEED("moe_dispatch_fwd", a->xs, used); NEED("moe_dispatch_fwd", a->inp, used);
    return moe_rows_ok("moe_dispatch_fwd", a->rows, a->n, a->k, a->C);
}

int hl_validate_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a) {
    int used = a->n > 0 && a->C > 0;
    NEED("moe_dispatch_bwd", a->dinp, used); NEED("moe_dispatch_bwd", a->dxs, used);
    return moe_rows_ok("moe_dispatch_bwd", a->rows, a->n, a->k, a->C);
}

int hl_validate_moe_combine_fwd(const hl_moe_combine_fwd_args *a) {
    int used = a->n > 0 && a->C > 0;
    NEED("moe_combine_fwd", a->out, used); NEED("moe_combine_fwd", a->y, used); NEED("moe_combine_fwd", a->w, used);
    return moe_rows_ok("moe_combine_fwd", a->rows, a->n, a->k, a->C);
}

int hl_validate_moe_combine_bwd(const hl_moe_combine_bwd_args *a) {
    int used = a->n > 0;
    NEED("moe_combine_bwd", a->dw, used); NEED("moe_combine_bwd", a->w, used);
    NEED("moe_combine_bwd", a->dy, used && a->C > 0); NEED("moe_combine_bwd", a->dout, used && a->C > 0);
    NEED("moe_combine_bwd", a->y, used && a->C > 0);
    return moe_rows_ok("moe_combine_bwd", a->rows, a->n, a->k, a->C);
}

// The per-channel inputs every conba op reads (as conba_fwd's fields):
// needed when any (b, c) is processed (`used`); A_log also needs N > 0.
#define CONBA_PARAMS(op, a, used) do {                                              \
        NEED(op, (a)->dt_bias, used); NEED(op, (a)->D, used); NEED(op, (a)->s_bias, used); \
        NEED(op, (a)->delay, used); NEED(op, (a)->gain_decay, used);               \
        NEED(op, (a)->control, used); NEED(op, (a)->A_log, (used) && (a)->N > 0);  \
    } while (0)
// ... and the per-position ones (u, dt, s, r; Bm and Cm when N > 0).
#define CONBA_SEQ(op, a, used) do {                                                 \
        NEED(op, (a)->u, used); NEED(op, (a)->dt, used); NEED(op, (a)->s, used);   \
        NEED(op, (a)->r, used); NEED(op, (a)->Bm, (used) && (a)->N > 0);           \
        NEED(op, (a)->Cm, (used) && (a)->N > 0);                                   \
    } while (0)

int hl_validate_conba_fwd(const hl_conba_fwd_args *a) {
    NONNEG("conba_fwd", a->B); NONNEG("conba_fwd", a->T); NONNEG("conba_fwd", a->C); NONNEG("conba_fwd", a->N);
    int used = a->B > 0 && a->T > 0 && a->C > 0;
    NEED("conba_fwd", a->y, used);
    CONBA_SEQ("conba_fwd", a, used);
    CONBA_PARAMS("conba_fwd", a, used);
    return HL_OK;
}

int hl_validate_conba_bwd(const hl_conba_bwd_args *a) {
    NONNEG("conba_bwd", a->B); NONNEG("conba_bwd", a->T); NONNEG("conba_bwd", a->C); NONNEG("conba_bwd", a->N);
    int used = a->B > 0 && a->T > 0 && a->C > 0, usedN = used && a->N > 0;
    NEED("conba_bwd", a->du, used); NEED("conba_bwd", a->ddt, used); NEED("conba_bwd", a->ds, used);
    NEED("conba_bwd", a->dr, used); NEED("conba_bwd", a->dy, used);
    NEED("conba_bwd", a->ddt_bias, used); NEED("conba_bwd", a->dD, used); NEED("conba_bwd", a->ds_bias, used);
    NEED("conba_bwd", a->ddelay, used); NEED("conba_bwd", a->dgain_decay, used); NEED("conba_bwd", a->dcontrol, used);
    NEED("conba_bwd", a->dBm, usedN); NEED("conba_bwd", a->dCm, usedN); NEED("conba_bwd", a->dA_log, usedN);
    CONBA_SEQ("conba_bwd", a, used);
    CONBA_PARAMS("conba_bwd", a, used);
    return HL_OK;
}

int hl_validate_conba_state(const hl_conba_state_args *a) {
    NONNEG("conba_state", a->B); NONNEG("conba_state", a->T); NONNEG("conba_state", a->C); NONNEG("conba_state", a->N);
    int used = a->B > 0 && a->C > 0, seq = used && a->T > 0;
    NEED("conba_state", a->lens, a->B > 0);
    NEED("conba_state", a->st, used);
    CONBA_SEQ("conba_state", a, seq);
    CONBA_PARAMS("conba_state", a, seq);
    return ints_within("conba_state", "lens", a->lens, a->B > 0 ? a->B : 0, 0, a->T);
}

int hl_validate_conba_step(const hl_conba_step_args *a) {
    NONNEG("conba_step", a->B); NONNEG("conba_step", a->C); NONNEG("conba_step", a->N);
    int used = a->B > 0 && a->C > 0;
    NEED("conba_step", a->y, used); NEED("conba_step", a->st, used);
    CONBA_SEQ("conba_step", a, used);
    CONBA_PARAMS("conba_step", a, used);
    return HL_OK;
}
