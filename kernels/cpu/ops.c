// cpu/ops.c: the fast cpu op table (OpenMP + OpenBLAS). Ops without a fast
// implementation yet fall back to the cpu_ref ones.
#include "kernels/cpu/cpu.h"

const hl_ops hl_ops_cpu = {
    .name = "cpu",
    .matmul_fwd = hl_ref_matmul_fwd,   .matmul_bwd = hl_ref_matmul_bwd,
    .embed_fwd = hl_ref_embed_fwd,     .embed_bwd = hl_ref_embed_bwd,
    .rmsnorm_fwd = hl_ref_rmsnorm_fwd, .rmsnorm_bwd = hl_ref_rmsnorm_bwd,
    .rope_fwd = hl_ref_rope_fwd,       .rope_bwd = hl_ref_rope_bwd,
    .attn_fwd = hl_ref_attn_fwd,       .attn_bwd = hl_ref_attn_bwd,
    .conv1d_fwd = hl_ref_conv1d_fwd,   .conv1d_bwd = hl_ref_conv1d_bwd,
    .scan_fwd = hl_ref_scan_fwd,       .scan_bwd = hl_ref_scan_bwd,
    .silu_fwd = hl_ref_silu_fwd,       .silu_bwd = hl_ref_silu_bwd,
    .swiglu_fwd = hl_ref_swiglu_fwd,   .swiglu_bwd = hl_ref_swiglu_bwd,
    .xent_fwd = hl_ref_xent_fwd,       .xent_bwd = hl_ref_xent_bwd,
    .adamw = hl_ref_adamw,             .axpby = hl_ref_axpby,
};
