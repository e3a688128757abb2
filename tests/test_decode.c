// test_decode.c: the contract of models/decode.h. For attention (global and
// sliding-window with meta tokens, GQA, KV sharing), Mamba, the hybrid head
// and a mixed pattern, on every backend: prefill(first k tokens) + one-token
// steps give the full forward's logits at every later position (relative
// error <= 1e-5) for k = 0, 1, W-1, W, W+1 and several lengths; a batch of
// rows of different lengths equals each row alone; the state's bytes equal
// describe's analytic count; bad inputs return HL_EBADINPUT and change
// nothing. The naive reference (hl_infer_create_ref) is held to the same
// contract, and the cached path is compared with it. Fork (hl_infer_fork):
// prefill + fork + different steps per row equal each row's full forward
// and the reference's fork; its parts (layer.h state_parts) cover the state.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "models/decode.h"
#include "models/layer.h"

#define TOL 1e-5

typedef struct {
    const char *name, *layers;
    int d, H, Hkv, hd, window, meta, swiglu, V;   // swiglu 2: moe on odd layers, swiglu on even ones
    int global;          // with window > 0: this layer stays global (-1: none)
    int share_src, share_dst[3];   // KV sharing: layers share_dst read share_src's K/V (-1: none)
    int ssm_groups;      // model.ssm.ngroups (0: 1)
    int jamba;           // 1: model.ssm.inner_norms on and model.attn.rope false
} dspec;

// W 4 everywhere a window is used (k = 3, 4, 5 cross it).
static const dspec SPECS[] = {
    {"A_global_gqa", "AA", 16, 4, 2, 4, 0, 0, 1, 13, -1, -1, {-1, -1, -1}, 0, 0},
    {"A_swa_meta_gqa_kvshare", "AAA", 16, 4, 2, 4, 4, 2, 1, 11, 0, 1, {2, -1, -1}, 0, 0},
    {"S_meta", "SS", 8, 0, 0, 0, 0, 2, 0, 9, -1, -1, {-1, -1, -1}, 0, 0},
    {"S_nometa", "S", 8, 0, 0, 0, 0, 0, 1, 9, -1, -1, {-1, -1, -1}, 0, 0},
    {"H_swa_meta_kvshare", "HHH", 12, 4, 2, 4, 4, 3, 1, 10, -1, 0, {1, 2, -1}, 0, 0},
    {"mix_AHSAMC", "AHSAMC", 16, 4, 4, 4, 4, 1, 0, 12, 1, 0, {3, -1, -1}, 0, 0},
    // an SWA producer read by a global consumer: the cache keeps every position
    {"A_swa_producer_global_consumer", "AA", 8, 2, 1, 4, 4, 1, 1, 7, 1, 0, {1, -1, -1}, 0, 0},
    // a mixture of experts FFN (position-wise: nothing to cache)
    {"AS_moe_every2_meta", "ASA", 16, 4, 2, 4, 0, 1, 2, 12, -1, -1, {-1, -1, -1}, 0, 0},
    {"M_meta", "MM", 8, 0, 0, 0, 0, 2, 0, 9, -1, -1, {-1, -1, -1}, 0, 0},
    {"M_nometa_groups2", "M", 8, 0, 0, 0, 0, 0, 1, 9, -1, -1, {-1, -1, -1}, 2, 0},
    // Jamba's pieces: inner norms on dt, B, C (S and H) and attention without RoPE, SWA + meta
    {"SAHA_inner_norms_norope_swa_meta", "SAHA", 8, 2, 1, 4, 4, 2, 1, 9, 1, -1, {-1, -1, -1}, 0, 1},
    {"SA_inner_norms_norope_global", "SA", 8, 2, 2, 4, 0, 0, 1, 9, -1, -1, {-1, -1, -1}, 0, 1},
    // Conba (hylab interpretation): its own, and around an SWA attention layer with swiglu
    {"C_meta", "CC", 8, 0, 0, 0, 0, 2, 0, 9, -1, -1, {-1, -1, -1}, 0, 0},
    {"CAC_swa_swiglu_nometa", "CAC", 8, 2, 1, 4, 4, 0, 1, 9, -1, -1, {-1, -1, -1}, 0, 0},
};
#define N_SPECS ((int)(sizeof SPECS / sizeof SPECS[0]))

