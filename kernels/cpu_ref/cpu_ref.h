// cpu_ref.h: the naive reference backend ("cpu_ref"), the oracle every other
// backend is checked against. These are the implementations on valid
// arguments (no checks, no status); the op table hl_ops_cpu_ref wraps each
// with the shared argument checks (kernels/op_table.h). Exported so that the
// fast cpu backend can fall back to them. Semantics and shapes: kernels/kernels.h.
#ifndef HYLAB_CPU_REF_H
#define HYLAB_CPU_REF_H
#include <math.h>
#include "kernels/kernels.h"

void hl_ref_matmul_fwd(const hl_matmul_fwd_args *a);
void hl_ref_matmul_bwd(const hl_matmul_bwd_args *a);
void hl_ref_embed_fwd(const hl_embed_fwd_args *a);
void hl_ref_embed_bwd(const hl_embed_bwd_args *a);
void hl_ref_rmsnorm_fwd(const hl_rmsnorm_fwd_args *a);
void hl_ref_rmsnorm_bwd(const hl_rmsnorm_bwd_args *a);
void hl_ref_rope_fwd(const hl_rope_args *a);
void hl_ref_rope_bwd(const hl_rope_args *a);
void hl_ref_attn_fwd(const hl_attn_fwd_args *a);
void hl_ref_attn_bwd(const hl_attn_bwd_args *a);
void hl_ref_conv1d_fwd(const hl_conv1d_fwd_args *a);
void hl_ref_conv1d_bwd(const hl_conv1d_bwd_args *a);
void hl_ref_scan_fwd(const hl_scan_fwd_args *a);
void hl_ref_scan_bwd(const hl_scan_bwd_args *a);
void hl_ref_silu_fwd(const hl_silu_fwd_args *a);
void hl_ref_silu_bwd(const hl_silu_bwd_args *a);
void hl_ref_swiglu_fwd(const hl_swiglu_fwd_args *a);
void hl_ref_swiglu_bwd(const hl_swiglu_bwd_args *a);
void hl_ref_xent_fwd(const hl_xent_fwd_args *a);
void hl_ref_xent_bwd(const hl_xent_bwd_args *a);
void hl_ref_adamw(const hl_adamw_args *a);
void hl_ref_axpby(const hl_axpby_args *a);
void hl_ref_cache_fill(const hl_cache_fill_args *a);
void hl_ref_attn_decode(const hl_attn_decode_args *a);
void hl_ref_conv1d_step(const hl_conv1d_step_args *a);
void hl_ref_scan_state(const hl_scan_state_args *a);
void hl_ref_scan_step(const hl_scan_step_args *a);
void hl_ref_ssd_fwd(const hl_ssd_fwd_args *a);
void hl_ref_ssd_bwd(const hl_ssd_bwd_args *a);
void hl_ref_ssd_state(const hl_ssd_state_args *a);
void hl_ref_ssd_step(const hl_ssd_step_args *a);
void hl_ref_moe_route_fwd(const hl_moe_route_fwd_args *a);
void hl_ref_moe_route_bwd(const hl_moe_route_bwd_args *a);
void hl_ref_moe_group(const hl_moe_group_args *a);
void hl_ref_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a);
void hl_ref_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a);
void hl_ref_moe_combine_fwd(const hl_moe_combine_fwd_args *a);
void hl_ref_moe_combine_bwd(const hl_moe_combine_bwd_args *a);
void hl_ref_conba_fwd(const hl_conba_fwd_args *a);
void hl_ref_conba_bwd(const hl_conba_bwd_args *a);
void hl_ref_conba_state(const hl_conba_state_args *a);
void hl_ref_conba_step(const hl_conba_step_args *a);

// Scalar helpers of the reference backend. The cpu backend states the same
// rules independently (vsoftplus in cpu/ssm.c, mask_row in cpu/attention.c),
// so that cpu-vs-cpu_ref parity also checks the rules themselves.
// softplus as in PyTorch/mamba: x for x > 20, else log1p(exp(x)).
static inline float hl_softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
// d softplus / dx
static inline float hl_softplus_grad(float x) { return x > 20.0f ? 1.0f : 1.0f / (1.0f + expf(-x)); }
static inline float hl_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// Attention visibility rule (kernels.h, hl_attn_fwd_args): query position p sees key
// position k iff k <= p and (window == 0 || p - k < window || k < n_meta).
static inline int hl_attn_visible(int p, int k, int window, int n_meta) {
    return k <= p && (window == 0 || p - k < window || k < n_meta);
}
#endif
