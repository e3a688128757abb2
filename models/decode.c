// decode.c: inference with a state (decode.h).
//
// Two implementations behind one interface:
//   * the reference (hl_infer_create_ref): keeps every sequence's tokens on
//     the host and answers each prefill and step by running hl_model_forward
//     over each whole row again (O(T^2) over a generation, obviously equal to
//     the forward). Its state is the token history.
//   * the cached path (hl_infer_create): every mixer keeps a state through
//     its layer.h hooks (KV cache ring, conv ring + SSM state), allocated
//     once per layer from the backend. Prefill runs the right-padded
//     prompts through hl_model_forward (T = the longest prompt, padding id
//     0: every op is causal, so a row's first lens[b] positions never see
//     its padding) and each mixer captures row b's state at its own length
//     from the saved activations (hl_model_capture_state); a step runs the
//     blocks on one token per row with each mixer's state_step
//     (hl_model_decode_step). Cost per step: the weights once plus the
//     visible keys of each attention layer (the window for SWA layers).
//     Besides the state it holds a few per-row ints (lengths, positions:
//     host and backend) and the host logits, not counted as state.
// Logits handed out are host memory (copied from the model's logits with the
// backend's d2h), so callers can sample from them directly.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/decode.h"
#include "models/layer.h"

struct hl_infer {
    hl_model *m;
    const hl_backend *be;
    int cached;             // 0: the reference (token history + full forwards)
    int max_B, max_len, V;
    int B;                  // sequences of the last prefill (0: none yet)
    int32_t *len;           // (max_B) host: input positions filled per sequence
    float *logits;          // (max_B, V) host: the last logits handed out
    int32_t *hist;          // reference: (max_B, max_len) host token history
    int64_t state_bytes;
    // cached path
    float *state[HL_MAX_LAYERS];    // per layer, backend memory (NULL: none)
    size_t state_n[HL_MAX_LAYERS];  // its floats
    int32_t *d_lens, *d_pos;        // (max_B) backend: model positions (ctx.lens, ctx.pos)
    int32_t *h_pos;                 // (max_B) host staging for both
    hl_decode_ctx ctx;
    // snapshots for speculative decoding (hl_infer_snapshots; 0: none)
    int max_snap, n_snap;           // slots, and those filled since the last rewind
    float *snap[HL_MAX_LAYERS];     // cached path: per layer (max_snap + 1, state_n[l]) backend: slot 0 before the steps, slot j after j
    float *snap_logits;             // (max_snap + 1, B, V) host: the logits handed out at each slot (B: the sequences held)
    int32_t *len0;                  // (max_B) host: lengths before the first snapshot step
};

static void infer_free_host(hl_infer *s) {
    free(s->len); free(s->logits); free(s->hist); free(s->h_pos); free(s->snap_logits); free(s->len0);
    free(s);
}

// The checks and host buffers both paths share. NULL with err.
static hl_infer *infer_new(hl_model *m, int max_B, int max_len, char *err, size_t errlen) {
    const hl_model_config *cfg = hl_model_cfg(m);
    if (max_B < 1 || max_len < 1) {
        hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_create: max_B and max_len must be positive (got %d, %d)", max_B, max_len);
        return NULL;
    }
    if (max_B > hl_model_max_B(m)) {
        hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_create: max_B %d is more than the model's batch of %d", max_B, hl_model_max_B(m));
        return NULL;
    }
    if ((int64_t)max_len + cfg->meta_tokens > HL_MAX_CONTEXT) {
        hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_create: max_len %d + %d meta tokens is beyond the position limit %d",
                max_len, cfg->meta_tokens, HL_MAX_CONTEXT);
        return NULL;
    }
    hl_infer *s = calloc(1, sizeof *s);
    if (!s) { hl_fail(err, errlen, HL_EFAIL, "hl_infer_create: out of memory"); return NULL; }
    s->m = m;
    s->be = hl_model_backend(m);
    s->max_B = max_B; s->max_len = max_len; s->V = cfg->vocab_size;
    s->len = calloc((size_t)max_B, sizeof *s->len);
    s->logits = calloc((size_t)max_B * s->V, sizeof *s->logits);
    if (!s->len || !s->logits) {
        infer_free_host(s);
        hl_fail(err, errlen, HL_EFAIL, "hl_infer_create: out of memory");
        return NULL;
    }
    return s;
}