static hl_model_config cfg_of(const dspec *s) {
    hl_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = s->V; c.d_model = s->d;
    c.n_layers = (int)strlen(s->layers);
    snprintf(c.layers_pattern, sizeof c.layers_pattern, "%s", s->layers);
    c.attn.n_heads = s->H ? s->H : 1; c.attn.n_kv_heads = s->Hkv ? s->Hkv : 1;
    c.attn.head_dim = s->hd ? s->hd : 2; c.attn.rope_theta = 10000.0f; c.attn.window = s->window;
    c.ssm.d_state = 4; c.ssm.d_conv = 3; c.ssm.expand = 2; c.ssm.dt_rank = 2;
    c.ssm.headdim = 4; c.ssm.ngroups = s->ssm_groups ? s->ssm_groups : 1; c.ssm.chunk_size = 3;   // Mamba-2 ('M'): 4 heads, chunks < T
    c.ssm.inner_norms = s->jamba; c.attn.no_rope = s->jamba;
    c.meta_tokens = s->meta;
    c.ffn.type = s->swiglu == 2 ? HL_FFN_MOE : s->swiglu ? HL_FFN_SWIGLU : HL_FFN_NONE; c.ffn.d_ff = 20;
    if (s->swiglu == 2)
        c.ffn.moe = (hl_moe_config){ .n_experts = 4, .top_k = 2, .d_ff = 12, .router = HL_MOE_SOFTMAX_TOPK_RENORM,
                                     .load_balance = 0.01f, .z_loss = 0.001f, .every = 2, .offset = 1 };
    c.norm_eps = 1e-5f;
    for (int l = 0; l < c.n_layers; l++) {
        hl_layer_plan *p = &c.layer[l];
        p->kind = s->layers[l];
        p->kv_source = -1;
        p->ffn = hl_ffn_of_layer(&c, l);
        const hl_layer_type *t = hl_mixer_type(p->kind);
        int kv = (t->caps & HL_CAP_KV) != 0;
        p->v_head_dim = kv ? t->default_v_head_dim(&c) : 0;
        p->window = kv && l != s->global ? s->window : 0;
    }
    for (int j = 0; j < 3 && s->share_src >= 0; j++)
        if (s->share_dst[j] >= 0) c.layer[s->share_dst[j]].kv_source = s->share_src;
    return c;
}

static uint64_t rng_state = 99;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

// A model with its init moved off the special values (norms 1, D 1) so that
// every path matters; dt biases near 0 so the scan state carries far.
static hl_model *model_of(const hl_model_config *c, const hl_backend *be, int B, int T) {
    char err[512];
    hl_model *m = hl_model_create(c, be, B, T, err, sizeof err);
    if (!m) { printf("create failed: %s\n", err); return NULL; }
    hl_model_init(m, 11);
    size_t n = hl_model_numel(m);
    float *p = malloc(n * sizeof *p);
    hl_model_params_to_host(m, p);
    for (size_t i = 0; i < n; i++) p[i] += 0.15f * ((float)(rnd() % 2001) / 1000.0f - 1.0f);
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (strstr(t->name, "dt_proj.bias"))
            for (size_t j = 0; j < t->numel; j++) p[t->offset + j] = 0.5f * ((float)(rnd() % 2001) / 1000.0f - 1.0f);
    }
    hl_model_params_from_host(m, p);
    free(p);
    return m;
}

// max |a - b| / max |b| over one row of V logits.
static double rel_err(const float *a, const float *b, int V) {
    double num = 0, den = 0;
    for (int i = 0; i < V; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > num) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}

// Full-forward logits (T, V) of one sequence, host.
static float *full_logits(hl_model *m, const int32_t *tok, int T) {
    int V = hl_model_cfg(m)->vocab_size;
    float *out = malloc((size_t)T * V * sizeof *out);
    const float *lg;
    char err[512];
    if (hl_model_forward(m, tok, 1, T, NULL, T, &lg, err, sizeof err)) { printf("forward: %s\n", err); free(out); return NULL; }
    hl_model_backend(m)->d2h(out, lg, (size_t)T * V * sizeof *out);
    return out;
}

typedef hl_infer *(*create_fn)(hl_model *, int, int, char *, size_t);

