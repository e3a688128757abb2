// test_moe.c: the mixture-of-experts FFN "moe" (models/ffn_moe.c) on its own
// layer: forward against a naive per-token reference in double (both
// routers), gradients (inputs, router, experts; load-balancing and z-loss on)
// against central finite differences, the two equalities of issue 10 (one
// expert top-1 == dense SwiGLU bit for bit, forward and backward; top_k =
// n_experts renormalised == the softmax-weighted sum of every expert), and
// the spec section model.ffn.moe (placement every/offset, bad input naming
// the key, left out of canonical specs without moe layers), and a Mixtral
// model's loss and gradients against transformers' (committed fixture).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/safetensors.h"
#include "harness/hf_io.h"
#include "kernels/kernels.h"
#include "models/layer.h"
#include "models/losses.h"
#include "models/model_config.h"
#include "tests/test.h"

extern const hl_layer_type hl_layer_ffn_moe, hl_layer_ffn_swiglu;

static uint64_t rng_state = 99;
static double rnd_normal(void) {
    double u = 0, v = 0;
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    u = ((rng_state >> 11) + 0.5) / 9007199254740992.0;
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    v = ((rng_state >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
static void fill(float *p, size_t n, double std) { for (size_t i = 0; i < n; i++) p[i] = (float)(std * rnd_normal()); }

// A layer of type `type` on cfg with parameters, gradients, activations and scratch.
typedef struct {
    hl_layer L;
    size_t numel[4];
    float *scratch;
    int status;
    hl_run r;
} rig;

static hl_model_config moe_cfg(int C, int E, int k, int F, hl_moe_router router, float lb, float z) {
    hl_model_config c;
    memset(&c, 0, sizeof c);
    c.d_model = C; c.n_layers = 1; c.vocab_size = 16;
    c.ffn.type = HL_FFN_MOE; c.ffn.d_ff = F;
    c.ffn.moe = (hl_moe_config){ .n_experts = E, .top_k = k, .d_ff = F, .router = router,
                                 .load_balance = lb, .z_loss = z, .every = 1, .offset = 0 };
    c.layer[0].kind = 'A'; c.layer[0].ffn = HL_FFN_MOE;
    return c;
}

static void rig_make(rig *g, const hl_layer_type *type, const hl_model_config *c, int B, int T) {
    memset(g, 0, sizeof *g);
    g->L.type = type; g->L.cfg = c; g->L.index = 0;
    hl_decl d; memset(&d, 0, sizeof d);
    type->declare(c, 0, &d);
    for (int i = 0; i < d.n; i++) {
        int s = d.owner_slot[i];
        g->numel[s] = d.infos[i].numel;
        g->L.p[s] = malloc(sizeof(float) * d.infos[i].numel);
        g->L.g[s] = calloc(d.infos[i].numel, sizeof(float));
        fill(g->L.p[s], d.infos[i].numel, 0.5);
    }
    hl_decl_free(&d);
    g->L.act = calloc(type->act_floats(c, 0, B, T) + 16, sizeof(float));
    g->scratch = calloc(type->scratch_floats(c, 0, B, T) + 16, sizeof(float));
    g->r = (hl_run){ .ops = hl_ops_get("cpu_ref"), .B = B, .T = T, .scratch = g->scratch, .status = &g->status };
}

static void rig_free(rig *g) {
    for (int s = 0; s < HL_LAYER_MAX_SLOTS; s++) { free(g->L.p[s]); free(g->L.g[s]); }
    free(g->L.act); free(g->scratch);
}

static float silu(double x) { return (float)(x / (1 + exp(-x))); }

// Naive reference: per token, softmax in double, top-k (or every expert with
// weights p when all = 1), out (n, C) in double.
static void naive(const rig *g, const float *x, int n, int all, double *out) {
    const hl_moe_config *m = &g->L.cfg->ffn.moe;
    int E = m->n_experts, k = all ? E : m->top_k, F = m->d_ff, C = g->L.cfg->d_model;
    double lg[64], p[64], h[256];
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * C;
        double mx = -INFINITY, s = 0;
        for (int e = 0; e < E; e++) {
            lg[e] = 0;
            for (int c = 0; c < C; c++) lg[e] += (double)g->L.p[0][(size_t)e * C + c] * xt[c];
            lg[e] = (float)lg[e];
            if (lg[e] > mx) mx = lg[e];
        }
        for (int e = 0; e < E; e++) s += exp(lg[e] - mx);
        for (int e = 0; e < E; e++) p[e] = exp(lg[e] - mx) / s;
        int used[64] = {0}, sel[64]; double S = 0;
        for (int j = 0; j < k; j++) {
            int b = -1;
            for (int e = 0; e < E; e++) if (!used[e] && (b < 0 || p[e] > p[b])) b = e;
            used[b] = 1; sel[j] = b; S += p[b];
        }
        for (int c = 0; c < C; c++) out[(size_t)t * C + c] = 0;
        for (int j = 0; j < k; j++) {
            int e = sel[j];
            double w = (m->router == HL_MOE_SOFTMAX_TOPK_RENORM && !all) ? p[e] / S : p[e];
            const float *Wg = g->L.p[1] + (size_t)e * F * C, *Wu = g->L.p[2] + (size_t)e * F * C,
                        *Wd = g->L.p[3] + (size_t)e * C * F;
            for (int f = 0; f < F; f++) {
                double a = 0, b = 0;
                for (int c = 0; c < C; c++) { a += (double)Wg[(size_t)f * C + c] * xt[c]; b += (double)Wu[(size_t)f * C + c] * xt[c]; }
                h[f] = silu(a) * b;
            }
            for (int c = 0; c < C; c++) {
                double y = 0;
                for (int f = 0; f < F; f++) y += (double)Wd[(size_t)c * F + f] * h[f];
                out[(size_t)t * C + c] += w * y;
            }
        }
    }
}

static double max_rel(const float *a, const double *b, size_t n) {
    double num = 0, den = 1e-30;
    for (size_t i = 0; i < n; i++) { num = fmax(num, fabs(a[i] - b[i])); den = fmax(den, fabs(b[i])); }
    return num / den;
}

static void test_forward_naive(hl_moe_router router, int k, int all, const char *name) {
    const int B = 2, T = 5, C = 6, E = 4, F = 5, n = B * T;
    hl_model_config c = moe_cfg(C, E, k, F, router, 0, 0);
    rig g; rig_make(&g, &hl_layer_ffn_moe, &c, B, T);
    float x[60], out[60]; double ref[60];
    fill(x, (size_t)n * C, 1.0);
    g.L.type->forward(&g.L, &g.r, out, x);
    naive(&g, x, n, all, ref);
    double e = max_rel(out, ref, (size_t)n * C);
    hl_check(g.status == HL_OK && e < 1e-5, name, "status %d, max rel err %.3g", g.status, e);
    rig_free(&g);
}

// loss = sum(out * R) + aux; its gradient from backward(dout = R).
static double loss_of(rig *g, const float *x, const float *R, float *out, int n, int C) {
    g->L.type->forward(&g->L, &g->r, out, x);
    double s = g->L.type->aux_loss(&g->L);
    for (int i = 0; i < n * C; i++) s += (double)out[i] * R[i];
    return s;
}

static void test_gradients(hl_moe_router router, int corrupt, const char *name) {
    const int B = 2, T = 4, C = 5, E = 4, k = 2, F = 6, n = B * T;
    hl_model_config c = moe_cfg(C, E, k, F, router, 0.5f, 0.3f);
    rig g; rig_make(&g, &hl_layer_ffn_moe, &c, B, T);
    float x[40], R[40], out[40], dx[40], v[40];
    fill(x, (size_t)n * C, 1.0); fill(R, (size_t)n * C, 1.0);
    loss_of(&g, x, R, out, n, C);
    g.L.type->backward(&g.L, &g.r, dx, R, x);
    if (corrupt)   // what a lost router gradient (softmax/top-k weights) looks like: the check must fail
        memset(g.L.g[0], 0, sizeof(float) * g.numel[0]);
    double worst = 0; const char *where = "";
    const double eps = 1e-3;
    // along a random direction of the input and of each parameter tensor
    for (int s = -1; s < 4; s++) {
        size_t N = s < 0 ? (size_t)n * C : g.numel[s];
        float *p = s < 0 ? x : g.L.p[s], *gr = s < 0 ? dx : g.L.g[s];
        float *dir = s < 0 ? v : malloc(sizeof(float) * N), *save = malloc(sizeof(float) * N);
        fill(dir, N, 1.0);
        memcpy(save, p, sizeof(float) * N);
        double an = 0;
        for (size_t i = 0; i < N; i++) an += (double)gr[i] * dir[i];
        for (size_t i = 0; i < N; i++) p[i] = (float)(save[i] + eps * dir[i]);
        double lp = loss_of(&g, x, R, out, n, C);
        for (size_t i = 0; i < N; i++) p[i] = (float)(save[i] - eps * dir[i]);
        double lm = loss_of(&g, x, R, out, n, C);
        memcpy(p, save, sizeof(float) * N);
        double fd = (lp - lm) / (2 * eps), e = fabs(an - fd) / fmax(1e-3, fabs(fd));
        printf("# %s tensor %d: analytic %.6g fd %.6g rel %.3g\n", name, s, an, fd, e);
        if (e > worst) { worst = e; where = s < 0 ? "input" : s == 0 ? "router" : s == 1 ? "gate" : s == 2 ? "up" : "down"; }
        if (s >= 0) free(dir);
        free(save);
    }
    if (corrupt) hl_check(g.status == HL_OK && worst > 1e-2, name, "zeroed router gradient passed (worst %.3g)", worst);
    else hl_check(g.status == HL_OK && worst < 1e-2, name, "worst rel err %.3g at %s", worst, where);
    rig_free(&g);
}

// One expert, top-1: the same bits as swiglu on the same weights, forward and backward.
static void test_one_expert_is_swiglu(void) {
    const int B = 2, T = 3, C = 8, F = 12, n = B * T;
    hl_model_config c = moe_cfg(C, 1, 1, F, HL_MOE_SOFTMAX_TOPK, 0, 0);
    rig m, d;
    rig_make(&m, &hl_layer_ffn_moe, &c, B, T);
    rig_make(&d, &hl_layer_ffn_swiglu, &c, B, T);
    for (int s = 0; s < 3; s++) memcpy(d.L.p[s], m.L.p[s + 1], sizeof(float) * d.numel[s]);
    float x[48], R[48], om[48], od[48], dm[48], dd[48];
    fill(x, (size_t)n * C, 1.0); fill(R, (size_t)n * C, 1.0);
    m.L.type->forward(&m.L, &m.r, om, x);
    d.L.type->forward(&d.L, &d.r, od, x);
    m.L.type->backward(&m.L, &m.r, dm, R, x);
    d.L.type->backward(&d.L, &d.r, dd, R, x);
    int same = !memcmp(om, od, sizeof om) && !memcmp(dm, dd, sizeof dm);
    for (int s = 0; s < 3; s++) same &= !memcmp(m.L.g[s + 1], d.L.g[s], sizeof(float) * d.numel[s]);
    hl_check(m.status == HL_OK && d.status == HL_OK && same, "moe_one_expert_top1_equals_swiglu_bitwise",
             "outputs, input gradients or weight gradients differ");
    rig_free(&m); rig_free(&d);
}

// model.ffn.moe through the model section.
static int read_model(const char *json, hl_model_config *mc, char *err, size_t errlen) {
    cJSON *v = cJSON_Parse(json);
    hl_cfg_ctx c = { .source = "spec", .err = err, .errlen = errlen };
    memset(mc, 0, sizeof *mc);
    int rc = hl_cfg_check(&c, v, hl_model_section(), "model");
    if (rc == HL_OK) rc = hl_cfg_read(&c, hl_model_section(), v, "model", mc, NULL);
    cJSON_Delete(v);
    return rc;
}

static void bad_spec(const char *json, const char *want, const char *name) {
    hl_model_config mc; char err[512] = "";
    int rc = read_model(json, &mc, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, want), name, "rc %d, message \"%s\" (want \"%s\")", rc, err, want);
}

static void test_spec(void) {
    hl_model_config mc; char err[512] = "";
    int rc = read_model("{\"layers\": \"AAAA\", \"d_model\": 8, \"ffn\": {\"type\": \"moe\", "
                        "\"moe\": {\"n_experts\": 4, \"top_k\": 1, \"every\": 2, \"offset\": 1, "
                        "\"router\": \"softmax_topk_renorm\"}}}", &mc, err, sizeof err);
    int ok = rc == HL_OK && mc.layer[0].ffn == HL_FFN_SWIGLU && mc.layer[1].ffn == HL_FFN_MOE &&
             mc.layer[2].ffn == HL_FFN_SWIGLU && mc.layer[3].ffn == HL_FFN_MOE && mc.ffn.moe.n_experts == 4 &&
             mc.ffn.moe.d_ff == 32 && mc.ffn.d_ff == 32 && mc.ffn.moe.router == HL_MOE_SOFTMAX_TOPK_RENORM;
    hl_check(ok, "moe_spec_every_offset", "rc %d %s", rc, err);
    cJSON *w = ok ? hl_cfg_write(hl_model_section(), &mc) : NULL;
    char *txt = w ? cJSON_PrintUnformatted(w) : NULL;
    hl_check(txt && strstr(txt, "\"moe\":{\"n_experts\":4,\"top_k\":1,\"d_ff\":32,\"router\":\"softmax_topk_renorm\""),
             "moe_spec_canonical", "%s", txt ? txt : "(none)");
    free(txt); cJSON_Delete(w);
    rc = read_model("{\"layers\": \"AA\", \"d_model\": 8, \"ffn\": {\"moe\": {\"n_experts\": 4}}}", &mc, err, sizeof err);
    w = rc == HL_OK ? hl_cfg_write(hl_model_section(), &mc) : NULL;
    txt = w ? cJSON_PrintUnformatted(w) : NULL;
    hl_check(txt && !strstr(txt, "moe") && mc.ffn.moe.n_experts == 0, "moe_spec_left_out_without_moe_layers", "%s", txt ? txt : err);
    free(txt); cJSON_Delete(w);
    rc = read_model("{\"layers\": \"AA\", \"ffn\": {\"pattern\": [\"swiglu\", \"moe\"]}}", &mc, err, sizeof err);
    hl_check(rc == HL_OK && mc.layer[1].ffn == HL_FFN_MOE && mc.ffn.moe.top_k == 2 && mc.ffn.moe.n_experts == 8,
             "moe_spec_pattern_defaults", "rc %d %s", rc, err);
    bad_spec("{\"ffn\": {\"type\": \"moe\", \"moe\": {\"n_experts\": 2, \"top_k\": 3}}}", "model.ffn.moe.top_k", "moe_bad_top_k");
    bad_spec("{\"ffn\": {\"type\": \"moe\", \"moe\": {\"n_experts\": 0}}}", "model.ffn.moe.n_experts", "moe_bad_zero_experts");
    bad_spec("{\"ffn\": {\"type\": \"moe\", \"moe\": {\"every\": 0}}}", "model.ffn.moe.every", "moe_bad_period_0");
    bad_spec("{\"ffn\": {\"type\": \"moe\", \"moe\": {\"every\": 2, \"offset\": 2}}}", "model.ffn.moe.offset", "moe_bad_offset");
    bad_spec("{\"ffn\": {\"type\": \"moe\", \"moe\": {\"router\": \"sigmoid\"}}}", "model.ffn.moe.router", "moe_bad_router");
}

// A whole model with moe on layers 1 and 3 (every 2, offset 1): creates,
// runs forward and backward on cpu_ref and cpu (same loss and aux loss within
// 1e-4), and hl_loss_aux walks exactly the two moe layers (aux > 0 with both
// coefficients on).
static void test_model(void) {
    hl_model_config mc; char err[512] = "";
    int rc = read_model("{\"layers\": \"ASAS\", \"d_model\": 16, \"vocab_size\": 32, \"ffn\": {\"type\": \"moe\", "
                        "\"moe\": {\"n_experts\": 4, \"top_k\": 2, \"d_ff\": 24, \"every\": 2, \"offset\": 1, "
                        "\"load_balance\": 0.01, \"z_loss\": 0.001}}, \"attn\": {\"n_heads\": 2, \"n_kv_heads\": 2}}",
                        &mc, err, sizeof err);
    if (!hl_check(rc == HL_OK, "moe_model_spec", "%s", err)) return;
    hl_model_counts k = hl_model_count(&mc, 16);
    int64_t want = 2 * (int64_t)(4 - 2) * 3 * 24 * 16;   // layers 1, 3: two experts of three (24, 16) matrices unused
    hl_check(k.params - k.active_params == want, "moe_model_active_params", "params %lld, active %lld (want %lld fewer)",
             (long long)k.params, (long long)k.active_params, (long long)want);
    const int B = 2, T = 6;
    int32_t tok[12], tgt[12];
    for (int i = 0; i < B * T; i++) { tok[i] = (i * 7 + 3) % 32; tgt[i] = (i * 5 + 1) % 32; }
    float loss[2] = {0}, aux[2] = {0}; int n_aux = 0, ok = 1;
    for (int bi = 0; bi < 2; bi++) {
        hl_model *m = hl_model_create(&mc, hl_backend_get(bi ? "cpu" : "cpu_ref"), B, T, err, sizeof err);
        if (!m) { ok = 0; break; }
        hl_model_init(m, 5);
        const float *logits; float *dl, *rl;
        hl_model_loss_buffers(m, &dl, &rl);
        rc = hl_model_forward(m, tok, B, T, NULL, B * T, &logits, err, sizeof err);
        if (!rc) rc = hl_loss_xent(hl_model_ops(m), logits, tgt, B * T, 32, -1, rl, dl, &loss[bi], NULL, err, sizeof err);
        if (!rc) rc = hl_loss_aux(m, &aux[bi], err, sizeof err);
        hl_model_zero_grad(m);
        if (!rc) rc = hl_model_backward(m, dl, err, sizeof err);
        if (!rc) rc = hl_model_last_status(m);
        n_aux = 0;
        for (int l = 0; l < 4; l++) {
            const hl_layer *L = hl_model_part(m, l, HL_PART_FFN);
            n_aux += L && (L->type->caps & HL_CAP_AUX_LOSS) && L->index % 2 == 1;
        }
        ok &= rc == HL_OK && isfinite(loss[bi]) && aux[bi] > 0 && n_aux == 2;
        hl_model_free(m);
    }
    ok &= fabs(loss[0] - loss[1]) <= 1e-4 * fabs(loss[0]) && fabs(aux[0] - aux[1]) <= 1e-4 * fabs(aux[0]);
    hl_check(ok, "moe_model_forward_backward_cpu_ref_vs_cpu", "rc %d %s: loss %g / %g, aux %g / %g, %d moe layers",
             rc, err, loss[0], loss[1], aux[0], aux[1], n_aux);
}

// Mixtral against transformers: tests/fixtures/moe/mixtral (written by
// tests/ref/moe_mixtral.py) imported through hl_hf_open (what `hylab import`
// runs), forward on the fixture's T tokens, cross-entropy with HF's label
// alignment (targets token[t+1], the last ignored), backward: the loss and
// every parameter's gradient (the routers' through the renormalised top-2
// weights, the experts' through the grouped matmuls) against HF's, relative
// L2 <= 1e-4 per tensor, on backend `backend`. Negative control: a router
// gradient 1% off fails the same comparison.
#define MIXTRAL "tests/fixtures/moe/mixtral"
static void test_mixtral_grads(const char *backend) {
    char err[HL_ERR_LEN], name[300];
    int32_t ids[64], targets[64];
    int T = 0;
    FILE *f = fopen(MIXTRAL "/tokens.txt", "r");
    while (f && T < 64 && fscanf(f, "%d", &ids[T]) == 1) T++;
    if (f) fclose(f);
    hl_st_file g;
    int have = T > 1 && hl_st_open(MIXTRAL "/grads.safetensors", &g, err, sizeof err) == HL_OK;
    snprintf(name, sizeof name, "mixtral_%s_fixture", backend);
    if (!hl_check(have, name, "%d tokens; %s", T, T > 1 ? err : "tokens.txt unreadable")) return;
    hl_spec spec;
    hl_model *m = NULL;
    hl_hf_family fam;
    int rc = hl_hf_open(MIXTRAL, hl_backend_get(backend), 1, T, &spec, &m, &fam, err, sizeof err);
    snprintf(name, sizeof name, "mixtral_%s_import", backend);
    if (!hl_check(rc == HL_OK && fam == HL_HF_MIXTRAL, name, "%s", err)) { hl_st_close(&g); return; }
    for (int t = 0; t < T; t++) targets[t] = t + 1 < T ? ids[t + 1] : -1;
    const float *logits;
    float *dlogits, *row_losses, loss = NAN, ref_loss = NAN;
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    hl_model_zero_grad(m);
    rc = hl_model_forward(m, ids, 1, T, NULL, T, &logits, err, sizeof err);
    if (!rc) rc = hl_loss_xent(hl_model_ops(m), logits, targets, T, spec.model.vocab_size, -1, row_losses, dlogits,
                               &loss, NULL, err, sizeof err);
    if (!rc) rc = hl_model_backward(m, dlogits, err, sizeof err);
    const hl_st_tensor *lt = hl_st_find(&g, "loss");
    if (lt) hl_st_read_f32(&g, lt, &ref_loss, err, sizeof err);
    snprintf(name, sizeof name, "mixtral_%s_loss_matches_transformers", backend);
    hl_check(rc == HL_OK && fabs(loss - ref_loss) <= 1e-4 * fabs(ref_loss), name, "status %d, loss %.7g vs %.7g: %s",
             rc, loss, ref_loss, err);
    float *host = malloc(sizeof(float) * hl_model_numel(m) + 1);
    hl_model_grads_to_host(m, host);
    double worst = 0, router_rel = INFINITY;
    const char *worst_name = "";
    int compared = 0, router_tensors = 0;
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *info = hl_model_tensor(m, i);
        char key[300];
        snprintf(key, sizeof key, "grad.%s", info->name);
        const hl_st_tensor *t = hl_st_find(&g, key);
        float *ref = t && hl_st_numel(t) == info->numel ? malloc(sizeof(float) * info->numel) : NULL;
        if (ref && hl_st_read_f32(&g, t, ref, err, sizeof err)) { free(ref); ref = NULL; }
        double d2 = 0, r2 = 0, e2 = 0;
        const float *gm = host + info->offset;
        for (size_t k = 0; ref && k < info->numel; k++) {
            double d = (double)gm[k] - ref[k], e = 1.01 * gm[k] - ref[k];
            d2 += d * d; r2 += (double)ref[k] * ref[k]; e2 += e * e;
        }
        double rel = r2 > 0 ? sqrt(d2 / r2) : INFINITY;
        compared += ref != NULL;
        if (ref && strstr(info->name, "mlp.router.weight")) {
            router_tensors++;
            router_rel = fmin(router_rel, r2 > 0 ? sqrt(e2 / r2) : 0);   // the 1% error the check must catch
        }
        if (!(rel <= worst)) { worst = rel; worst_name = info->name; }
        free(ref);
    }
    printf("# mixtral %s: loss %.7f vs transformers %.7f; %d gradients, worst rel %.2e (%s)\n", backend, loss, ref_loss,
           compared, worst, worst_name);
    snprintf(name, sizeof name, "mixtral_%s_every_gradient_matches_transformers", backend);
    hl_check(compared == hl_model_num_tensors(m) && compared == g.n - 1 && worst <= 1e-4, name,
             "%d of %d tensors compared (%d references), worst rel %.3g (%s)", compared, hl_model_num_tensors(m), g.n - 1,
             worst, worst_name);
    snprintf(name, sizeof name, "mixtral_%s_router_gradient_check_can_fail", backend);
    hl_check(router_tensors == 2 && router_rel > 1e-4, name, "%d routers, a 1%% error gives rel %.3g", router_tensors,
             router_rel);
    free(host);
    hl_model_free(m);
    hl_spec_free(&spec);
    hl_st_close(&g);
}

int main(void) {
    test_forward_naive(HL_MOE_SOFTMAX_TOPK, 2, 0, "moe_forward_naive_softmax_topk");
    test_forward_naive(HL_MOE_SOFTMAX_TOPK_RENORM, 2, 0, "moe_forward_naive_softmax_topk_renorm");
    test_forward_naive(HL_MOE_SOFTMAX_TOPK_RENORM, 4, 1, "moe_topk_all_renorm_equals_softmax_weighted_sum");
    test_gradients(HL_MOE_SOFTMAX_TOPK, 0, "moe_grad_fd_softmax_topk");
    test_gradients(HL_MOE_SOFTMAX_TOPK_RENORM, 0, "moe_grad_fd_softmax_topk_renorm");
    test_gradients(HL_MOE_SOFTMAX_TOPK_RENORM, 1, "moe_grad_fd_detects_corruption");
    test_one_expert_is_swiglu();
    test_spec();
    test_model();
    test_mixtral_grads("cpu_ref");
    test_mixtral_grads("cpu");
    return hl_test_done();
}