hl_infer *hl_infer_create_ref(hl_model *m, int max_B, int max_len, char *err, size_t errlen) {
    if (max_len > hl_model_max_T(m)) {
        hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_create_ref: max_len %d is more than the model's max_T %d (every step re-runs the whole row)",
                max_len, hl_model_max_T(m));
        return NULL;
    }
    hl_infer *s = infer_new(m, max_B, max_len, err, errlen);
    if (!s) return NULL;
    s->hist = malloc((size_t)max_B * max_len * sizeof *s->hist);
    if (!s->hist) {
        infer_free_host(s);
        hl_fail(err, errlen, HL_EFAIL, "hl_infer_create_ref: out of memory");
        return NULL;
    }
    s->state_bytes = (int64_t)max_B * max_len * (int64_t)sizeof *s->hist;
    return s;
}

void hl_infer_free(hl_infer *s) {
    if (!s) return;
    for (int l = 0; l < HL_MAX_LAYERS; l++) s->be->free(s->state[l], s->state_n[l] * sizeof(float));
    for (int l = 0; l < HL_MAX_LAYERS; l++)
        if (s->snap[l]) s->be->free(s->snap[l], (size_t)(s->max_snap + 1) * s->state_n[l] * sizeof(float));
    s->be->free(s->d_lens, (size_t)s->max_B * sizeof(int32_t));
    s->be->free(s->d_pos, (size_t)s->max_B * sizeof(int32_t));
    infer_free_host(s);
}

hl_infer *hl_infer_create(hl_model *m, int max_B, int max_len, char *err, size_t errlen) {
    const hl_model_config *cfg = hl_model_cfg(m);
    for (int l = 0; l < cfg->n_layers; l++) {
        const struct hl_layer *L = hl_model_part(m, l, HL_PART_MIXER);
        if (!L->type->state_floats || !L->type->state_prefill || !L->type->state_step) {
            hl_fail(err, errlen, HL_EUNSUPPORTED, "hl_infer_create: mixer '%s' of layer %d keeps no inference state",
                    L->type->name, l);
            return NULL;
        }
    }
    hl_infer *s = infer_new(m, max_B, max_len, err, errlen);
    if (!s) return NULL;
    s->cached = 1;
    int ok = (s->h_pos = malloc((size_t)max_B * sizeof *s->h_pos)) != NULL;
    ok = ok && (s->d_lens = s->be->alloc((size_t)max_B * sizeof(int32_t))) != NULL;
    ok = ok && (s->d_pos = s->be->alloc((size_t)max_B * sizeof(int32_t))) != NULL;
    for (int l = 0; ok && l < cfg->n_layers; l++) {
        const struct hl_layer *L = hl_model_part(m, l, HL_PART_MIXER);
        s->state_n[l] = L->type->state_floats(cfg, l, max_B, max_len);
        if (s->state_n[l] == 0) continue;
        ok = (s->state[l] = s->be->alloc(s->state_n[l] * sizeof(float))) != NULL;
        s->state_bytes += (int64_t)(s->state_n[l] * sizeof(float));
    }
    if (!ok) {
        hl_infer_free(s);
        hl_fail(err, errlen, HL_EFAIL, "hl_infer_create: out of memory allocating the inference state");
        return NULL;
    }
    s->ctx = (hl_decode_ctx){ .state = s->state, .max_B = max_B, .max_len = max_len,
                              .lens = s->d_lens, .pos = s->d_pos };
    return s;
}

int hl_infer_len(const hl_infer *s, int b) { return (b >= 0 && b < s->B) ? s->len[b] : 0; }
int64_t hl_infer_state_bytes(const hl_infer *s) { return s->state_bytes; }

