// mamba.h: the Mamba-1 branch shared by 'S' (mamba.c) and 'H' (hybrid.c):
// everything of state-spaces/mamba's `Mamba` up to the gated output
// y * silu(z) (B, T, d_inner); out_proj is the caller's.
#ifndef HYLAB_MAMBA_H
#define HYLAB_MAMBA_H

#include "models/layer.h"

// Parameter slots, relative to the caller's base slot.
// The three inner norms (model.ssm.inner_norms) are declared only when on.
enum { HL_MB_IN, HL_MB_CONV_W, HL_MB_CONV_B, HL_MB_XPROJ, HL_MB_DT_W, HL_MB_DT_B,
       HL_MB_ALOG, HL_MB_D, HL_MB_DT_NORM, HL_MB_B_NORM, HL_MB_C_NORM, HL_MB_NSLOTS };

typedef struct {
    int d, di, N, K, R;   // d_model, d_inner, d_state, d_conv, dt_rank
    int inner;            // 1: RMSNorms on dt (R), B and C (N) after x_proj (model.ssm.inner_norms)
} hl_mamba_dims;

typedef struct {
    float *x;     // (B, T, di) in_proj x half (conv input)
    float *z;     // (B, T, di) in_proj z half (gate)
    float *xc;    // (B, T, di) conv output, before SiLU
    float *u;     // (B, T, di) silu(xc): the scan input
    float *dtl;   // (B, T, R)  low-rank dt (x_proj rows 0..R-1), after its inner norm when on
    float *Bm;    // (B, T, N)  x_proj rows R..R+N-1, after its inner norm when on
    float *Cm;    // (B, T, N)  x_proj rows R+N..R+2N-1, after its inner norm when on
    // Inner norms only (NULL when off): x_proj's raw rows and the norms' rstd.
    float *dtl_raw;   // (B, T, R)
    float *Bm_raw;    // (B, T, N)
    float *Cm_raw;    // (B, T, N)
    float *rstd_dt, *rstd_B, *rstd_C;   // (B*T) each
    float *dt;    // (B, T, di) dt_proj(dtl), bias added inside the scan
    float *y;     // (B, T, di) scan output (D skip included)
    float *gy;    // (B, T, di) y * silu(z): the branch output
} hl_mamba_bufs;

hl_mamba_dims hl_mamba_dims_of(const hl_model_config *cfg);
void hl_mamba_declare(const hl_model_config *cfg, hl_decl *d, int base);
void hl_mamba_init(hl_layer *L, int base, uint64_t seed);
void hl_mamba_carve(const hl_mamba_dims *m, int B, int T, float *base, size_t *off, hl_mamba_bufs *b);
size_t hl_mamba_scratch_floats(const hl_mamba_dims *m, int B, int T);
// inp is (B, T, d); fills every buffer of b (b->gy is the output).
void hl_mamba_forward(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b, const float *inp);
// dgy is (B, T, di); writes dinp (B, T, d).
void hl_mamba_backward(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                       float *dinp, const float *dgy, const float *inp, float *scratch);
// FLOPs per token of the branch (in_proj, conv, x_proj, dt_proj, scan).
double hl_mamba_flops(const hl_model_config *cfg);
// Inference state bytes: SSM state d_inner*d_state + conv state d_inner*d_conv.
int64_t hl_mamba_state_bytes(const hl_model_config *cfg, int bytes);

// ---- inference state (layer.h hooks; DESIGN.md "Decoding"): per row the
// conv state (max_B, K, di), a ring of the last K conv inputs x (slot p % K
// holds position p), then the SSM state h (max_B, di, N). state points at it.
size_t hl_mamba_state_floats(const hl_model_config *cfg, int max_B);
// From the forward's saved x, u, dt, Bm (b as carved for that forward): the
// conv ring from the last K inputs before lens[b] (cache_fill) and h after
// lens[b] positions (scan_state, a second pass of the recurrence over the
// row's own length: right padding never reaches the state).
void hl_mamba_prefill(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                      const hl_decode_ctx *c, float *state);
// One token per row: b carved for (B, 1); conv1d_step and scan_step advance
// the state; b->gy (B, di) is the output.
void hl_mamba_step(hl_layer *L, const hl_run *r, int base, const hl_mamba_bufs *b,
                   const hl_decode_ctx *c, float *state, const float *inp);

// The SSM part of a type's check (layer.h): positive sizes, d_inner within HL_MAX_WIDTH.
int hl_mamba_check(const hl_model_config *cfg, int layer, char *err, size_t errlen);

// the 'S' layer type (Mamba blocks in models/hf.c)
extern const hl_layer_type hl_layer_mamba;
// The spec section model.ssm (keys documented at its table in mamba.c), read
// by every layer type with a Mamba branch ('S', 'H'). A renamed copy of
// mamba.c declares its own copy of the rows under the same name: the same
// section (hl_cfg_same_section).
extern const hl_cfg_section hl_layer_mamba_ssm_section;

#endif
