// test_spec_decode.c: greedy speculative decoding (harness/generate.h
// hl_generate_spec) and the state calls under it (models/decode.h
// hl_infer_snapshots, hl_infer_steps, hl_infer_rewind). For attention
// (global, sliding-window with meta tokens, GQA), Mamba, Mamba-2, the hybrid
// head, Conba and mixes, on every backend: the output of every prompt of a
// batch (prompts of different lengths, a last batch with fewer rows, an eos
// that stops some rows early) equals the target's own greedy output
// (hl_generate, same batch) token for token, for a draft with other weights
// (rejections happen: the rewind path runs), a draft of another architecture
// and the target as its own draft (every proposal accepted). Directly:
// steps(n) + rewind(keep) + one step give the logits of keep plain steps + that
// step, per row with different keeps (the cached state and the reference).
// Bad inputs return HL_EBADINPUT.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "harness/generate.h"
#include "models/decode.h"
#include "models/layer.h"

#define V 11
#define NP 5          // prompts
#define MAXP 7        // longest prompt
#define MAX_NEW 40

// A small config of the given layer pattern: d 16, 4 heads (2 KV), window w
// (0: global) with `meta` meta tokens, swiglu, Mamba / Mamba-2 / Conba sizes.
static hl_model_config cfg_of(const char *layers, int w, int meta) {
    hl_model_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V; c.d_model = 16;
    c.n_layers = (int)strlen(layers);
    snprintf(c.layers_pattern, sizeof c.layers_pattern, "%s", layers);
    c.attn.n_heads = 4; c.attn.n_kv_heads = 2; c.attn.head_dim = 4; c.attn.rope_theta = 10000.0f; c.attn.window = w;
    c.ssm.d_state = 4; c.ssm.d_conv = 3; c.ssm.expand = 2; c.ssm.dt_rank = 2;
    c.ssm.headdim = 4; c.ssm.ngroups = 1; c.ssm.chunk_size = 3;
    c.meta_tokens = meta;
    c.ffn.type = HL_FFN_SWIGLU; c.ffn.d_ff = 20;
    c.norm_eps = 1e-5f;
    for (int l = 0; l < c.n_layers; l++) {
        hl_layer_plan *p = &c.layer[l];
        p->kind = layers[l];
        p->kv_source = -1;
        p->ffn = hl_ffn_of_layer(&c, l);
        const hl_layer_type *t = hl_mixer_type(p->kind);
        int kv = (t->caps & HL_CAP_KV) != 0;
        p->v_head_dim = kv ? t->default_v_head_dim(&c) : 0;
        p->window = kv ? w : 0;
    }
    return c;
}

static uint64_t rng_state = 7;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

// A model initialised with `seed` and moved off the special values (as in
// test_decode.c) by `noise` (the draft's weights differ from the target's).
static hl_model *model_of(const hl_model_config *c, const hl_backend *be, uint64_t seed, float noise) {
    char err[512];
    hl_model *m = hl_model_create(c, be, 3, 16, err, sizeof err);   // max_T 16: test_rewind's reference re-runs rows of up to 16
    if (!m) { printf("create failed: %s\n", err); return NULL; }
    hl_model_init(m, seed);
    size_t n = hl_model_numel(m);
    float *p = malloc(n * sizeof *p);
    hl_model_params_to_host(m, p);
    for (size_t i = 0; i < n; i++) p[i] += noise * ((float)(rnd() % 2001) / 1000.0f - 1.0f);
    hl_model_params_from_host(m, p);
    free(p);
    return m;
}

// NP prompts of lengths 1..MAXP: ids (NP, MAXP).
static void make_prompts(hl_prompts *ps, hl_prompt *pr, int32_t *ids) {
    static const int lens[NP] = {3, 7, 1, 5, 2};
    for (int i = 0; i < NP; i++) {
        for (int j = 0; j < lens[i]; j++) ids[i * MAXP + j] = (int32_t)(rnd() % V);
        pr[i] = (hl_prompt){ ids + i * MAXP, lens[i], i + 1 };
    }
    *ps = (hl_prompts){ pr, NP };
}

