// kernels.h: the op table. One struct of function pointers per backend.
//
// Backends: "cpu_ref" (naive, obviously correct: the oracle), "cpu" (OpenMP +
// OpenBLAS), later "cuda". A backend may leave an op NULL: callers and tests
// treat NULL as "unsupported", which is different from an op that fails.
//
// Layout conventions (all fp32, row-major, contiguous unless a stride is given):
//   B  batch, T  positions (meta tokens included: meta tokens are positions
//   0..m-1), C  channels. A (B, T, C) tensor has element [b][t][c] at
//   (b*T + t)*C + c. Linear weights are (OC, IC) as in PyTorch: out = inp @ W^T.
//
// GRADIENT CONVENTION (the one rule every backward follows):
//   * gradients of PARAMETERS are ADDED into (+=): dweight, dbias, dA_log, ...
//   * gradients of ACTIVATIONS (inputs) are WRITTEN (=): dinp, dq, dx, ...
//   * the residual stream is the exception and is handled by the caller, which
//     accumulates into it with hl_ops.add.
// So a backward never needs its activation-gradient outputs zeroed first, and
// parameter gradients are zeroed once per step by the caller.
//
// Every op is checked against cpu_ref on random inputs (tests/test_kernels.c)
// and every backward against central finite differences.
#ifndef HYLAB_KERNELS_H
#define HYLAB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------- matmul
// out = inp @ weight^T (+ bias)
typedef struct {
    float *out;          // (N, OC)
    const float *inp;    // (N, IC)
    const float *weight; // (OC, IC)
    const float *bias;   // (OC) or NULL
    int N, IC, OC;
} hl_matmul_fwd_args;
typedef struct {
    float *dinp;         // (N, IC)  written (=); may be NULL (not needed)
    float *dweight;      // (OC, IC) added (+=); may be NULL (frozen)
    float *dbias;        // (OC)     added (+=); may be NULL
    const float *dout;   // (N, OC)
    const float *inp;    // (N, IC)
    const float *weight; // (OC, IC)
    int N, IC, OC;
} hl_matmul_bwd_args;

// ---------------------------------------------------------------- embedding
// out[n] = table[ids[n]]
typedef struct {
    float *out;          // (N, C)
    const int32_t *ids;  // (N) each in [0, V)
    const float *table;  // (V, C)
    int N, V, C;
} hl_embed_fwd_args;
typedef struct {
    float *dtable;       // (V, C) added (+=)
    const float *dout;   // (N, C)
    const int32_t *ids;  // (N)
    int N, V, C;
} hl_embed_bwd_args;

// ---------------------------------------------------------------- rmsnorm
// out = x * rsqrt(mean(x^2) + eps) * weight; rstd saved for backward
typedef struct {
    float *out;          // (N, C)
    float *rstd;         // (N) written: 1/sqrt(mean(x^2)+eps)
    const float *inp;    // (N, C)
    const float *weight; // (C)
    int N, C;
    float eps;
} hl_rmsnorm_fwd_args;
typedef struct {
    float *dinp;         // (N, C) written (=)
    float *dweight;      // (C)    added (+=)
    const float *dout;   // (N, C)
    const float *inp;    // (N, C)
    const float *weight; // (C)
    const float *rstd;   // (N) from forward
    int N, C;
} hl_rmsnorm_bwd_args;

// ---------------------------------------------------------------- rope
// Hugging Face Llama rotate_half RoPE: within each head, dim i pairs with
// i + hd/2; inv_freq[i] = theta^(-2i/hd); angle = pos * inv_freq[i] with
// pos = t (the position index, meta tokens included).
//   out[i]      = x[i] * cos - x[i+hd/2] * sin
//   out[i+hd/2] = x[i+hd/2] * cos + x[i] * sin
// In-place allowed (out == inp). Backward is the inverse rotation.
typedef struct {
    float *out;          // (B, T, H, hd)
    const float *inp;    // (B, T, H, hd)
    int B, T, H, hd;     // hd even
    float theta;
} hl_rope_args;          // same struct for forward and backward (dout->dinp)

