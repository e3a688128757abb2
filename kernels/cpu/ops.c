// cpu/ops.c: the fast cpu op table (OpenMP + OpenBLAS).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"

// Per-thread persistent scratch: HL_SCRATCH_SLOTS buffers per thread (thread
// local, so OpenMP workers and concurrent callers never share one), each
// grown on demand to the largest size asked and then reused: no allocation
// and no page faults on the hot path once a shape has been seen. Kept until
// the process exits (OpenMP keeps its workers for the whole run).
typedef struct { float *p; size_t cap; } scratch_slot;
static _Thread_local scratch_slot slots[HL_SCRATCH_SLOTS];

float *hl_cpu_scratch_raw(int slot, size_t n) {
    scratch_slot *s = &slots[slot];
    if (n > s->cap) {
        free(s->p);
        size_t cap = n + n / 4 + 16; // room to grow a little without reallocating
        void *p = NULL;
        if (posix_memalign(&p, 64, cap * sizeof(float))) {
            fprintf(stderr, "hylab: kernels/cpu: out of memory allocating %zu floats of scratch\n", n);
            abort();
        }
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

float *hl_cpu_scratch(int slot, size_t n) {
    float *p = hl_cpu_scratch_raw(slot, n);
    memset(p, 0, (n ? n : 1) * sizeof(float));
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