typedef struct { const char *name, *target, *draft; int window, meta; } pair;
static const pair PAIRS[] = {
    {"A_global", "AA", "AA", 0, 0},
    {"A_swa_meta", "AAA", "A", 4, 2},
    {"S", "SS", "SS", 0, 0},
    {"H_swa_meta", "HH", "S", 4, 1},
    {"M", "MM", "M", 0, 0},
    {"mix_AMSHC", "AMSHC", "SA", 4, 1},
};
#define N_PAIRS ((int)(sizeof PAIRS / sizeof PAIRS[0]))

// Speculative output vs the target's own: every prompt, token for token.
// Returns the stats through st.
static void check_same(const char *name, hl_model *t, hl_model *d, const hl_prompts *ps, int K, int eos,
                       hl_spec_stats *st) {
    char err[512], nm[160];
    hl_gen_opts o = { .max_new = MAX_NEW, .eos = eos, .batch = 3, .sample = { .top_p = 1 } };
    hl_gen_out ref[NP], got[NP];
    int rc = hl_generate(t, ps, &o, ref, err, sizeof err);
    snprintf(nm, sizeof nm, "%s_K%d_eos%d_plain", name, K, eos);
    hl_check(rc == HL_OK, nm, "%s", err);
    rc = hl_generate_spec(t, d, ps, &o, K, got, st, err, sizeof err);
    snprintf(nm, sizeof nm, "%s_K%d_eos%d_spec", name, K, eos);
    hl_check(rc == HL_OK, nm, "%s", err);
    int same = 1, first = -1, total = 0;
    for (int i = 0; i < NP; i++) {
        total += got[i].n;
        if (!ref[i].ids || !got[i].ids || ref[i].n != got[i].n ||
            memcmp(ref[i].ids, got[i].ids, (size_t)ref[i].n * sizeof *ref[i].ids)) {
            if (same) first = i;
            same = 0;
        }
    }
    snprintf(nm, sizeof nm, "%s_K%d_eos%d_equals_target_greedy", name, K, eos);
    hl_check(same, nm, "prompt %d differs (n %d vs %d)", first, first >= 0 ? got[first].n : 0, first >= 0 ? ref[first].n : 0);
    snprintf(nm, sizeof nm, "%s_K%d_eos%d_stats", name, K, eos);
    hl_check(st->emitted == total && st->accepted <= st->drafted && st->blocks > 0, nm,
             "emitted %lld of %d, accepted %lld of %lld, blocks %lld", (long long)st->emitted, total,
             (long long)st->accepted, (long long)st->drafted, (long long)st->blocks);
    for (int i = 0; i < NP; i++) { free(ref[i].ids); free(got[i].ids); }
}

static void test_pair(const pair *pp, const hl_backend *be) {
    hl_model_config tc = cfg_of(pp->target, pp->window, pp->meta), dc = cfg_of(pp->draft, pp->window, pp->meta);
    hl_model *t = model_of(&tc, be, 11, 0.3f), *d = model_of(&dc, be, 12, 0.3f);
    char nm[160];
    snprintf(nm, sizeof nm, "%s_%s_models", be->name, pp->name);
    if (!hl_check(t && d, nm, "model creation failed")) { hl_model_free(t); hl_model_free(d); return; }
    hl_prompts ps; hl_prompt pr[NP]; int32_t ids[NP * MAXP];
    make_prompts(&ps, pr, ids);
    hl_spec_stats st;
    int64_t rejected = 0;
    for (int K = 1; K <= 4; K += 3) {
        snprintf(nm, sizeof nm, "%s_%s_draft", be->name, pp->name);
        check_same(nm, t, d, &ps, K, -1, &st);
        rejected += st.drafted - st.accepted;
        check_same(nm, t, d, &ps, K, 3, &st);
        snprintf(nm, sizeof nm, "%s_%s_self", be->name, pp->name);
        check_same(nm, t, t, &ps, K, -1, &st);
        snprintf(nm, sizeof nm, "%s_%s_self_K%d_all_accepted", be->name, pp->name, K);
        hl_check(st.accepted == st.drafted, nm, "accepted %lld of %lld", (long long)st.accepted, (long long)st.drafted);
    }
    snprintf(nm, sizeof nm, "%s_%s_draft_rejections_happen", be->name, pp->name);
    hl_check(rejected > 0, nm, "the draft agreed with the target everywhere: the rewind path is not tested");
    hl_model_free(t); hl_model_free(d);
}