// ---------------------------------------------------------------- attention
// Causal scaled dot-product attention with GQA, optional sliding window and a
// prefix of m meta tokens that every query sees.
// Query at position p sees key k iff k <= p and (window == 0 || p - k < window
// || k < n_meta). Scores scaled by 1/sqrt(hd). Query head h reads KV head
// h / (H / Hkv).
typedef struct {
    float *out;          // (B, T, H, vd)
    float *lse;          // (B, H, T) written: log-sum-exp of scaled scores per query
    const float *q;      // (B, T, H, hd)
    const float *k;      // (B, T, Hkv, hd)
    const float *v;      // (B, T, Hkv, vd)
    int B, T, H, Hkv, hd, vd;
    int window;          // 0 = global
    int n_meta;          // meta-token prefix length (always visible)
} hl_attn_fwd_args;
typedef struct {
    float *dq;           // (B, T, H, hd)   written (=)
    float *dk;           // (B, T, Hkv, hd) written (=)
    float *dv;           // (B, T, Hkv, vd) written (=)
    const float *dout;   // (B, T, H, vd)
    const float *out;    // (B, T, H, vd)  from forward
    const float *lse;    // (B, H, T)      from forward
    const float *q, *k, *v;
    int B, T, H, Hkv, hd, vd;
    int window, n_meta;
} hl_attn_bwd_args;

// ---------------------------------------------------------------- conv1d
// Causal depthwise conv, channels last, PyTorch weight layout (C, 1, K):
// out[b,t,c] = bias[c] + sum_{j<K} w[c,j] * x[b, t-K+1+j, c] (zero padding left)
typedef struct {
    float *out;          // (B, T, C)
    const float *inp;    // (B, T, C)
    const float *weight; // (C, K)
    const float *bias;   // (C) or NULL
    int B, T, C, K;
} hl_conv1d_fwd_args;
typedef struct {
    float *dinp;         // (B, T, C) written (=)
    float *dweight;      // (C, K)    added (+=)
    float *dbias;        // (C)       added (+=), may be NULL
    const float *dout;   // (B, T, C)
    const float *inp;    // (B, T, C)
    const float *weight; // (C, K)
    int B, T, C, K;
} hl_conv1d_bwd_args;

// ---------------------------------------------------------------- selective scan
// Mamba-1 selective scan (state-spaces/mamba selective_scan_fn with
// delta_softplus=True, z handled outside):
//   delta[b,t,c] = softplus(dt[b,t,c] + dt_bias[c])
//   A[c,n]       = -exp(A_log[c,n])
//   h[c,n]_t     = exp(delta*A[c,n]) * h[c,n]_{t-1} + delta * Bm[b,t,n] * u[b,t,c]
//   y[b,t,c]     = sum_n h[c,n]_t * Cm[b,t,n] + D[c] * u[b,t,c]
// h_{-1} = 0. The backward recomputes states (nothing but inputs is saved).
typedef struct {
    float *y;            // (B, T, C)
    const float *u;      // (B, T, C)
    const float *dt;     // (B, T, C) before bias and softplus
    const float *dt_bias;// (C)
    const float *A_log;  // (C, N)
    const float *Bm;     // (B, T, N)
    const float *Cm;     // (B, T, N)
    const float *D;      // (C)
    int B, T, C, N;
} hl_scan_fwd_args;
typedef struct {
    float *du;           // (B, T, C) written (=)
    float *ddt;          // (B, T, C) written (=)
    float *dBm;          // (B, T, N) written (=)
    float *dCm;          // (B, T, N) written (=)
    float *ddt_bias;     // (C)    added (+=)
    float *dA_log;       // (C, N) added (+=)
    float *dD;           // (C)    added (+=)
    const float *dy;     // (B, T, C)
    const float *u, *dt, *dt_bias, *A_log, *Bm, *Cm, *D;
    int B, T, C, N;
} hl_scan_bwd_args;

// ---------------------------------------------------------------- activations
// silu(x) = x * sigmoid(x). In-place allowed for forward.
typedef struct { float *out; const float *inp; size_t n; } hl_silu_fwd_args;
typedef struct { float *dinp; const float *dout; const float *inp; size_t n; } hl_silu_bwd_args;

// swiglu: out = silu(gate) * up  (also the Mamba output gate y * silu(z))
typedef struct {
    float *out;          // (n)
    const float *gate;   // (n)
    const float *up;     // (n)
    size_t n;
} hl_swiglu_fwd_args;
typedef struct {
    float *dgate;        // (n) written (=)
    float *dup;          // (n) written (=)
    const float *dout, *gate, *up;
    size_t n;
} hl_swiglu_bwd_args;