// ---------------------------------------------------------------- argument checks
static int check_tokens(const hl_infer *s, const int32_t *tok, int n, const char *what, int row,
                        char *err, size_t errlen) {
    for (int i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= s->V)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: token %d of row %d is %d, outside the vocabulary [0, %d)",
                           what, i, row, tok[i], s->V);
    return HL_OK;
}

static int check_prefill(const hl_infer *s, const int32_t *tokens, int B, int T, const int32_t *lens,
                         char *err, size_t errlen) {
    if (B < 1 || B > s->max_B)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_prefill: B=%d outside [1, %d] (the state's max_B)", B, s->max_B);
    if (T < 0 || T > s->max_len)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_prefill: T=%d outside [0, %d] (the state's max_len)", T, s->max_len);
    if (s->cached && T > hl_model_max_T(s->m))
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_prefill: T=%d is more than the model's max_T %d (the prompt runs through the forward)",
                       T, hl_model_max_T(s->m));
    for (int b = 0; b < B; b++) {
        int n = lens ? lens[b] : T;
        if (n < 0 || n > T)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_prefill: lens[%d]=%d outside [0, %d]", b, n, T);
        int rc = check_tokens(s, tokens + (size_t)b * T, n, "hl_infer_prefill", b, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}

static int check_step(const hl_infer *s, const int32_t *tokens, char *err, size_t errlen) {
    if (s->B == 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_step: no sequences (call hl_infer_prefill first)");
    for (int b = 0; b < s->B; b++) {
        if (s->len[b] >= s->max_len)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_step: sequence %d already holds max_len=%d positions",
                           b, s->max_len);
        int rc = check_tokens(s, tokens + b, 1, "hl_infer_step", b, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}

// ---------------------------------------------------------------- the reference
// Row b's logits at its last position by a full forward over the row (zeros
// when the row is empty).
static int ref_row_logits(hl_infer *s, int b, char *err, size_t errlen) {
    float *out = s->logits + (size_t)b * s->V;
    int n = s->len[b];
    if (n == 0) { memset(out, 0, (size_t)s->V * sizeof *out); return HL_OK; }
    int32_t last = n - 1;
    const float *lg = NULL;
    int rc = hl_model_forward(s->m, s->hist + (size_t)b * s->max_len, 1, n, &last, 1, &lg, err, errlen);
    if (rc) return rc;
    s->be->d2h(out, lg, (size_t)s->V * sizeof *out);
    return HL_OK;
}

static int ref_prefill(hl_infer *s, const int32_t *tokens, int B, int T, const int32_t *lens,
                       char *err, size_t errlen) {
    for (int b = 0; b < B; b++) {
        s->len[b] = lens ? lens[b] : T;
        memcpy(s->hist + (size_t)b * s->max_len, tokens + (size_t)b * T, (size_t)s->len[b] * sizeof *tokens);
    }
    for (int b = 0; b < B; b++) {
        int rc = ref_row_logits(s, b, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}

static int ref_step(hl_infer *s, const int32_t *tokens, char *err, size_t errlen) {
    for (int b = 0; b < s->B; b++) s->hist[(size_t)b * s->max_len + s->len[b]++] = tokens[b];
    for (int b = 0; b < s->B; b++) {
        int rc = ref_row_logits(s, b, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}

// ---------------------------------------------------------------- the cached path
static int cached_prefill(hl_infer *s, const int32_t *tokens, int B, int T, const int32_t *lens,
                          char *err, size_t errlen) {
    const hl_model_config *cfg = hl_model_cfg(s->m);
    int Tr = 1;   // the forward's length: the longest prompt (1 when all are empty: the meta tokens still run)
    for (int b = 0; b < B; b++) {
        s->len[b] = lens ? lens[b] : T;
        if (s->len[b] > Tr) Tr = s->len[b];
    }
    int32_t *pad = calloc((size_t)B * Tr + B, sizeof *pad), *out_pos = pad + (size_t)B * Tr;
    if (!pad) return hl_fail(err, errlen, HL_EFAIL, "hl_infer_prefill: out of memory");
    int n_out = 0;
    for (int b = 0; b < B; b++) {
        memcpy(pad + (size_t)b * Tr, tokens + (size_t)b * T, (size_t)s->len[b] * sizeof *pad);
        if (s->len[b] > 0) out_pos[n_out++] = b * Tr + s->len[b] - 1;
    }
    const float *lg = NULL;
    int rc = hl_model_forward(s->m, pad, B, Tr, out_pos, n_out, &lg, err, errlen);
    free(pad);
    if (rc) return rc;
    for (int l = 0; l < cfg->n_layers; l++) s->be->zero(s->state[l], s->state_n[l] * sizeof(float));
    for (int b = 0; b < B; b++) s->h_pos[b] = cfg->meta_tokens + s->len[b];
    s->be->h2d(s->d_lens, s->h_pos, (size_t)B * sizeof *s->h_pos);
    rc = hl_model_capture_state(s->m, &s->ctx, err, errlen);
    if (rc) return rc;
    for (int b = 0, i = 0; b < B; b++) {
        float *row = s->logits + (size_t)b * s->V;
        if (s->len[b] > 0) s->be->d2h(row, lg + (size_t)i++ * s->V, (size_t)s->V * sizeof *row);
        else memset(row, 0, (size_t)s->V * sizeof *row);
    }
    return HL_OK;
}

static int cached_step(hl_infer *s, const int32_t *tokens, char *err, size_t errlen) {
    const hl_model_config *cfg = hl_model_cfg(s->m);
    for (int b = 0; b < s->B; b++) s->h_pos[b] = cfg->meta_tokens + s->len[b];
    s->be->h2d(s->d_pos, s->h_pos, (size_t)s->B * sizeof *s->h_pos);
    const float *lg = NULL;
    int rc = hl_model_decode_step(s->m, &s->ctx, tokens, s->B, &lg, err, errlen);
    if (rc) return rc;
    s->be->d2h(s->logits, lg, (size_t)s->B * s->V * sizeof *s->logits);
    for (int b = 0; b < s->B; b++) s->len[b]++;
    return HL_OK;
}

// ---------------------------------------------------------------- fork
// Copies row src of every layer's state parts to rows 0..B-1 (not src).
static int cached_fork(hl_infer *s, int src, int B, char *err, size_t errlen) {
    const hl_model_config *cfg = hl_model_cfg(s->m);
    enum { MAX_PARTS = 8 };
    for (int l = 0; l < cfg->n_layers; l++) {
        const struct hl_layer *L = hl_model_part(s->m, l, HL_PART_MIXER);
        if (!L->type->state_parts)
            return hl_fail(err, errlen, HL_EUNSUPPORTED, "hl_infer_fork: mixer '%s' of layer %d does not declare its state's parts",
                           L->type->name, l);
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        const struct hl_layer *L = hl_model_part(s->m, l, HL_PART_MIXER);
        size_t per_row[MAX_PARTS];
        int n = L->type->state_parts(cfg, l, s->max_B, s->max_len, per_row, MAX_PARTS);
        float *part = s->state[l];   // part i: (max_B, per_row[i])
        for (int i = 0; i < n; part += (size_t)s->max_B * per_row[i], i++)
            for (int b = 0; b < B; b++)
                if (b != src)
                    s->be->d2d(part + (size_t)b * per_row[i], part + (size_t)src * per_row[i], per_row[i] * sizeof(float));
    }
    return HL_OK;
}

int hl_infer_fork(hl_infer *s, int src, int B, char *err, size_t errlen) {
    if (s->B == 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_fork: no sequences (call hl_infer_prefill first)");
    if (src < 0 || src >= s->B)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_fork: src=%d outside [0, %d) (the sequences held)", src, s->B);
    if (B < 1 || B > s->max_B)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_fork: B=%d outside [1, %d] (the state's max_B)", B, s->max_B);
    if (s->cached) {
        int rc = cached_fork(s, src, B, err, errlen);
        if (rc) return rc;
    }
    for (int b = 0; b < B; b++) {
        if (b == src) continue;
        if (!s->cached) memcpy(s->hist + (size_t)b * s->max_len, s->hist + (size_t)src * s->max_len, (size_t)s->len[src] * sizeof *s->hist);
        memcpy(s->logits + (size_t)b * s->V, s->logits + (size_t)src * s->V, (size_t)s->V * sizeof *s->logits);
        s->len[b] = s->len[src];
    }
    s->B = B;
    s->n_snap = 0;
    return HL_OK;
}

// ---------------------------------------------------------------- interface
int hl_infer_prefill(hl_infer *s, const int32_t *tokens, int B, int T, const int32_t *lens,
                     const float **logits, char *err, size_t errlen) {
    int rc = check_prefill(s, tokens, B, T, lens, err, errlen);
    if (rc) return rc;
    s->B = B;
    s->n_snap = 0;
    rc = s->cached ? cached_prefill(s, tokens, B, T, lens, err, errlen) : ref_prefill(s, tokens, B, T, lens, err, errlen);
    if (rc) { s->B = 0; return rc; }   // a failed op leaves no sequences
    if (logits) *logits = s->logits;
    return HL_OK;
}

int hl_infer_step(hl_infer *s, const int32_t *tokens, const float **logits, char *err, size_t errlen) {
    int rc = check_step(s, tokens, err, errlen);
    if (rc) return rc;
    s->n_snap = 0;
    rc = s->cached ? cached_step(s, tokens, err, errlen) : ref_step(s, tokens, err, errlen);
    if (rc) { s->B = 0; return rc; }
    if (logits) *logits = s->logits;
    return HL_OK;
}

// ---------------------------------------------------------------- snapshots (speculative decoding)
int hl_infer_snapshots(hl_infer *s, int max_snap, char *err, size_t errlen) {
    if (s->max_snap)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_snapshots: the state already has %d snapshot slots", s->max_snap);
    if (max_snap < 1)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_snapshots: max_snap must be positive (got %d)", max_snap);
    const hl_model_config *cfg = hl_model_cfg(s->m);
    for (int l = 0; s->cached && l < cfg->n_layers; l++) {
        const struct hl_layer *L = hl_model_part(s->m, l, HL_PART_MIXER);
        if (!L->type->state_parts)
            return hl_fail(err, errlen, HL_EUNSUPPORTED, "hl_infer_snapshots: mixer '%s' of layer %d does not declare its state's parts",
                           L->type->name, l);
    }
    int ok = (s->snap_logits = malloc((size_t)(max_snap + 1) * s->max_B * s->V * sizeof *s->snap_logits)) != NULL;
    ok = ok && (s->len0 = calloc((size_t)s->max_B, sizeof *s->len0)) != NULL;
    s->max_snap = max_snap;   // from here hl_infer_free frees what was allocated
    for (int l = 0; ok && s->cached && l < cfg->n_layers; l++)
        if (s->state_n[l]) ok = (s->snap[l] = s->be->alloc((size_t)(max_snap + 1) * s->state_n[l] * sizeof(float))) != NULL;
    if (!ok) return hl_fail(err, errlen, HL_EFAIL, "hl_infer_snapshots: out of memory for %d snapshots", max_snap);
    return HL_OK;
}

// Slot `slot` := the state (every layer, all rows), the logits handed out and
// (slot 0) the lengths.
static void snap_save(hl_infer *s, int slot) {
    const hl_model_config *cfg = hl_model_cfg(s->m);
    if (slot == 0) memcpy(s->len0, s->len, (size_t)s->B * sizeof *s->len);
    memcpy(s->snap_logits + (size_t)slot * s->B * s->V, s->logits, (size_t)s->B * s->V * sizeof *s->logits);
    for (int l = 0; s->cached && l < cfg->n_layers; l++)
        if (s->state_n[l]) s->be->d2d(s->snap[l] + (size_t)slot * s->state_n[l], s->state[l], s->state_n[l] * sizeof(float));
}

int hl_infer_steps(hl_infer *s, const int32_t *tokens, int n, const float **logits, char *err, size_t errlen) {
    if (!s->max_snap)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_steps: the state has no snapshot slots (call hl_infer_snapshots first)");
    if (s->B == 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_steps: no sequences (call hl_infer_prefill first)");
    if (n < 1 || s->n_snap + n > s->max_snap)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_steps: n=%d with %d steps since the last rewind is outside [1, %d] (the snapshot slots)",
                       n, s->n_snap, s->max_snap);
    for (int b = 0; b < s->B; b++) {
        if (s->len[b] + n > s->max_len)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_steps: sequence %d holds %d positions, %d more pass max_len=%d",
                           b, s->len[b], n, s->max_len);
        int rc = check_tokens(s, tokens + (size_t)b * n, n, "hl_infer_steps", b, err, errlen);
        if (rc) return rc;
    }
    const hl_model_config *cfg = hl_model_cfg(s->m);
    if (s->n_snap == 0) snap_save(s, 0);   // slot 0: the state before the steps (rewind to keep 0)
    int32_t *col = malloc((size_t)s->B * sizeof *col);   // (B) the j-th token of every row
    if (!col) return hl_fail(err, errlen, HL_EFAIL, "hl_infer_steps: out of memory");
    for (int j = 0; j < n; j++) {
        for (int b = 0; b < s->B; b++) col[b] = tokens[(size_t)b * n + j];
        int rc = s->cached ? cached_step(s, col, err, errlen) : ref_step(s, col, err, errlen);
        if (rc) { s->B = 0; s->n_snap = 0; free(col); return rc; }
        snap_save(s, ++s->n_snap);
    }
    (void)cfg;
    free(col);
    if (logits) *logits = s->snap_logits + (size_t)(s->n_snap - n + 1) * s->B * s->V;
    return HL_OK;
}

int hl_infer_rewind(hl_infer *s, const int32_t *keep, const float **logits, char *err, size_t errlen) {
    if (s->B == 0 || s->n_snap == 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_rewind: no hl_infer_steps since the last prefill, step, fork or rewind");
    for (int b = 0; b < s->B; b++)
        if (keep[b] < 0 || keep[b] > s->n_snap)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_infer_rewind: keep[%d]=%d outside [0, %d] (the steps since the last rewind)",
                           b, keep[b], s->n_snap);
    const hl_model_config *cfg = hl_model_cfg(s->m);
    enum { MAX_PARTS = 8 };
    for (int l = 0; s->cached && l < cfg->n_layers; l++) {
        if (!s->state_n[l]) continue;
        const struct hl_layer *L = hl_model_part(s->m, l, HL_PART_MIXER);
        size_t per_row[MAX_PARTS], off = 0;
        int np = L->type->state_parts(cfg, l, s->max_B, s->max_len, per_row, MAX_PARTS);
        for (int i = 0; i < np; off += (size_t)s->max_B * per_row[i], i++)
            for (int b = 0; b < s->B; b++) {
                if (keep[b] == s->n_snap) continue;   // the state already is the last step's
                size_t at = off + (size_t)b * per_row[i];
                s->be->d2d(s->state[l] + at, s->snap[l] + (size_t)keep[b] * s->state_n[l] + at, per_row[i] * sizeof(float));
            }
    }
    for (int b = 0; b < s->B; b++) {
        s->len[b] = s->len0[b] + keep[b];
        memcpy(s->logits + (size_t)b * s->V, s->snap_logits + ((size_t)keep[b] * s->B + b) * s->V,
               (size_t)s->V * sizeof *s->logits);
    }
    s->n_snap = 0;
    if (logits) *logits = s->logits;
    return HL_OK;
}