// prefill(tok[0..k)) then steps through tok[k..T): the worst relative error
// against ref (T, V) at positions k-1 .. T-1. Negative on a refused call.
static double split_err(hl_model *m, create_fn create, const int32_t *tok, int T, int k, const float *ref) {
    int V = hl_model_cfg(m)->vocab_size;
    char err[512];
    hl_infer *s = create(m, 1, T, err, sizeof err);
    if (!s) { printf("infer create: %s\n", err); return -1; }
    const float *lg;
    double worst = 0;
    if (hl_infer_prefill(s, tok, 1, k, NULL, &lg, err, sizeof err)) { printf("prefill: %s\n", err); hl_infer_free(s); return -1; }
    if (k > 0) worst = rel_err(lg, ref + (size_t)(k - 1) * V, V);
    for (int p = k; p < T; p++) {
        if (hl_infer_step(s, tok + p, &lg, err, sizeof err)) { printf("step: %s\n", err); hl_infer_free(s); return -1; }
        double e = rel_err(lg, ref + (size_t)p * V, V);
        if (e > worst || isnan(e)) worst = e;
    }
    if (hl_infer_len(s, 0) != T) worst = 1e9;
    hl_infer_free(s);
    return worst;
}

static void test_splits(const dspec *sp, const hl_backend *be, create_fn create, const char *path) {
    hl_model_config c = cfg_of(sp);
    const int lengths[] = {1, 5, 9, 13};
    int maxT = 13;
    hl_model *m = model_of(&c, be, 3, maxT);
    if (!m) { hl_check(0, "model", "%s", sp->name); return; }
    for (int li = 0; li < 4; li++) {
        int T = lengths[li];
        int32_t tok[16];
        for (int i = 0; i < T; i++) tok[i] = (int32_t)(rnd() % (uint32_t)c.vocab_size);
        float *ref = full_logits(m, tok, T);
        const int ks[] = {0, 1, 3, 4, 5, T - 1, T};   // W = 4: W-1, W, W+1
        double worst = 0; int worst_k = -1;
        for (int ki = 0; ki < 7 && ref; ki++) {
            int k = ks[ki];
            if (k < 0 || k > T) continue;
            double e = split_err(m, create, tok, T, k, ref);
            if (e < 0 || e > worst || isnan(e)) { worst = e < 0 ? 1e9 : e; worst_k = k; }
        }
        char name[160];
        snprintf(name, sizeof name, "%s_%s_%s_T%d", path, sp->name, be->name, T);
        hl_check(ref && worst <= TOL, name, "relative error %.3g at k=%d (tolerance %g)", worst, worst_k, TOL);
        free(ref);
    }
    hl_model_free(m);
}

// Rows of different lengths in one batch (right-padded, padding garbage)
// give each row's own logits, at the prefill and at every step.
static void test_batch(const dspec *sp, const hl_backend *be, create_fn create, const char *path) {
    hl_model_config c = cfg_of(sp);
    enum { B = 3, T = 7, STEPS = 5 };
    const int32_t lens[B] = {7, 0, 4};
    hl_model *m = model_of(&c, be, B, T + STEPS);
    char err[512];
    int V = c.vocab_size;
    int32_t full[B][T + STEPS], prompt[B * T];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T + STEPS; i++) full[b][i] = (int32_t)(rnd() % (uint32_t)V);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) prompt[b * T + i] = i < lens[b] ? full[b][i] : -7;   // padding is ignored
    double worst = 0;
    hl_infer *s = create(m, B, T + STEPS, err, sizeof err);
    const float *lg;
    int ok = s && !hl_infer_prefill(s, prompt, B, T, lens, &lg, err, sizeof err);
    float *ref = NULL;
    for (int b = 0; ok && b < B; b++) {
        int n = lens[b] + STEPS;
        free(ref);
        ref = full_logits(m, full[b], n);
        // the batch's logits must be read again after the full forwards: they are the state's
        hl_infer_free(s);
        s = create(m, B, T + STEPS, err, sizeof err);
        ok = s && !hl_infer_prefill(s, prompt, B, T, lens, &lg, err, sizeof err);
        if (!ok) break;
        float zero_row = 0;
        if (lens[b] > 0) { double e = rel_err(lg + (size_t)b * V, ref + (size_t)(lens[b] - 1) * V, V); if (e > worst) worst = e; }
        else for (int i = 0; i < V; i++) zero_row += fabsf(lg[(size_t)b * V + i]);
        if (zero_row != 0) worst = 1e9;
        for (int st = 0; ok && st < STEPS; st++) {
            int32_t step_tok[B];
            for (int j = 0; j < B; j++) step_tok[j] = full[j][lens[j] + st];
            ok = !hl_infer_step(s, step_tok, &lg, err, sizeof err);
            if (!ok) break;
            double e = rel_err(lg + (size_t)b * V, ref + (size_t)(lens[b] + st) * V, V);
            if (e > worst || isnan(e)) worst = e;
        }
        if (ok && hl_infer_len(s, b) != lens[b] + STEPS) worst = 1e9;
    }
    char name[160];
    snprintf(name, sizeof name, "%s_batch_%s_%s", path, sp->name, be->name);
    hl_check(ok && worst <= TOL, name, "%s; relative error %.3g", ok ? "ran" : err, worst);
    free(ref);
    hl_infer_free(s);
    hl_model_free(m);
}

