// test_init_from_attention.c: a Mamba-2 student built from an attention
// teacher (models/init_from_attention.h), tensor by tensor: the mapped
// in_proj rows equal the teacher's V, K (repeated across the GQA group in
// Hugging Face repeat_kv order) and Q, out_proj equals o_proj, every copied
// tensor is bit-identical, every fresh tensor equals hl_model_init's value;
// the replaced layer, with conv identity, A ~ 0, dt 1 and D 0, is linear
// attention of the teacher's q, k, v (SiLU features) through its own forward;
// bad pairs are refused naming the key, leaving the student unchanged.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/init_from_attention.h"
#include "models/layer.h"
#include "models/model.h"
#include "tests/test.h"

// Teacher: 4 layers of GQA attention (4 query heads, 2 KV heads, head_dim 8,
// d_model 32), SwiGLU FFNs. layers, ssm (model keys, each ending in a comma)
// and extra (model.attn keys after a comma) are spliced into the model. The
// text lives in one of 4 rotating buffers.
static const char *spec_text(const char *layers, const char *ssm, const char *extra, int vocab, int d_model, int d_ff) {
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 1024,
             "{\"name\":\"afa\",\"model\":{\"vocab_size\":%d,\"d_model\":%d,\"n_layers\":4,\"layers\":\"%s\","
             "\"attn\":{\"n_heads\":4,\"n_kv_heads\":2,\"head_dim\":%d%s},%s"
             "\"ffn\":{\"type\":\"swiglu\",\"d_ff\":%d}},"
             "\"train\":{\"task\":{\"name\":\"mqar\",\"seq_len\":16,\"num_kv_pairs\":2},\"steps\":10}}",
             vocab, d_model, layers, d_model / 4, extra, ssm, d_ff);
    return b;
}

static const char *M_SSM = "\"ssm\":{\"d_state\":8,\"d_conv\":4,\"expand\":1,\"headdim\":8,\"ngroups\":4},";

typedef struct { hl_spec spec; hl_model *m; } built;

static int build(built *b, const char *text, uint64_t seed) {
    char err[HL_ERR_LEN] = "";
    memset(b, 0, sizeof *b);
    if (hl_spec_load_text(text, "test-spec", NULL, 0, &b->spec, err, sizeof err) != HL_OK ||
        !(b->m = hl_model_create(&b->spec.model, hl_backend_get("cpu_ref"), 1, 8, err, sizeof err))) {
        hl_check(0, "build", "%s", err);
        return 0;
    }
    hl_model_init(b->m, seed);
    return 1;
}

static void unbuild(built *b) {
    if (b->m) hl_model_free(b->m);
    hl_spec_free(&b->spec);
}

static const float *tensor(hl_model *m, const char *name, const hl_tensor_info **info) {
    for (int i = 0; i < hl_model_num_tensors(m); i++)
        if (!strcmp(hl_model_tensor(m, i)->name, name)) {
            if (info) *info = hl_model_tensor(m, i);
            return hl_model_params(m) + hl_model_tensor(m, i)->offset;
        }
    return NULL;
}

