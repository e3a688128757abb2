// cpu.h: the fast cpu backend (OpenMP + OpenBLAS): the implementations on
// valid arguments (the op table hl_ops_cpu wraps each with the shared
// argument checks, kernels/op_table.h) and the small inline helpers its
// files share.
#ifndef HYLAB_CPU_H
#define HYLAB_CPU_H
#include <stdint.h>
#include <string.h>
#include "kernels/cpu_ref/cpu_ref.h"

void hl_cpu_matmul_fwd(const hl_matmul_fwd_args *a);
void hl_cpu_matmul_bwd(const hl_matmul_bwd_args *a);
void hl_cpu_embed_fwd(const hl_embed_fwd_args *a);
void hl_cpu_embed_bwd(const hl_embed_bwd_args *a);
void hl_cpu_rmsnorm_fwd(const hl_rmsnorm_fwd_args *a);
void hl_cpu_rmsnorm_bwd(const hl_rmsnorm_bwd_args *a);
void hl_cpu_rope_fwd(const hl_rope_args *a);
void hl_cpu_rope_bwd(const hl_rope_args *a);
void hl_cpu_attn_fwd(const hl_attn_fwd_args *a);
void hl_cpu_attn_bwd(const hl_attn_bwd_args *a);
void hl_cpu_conv1d_fwd(const hl_conv1d_fwd_args *a);
void hl_cpu_conv1d_bwd(const hl_conv1d_bwd_args *a);
void hl_cpu_scan_fwd(const hl_scan_fwd_args *a);
void hl_cpu_scan_bwd(const hl_scan_bwd_args *a);
void hl_cpu_silu_fwd(const hl_silu_fwd_args *a);
void hl_cpu_silu_bwd(const hl_silu_bwd_args *a);
void hl_cpu_swiglu_fwd(const hl_swiglu_fwd_args *a);
void hl_cpu_swiglu_bwd(const hl_swiglu_bwd_args *a);
void hl_cpu_xent_fwd(const hl_xent_fwd_args *a);
void hl_cpu_xent_bwd(const hl_xent_bwd_args *a);
void hl_cpu_adamw(const hl_adamw_args *a);
void hl_cpu_axpby(const hl_axpby_args *a);
void hl_cpu_cache_fill(const hl_cache_fill_args *a);
void hl_cpu_attn_decode(const hl_attn_decode_args *a);
void hl_cpu_conv1d_step(const hl_conv1d_step_args *a);
void hl_cpu_scan_state(const hl_scan_state_args *a);
void hl_cpu_scan_step(const hl_scan_step_args *a);
void hl_cpu_ssd_fwd(const hl_ssd_fwd_args *a);
void hl_cpu_ssd_bwd(const hl_ssd_bwd_args *a);
void hl_cpu_ssd_state(const hl_ssd_state_args *a);
void hl_cpu_ssd_step(const hl_ssd_step_args *a);
void hl_cpu_moe_route_fwd(const hl_moe_route_fwd_args *a);
void hl_cpu_moe_route_bwd(const hl_moe_route_bwd_args *a);
void hl_cpu_moe_group(const hl_moe_group_args *a);
void hl_cpu_moe_dispatch_fwd(const hl_moe_dispatch_fwd_args *a);
void hl_cpu_moe_dispatch_bwd(const hl_moe_dispatch_bwd_args *a);
void hl_cpu_moe_combine_fwd(const hl_moe_combine_fwd_args *a);
void hl_cpu_moe_combine_bwd(const hl_moe_combine_bwd_args *a);
void hl_cpu_conba_fwd(const hl_conba_fwd_args *a);
void hl_cpu_conba_bwd(const hl_conba_bwd_args *a);
void hl_cpu_conba_state(const hl_conba_state_args *a);
void hl_cpu_conba_step(const hl_conba_step_args *a);

// The core of every fast exp: Cody-Waite reduction xc = n ln2 + r (n rounded
// to an integer with the 1.5 * 2^23 trick) and Cephes' degree-6 polynomial
// for e^r. Written once for float and for GCC vector types (scalar operands
// broadcast); the caller clamps xc before and scales p by 2^n after.
#define HL_EXP_CORE(T, xc, n, p) do {                                          \
        const float round_magic_ = 12582912.0f;                                \
        (n) = ((xc) * 1.44269504088896341f + round_magic_) - round_magic_;     \
        T r_ = (xc) - (n) * 0.693359375f - (n) * -2.12194440e-4f;              \
        (p) = r_ * 1.9875691500e-4f + 1.3981999507e-3f;                        \
        (p) = (p) * r_ + 8.3334519073e-3f;                                     \
        (p) = (p) * r_ + 4.1665795894e-2f;                                     \
        (p) = (p) * r_ + 1.6666665459e-1f;                                     \
        (p) = (p) * r_ + 5.0000001201e-1f;                                     \
        (p) = (p) * r_ * r_ + r_ + 1.0f;                                       \
    } while (0)

// exp(x) in float, branch-free so that loops using it vectorise (glibc's
// expf does not without -ffast-math). Cody-Waite reduction x = n ln2 + r,
// Cephes' degree-6 polynomial for e^r (about 1 ulp); 0 below -87.3, and
// inputs above 88.3 are clamped (e^88.3 ~ 2.2e38, still finite). NaN in
// gives NaN out (a diverging run must stay visible), without converting NaN
// to an integer (undefined behaviour; UBSan caught it on a diverging run).
static inline float hl_fast_expf(float x) {
    float xc = x > 88.3f ? 88.3f : x;
    xc = xc < -87.3f ? -87.3f : xc;
    xc = xc == xc ? xc : 0.0f;
    float n, p;
    HL_EXP_CORE(float, xc, n, p);
    int32_t bits = ((int32_t)n + 127) << 23; // 2^n
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x != x ? x : x < -87.3f ? 0.0f : p * scale;
}

// Per-thread scratch: buffer `slot` (0 .. HL_SCRATCH_SLOTS-1) of the calling
// thread, at least n floats, 64-byte aligned, persistent and reused across
// calls (never freed by the caller; valid until the same thread asks for the
// same slot again). hl_cpu_scratch zeroes it, hl_cpu_scratch_raw does not.
// Aborts with a message when out of memory (the implementations return
// nothing, the status is the argument check's, and a kernel without its
// scratch cannot run). An op that takes a slot on the calling
// thread and then enters a parallel region must use different slots inside
// (the calling thread is one of the team).
#define HL_SCRATCH_SLOTS 8
float *hl_cpu_scratch(int slot, size_t n);
float *hl_cpu_scratch_raw(int slot, size_t n);

static inline float hl_fast_sigmoid(float x) { return 1.0f / (1.0f + hl_fast_expf(-x)); }
#endif