// Fork: prefill two contexts (lengths N0 and N1, crossing the window), fork
// row 1 to B rows (row 0, of another length, is overwritten), then steps of
// different tokens per row: every row's logits (at the fork and at every
// step) equal the full forward of ctx1 + that row's tokens, and the cached
// path's equal the reference's fork. Then refusals: fork before any
// prefill, src outside the sequences, B outside [1, max_B].
static void test_fork(const dspec *sp, const hl_backend *be) {
    hl_model_config c = cfg_of(sp);
    enum { B = 3, N0 = 3, N1 = 6, T = 6, STEPS = 5 };
    hl_model *m = model_of(&c, be, B, N1 + STEPS);
    char err[512], name[160];
    int V = c.vocab_size;
    int32_t prompt[2 * T], lens[2] = {N0, N1}, full[B][N1 + STEPS];
    for (int i = 0; i < 2 * T; i++) prompt[i] = (int32_t)(rnd() % (uint32_t)V);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N1 + STEPS; i++) full[b][i] = i < N1 ? prompt[T + i] : (int32_t)(rnd() % (uint32_t)V);
    float *ref[B];
    for (int b = 0; b < B; b++) ref[b] = full_logits(m, full[b], N1 + STEPS);
    hl_infer *s = hl_infer_create(m, B, N1 + STEPS, err, sizeof err), *r = hl_infer_create_ref(m, B, N1 + STEPS, err, sizeof err);
    float *a = malloc((size_t)B * V * sizeof *a);
    const float *lg;
    double worst = 0, worst_ref = 0;
    int ok = s && r && ref[0] && ref[1] && ref[2];
    ok = ok && !hl_infer_prefill(s, prompt, 2, T, lens, &lg, err, sizeof err) && !hl_infer_fork(s, 1, B, err, sizeof err);
    if (ok) memcpy(a, lg, (size_t)B * V * sizeof *a);   // the fork copies the logits too
    ok = ok && !hl_infer_prefill(r, prompt, 2, T, lens, &lg, err, sizeof err) && !hl_infer_fork(r, 1, B, err, sizeof err);
    for (int st = 0; ok && st <= STEPS; st++) {
        if (st > 0) {
            int32_t tk[B];
            for (int b = 0; b < B; b++) tk[b] = full[b][N1 + st - 1];
            ok = !hl_infer_step(s, tk, &lg, err, sizeof err);
            if (ok) memcpy(a, lg, (size_t)B * V * sizeof *a);
            ok = ok && !hl_infer_step(r, tk, &lg, err, sizeof err);
            if (!ok) break;
        }
        for (int b = 0; b < B; b++) {
            double e = rel_err(a + (size_t)b * V, ref[b] + (size_t)(N1 - 1 + st) * V, V);
            double er = rel_err(a + (size_t)b * V, lg + (size_t)b * V, V);
            if (e > worst || isnan(e)) worst = e;
            if (er > worst_ref || isnan(er)) worst_ref = er;
        }
    }
    for (int b = 0; ok && b < B; b++) ok = hl_infer_len(s, b) == N1 + STEPS && hl_infer_len(r, b) == N1 + STEPS;
    snprintf(name, sizeof name, "fork_equals_forward_%s_%s", sp->name, be->name);
    hl_check(ok && worst <= TOL, name, "%s; relative error %.3g", ok ? "ran" : err, worst);
    snprintf(name, sizeof name, "fork_cached_equals_ref_fork_%s_%s", sp->name, be->name);
    hl_check(ok && worst_ref <= TOL, name, "%s; relative error %.3g", ok ? "ran" : err, worst_ref);
    // refusals change nothing
    hl_infer *z = hl_infer_create(m, B, N1 + STEPS, err, sizeof err);
    int r0 = z ? hl_infer_fork(z, 0, 2, err, sizeof err) : -1;
    int rp = z ? hl_infer_prefill(z, prompt, 2, T, lens, &lg, err, sizeof err) : -1;
    int r1 = z ? hl_infer_fork(z, 2, 2, err, sizeof err) : -1, r2 = z ? hl_infer_fork(z, -1, 2, err, sizeof err) : -1;
    int r3 = z ? hl_infer_fork(z, 0, B + 1, err, sizeof err) : -1, r4 = z ? hl_infer_fork(z, 0, 0, err, sizeof err) : -1;
    int same = z && hl_infer_len(z, 0) == N0 && hl_infer_len(z, 1) == N1 && hl_infer_len(z, 2) == 0;
    snprintf(name, sizeof name, "fork_bad_inputs_refused_%s_%s", sp->name, be->name);
    hl_check(r0 == HL_EBADINPUT && rp == HL_OK && r1 == HL_EBADINPUT && r2 == HL_EBADINPUT && r3 == HL_EBADINPUT &&
             r4 == HL_EBADINPUT && same, name, "%d %d %d %d %d %d, lengths kept %d", r0, rp, r1, r2, r3, r4, same);
    hl_infer_free(z);
    hl_infer_free(s); hl_infer_free(r);
    for (int b = 0; b < B; b++) free(ref[b]);
    free(a);
    hl_model_free(m);
}