// steps(n) + rewind(keep) + one step == keep plain steps + that step, per row.
typedef hl_infer *(*create_fn)(hl_model *, int, int, char *, size_t);

// The state under test made by `create` (cached or the reference); the plain
// steps it is compared with run on the cached path.
static void test_rewind(const pair *pp, const hl_backend *be, create_fn create, const char *path) {
    hl_model_config c = cfg_of(pp->target, pp->window, pp->meta);
    hl_model *m = model_of(&c, be, 13, 0.3f);
    char err[512], nm[160];
    snprintf(nm, sizeof nm, "%s_%s_%s_rewind", be->name, pp->name, path);
    if (!hl_check(m != NULL, nm, "model creation failed")) return;
    enum { B = 3, N = 4, L = 16 };
    hl_infer *a = create(m, B, L, err, sizeof err), *r = hl_infer_create(m, B, L, err, sizeof err);
    int ok = a && r && hl_infer_snapshots(a, N, err, sizeof err) == HL_OK;
    int32_t prompt[B * 3] = {1, 2, 3, 4, 5, 0, 6, 0, 0}, lens[B] = {3, 2, 1};
    int32_t toks[B * N], keep[B] = {0, 4, 2}, col[B], next[B] = {7, 8, 9};
    for (int i = 0; i < B * N; i++) toks[i] = (int32_t)(rnd() % V);
    const float *la = NULL, *lr = NULL;
    int32_t rest[B * 2];   // (B, 2): row b's tokens 2 and 3; first2 its tokens 0 and 1
    for (int b = 0; b < B; b++) { rest[b * 2] = toks[b * N + 2]; rest[b * 2 + 1] = toks[b * N + 3]; }
    int32_t first2[B * 2];
    for (int b = 0; b < B; b++) { first2[b * 2] = toks[b * N]; first2[b * 2 + 1] = toks[b * N + 1]; }
    ok = ok && hl_infer_prefill(a, prompt, B, 3, lens, NULL, err, sizeof err) == HL_OK;
    ok = ok && hl_infer_steps(a, first2, 2, NULL, err, sizeof err) == HL_OK;
    ok = ok && hl_infer_steps(a, rest, 2, NULL, err, sizeof err) == HL_OK;   // two calls accumulate
    ok = ok && hl_infer_rewind(a, keep, NULL, err, sizeof err) == HL_OK;
    ok = ok && hl_infer_step(a, next, &la, err, sizeof err) == HL_OK;
    if (!hl_check(ok, nm, "%s", err)) { hl_infer_free(a); hl_infer_free(r); hl_model_free(m); return; }
    // the reference: row b alone through plain steps (rows of one state advance together, so one state per row)
    double worst = 0;
    for (int b = 0; b < B && ok; b++) {
        ok = hl_infer_prefill(r, prompt + b * 3, 1, 3, lens + b, NULL, err, sizeof err) == HL_OK;
        for (int j = 0; ok && j < keep[b]; j++) { col[0] = toks[b * N + j]; ok = hl_infer_step(r, col, NULL, err, sizeof err) == HL_OK; }
        ok = ok && hl_infer_step(r, next + b, &lr, err, sizeof err) == HL_OK;
        double dmax = 0, rmax = 0;   // max |a - r| / max |r| over the row (test_decode.c's measure)
        for (int v = 0; ok && v < V; v++) {
            if (fabs((double)la[b * V + v] - lr[v]) > dmax) dmax = fabs((double)la[b * V + v] - lr[v]);
            if (fabs((double)lr[v]) > rmax) rmax = fabs((double)lr[v]);
        }
        if (ok && dmax / rmax > worst) worst = dmax / rmax;
        ok = ok && hl_infer_len(a, b) == lens[b] + keep[b] + 1;
    }
    hl_check(ok && worst <= 1e-5, nm, "%s worst rel err %g", ok ? "" : err, worst);
    // bad inputs
    snprintf(nm, sizeof nm, "%s_%s_%s_rewind_bad_inputs", be->name, pp->name, path);
    int bad = hl_infer_rewind(a, keep, NULL, err, sizeof err) == HL_EBADINPUT;            // no steps since
    int32_t k0[B] = {-1, 1, 1}, k5[B] = {1, 1, 3};
    bad = bad && hl_infer_steps(a, toks, 2, NULL, err, sizeof err) == HL_OK;
    bad = bad && hl_infer_rewind(a, k0, NULL, err, sizeof err) == HL_EBADINPUT;
    bad = bad && hl_infer_rewind(a, k5, NULL, err, sizeof err) == HL_EBADINPUT;
    bad = bad && hl_infer_steps(a, toks, 3, NULL, err, sizeof err) == HL_EBADINPUT;         // 2 + 3 > 4 slots
    int32_t badtok[B * 1] = {0, V, 0};
    bad = bad && hl_infer_steps(a, badtok, 1, NULL, err, sizeof err) == HL_EBADINPUT;
    bad = bad && hl_infer_snapshots(a, 2, err, sizeof err) == HL_EBADINPUT;                 // second call
    bad = bad && hl_infer_steps(r, toks, 1, NULL, err, sizeof err) == HL_EBADINPUT;         // no slots
    hl_check(bad, nm, "a bad call was accepted (last message: %s)", err);
    hl_infer_free(a); hl_infer_free(r); hl_model_free(m);
}

