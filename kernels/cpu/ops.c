// cpu/ops.c: the fast cpu op table (OpenMP + OpenBLAS).
#include <stdio.h>
#include <stdlib.h>
#include "kernels/cpu/cpu.h"

float *hl_cpu_scratch(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "hylab: kernels/cpu: out of memory allocating %zu floats of scratch\n", n);
        abort();
    }
    return p;
}

const hl_ops hl_ops_cpu = {
    .name = "cpu",
    .matmul_fwd = hl_cpu_matmul_fwd,   .matmul_bwd = hl_cpu_matmul_bwd,
    .embed_fwd = hl_cpu_embed_fwd,     .embed_bwd = hl_cpu_embed_bwd,
    .rmsnorm_fwd = hl_cpu_rmsnorm_fwd, .rmsnorm_bwd = hl_cpu_rmsnorm_bwd,
    .rope_fwd = hl_cpu_rope_fwd,       .rope_bwd = hl_cpu_rope_bwd,
    .attn_fwd = hl_cpu_attn_fwd,       .attn_bwd = hl_cpu_attn_bwd,
    .conv1d_fwd = hl_cpu_conv1d_fwd,   .conv1d_bwd = hl_cpu_conv1d_bwd,
    .scan_fwd = hl_cpu_scan_fwd,       .scan_bwd = hl_cpu_scan_bwd,
    .silu_fwd = hl_cpu_silu_fwd,       .silu_bwd = hl_cpu_silu_bwd,
    .swiglu_fwd = hl_cpu_swiglu_fwd,   .swiglu_bwd = hl_cpu_swiglu_bwd,
    .xent_fwd = hl_cpu_xent_fwd,       .xent_bwd = hl_cpu_xent_bwd,
    .adamw = hl_cpu_adamw,             .axpby = hl_cpu_axpby,
};