// Bad inputs return HL_EBADINPUT and change nothing: the next good step
// gives the logits it would have given.
static void test_bad_inputs(const dspec *sp, const hl_backend *be, create_fn create, const char *path) {
    hl_model_config c = cfg_of(sp);
    int V = c.vocab_size, max_len = 6;
    hl_model *m = model_of(&c, be, 2, 8);
    char err[512], name[160];
    const float *lg;
    int32_t prompt[4] = {1, 2, 3, 4}, lens[2] = {2, 1};
    hl_infer *s = create(m, 2, max_len, err, sizeof err);
    hl_infer *t = create(m, 2, max_len, err, sizeof err);
    int rc_ok = hl_infer_prefill(s, prompt, 2, 2, lens, &lg, err, sizeof err) == HL_OK &&
                hl_infer_prefill(t, prompt, 2, 2, lens, &lg, err, sizeof err) == HL_OK;
    int32_t bad_prompt[4] = {1, V, 3, 4}, neg_lens[2] = {3, 1};
    int32_t bad_step[2] = {1, -1}, big_step[2] = {V, 0}, good[2] = {5 % V, 6 % V};
    int r1 = hl_infer_prefill(s, bad_prompt, 2, 2, NULL, &lg, err, sizeof err);
    int r2 = hl_infer_prefill(s, prompt, 2, 2, neg_lens, &lg, err, sizeof err);
    int r3 = hl_infer_prefill(s, prompt, 3, 1, NULL, &lg, err, sizeof err);         // B > max_B
    int r4 = hl_infer_prefill(s, prompt, 1, max_len + 1, NULL, &lg, err, sizeof err); // T > max_len
    int r5 = hl_infer_step(s, bad_step, &lg, err, sizeof err);
    int r6 = hl_infer_step(s, big_step, &lg, err, sizeof err);
    snprintf(name, sizeof name, "%s_bad_inputs_refused_%s_%s", path, sp->name, be->name);
    hl_check(rc_ok && r1 == HL_EBADINPUT && r2 == HL_EBADINPUT && r3 == HL_EBADINPUT && r4 == HL_EBADINPUT &&
             r5 == HL_EBADINPUT && r6 == HL_EBADINPUT, name, "%d %d %d %d %d %d %d", rc_ok, r1, r2, r3, r4, r5, r6);
    // the sequences are as before: same lengths, same next logits as an untouched twin
    float *a = malloc((size_t)2 * V * sizeof *a);
    int ok = hl_infer_len(s, 0) == 2 && hl_infer_len(s, 1) == 1;
    ok = ok && !hl_infer_step(s, good, &lg, err, sizeof err);
    if (ok) memcpy(a, lg, (size_t)2 * V * sizeof *a);
    ok = ok && !hl_infer_step(t, good, &lg, err, sizeof err);
    double e = ok ? fmax(rel_err(a, lg, V), rel_err(a + V, lg + V, V)) : 1e9;
    snprintf(name, sizeof name, "%s_bad_inputs_change_nothing_%s_%s", path, sp->name, be->name);
    hl_check(ok && e == 0, name, "relative error %.3g after refused calls", e);
    // passing max_len: row 0 holds 3 of 6 after the good step; 3 more fill it, the 4th is refused
    int rs = 0;
    for (int i = 0; i < 3; i++) rs |= hl_infer_step(s, good, &lg, err, sizeof err);
    int r7 = hl_infer_step(s, good, &lg, err, sizeof err);
    snprintf(name, sizeof name, "%s_past_max_len_%s_%s", path, sp->name, be->name);
    hl_check(rs == HL_OK && r7 == HL_EBADINPUT && hl_infer_len(s, 0) == max_len && hl_infer_len(s, 1) == max_len - 1,
             name, "steps %d, the step past max_len %d, lens %d %d", rs, r7, hl_infer_len(s, 0), hl_infer_len(s, 1));
    // impossible sizes at create
    hl_infer *z1 = create(m, 0, 4, err, sizeof err), *z2 = create(m, 3, 4, err, sizeof err), *z3 = create(m, 1, 0, err, sizeof err);
    snprintf(name, sizeof name, "%s_create_refuses_%s_%s", path, sp->name, be->name);
    hl_check(!z1 && !z2 && !z3, name, "max_B 0, max_B above the model's, max_len 0 accepted");
    free(a);
    hl_infer_free(s); hl_infer_free(t);
    hl_model_free(m);
}

