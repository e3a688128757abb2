// kernels.h: the op table and the backend registry.
//
// A backend (hl_backend, below) is an op table (hl_ops: one function pointer
// per op), memory functions (alloc, free, zero, copies host<->device and
// device<->device, synchronise), a per-op support query and its provenance.
// Registered: "cpu_ref" (naive, obviously correct: the oracle) and "cpu"
// (OpenMP + OpenBLAS); a "cuda" backend slots in as one more registry entry.
//
// OP STATUS: every op returns HL_OK, HL_EBADINPUT (invalid arguments:
// negative sizes, a zero width where one is divided by, a required pointer
// NULL, a token id outside [0, V) in embed_fwd/embed_bwd, a target outside
// [0, V) and not ignore_index in xent, H not a multiple of Hkv, ...; nothing
// is written then) or HL_EUNSUPPORTED (see HL_OP_CALL). The message of the
// last failure on the calling thread is hl_op_error(). Ops never print and
// never abort on bad arguments. Sizes of 0 are valid and do nothing.
// A backend may leave an op NULL (HL_OP_CALL, the way callers call ops, then
// returns HL_EUNSUPPORTED), or its support query may refuse an op it has (a
// refused op, when called, must itself return HL_EUNSUPPORTED). Either way
// hl_backend_supports says 0 and the tests report the op "unsupported",
// which is different from an op that fails.
//
// MEMORY: every pointer an op reads or writes (the float and int32 arrays
// of its argument struct) is backend memory, from that backend's alloc. Only
// the backend and the kernels dereference it; everything else moves data
// with the backend's copy functions (for the CPU backends device memory is
// host memory, so the copies are memcpy: the code path is the same one a
// CUDA backend takes).
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
//     accumulates into it with hl_ops.axpby.
// So a backward never needs its activation-gradient outputs zeroed first, and
// parameter gradients are zeroed once per step by the caller.
//
// Every op of every registered backend is checked against cpu_ref on random
// inputs with a per-op tolerance (tests/test_kernels.c), every backward
// against central finite differences, and the memory functions by round trips.
#ifndef HYLAB_KERNELS_H
#define HYLAB_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

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
// out = x * rsqrt(mean(x^2) + eps) * weight; rstd saved for backward.
// groups G (0 or 1: the whole row): each row is normalised in G groups of
// C/G consecutive channels, the mean over its group (Mamba-2's gated norm
// with ngroups > 1); the weight stays per channel. G divides C.
typedef struct {
    float *out;          // (N, C)
    float *rstd;         // (N, G) written: 1/sqrt(mean(x^2)+eps) per row and group
    const float *inp;    // (N, C)
    const float *weight; // (C)
    int N, C;
    float eps;
    int groups;          // G; 0 means 1
} hl_rmsnorm_fwd_args;
typedef struct {
    float *dinp;         // (N, C) written (=)
    float *dweight;      // (C)    added (+=)
    const float *dout;   // (N, C)
    const float *inp;    // (N, C)
    const float *weight; // (C)
    const float *rstd;   // (N, G) from forward
    int N, C;
    int groups;          // G as in forward
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

// ---------------------------------------------------------------- Mamba-2 SSD scan
// Mamba-2's scan (state-spaces/mamba mamba_chunk_scan_combined with
// dt_softplus=True, D per head, z and the norm handled outside): H heads of
// P channels, G groups of B/C shared by H/G consecutive heads (head h reads
// group g = h / (H/G)), a scalar A per head:
//   delta[b,t,h] = softplus(dt[b,t,h] + dt_bias[h])
//   A[h]         = -exp(A_log[h])
//   s[h,p,n]_t   = exp(delta*A[h]) * s[h,p,n]_{t-1} + delta * x[b,t,h,p] * Bm[b,t,g,n]
//   y[b,t,h,p]   = sum_n s[h,p,n]_t * Cm[b,t,g,n] + D[h] * x[b,t,h,p]
// s_{-1} = 0. cpu_ref runs this recurrence (the oracle); cpu runs the chunked
// SSD algorithm (ssd_minimal_discrete: within a chunk of `chunk` positions
// the quadratic masked form, between chunks the state passed on), whose
// result is the same up to rounding for any chunk length (the last chunk may
// be shorter). chunk > 0; cpu_ref ignores it.
typedef struct {
    float *y;            // (B, T, H, P)
    const float *x;      // (B, T, H, P)
    const float *dt;     // (B, T, H) before bias and softplus
    const float *dt_bias;// (H)
    const float *A_log;  // (H)
    const float *Bm;     // (B, T, G, N)
    const float *Cm;     // (B, T, G, N)
    const float *D;      // (H)
    int B, T, H, P, G, N;   // G > 0 divides H
    int chunk;
} hl_ssd_fwd_args;
typedef struct {
    float *dx;           // (B, T, H, P) written (=)
    float *ddt;          // (B, T, H)    written (=)
    float *dBm;          // (B, T, G, N) written (=)
    float *dCm;          // (B, T, G, N) written (=)
    float *ddt_bias;     // (H) added (+=)
    float *dA_log;       // (H) added (+=)
    float *dD;           // (H) added (+=)
    const float *dy;     // (B, T, H, P)
    const float *x, *dt, *dt_bias, *A_log, *Bm, *Cm, *D;
    int B, T, H, P, G, N;
    int chunk;
} hl_ssd_bwd_args;

// ---------------------------------------------------------------- Conba scan
// The scan of the Conba mixer ('C', models/conba.c; hylab's interpretation of
// MixCon's Conba, docs/conba.md): a Mamba-1 selective scan with a delayed
// state term, a dynamic state scale and an adaptive output-error feedback.
// Per row b and channel c (parameters per channel, t = 0..T-1):
//   delta_t = softplus(dt_t + dt_bias)       A_n = -exp(A_log[c,n])
//   sig_t   = sigmoid(s_t + s_bias)          (dynamic state scaling)
//   lam     = sigmoid(delay)   rho = sigmoid(gain_decay)   gam = control
//   v_t     = u_t + gam * k_{t-1} * tanh(e_{t-1})        (control action)
//   h_t,n   = sig_t exp(delta_t A_n) ((1-lam) h_{t-1,n} + lam h_{t-2,n})
//             + delta_t Bm_t,n v_t                      (delayed state term)
//   y_t     = sum_n Cm_t,n h_t,n + D v_t
//   e_t     = r_t - y_t                                 (error vs desired r)
//   k_t     = rho k_{t-1} + (1-rho) e_t^2 / (1 + e_t^2) (adaptive gain)
// with h_{-1} = h_{-2} = 0, k_{-1} = e_{-1} = 0. cpu_ref runs it in double;
// the backward recomputes the trajectory (nothing but inputs is saved).
typedef struct {
    float *y;              // (B, T, C)
    const float *u;        // (B, T, C)
    const float *dt;       // (B, T, C) before bias and softplus
    const float *dt_bias;  // (C)
    const float *A_log;    // (C, N)
    const float *Bm, *Cm;  // (B, T, N)
    const float *D;        // (C)
    const float *s;        // (B, T, C) state scale before bias and sigmoid
    const float *s_bias;   // (C)
    const float *r;        // (B, T, C) desired output
    const float *delay;    // (C) logit of lam
    const float *gain_decay; // (C) logit of rho
    const float *control;  // (C) gam
    int B, T, C, N;
} hl_conba_fwd_args;
typedef struct {
    float *du, *ddt, *ds, *dr;   // (B, T, C) written (=)
    float *dBm, *dCm;            // (B, T, N) written (=)
    float *ddt_bias, *dD, *ds_bias, *ddelay, *dgain_decay, *dcontrol;  // (C) added (+=)
    float *dA_log;               // (C, N) added (+=)
    const float *dy;             // (B, T, C)
    const float *u, *dt, *dt_bias, *A_log, *Bm, *Cm, *D, *s, *s_bias, *r, *delay, *gain_decay, *control;
    int B, T, C, N;
} hl_conba_bwd_args;

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

// ---------------------------------------------------------------- mixture of experts
// The routing of a mixture-of-experts FFN (models/ffn_moe.c): n tokens, E
// experts, each token sent to its top k (no capacity limit: nothing dropped).
// An "assignment" a = t*k + j is token t's j-th chosen expert. The experts'
// matrix products run as matmul_fwd/bwd on each expert's contiguous block of
// rows; these ops route, group and move the rows.
//
// moe_route_fwd, per token t (in double, stored as float):
//   probs[t]  = softmax(logits[t])
//   sel[t,j]  = the experts of the k largest probs, largest first (ties: the
//               lower index first)
//   w[t,j]    = probs[t, sel[t,j]]                      (router 0: softmax_topk)
//             = that / sum_j' probs[t, sel[t,j']]       (router 1: softmax_topk_renorm)
//   lse[t]    = logsumexp(logits[t])
// and the statistics over the n tokens, stats (HL_MOE_STATS(E) floats):
//   stats[0]       balance = E * sum_e f_e * P_e  (HF transformers'
//                  load_balancing_loss_func without its coefficient; 1*k when
//                  routing is uniform), f_e = (assignments to e) / n (the f_e
//                  sum to k), P_e = mean_t probs[t,e]
//   stats[1]       mean_t lse[t]^2 (the router z-loss without its coefficient)
//   stats[2]       mean_t entropy of probs[t] (nats)
//   stats[3+e]     f_e;   stats[3+E+e]  P_e
// n = 0 writes stats as zeros.
#define HL_MOE_STATS(E) (3 + 2 * (E))
enum { HL_MOE_ROUTER_TOPK = 0, HL_MOE_ROUTER_TOPK_RENORM = 1 };
typedef struct {
    float *probs;        // (n, E) written
    int32_t *sel;        // (n, k) written, each in [0, E)
    float *w;            // (n, k) written
    float *lse;          // (n) written
    float *stats;        // (HL_MOE_STATS(E)) written
    const float *logits; // (n, E)
    int n, E, k;         // 1 <= k <= E
    int router;          // HL_MOE_ROUTER_*
} hl_moe_route_fwd_args;
// moe_route_bwd: dlogits (written) of
//   sum_a dw[a] * w[a] + load_balance * stats[0] + z_loss * stats[1]
// through the softmax (f_e, the discrete counts, carries no gradient: d
// balance / d probs[t,e] = E f_e / n; d z / d logits[t] = 2 lse[t] probs[t] / n).
typedef struct {
    float *dlogits;      // (n, E) written
    const float *dw;     // (n, k)
    const float *probs;  // (n, E) from forward
    const int32_t *sel;  // (n, k) from forward
    const float *lse;    // (n)    from forward
    int n, E, k, router;
    float load_balance, z_loss;
} hl_moe_route_bwd_args;
// moe_group: sorts the assignments by expert, stably (within an expert by
// assignment, i.e. token order): offs[e] .. offs[e+1]-1 are expert e's rows
// (offs[0] = 0, offs[E] = n*k), rows[a] the grouped row of assignment a
// (a permutation of 0 .. n*k-1).
typedef struct {
    int32_t *offs;       // (E + 1) written
    int32_t *rows;       // (n * k) written
    const int32_t *sel;  // (n, k) each in [0, E)
    int n, E, k;
} hl_moe_group_args;
// moe_dispatch_fwd: xs[rows[a]] = inp[a / k] (every grouped row written once).
// moe_dispatch_bwd: dinp[t] = sum_j dxs[rows[t*k + j]] (j ascending, from 0.0f).
typedef struct {
    float *xs;           // (n*k, C) written
    const float *inp;    // (n, C)
    const int32_t *rows; // (n*k) a permutation of 0 .. n*k-1
    int n, k, C;
} hl_moe_dispatch_fwd_args;
typedef struct {
    float *dinp;         // (n, C) written (=)
    const float *dxs;    // (n*k, C)
    const int32_t *rows; // (n*k)
    int n, k, C;
} hl_moe_dispatch_bwd_args;
// moe_combine_fwd: out[t] = sum_j w[t*k+j] * y[rows[t*k+j]] (j ascending,
// from 0.0f: with k = 1 and w = 1 out is y bit for bit).
// moe_combine_bwd: dy[rows[a]] = w[a] * dout[a/k]; dw[a] = dout[a/k] . y[rows[a]].
typedef struct {
    float *out;          // (n, C) written
    const float *y;      // (n*k, C) grouped rows
    const float *w;      // (n, k)
    const int32_t *rows; // (n*k)
    int n, k, C;
} hl_moe_combine_fwd_args;
typedef struct {
    float *dy;           // (n*k, C) written (=)
    float *dw;           // (n, k)   written (=)
    const float *dout;   // (n, C)
    const float *y;      // (n*k, C)
    const float *w;      // (n, k)
    const int32_t *rows; // (n*k)
    int n, k, C;
} hl_moe_combine_bwd_args;

// ---------------------------------------------------------------- decoding
// Inference-only ops (models/decode.h): no backward, so the tests check them
// against cpu_ref and against the training ops they continue, not by finite
// differences.
//
// A KV cache row holds S = n_meta + R slots: slots 0..n_meta-1 the meta
// prefix (positions 0..n_meta-1), slot n_meta + (p - n_meta) % R position
// p >= n_meta: a ring of the last R positions (R = the window for a
// sliding-window layer, the longest sequence for a global one).
//
// cache_fill: copies a whole sequence's rows into such a cache: for row b,
// every position p < lens[b] with p < n_meta or p >= lens[b] - R goes to its
// slot (the conv state is the same ring with n_meta = 0, R = K). Slots not
// written keep their values.
typedef struct {
    float *cache;         // (B, n_meta + R, C)
    const float *src;     // (B, T, C)
    const int32_t *lens;  // (B) each in [0, T]
    int B, T, C, n_meta, R;   // R > 0
} hl_cache_fill_args;

// attn_decode: one new query per row at position pos[b] >= n_meta (the
// query and key rows are pre-RoPE: both are rotated at pos[b] as rope_fwd
// rotates position t = pos[b]; with no_rope neither is rotated). When k and v are given (a layer with its own
// K/V), the rotated k and v are first written to the slot of pos[b]; then
// the query attends over what attn_fwd shows a query at pos[b]: the prefix
// and the positions k >= n_meta with pos[b] - k < window (window 0: all),
// of which the cache holds the last R (window <= R unless every position
// since the prefix fits: the caller sizes R so). Scores scaled by
// 1/sqrt(hd), query head h reads KV head h / (H / Hkv). k, v NULL: the
// cache is only read (a KV-sharing consumer reads its producer's).
typedef struct {
    float *out;          // (B, H, vd)
    float *kcache;       // (B, S, Hkv, hd)  S = n_meta + R
    float *vcache;       // (B, S, Hkv, vd)
    const float *q;      // (B, H, hd)   pre-RoPE
    const float *k;      // (B, Hkv, hd) pre-RoPE, or NULL
    const float *v;      // (B, Hkv, vd) or NULL (both or neither)
    const int32_t *pos;  // (B) each in [n_meta, 2^31)
    int B, H, Hkv, hd, vd, n_meta, R;   // hd even, R > 0
    int window;          // 0 = global
    float theta;         // RoPE base
    int no_rope;         // 1: no rotation (attention without positional encoding)
} hl_attn_decode_args;

// conv1d_step: conv1d_fwd's output at t = pos[b] from a state holding the
// last K inputs in a ring (slot p % K holds position p; slots of positions
// < 0 must hold zeros, as in a zeroed state): writes inp[b] to slot
// pos[b] % K, then out[b,c] = bias[c] + sum_j w[c,j] * state[b, (pos[b]-K+1+j) mod K, c].
typedef struct {
    float *out;          // (B, C)
    float *state;        // (B, K, C)
    const float *inp;    // (B, C)
    const float *weight; // (C, K)
    const float *bias;   // (C) or NULL
    const int32_t *pos;  // (B) each >= 0
    int B, C, K;
} hl_conv1d_step_args;

// scan_state: the state h of scan_fwd's recurrence after the first lens[b]
// positions of row b (h_{-1} = 0; lens[b] = 0 gives zeros).
typedef struct {
    float *h;            // (B, C, N) written
    const float *u, *dt; // (B, T, C)
    const float *dt_bias;// (C)
    const float *A_log;  // (C, N)
    const float *Bm;     // (B, T, N)
    const int32_t *lens; // (B) each in [0, T]
    int B, T, C, N;
} hl_scan_state_args;

// scan_step: one position of scan_fwd from state h (updated in place):
//   h = exp(delta*A) h + delta Bm u;  y = sum_n h Cm + D u.
typedef struct {
    float *y;            // (B, C)
    float *h;            // (B, C, N)
    const float *u, *dt; // (B, C)
    const float *dt_bias;// (C)
    const float *A_log;  // (C, N)
    const float *Bm, *Cm;// (B, N)
    const float *D;      // (C)
    int B, C, N;
} hl_scan_step_args;

// ssd_state: the state s of ssd_fwd's recurrence after the first lens[b]
// positions of row b (s_{-1} = 0; lens[b] = 0 gives zeros).
typedef struct {
    float *s;            // (B, H, P, N) written
    const float *x;      // (B, T, H, P)
    const float *dt;     // (B, T, H)
    const float *dt_bias;// (H)
    const float *A_log;  // (H)
    const float *Bm;     // (B, T, G, N)
    const int32_t *lens; // (B) each in [0, T]
    int B, T, H, P, G, N;   // G > 0 divides H
} hl_ssd_state_args;

// ssd_step: one position of ssd_fwd from state s (updated in place):
//   s = exp(delta*A) s + delta x Bm^T;  y = s Cm + D x.
typedef struct {
    float *y;            // (B, H, P)
    float *s;            // (B, H, P, N)
    const float *x;      // (B, H, P)
    const float *dt;     // (B, H)
    const float *dt_bias;// (H)
    const float *A_log;  // (H)
    const float *Bm, *Cm;// (B, G, N)
    const float *D;      // (H)
    int B, H, P, G, N;   // G > 0 divides H
} hl_ssd_step_args;

// conba_state: conba_fwd's recurrent state after the first lens[b]
// positions of row b (lens[b] = 0 gives zeros). Per channel 2N + 2 floats:
// h_{t-1} (N), h_{t-2} (N), k_{t-1}, e_{t-1} (t = lens[b]).
typedef struct {
    float *st;             // (B, C, 2N + 2) written
    const float *u, *dt, *s, *r;   // (B, T, C)
    const float *Bm, *Cm;  // (B, T, N)
    const float *dt_bias, *A_log, *D, *s_bias, *delay, *gain_decay, *control;  // as conba_fwd
    const int32_t *lens;   // (B) each in [0, T]
    int B, T, C, N;
} hl_conba_state_args;

// conba_step: one position of conba_fwd from state st (updated in place).
typedef struct {
    float *y;              // (B, C)
    float *st;             // (B, C, 2N + 2)
    const float *u, *dt, *s, *r;   // (B, C)
    const float *Bm, *Cm;  // (B, N)
    const float *dt_bias, *A_log, *D, *s_bias, *delay, *gain_decay, *control;  // as conba_fwd
    int B, C, N;
} hl_conba_step_args;

// ---------------------------------------------------------------- the table
// HL_OP_LIST(X, p) lists every op once as X(p, name, argument struct type)
// (p: passed through, for the caller's use); the
// op table, the op index enum (HL_OP_<name>), hl_op_names and the support
// query are all generated from it, so an op added here is walked by the tests.
#define HL_OP_LIST(X, p)                                                          \
    X(p, matmul_fwd, hl_matmul_fwd_args)   X(p, matmul_bwd, hl_matmul_bwd_args)      \
    X(p, embed_fwd, hl_embed_fwd_args)     X(p, embed_bwd, hl_embed_bwd_args)        \
    X(p, rmsnorm_fwd, hl_rmsnorm_fwd_args) X(p, rmsnorm_bwd, hl_rmsnorm_bwd_args)    \
    X(p, rope_fwd, hl_rope_args)           X(p, rope_bwd, hl_rope_args)              \
    X(p, attn_fwd, hl_attn_fwd_args)       X(p, attn_bwd, hl_attn_bwd_args)          \
    X(p, conv1d_fwd, hl_conv1d_fwd_args)   X(p, conv1d_bwd, hl_conv1d_bwd_args)      \
    X(p, scan_fwd, hl_scan_fwd_args)       X(p, scan_bwd, hl_scan_bwd_args)          \
    X(p, silu_fwd, hl_silu_fwd_args)       X(p, silu_bwd, hl_silu_bwd_args)          \
    X(p, swiglu_fwd, hl_swiglu_fwd_args)   X(p, swiglu_bwd, hl_swiglu_bwd_args)      \
    X(p, xent_fwd, hl_xent_fwd_args)       X(p, xent_bwd, hl_xent_bwd_args)          \
    X(p, adamw, hl_adamw_args)             X(p, axpby, hl_axpby_args)                \
    X(p, cache_fill, hl_cache_fill_args)   X(p, attn_decode, hl_attn_decode_args)    \
    X(p, conv1d_step, hl_conv1d_step_args) X(p, scan_state, hl_scan_state_args)      \
    X(p, scan_step, hl_scan_step_args)                                            \
    X(p, ssd_fwd, hl_ssd_fwd_args)         X(p, ssd_bwd, hl_ssd_bwd_args)            \
    X(p, ssd_state, hl_ssd_state_args)     X(p, ssd_step, hl_ssd_step_args)          \
    X(p, moe_route_fwd, hl_moe_route_fwd_args)                                    \
    X(p, moe_route_bwd, hl_moe_route_bwd_args)                                    \
    X(p, moe_group, hl_moe_group_args)                                            \
    X(p, moe_dispatch_fwd, hl_moe_dispatch_fwd_args)                              \
    X(p, moe_dispatch_bwd, hl_moe_dispatch_bwd_args)                              \
    X(p, moe_combine_fwd, hl_moe_combine_fwd_args)                                \
    X(p, moe_combine_bwd, hl_moe_combine_bwd_args)                                \
    X(p, conba_fwd, hl_conba_fwd_args)     X(p, conba_bwd, hl_conba_bwd_args)        \
    X(p, conba_state, hl_conba_state_args) X(p, conba_step, hl_conba_step_args)

// Each op: int (*name)(const args *): HL_OK or an error status (see the top
// of this file); NULL = unsupported. rope_bwd: out = d inp, inp = d out.
typedef struct hl_ops {
    const char *name;  // "cpu_ref", "cpu", "cuda"
#define HL_OP_FIELD(p, op, T) int (*op)(const T *);
    HL_OP_LIST(HL_OP_FIELD, _)
#undef HL_OP_FIELD
} hl_ops;

#define HL_OP_ENUM(p, op, T) HL_OP_##op,
typedef enum { HL_OP_LIST(HL_OP_ENUM, _) HL_OP_COUNT } hl_op_id;
#undef HL_OP_ENUM
extern const char *const hl_op_names[HL_OP_COUNT];   // "matmul_fwd", ...
hl_op_id hl_op_index(const char *name);              // HL_OP_COUNT if unknown

extern const hl_ops hl_ops_cpu_ref;
extern const hl_ops hl_ops_cpu;

// Calls op `op` of table `ops` with argument pointer `args` and gives its
// status; a NULL op gives HL_EUNSUPPORTED (with hl_op_error() naming it).
#define HL_OP_CALL(ops, op, args) \
    ((ops)->op ? (ops)->op(args) : hl_op_fail(HL_EUNSUPPORTED, "%s: op %s unsupported", (ops)->name, #op))

// The message of the last op failure on this thread ("" when none yet).
const char *hl_op_error(void);
// Sets that message (printf format) and returns code: how ops report errors.
__attribute__((format(printf, 2, 3)))
int hl_op_fail(int code, const char *fmt, ...);

// ---------------------------------------------------------------- backends
// Memory functions (all sizes in bytes; n == 0 is valid):
//   alloc:  n bytes of device memory, 64-byte aligned, contents unspecified
//           (callers that need zeros call zero); NULL when out of memory.
//   free:   p from alloc (NULL ignored); n is the size given to alloc.
//   zero:   n bytes at p set to 0 (all-zero bits: 0.0f, int 0).
//   h2d, d2h, d2d: copy n bytes (dst, src; ranges do not overlap).
//   sync:   returns once every op and copy issued so far has finished
//           (ops may be asynchronous on a device; copies to the host are
//           complete when d2h returns).
// Provenance: device ("host CPU, 16 threads"), libs ("OpenBLAS 0.3.26
// DYNAMIC_ARCH ..., core Haswell, 16 threads": hl_blas_config, the core in
// use and the threads; "none" for cpu_ref), written into buf.
typedef struct hl_backend {
    const char *name;       // "cpu_ref", "cpu"
    const hl_ops *ops;
    void *(*alloc)(size_t n);
    void (*free)(void *p, size_t n);
    void (*zero)(void *p, size_t n);
    void (*h2d)(void *dst, const void *src, size_t n);
    void (*d2h)(void *dst, const void *src, size_t n);
    void (*d2d)(void *dst, const void *src, size_t n);
    void (*sync)(void);
    // Optional finer support query (NULL: every non-NULL op is supported).
    int (*op_supported)(hl_op_id op);
    void (*device)(char *buf, size_t len);
    void (*libs)(char *buf, size_t len);
} hl_backend;

// 1 when backend be runs op `op` (its table has it and the query agrees).
int hl_backend_supports(const hl_backend *be, hl_op_id op);
// The registered backends, in order ("cpu_ref" first: the oracle).
int hl_backend_count(void);
const hl_backend *hl_backend_at(int i);
// Lookup by name: NULL if unknown (then hl_backend_known lists the names).
const hl_backend *hl_backend_get(const char *name);
// The registered names as "cpu_ref, cpu" (for "unknown backend" messages).
void hl_backend_known(char *buf, size_t len);
// hl_backend_get with the message callers print: NULL and err = "unknown or
// unavailable backend 'x' (known: cpu_ref, cpu)" when name is not registered.
const hl_backend *hl_backend_lookup(const char *name, char *err, size_t errlen);
// The op table of a registered backend by name (NULL if unknown).
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
// The OpenBLAS build (openblas_get_config): version and build options, e.g.
// "OpenBLAS 0.3.26 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
const char *hl_blas_config(void);
int hl_blas_threads(void);
// sgemm GFLOP/s measured now on (n x n) @ (n x n), for benchmarks.
double hl_blas_sgemm_gflops(int n, int repeats);

#endif