static void test_bad_spec_inputs(const hl_backend *be) {
    hl_model_config tc = cfg_of("AS", 0, 0), dc = cfg_of("S", 0, 0);
    dc.vocab_size = V + 1;
    hl_model *t = model_of(&tc, be, 11, 0.1f), *d = model_of(&dc, be, 12, 0.1f);
    hl_prompts ps; hl_prompt pr[NP]; int32_t ids[NP * MAXP];
    make_prompts(&ps, pr, ids);
    hl_gen_out out[NP];
    char err[512] = "", nm[160];
    hl_gen_opts o = { .max_new = 4, .eos = -1, .batch = 2, .sample = { .top_p = 1 } };
    snprintf(nm, sizeof nm, "%s_spec_draft_vocab_mismatch", be->name);
    hl_check(t && d && hl_generate_spec(t, d, &ps, &o, 2, out, NULL, err, sizeof err) == HL_EBADINPUT &&
             strstr(err, "vocab_size"), nm, "got '%s'", err);
    snprintf(nm, sizeof nm, "%s_spec_lookahead_0", be->name);
    hl_check(t && hl_generate_spec(t, t, &ps, &o, 0, out, NULL, err, sizeof err) == HL_EBADINPUT, nm, "got '%s'", err);
    o.sample.temperature = 0.7;
    snprintf(nm, sizeof nm, "%s_spec_sampling_refused", be->name);
    hl_check(t && hl_generate_spec(t, t, &ps, &o, 2, out, NULL, err, sizeof err) == HL_EBADINPUT &&
             strstr(err, "temperature"), nm, "got '%s'", err);
    hl_model_free(t); hl_model_free(d);
}

int main(void) {
    for (int bi = 0; bi < hl_backend_count(); bi++) {
        const hl_backend *be = hl_backend_at(bi);
        for (int i = 0; i < N_PAIRS; i++) {
            test_pair(&PAIRS[i], be);
            test_rewind(&PAIRS[i], be, hl_infer_create, "cached");
            test_rewind(&PAIRS[i], be, hl_infer_create_ref, "ref");
        }
        test_bad_spec_inputs(be);
    }
    return hl_test_done();
}