static void test_state_bytes(const dspec *sp) {
    hl_model_config c = cfg_of(sp);
    const hl_backend *be = hl_backend_get("cpu");
    hl_model *m = model_of(&c, be, 2, 8);
    char err[512], name[160];
    const int lens[] = {1, 3, 4, 5, 40};
    for (int i = 0; i < 5; i++) {
        hl_infer *s = hl_infer_create(m, 1, lens[i], err, sizeof err);
        int64_t got = s ? hl_infer_state_bytes(s) : -1, want = hl_model_cache_bytes(&c, lens[i], 4);
        snprintf(name, sizeof name, "state_bytes_%s_len%d", sp->name, lens[i]);
        hl_check(got == want, name, "allocated %lld, describe's count %lld", (long long)got, (long long)want);
        hl_infer_free(s);
    }
    // the parts hl_infer_fork copies cover the state exactly
    for (int l = 0; l < c.n_layers; l++) {
        const hl_layer_type *t = hl_mixer_type(c.layer[l].kind);
        size_t per_row[8], sum = 0;
        int n = t->state_parts ? t->state_parts(&c, l, 3, 9, per_row, 8) : -1;
        for (int i = 0; i < n; i++) sum += per_row[i];
        snprintf(name, sizeof name, "state_parts_cover_the_state_%s_layer%d", sp->name, l);
        hl_check(n >= 0 && 3 * sum == t->state_floats(&c, l, 3, 9), name, "%d parts, 3 x %zu floats, state %zu", n, sum,
                 t->state_floats(&c, l, 3, 9));
    }
    hl_infer *s1 = hl_infer_create(m, 1, 7, err, sizeof err), *s2 = hl_infer_create(m, 2, 7, err, sizeof err);
    snprintf(name, sizeof name, "state_bytes_%s_per_sequence", sp->name);
    hl_check(s1 && s2 && hl_infer_state_bytes(s2) == 2 * hl_infer_state_bytes(s1), name, "max_B 2 vs 1");
    hl_infer_free(s1); hl_infer_free(s2);
    hl_model_free(m);
}