// Teacher values unlike any fresh init: every parameter i/numel-scaled noise.
static void scramble(hl_model *m) {
    float *p = hl_model_params(m);
    uint64_t s = 12345;
    for (size_t i = 0; i < hl_model_numel(m); i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
}

// Rows [r0, r0 + n) of a (rows, d) student matrix equal teacher rows through
// HF repeat_kv: KV head j is expanded to (j, 0..rep-1) and reshaped to
// heads j*rep + r, so student row ((j*rep + r)*hd + i) = teacher row j*hd + i.
static int repeated_rows_equal(const float *stu, size_t r0, const float *tea, int Hkv, int rep, int hd, int d) {
    for (int j = 0; j < Hkv; j++)
        for (int r = 0; r < rep; r++)
            for (int i = 0; i < hd; i++)
                if (memcmp(stu + (r0 + (size_t)(j * rep + r) * hd + i) * d, tea + ((size_t)j * hd + i) * d,
                           (size_t)d * sizeof *stu))
                    return 0;
    return 1;
}

static void test_mapping(void) {
    built t, s, fresh;
    const uint64_t seed = 7;
    const char *untied = "\"tie_embeddings\":false,";
    char ssm[256];
    snprintf(ssm, sizeof ssm, "%s%s", M_SSM, untied);
    if (!build(&t, spec_text("AAAA", untied, "", 48, 32, 48), 1)) return;
    scramble(t.m);
    if (!build(&s, spec_text("AMAM", ssm, "", 48, 32, 48), 99) ||
        !build(&fresh, spec_text("AMAM", ssm, "", 48, 32, 48), seed)) return;
    char err[HL_ERR_LEN] = "";
    hl_afa_counts c;
    int rc = hl_init_from_attention(s.m, t.m, seed, &c, err, sizeof err);
    if (!hl_check(rc == HL_OK, "init_ok", "rc %d: %s", rc, err)) return;
    int d = 32, H = 4, Hkv = 2, hd = 8, rep = H / Hkv;
    size_t di = 32, GN = 32;
    int n_copied = 0, n_fresh = 0, bad_copy = 0, bad_fresh = 0, bad_map = 0;
    char bad[256] = "";
    for (int i = 0; i < hl_model_num_tensors(s.m); i++) {
        const hl_tensor_info *st = hl_model_tensor(s.m, i);
        const float *sv = hl_model_params(s.m) + st->offset;
        int l = -1;
        sscanf(st->name, "model.layers.%d.", &l);
        if (strstr(st->name, ".mamba2.in_proj.") || strstr(st->name, ".mamba2.out_proj.")) {
            char nm[128];
            const float *w[4];
            const char *proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
            for (int k = 0; k < 4; k++) {
                snprintf(nm, sizeof nm, "model.layers.%d.self_attn.%s.weight", l, proj[k]);
                w[k] = tensor(t.m, nm, NULL);
            }
            const float *fv = tensor(fresh.m, st->name, NULL);
            int ok;
            if (strstr(st->name, "out_proj")) ok = !memcmp(sv, w[3], (size_t)d * di * sizeof *sv);
            else
                ok = !memcmp(sv, fv, di * d * sizeof *sv) &&                              // z fresh
                     repeated_rows_equal(sv, di, w[2], Hkv, rep, hd, d) &&                 // x <- V
                     repeated_rows_equal(sv, 2 * di, w[1], Hkv, rep, hd, d) &&             // B <- K
                     !memcmp(sv + (2 * di + GN) * d, w[0], GN * d * sizeof *sv) &&         // C <- Q
                     !memcmp(sv + (2 * di + 2 * GN) * d, fv + (2 * di + 2 * GN) * d,
                             (size_t)H * d * sizeof *sv);                                  // dt fresh
            if (!ok) { bad_map++; snprintf(bad, sizeof bad, "%s", st->name); }
        } else if (strstr(st->name, ".mamba2.")) {
            n_fresh++;
            if (memcmp(sv, tensor(fresh.m, st->name, NULL), st->numel * sizeof *sv)) {
                bad_fresh++; snprintf(bad, sizeof bad, "%s", st->name);
            }
        } else {
            n_copied++;
            const hl_tensor_info *tt = NULL;
            const float *tv = tensor(t.m, st->name, &tt);
            if (!tv || tt->numel != st->numel || memcmp(sv, tv, st->numel * sizeof *sv)) {
                bad_copy++; snprintf(bad, sizeof bad, "%s", st->name);
            }
        }
    }
    hl_check(bad_map == 0, "mapped_equal_teacher_with_repeat_kv", "%d differ (last %s)", bad_map, bad);
    hl_check(bad_copy == 0, "copied_bit_identical", "%d differ (last %s)", bad_copy, bad);
    hl_check(bad_fresh == 0, "fresh_equal_model_init", "%d differ (last %s)", bad_fresh, bad);
    // embedding, final norm, lm_head; 4 x (2 norms + 3 mlp); 2 x 4 attention
    hl_check(c.copied == n_copied && n_copied == 3 + 4 * 5 + 2 * 4 && c.mapped == 4 && c.fresh == n_fresh &&
             n_fresh == 2 * 6, "counts", "copied %d/%d mapped %d fresh %d/%d", c.copied, n_copied, c.mapped,
             c.fresh, n_fresh);
    // the student runs
    int32_t tok[8] = {1, 5, 9, 2, 47, 0, 3, 3};
    const float *lg = NULL;
    rc = hl_model_forward(s.m, tok, 1, 8, NULL, 8, &lg, err, sizeof err);
    int finite = rc == HL_OK;
    for (int i = 0; finite && i < 8 * 48; i++) finite = isfinite(lg[i]);
    hl_check(finite, "student_forward_finite", "rc %d %s", rc, err);
    unbuild(&t); unbuild(&s); unbuild(&fresh);
}

static double silu(double x) { return x / (1.0 + exp(-x)); }

// out (n, rows) = inp (n, d) @ W[r0 .. r0+rows)^T in double.
static void matmul_rows(double *out, const double *inp, const float *W, int n, int d, int rows) {
    for (int t = 0; t < n; t++)
        for (int r = 0; r < rows; r++) {
            double acc = 0;
            for (int c = 0; c < d; c++) acc += inp[(size_t)t * d + c] * W[(size_t)r * d + c];
            out[(size_t)t * rows + r] = acc;
        }
}

// The replaced layer as a function: with the student's conv set to identity,
// A ~ 0 (A_log -30), dt = 1, D = 0 and norm weight 1, its Mamba-2 forward is
// per-head linear attention with SiLU features of the TEACHER's q, k, v:
//   y_t[h] = sum_{s<=t} (silu(q_t[h]) . silu(k_s[h/rep])) silu(v_s[h/rep])
//   out_t = o_proj(rmsnorm_per_head(y_t * silu(z_t)))
// computed here from the teacher's weights, against the layer's own forward.
static void test_linear_attention(void) {
    built t, s;
    if (!build(&t, spec_text("AAAA", "", "", 48, 32, 48), 1)) return;
    scramble(t.m);
    if (!build(&s, spec_text("AMAM", M_SSM, "", 48, 32, 48), 5)) { unbuild(&t); return; }
    char err[HL_ERR_LEN] = "";
    int rc = hl_init_from_attention(s.m, t.m, 11, NULL, err, sizeof err);
    if (!hl_check(rc == HL_OK, "linattn_init", "%s", err)) { unbuild(&t); unbuild(&s); return; }
    enum { T = 8, d = 32, H = 4, Hkv = 2, hd = 8, rep = 2, K = 4 };
    const hl_tensor_info *info;
    float *cw = (float *)tensor(s.m, "model.layers.1.mamba2.conv1d.weight", &info);   // (di + 2GN, 1, K)
    for (size_t c = 0; c < info->numel / K; c++)
        for (int j = 0; j < K; j++) cw[c * K + j] = j == K - 1 ? 1.0f : 0.0f;
    float *cb = (float *)tensor(s.m, "model.layers.1.mamba2.conv1d.bias", &info);
    memset(cb, 0, info->numel * sizeof *cb);
    float *alog = (float *)tensor(s.m, "model.layers.1.mamba2.A_log", NULL);
    float *dtb = (float *)tensor(s.m, "model.layers.1.mamba2.dt_bias", NULL);
    float *D = (float *)tensor(s.m, "model.layers.1.mamba2.D", NULL);
    float *nw = (float *)tensor(s.m, "model.layers.1.mamba2.norm.weight", NULL);
    float *win = (float *)tensor(s.m, "model.layers.1.mamba2.in_proj.weight", NULL);   // (2d + 2d + H, d)
    for (int h = 0; h < H; h++) { alog[h] = -30.0f; dtb[h] = (float)log(exp(1.0) - 1.0); D[h] = 0.0f; }
    for (int c = 0; c < d; c++) nw[c] = 1.0f;
    memset(win + (size_t)4 * d * d, 0, (size_t)H * d * sizeof *win);                  // dt rows
    float inp[T * d], out[T * d];   // (T, d)
    double dinp[T * d];
    uint64_t r = 77;
    for (int i = 0; i < T * d; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        inp[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        dinp[i] = inp[i];
    }
    hl_layer *L = (hl_layer *)hl_model_part(s.m, 1, HL_PART_MIXER);
    size_t ns = L->type->scratch_floats(hl_model_cfg(s.m), 1, 1, T);
    float *scratch = malloc((ns ? ns : 1) * sizeof *scratch);
    int status = HL_OK;
    hl_run run = { .ops = hl_model_ops(s.m), .B = 1, .T = T, .n_meta = 0, .scratch = scratch, .status = &status };
    L->type->forward(L, &run, out, inp);
    // the reference from the teacher's layer-1 weights and the student's z rows
    double q[T * d], k[T * Hkv * hd], v[T * Hkv * hd], z[T * d], g[T * d], ref[T * d];
    matmul_rows(q, dinp, tensor(t.m, "model.layers.1.self_attn.q_proj.weight", NULL), T, d, d);
    matmul_rows(k, dinp, tensor(t.m, "model.layers.1.self_attn.k_proj.weight", NULL), T, d, Hkv * hd);
    matmul_rows(v, dinp, tensor(t.m, "model.layers.1.self_attn.v_proj.weight", NULL), T, d, Hkv * hd);
    matmul_rows(z, dinp, win, T, d, d);
    double eps = hl_model_cfg(s.m)->norm_eps;
    for (int tt = 0; tt < T; tt++)
        for (int h = 0; h < H; h++) {
            int j = h / rep;
            double ms = 0;
            for (int p = 0; p < hd; p++) {
                double y = 0;
                for (int u = 0; u <= tt; u++) {
                    double score = 0;
                    for (int n = 0; n < hd; n++)
                        score += silu(q[tt * d + h * hd + n]) * silu(k[u * Hkv * hd + j * hd + n]);
                    y += score * silu(v[u * Hkv * hd + j * hd + p]);
                }
                g[tt * d + h * hd + p] = y * silu(z[tt * d + h * hd + p]);
                ms += g[tt * d + h * hd + p] * g[tt * d + h * hd + p];
            }
            double rstd = 1.0 / sqrt(ms / hd + eps);
            for (int p = 0; p < hd; p++) g[tt * d + h * hd + p] *= rstd;
        }
    matmul_rows(ref, g, tensor(t.m, "model.layers.1.self_attn.o_proj.weight", NULL), T, d, d);
    double worst = 0, scale = 0;
    for (int i = 0; i < T * d; i++) {
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        if (fabs(out[i] - ref[i]) > worst) worst = fabs(out[i] - ref[i]);
    }
    hl_check(status == HL_OK && scale > 0.1 && worst <= 1e-4 * scale, "replaced_layer_is_linear_attention_of_teacher_qkv",
             "status %d, max |out - ref| %.3g (scale %.3g)", status, worst, scale);
    free(scratch);
    unbuild(&t); unbuild(&s);
}

// A bad pair: HL_EBADINPUT naming key, the student's parameters unchanged.
static void refuse(const char *name, const char *teacher, const char *student, const char *key) {
    built t, s;
    if (!build(&t, teacher, 1)) return;
    if (!build(&s, student, 2)) { unbuild(&t); return; }
    size_t n = hl_model_numel(s.m);
    float *before = malloc(n * sizeof *before);
    memcpy(before, hl_model_params(s.m), n * sizeof *before);
    char err[HL_ERR_LEN] = "";
    int rc = hl_init_from_attention(s.m, t.m, 3, NULL, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, key) && !memcmp(before, hl_model_params(s.m), n * sizeof *before),
             name, "rc %d, want %s: %s", rc, key, err);
    free(before);
    unbuild(&t); unbuild(&s);
}

static void test_refusals(void) {
    char T[1024];
    snprintf(T, sizeof T, "%s", spec_text("AAAA", "", "", 48, 32, 48));
    refuse("bad_vocab", T, spec_text("AMAM", M_SSM, "", 64, 32, 48), "model.vocab_size");
    refuse("bad_width", T, spec_text("AMAM", M_SSM, "", 48, 64, 48), "model.d_model");
    refuse("bad_mamba1", T, spec_text("AASA", "\"ssm\":{\"d_state\":8,\"expand\":1},", "", 48, 32, 48), "model.layers");
    refuse("bad_expand", T, spec_text("AMAM", "\"ssm\":{\"d_state\":8,\"expand\":2,\"headdim\":8,\"ngroups\":4},", "", 48, 32, 48),
           "model.ssm.expand");
    refuse("bad_headdim", T, spec_text("AMAM", "\"ssm\":{\"d_state\":8,\"expand\":1,\"headdim\":4,\"ngroups\":4},", "", 48, 32, 48),
           "model.ssm.headdim");
    refuse("bad_d_state", T, spec_text("AMAM", "\"ssm\":{\"d_state\":4,\"expand\":1,\"headdim\":8,\"ngroups\":4},", "", 48, 32, 48),
           "model.ssm.d_state");
    refuse("bad_ngroups", T, spec_text("AMAM", "\"ssm\":{\"d_state\":8,\"expand\":1,\"headdim\":8,\"ngroups\":1},", "", 48, 32, 48),
           "model.ssm.ngroups");
    refuse("bad_kv_share", spec_text("AAAA", "", ",\"kv_share\":[[0,1]]", 48, 32, 48), spec_text("AMAA", M_SSM, "", 48, 32, 48),
           "model.attn.kv_share");
    refuse("bad_tie", T, spec_text("AMAM", "\"ssm\":{\"d_state\":8,\"expand\":1,\"headdim\":8,\"ngroups\":4},"
           "\"tie_embeddings\":false,", "", 48, 32, 48), "model.tie_embeddings");
    refuse("bad_ffn", T, spec_text("AMAM", M_SSM, "", 48, 32, 64), "mlp");
    refuse("bad_reverse", spec_text("AMAM", M_SSM, "", 48, 32, 48), T, "model.layers");
}

int main(void) {
    test_mapping();
    test_linear_attention();
    test_refusals();
    return hl_test_done();
}