// ---------------------------------------------------------------- softmax cross-entropy
// losses[n] = -log softmax(logits[n])[targets[n]]; rows whose target equals
// ignore_index get loss 0 and zero gradient.
typedef struct {
    float *losses;          // (N)
    const float *logits;    // (N, V)
    const int32_t *targets; // (N)
    int N, V;
    int32_t ignore_index;
} hl_xent_fwd_args;
// dlogits = (softmax(logits) - onehot(target)) * dloss  (dloss: the weight
// of each row's loss in the total, e.g. 1/n_labelled). Written (=).
typedef struct {
    float *dlogits;         // (N, V)
    const float *logits;    // (N, V)
    const int32_t *targets; // (N)
    int N, V;
    int32_t ignore_index;
    float dloss;
} hl_xent_bwd_args;

// ---------------------------------------------------------------- adamw
// Decoupled weight decay (PyTorch AdamW): p -= lr*(m_hat/(sqrt(v_hat)+eps) + wd*p)
// step is 1-based.
typedef struct {
    float *params, *m, *v;  // (n)
    const float *grads;     // (n)
    size_t n;
    float lr, beta1, beta2, eps, weight_decay;
    int step;
} hl_adamw_args;

// ---------------------------------------------------------------- elementwise
// out = a*x + b*y (out may alias x or y). The residual stream uses
// a = b = 1, out = x.
typedef struct {
    float *out; const float *x; const float *y;
    float a, b; size_t n;
} hl_axpby_args;

// ---------------------------------------------------------------- the table
typedef struct hl_ops {
    const char *name;  // "cpu_ref", "cpu", "cuda"
    void (*matmul_fwd)(const hl_matmul_fwd_args *);
    void (*matmul_bwd)(const hl_matmul_bwd_args *);
    void (*embed_fwd)(const hl_embed_fwd_args *);
    void (*embed_bwd)(const hl_embed_bwd_args *);
    void (*rmsnorm_fwd)(const hl_rmsnorm_fwd_args *);
    void (*rmsnorm_bwd)(const hl_rmsnorm_bwd_args *);
    void (*rope_fwd)(const hl_rope_args *);
    void (*rope_bwd)(const hl_rope_args *);   // out = d inp, inp = d out
    void (*attn_fwd)(const hl_attn_fwd_args *);
    void (*attn_bwd)(const hl_attn_bwd_args *);
    void (*conv1d_fwd)(const hl_conv1d_fwd_args *);
    void (*conv1d_bwd)(const hl_conv1d_bwd_args *);
    void (*scan_fwd)(const hl_scan_fwd_args *);
    void (*scan_bwd)(const hl_scan_bwd_args *);
    void (*silu_fwd)(const hl_silu_fwd_args *);
    void (*silu_bwd)(const hl_silu_bwd_args *);
    void (*swiglu_fwd)(const hl_swiglu_fwd_args *);
    void (*swiglu_bwd)(const hl_swiglu_bwd_args *);
    void (*xent_fwd)(const hl_xent_fwd_args *);
    void (*xent_bwd)(const hl_xent_bwd_args *);
    void (*adamw)(const hl_adamw_args *);
    void (*axpby)(const hl_axpby_args *);
} hl_ops;

extern const hl_ops hl_ops_cpu_ref;
extern const hl_ops hl_ops_cpu;

// Backend lookup by name ("cpu_ref", "cpu"); NULL if unknown/unavailable.
const hl_ops *hl_ops_get(const char *name);

// ---------------------------------------------------------------- BLAS set-up
// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels in a load-time
// constructor, before main() runs; on a virtualised CPU that reports itself as
// a generic "Intel Xeon Processor" it picks Prescott (6x slower sgemm). So the
// first thing every hylab program does is hl_blas_preinit(argv): it reads the
// CPU features with cpuid and, unless OPENBLAS_CORETYPE is already set,
// exports the right core type and re-executes the program (/proc/self/exe)
// so the constructor sees it. It also defaults OMP_WAIT_POLICY to PASSIVE
// (spinning OpenMP threads starve the working ones on a shared machine).
// Returns normally when no re-exec is needed.
void hl_blas_preinit(char **argv);
// Sets the thread count for OpenMP and OpenBLAS (threads <= 0: all cores;
// at most HL_MAX_THREADS). Options that take a thread count (run, forward
// --threads) refuse more than HL_MAX_THREADS: OpenMP cannot start ~1e6.
#define HL_MAX_THREADS 1024
void hl_blas_init(int threads);
// The OpenBLAS core in use (openblas_get_corename), e.g. "SkylakeX".
const char *hl_blas_core(void);
int hl_blas_threads(void);
// sgemm GFLOP/s measured now on (n x n) @ (n x n), for benchmarks.
double hl_blas_sgemm_gflops(int n, int repeats);

#endif