// The cached path needs the model's max_T only for the prompt: steps run
// past it (to max_len) and still equal a forward over the whole sequence
// (run on a twin model with room for it and the same parameters).
static void test_past_model_max_T(const dspec *sp) {
    hl_model_config c = cfg_of(sp);
    const hl_backend *be = hl_backend_get("cpu");
    enum { SMALL_T = 4, T = 13, K = 3 };
    hl_model *small = model_of(&c, be, 1, SMALL_T), *big = model_of(&c, be, 1, T);
    float *p = malloc(hl_model_numel(small) * sizeof *p);
    hl_model_params_to_host(small, p);
    hl_model_params_from_host(big, p);
    free(p);
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (int32_t)(rnd() % (uint32_t)c.vocab_size);
    float *ref = full_logits(big, tok, T);
    double e = ref ? split_err(small, hl_infer_create, tok, T, K, ref) : -1;
    char name[160], err[512];
    snprintf(name, sizeof name, "cached_steps_past_the_model_max_T_%s", sp->name);
    hl_check(e >= 0 && e <= TOL, name, "relative error %.3g", e);
    hl_infer *s = hl_infer_create(small, 1, T, err, sizeof err);
    const float *lg;
    int rc = s ? hl_infer_prefill(s, tok, 1, SMALL_T + 1, NULL, &lg, err, sizeof err) : -1;
    snprintf(name, sizeof name, "cached_prompt_past_the_model_max_T_refused_%s", sp->name);
    hl_check(rc == HL_EBADINPUT && strstr(err, "max_T"), name, "status %d: %s", rc, err);
    hl_infer_free(s);
    free(ref);
    hl_model_free(small); hl_model_free(big);
}

// Op statuses reach the caller of prefill and step: with any one op the
// inference path uses missing from the backend (HL_EUNSUPPORTED), prefill +
// a step return that status with a message naming the op, and the state
// then holds no sequences (a further step is refused).
static void test_op_status(void) {
    hl_model_config c = cfg_of(&SPECS[5]), cmoe = cfg_of(&SPECS[7]);   // mix_AHSAMC: every mixer; AS_moe: the moe ops
    const hl_backend *ref = hl_backend_get("cpu_ref");
    int missed = 0;
    char which[600] = "", err[512];
    for (int op = 0; op < HL_OP_COUNT; op++) {
        const char *name = hl_op_names[op];
        size_t len = strlen(name);
        if ((len > 4 && !strcmp(name + len - 4, "_bwd")) || op == HL_OP_xent_fwd || op == HL_OP_adamw) continue;
        hl_ops ops = *ref->ops;
#define HL_NULL_OP(p, nm, T) if (op == HL_OP_##nm) ops.nm = NULL;
        HL_OP_LIST(HL_NULL_OP, _)
#undef HL_NULL_OP
        hl_backend be = *ref;
        be.ops = &ops;
        hl_model *m = model_of(strncmp(name, "moe_", 4) ? &c : &cmoe, &be, 2, 6);
        hl_infer *s = m ? hl_infer_create(m, 2, 8, err, sizeof err) : NULL;
        int32_t prompt[6] = {1, 2, 3, 4, 5, 6}, lens[2] = {3, 2}, tok[2] = {1, 2};
        const float *lg;
        err[0] = 0;
        int rc = s ? hl_infer_prefill(s, prompt, 2, 3, lens, &lg, err, sizeof err) : -1;
        if (rc == HL_OK) rc = hl_infer_step(s, tok, &lg, err, sizeof err);
        int after = s ? hl_infer_step(s, tok, &lg, NULL, 0) : -1;
        if (rc != HL_EUNSUPPORTED || !strstr(err, name) || after != HL_EBADINPUT) {
            missed++;
            size_t l = strlen(which);
            snprintf(which + l, sizeof which - l, " %s(status %d, then %d)", name, rc, after);
        }
        hl_infer_free(s);
        hl_model_free(m);
    }
    hl_check(!missed, "op_status_of_every_inference_op_reaches_the_caller", "not propagated:%s", which);
}

int main(void) {
    for (int bi = 0; bi < hl_backend_count(); bi++) {
        const hl_backend *be = hl_backend_at(bi);
        for (int i = 0; i < N_SPECS; i++) {
            test_splits(&SPECS[i], be, hl_infer_create, "cached");
            test_batch(&SPECS[i], be, hl_infer_create, "cached");
            test_bad_inputs(&SPECS[i], be, hl_infer_create, "cached");
            test_fork(&SPECS[i], be);
        }
        for (int i = 0; i < N_SPECS; i += 2) {   // the reference: the same contract (it is slow)
            test_splits(&SPECS[i], be, hl_infer_create_ref, "ref");
            test_batch(&SPECS[i], be, hl_infer_create_ref, "ref");
            test_bad_inputs(&SPECS[i], be, hl_infer_create_ref, "ref");
        }
    }
    for (int i = 0; i < N_SPECS; i++) test_state_bytes(&SPECS[i]);
    for (int i = 0; i < N_SPECS; i++) test_past_model_max_T(&SPECS[i]);
    test_op_status();
    return hl_test_done();
}
