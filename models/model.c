// model.c: model assembly (model.h). Layers come from the registry
// (layer.h); the model adds the embedding, the meta tokens, the per-block
// RMSNorms and residual stream, the final norm and the (tied) lm_head.
//
// Forward on B sequences of T input tokens runs Tt = m + T positions:
//   x (B, Tt, d): rows 0..m-1 = model.memory_tokens, rows m.. = embed(tokens)
//   per layer l:  x += mixer(rmsnorm(x)); x += ffn(rmsnorm(x))  (no FFN: one step)
//   rows at the requested input positions are gathered, final-normed and
//   multiplied by lm_head (or the embedding when tied): the logits. Losses
//   are computed apart (losses.h); backward starts from their gradient.
//
// FLOPs convention (hl_model_count): forward FLOPs of ONE token when the
// context holds T input tokens, i.e. the cost of the token at position T:
//   * every matmul counts 2 * (its weight elements) (q/k/v/o, in_proj, x_proj,
//     dt_proj, out_proj, FFN, hybrid.out_proj, and the lm_head 2 * d * V);
//   * attention adds 2 * H * (hd + vd) * T_eff for the score and value
//     products over the visible keys, T_eff = T + m (global) or
//     min(T, W) + m (sliding window);
//   * Mamba adds 2 * di * d_conv (conv) + 6 * di * d_state (scan);
//   * embedding lookup, norms, RoPE, softmax, activations are not counted;
//     the meta tokens' own forward (once per sequence) is not counted.
//
// Init (hl_model_init, a pure function of the seed: each tensor draws from
// its own splitmix64 stream seeded by (seed, tensor name)): embedding, meta
// tokens, untied lm_head and every linear normal(0, 0.02); residual-output
// projections (o_proj, down_proj, mamba.out_proj, hybrid.out_proj)
// normal(0, 0.02/sqrt(2*n_layers)); norm weights (hybrid beta1/beta2 too) 1;
// Mamba specifics as state-spaces/mamba (see mamba.c).
// Weight decay flag (hl_tensor_info.weight_decay): 1 for matrices (linear
// weights, embedding, lm_head, conv1d weight); 0 for norm weights, biases,
// A_log, D and the meta tokens.
//
// Memory: three arenas allocated once at create (params, grads, activations)
// plus one small int arena, all from the backend (hl_backend alloc/free/zero:
// device memory); forward/backward never allocate. Nothing here dereferences
// them on the host except through the backend's copies (init fills a host
// staging buffer and copies it in).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/layer.h"
#include "models/attention.h"

const char *const hl_component_names[8] = {
    "embedding", "attention", "ssm", "ffn", "norms", "meta_tokens", "lm_head", "hybrid",
};

int hl_component_index(const char *component) {
    for (int i = 0; i < 8; i++)
        if (component && !strcmp(component, hl_component_names[i])) return i;
    return -1;
}

enum { G_EMBED, G_META, G_NORM, G_LM_HEAD, G_NSLOTS };

struct hl_model {
    hl_model_config cfg;
    const hl_backend *be;
    const hl_ops *ops;       // be->ops
    int status;              // first op failure since the last forward began (HL_OK: none)
    int max_B, max_T;
    int n_tensors;
    hl_tensor_info *tensors;
    size_t numel;
    float *params, *grads, *acts;
    int32_t *ints;
    // parameters (p) and gradients (g) of the model-level tensors
    float *gp[G_NSLOTS], *gg[G_NSLOTS];
    float *norm1_w[HL_MAX_LAYERS], *norm1_g[HL_MAX_LAYERS];   // input_layernorm (d)
    float *norm2_w[HL_MAX_LAYERS], *norm2_g[HL_MAX_LAYERS];   // post_attention_layernorm (d)
    hl_layer mixer[HL_MAX_LAYERS], ffn[HL_MAX_LAYERS];          // ffn[l].type NULL: no FFN in block l
    // activations, each sized for max_B x (m + max_T) positions
    float *res[HL_MAX_LAYERS + 1]; // (B, Tt, d) residual stream entering layer l (res[L] leaves the last)
    float *mid[HL_MAX_LAYERS];     // (B, Tt, d) after the mixer, before the FFN (FFN only)
    float *ln1[HL_MAX_LAYERS], *rstd1[HL_MAX_LAYERS];  // (B, Tt, d), (B*Tt)
    float *ln2[HL_MAX_LAYERS], *rstd2[HL_MAX_LAYERS];
    float *part_out;   // (B, Tt, d) output of a mixer/FFN before the residual add
    float *dres;       // (B, Tt, d) gradient of the residual stream
    float *dln;        // (B, Tt, d) gradient w.r.t. a normed block input
    float *dtmp;       // (B, Tt, d)
    float *scratch;    // max over layers of scratch_floats
    float *hfin;       // (n_out, d) gathered final hidden rows
    float *hnorm;      // (n_out, d) after the final norm
    float *rstd_f;     // (n_out)
    float *dhnorm, *dhfin;   // (n_out, d)
    float *logits;     // (n_out, V)
    float *dlogits;    // (n_out, V) loss scratch for callers (hl_model_loss_buffers)
    float *losses;     // (n_out) loss scratch for callers
    size_t n_acts;     // floats in the activation arena (for munmap)
    int32_t *meta_ids; // (m) 0..m-1
    int32_t *rows;     // (n_out) row of each requested position in (B*Tt)
    int32_t *tokens;   // (B, T) copy of the last forward's tokens
    // the last forward (have_forward: it succeeded, backward may follow)
    int B, T, n_out, have_forward;
};

// ---------------------------------------------------------------- config checks
// The mixer's own checks (its hook); K/V sharing needs a K/V mixer.
static int check_layer(const hl_model_config *cfg, int l, char *err, size_t errlen) {
    const hl_layer_plan *p = &cfg->layer[l];
    const hl_layer_type *t = hl_mixer_type(p->kind);
    if (!t)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.layers: layer %d: unknown layer kind '%c'", l, p->kind ? p->kind : '?');
    if (p->kv_source >= 0 && !(t->caps & HL_CAP_KV))
        return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.kv_share: layer %d is not an attention layer", l);
    return t->check ? t->check(cfg, l, err, errlen) : HL_OK;
}

int hl_model_check(const hl_model_config *cfg, char *err, size_t errlen) {
    if (cfg->n_layers <= 0 || cfg->n_layers > HL_MAX_LAYERS)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.n_layers: must be in 1..%d (got %d)", HL_MAX_LAYERS, cfg->n_layers);
    if (cfg->d_model <= 0 || cfg->vocab_size <= 0 || cfg->meta_tokens < 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "model: d_model (%d), vocab_size (%d) must be positive, meta_tokens (%d) >= 0",
                    cfg->d_model, cfg->vocab_size, cfg->meta_tokens);
    for (int l = 0; l < cfg->n_layers; l++) {
        hl_ffn_type f = cfg->layer[l].ffn;
        if (f != hl_ffn_of_layer(cfg, l))
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn: layer %d's plan has FFN %s, model.ffn gives %s",
                           l, hl_ffn_name(f), hl_ffn_name(hl_ffn_of_layer(cfg, l)));
        if (!hl_ffn_supported(f))
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.type: not supported by the model code yet (type %d, layer %d)", (int)f, l);
        if (f == HL_FFN_SWIGLU && cfg->ffn.d_ff <= 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ffn.d_ff: must be positive (got %d)", cfg->ffn.d_ff);
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        int rc = check_layer(cfg, l, err, errlen);
        if (rc) return rc;
    }
    return HL_OK;
}

// ---------------------------------------------------------------- tensors
static void declare_all(const hl_model_config *cfg, hl_decl *d) {
    int64_t V = cfg->vocab_size, C = cfg->d_model;
    hl_decl_global(d, G_EMBED, "model.embed_tokens.weight", "embedding", 1, 2, V, C);
    if (cfg->meta_tokens > 0)
        hl_decl_global(d, G_META, "model.memory_tokens", "meta_tokens", 0, 2, cfg->meta_tokens, C);
    for (int l = 0; l < cfg->n_layers; l++) {
        d->cur_layer = l;
        d->cur_part = HL_PART_NORMS;
        hl_decl_layer(d, 0, "input_layernorm.weight", "norms", 0, 1, C, 0, 0);
        d->cur_part = HL_PART_MIXER;
        hl_mixer_type(cfg->layer[l].kind)->declare(cfg, l, d);
        const hl_layer_type *ffn = hl_ffn_layer_type(cfg->layer[l].ffn);
        if (!ffn) continue;
        d->cur_part = HL_PART_NORMS;
        hl_decl_layer(d, 1, "post_attention_layernorm.weight", "norms", 0, 1, C, 0, 0);
        d->cur_part = HL_PART_FFN;
        ffn->declare(cfg, l, d);
    }
    hl_decl_global(d, G_NORM, "model.norm.weight", "norms", 0, 1, C, 0);
    if (!cfg->tie_embeddings)
        hl_decl_global(d, G_LM_HEAD, "lm_head.weight", "lm_head", 1, 2, V, C);
}

// Declares and lays the tensors out densely in declaration order.
static int declare_laid_out(const hl_model_config *cfg, hl_decl *d) {
    memset(d, 0, sizeof *d);
    if (hl_model_check(cfg, NULL, 0)) return -1;
    declare_all(cfg, d);
    if (d->failed) { hl_decl_free(d); return -1; }
    size_t off = 0;
    for (int i = 0; i < d->n; i++) { d->infos[i].offset = off; off += d->infos[i].numel; }
    return d->n;
}

int hl_model_tensors(const hl_model_config *cfg, hl_tensor_info **out) {
    hl_decl d;
    *out = NULL;
    int n = declare_laid_out(cfg, &d);
    if (n < 0) return -1;
    *out = d.infos;
    d.infos = NULL;
    hl_decl_free(&d);
    return n;
}

hl_model_counts hl_model_count(const hl_model_config *cfg, int64_t context) {
    hl_model_counts c;
    memset(&c, 0, sizeof c);
    hl_tensor_info *t;
    int n = hl_model_tensors(cfg, &t);
    if (n < 0) { c.params = -1; c.flops_per_token = NAN; return c; }
    for (int i = 0; i < n; i++) {
        c.params += (int64_t)t[i].numel;
        c.by_component[hl_component_index(t[i].component)] += (int64_t)t[i].numel;
    }
    free(t);
    double f = 2.0 * cfg->d_model * cfg->vocab_size;   // lm_head
    c.active_params = c.params;
    for (int l = 0; l < cfg->n_layers; l++) {
        const hl_layer_type *ffn = hl_ffn_layer_type(cfg->layer[l].ffn), *mix = hl_mixer_type(cfg->layer[l].kind);
        f += mix->flops(cfg, l, context);
        if (ffn) f += ffn->flops(cfg, l, context);
        if (mix->inactive_params) c.active_params -= mix->inactive_params(cfg, l);
        if (ffn && ffn->inactive_params) c.active_params -= ffn->inactive_params(cfg, l);
    }
    c.flops_per_token = f;
    return c;
}

int64_t hl_model_cache_bytes(const hl_model_config *cfg, int64_t context, int bytes_per_elem) {
    if (hl_model_check(cfg, NULL, 0)) return -1;
    int64_t total = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        total += hl_mixer_type(cfg->layer[l].kind)->cache_bytes(cfg, l, context, bytes_per_elem);
    return total;
}

// ---------------------------------------------------------------- create
// Arenas come from the backend. The activation arena is not zeroed (the CPU
// backends' mmap pages are only faulted in when first touched: zeroing a
// fresh arena touched ~300 MB and cost 0.75 s per run for the tiny MQAR
// model, whose logits buffer is sized for every position while MQAR scores
// 4 per row); every activation is written before it is read.
static float *alloc_floats(const hl_backend *be, size_t n) { return be->alloc(n * sizeof(float)); }

static void free_floats(const hl_backend *be, float *p, size_t n) { be->free(p, n * sizeof(float)); }

static void bind_tensors(hl_model *m, const hl_decl *d) {
    for (int i = 0; i < d->n; i++) {
        float *p = m->params + m->tensors[i].offset, *g = m->grads + m->tensors[i].offset;
        int l = d->owner_layer[i], part = d->owner_part[i], slot = d->owner_slot[i];
        if (l < 0) { m->gp[slot] = p; m->gg[slot] = g; continue; }
        if (part == HL_PART_NORMS) {
            if (slot == 0) { m->norm1_w[l] = p; m->norm1_g[l] = g; }
            else { m->norm2_w[l] = p; m->norm2_g[l] = g; }
            continue;
        }
        hl_layer *L = part == HL_PART_MIXER ? &m->mixer[l] : &m->ffn[l];
        L->p[slot] = p; L->g[slot] = g; L->t[slot] = &m->tensors[i];
    }
}

// Carves every activation buffer from base (NULL: only counts). Returns floats.
static size_t carve_acts(hl_model *m, float *base) {
    const hl_model_config *cfg = &m->cfg;
    int B = m->max_B, Tt = cfg->meta_tokens + m->max_T;   // both bounded: hl_model_create
    size_t N = (size_t)B * Tt, C = cfg->d_model, n_out = (size_t)B * m->max_T, off = 0, scratch = 0;
    for (int l = 0; l <= cfg->n_layers; l++) m->res[l] = hl_take(base, &off, N * C);
    for (int l = 0; l < cfg->n_layers; l++) {
        hl_layer *L = &m->mixer[l];
        m->ln1[l] = hl_take(base, &off, N * C);
        m->rstd1[l] = hl_take(base, &off, N);
        L->act = hl_take(base, &off, L->type->act_floats(cfg, l, B, Tt));
        size_t s = L->type->scratch_floats(cfg, l, B, Tt);
        if (s > scratch) scratch = s;
        if (L->has_consumers) {
            hl_attn_dims a = hl_attn_dims_of(cfg, l);
            L->dk_acc = hl_take(base, &off, N * a.Hkv * a.hd);
            L->dv_acc = hl_take(base, &off, N * a.Hkv * a.vd);
        }
        if (!m->ffn[l].type) continue;
        hl_layer *F = &m->ffn[l];
        m->mid[l] = hl_take(base, &off, N * C);
        m->ln2[l] = hl_take(base, &off, N * C);
        m->rstd2[l] = hl_take(base, &off, N);
        F->act = hl_take(base, &off, F->type->act_floats(cfg, l, B, Tt));
        s = F->type->scratch_floats(cfg, l, B, Tt);
        if (s > scratch) scratch = s;
    }
    m->part_out = hl_take(base, &off, N * C);
    m->dres = hl_take(base, &off, N * C);
    m->dln = hl_take(base, &off, N * C);
    m->dtmp = hl_take(base, &off, N * C);
    m->scratch = hl_take(base, &off, scratch);
    m->hfin = hl_take(base, &off, n_out * C);
    m->hnorm = hl_take(base, &off, n_out * C);
    m->rstd_f = hl_take(base, &off, n_out);
    m->dhnorm = hl_take(base, &off, n_out * C);
    m->dhfin = hl_take(base, &off, n_out * C);
    m->logits = hl_take(base, &off, n_out * cfg->vocab_size);
    m->dlogits = hl_take(base, &off, n_out * cfg->vocab_size);
    m->losses = hl_take(base, &off, n_out);
    return off;
}

static void setup_layers(hl_model *m) {
    const hl_model_config *cfg = &m->cfg;
    for (int l = 0; l < cfg->n_layers; l++) {
        hl_layer *L = &m->mixer[l];
        L->type = hl_mixer_type(cfg->layer[l].kind);
        L->cfg = &m->cfg;
        L->index = l;
        int s = cfg->layer[l].kv_source;
        if (s >= 0) {
            L->kv_producer = &m->mixer[s];
            m->mixer[s].has_consumers = 1;
        }
        m->ffn[l].type = hl_ffn_layer_type(cfg->layer[l].ffn);
        m->ffn[l].cfg = &m->cfg;
        m->ffn[l].index = l;
    }
}

// B x (meta + T) positions must fit an int (per-position indices are ints).
static int check_batch(const hl_model_config *cfg, int max_B, int max_T, char *err, size_t errlen) {
    if (max_B <= 0 || max_T <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_create: max_B and max_T must be positive (got %d, %d)", max_B, max_T);
    if ((int64_t)max_B * ((int64_t)cfg->meta_tokens + max_T) > INT32_MAX)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_create: %d x (%d + %d) positions do not fit an int",
                       max_B, cfg->meta_tokens, max_T);
    return HL_OK;
}

static size_t ints_of(const hl_model_config *cfg, int max_B, int max_T) {
    return (size_t)cfg->meta_tokens + 2 * (size_t)max_B * max_T;
}

hl_model_sizes hl_model_sizes_of(const hl_model_config *cfg, int max_B, int max_T) {
    hl_model_sizes z = {-1, -1, -1};
    if (hl_model_check(cfg, NULL, 0) || check_batch(cfg, max_B, max_T, NULL, 0)) return z;
    hl_model *m = calloc(1, sizeof *m);   // only what carve_acts reads: cfg, sizes, layer types
    if (!m) return z;
    m->cfg = *cfg;
    m->max_B = max_B; m->max_T = max_T;
    setup_layers(m);
    z.params = hl_model_count(cfg, 1).params;
    z.acts = (int64_t)carve_acts(m, NULL);
    z.ints = (int64_t)ints_of(cfg, max_B, max_T);
    free(m);
    return z;
}

hl_model *hl_model_create(const hl_model_config *cfg, const hl_backend *be,
                          int max_B, int max_T, char *err, size_t errlen) {
    if (hl_model_check(cfg, err, errlen)) return NULL;
    if (check_batch(cfg, max_B, max_T, err, errlen)) return NULL;
    hl_model *m = calloc(1, sizeof *m);
    hl_decl d;
    if (!m || declare_laid_out(cfg, &d) < 0) {
        snprintf(err, errlen, "hl_model_create: out of memory declaring tensors");
        free(m);
        return NULL;
    }
    m->cfg = *cfg;
    m->be = be;
    m->ops = be->ops;
    m->max_B = max_B; m->max_T = max_T;
    m->n_tensors = d.n;
    m->tensors = d.infos; d.infos = NULL;
    m->numel = m->n_tensors ? m->tensors[m->n_tensors - 1].offset + m->tensors[m->n_tensors - 1].numel : 0;
    setup_layers(m);
    size_t n_acts = m->n_acts = carve_acts(m, NULL);
    size_t n_ints = ints_of(cfg, max_B, max_T);
    m->params = alloc_floats(be, m->numel);
    m->grads = alloc_floats(be, m->numel);
    m->acts = alloc_floats(be, n_acts);
    m->ints = be->alloc(n_ints * sizeof(int32_t));
    if (!m->params || !m->grads || !m->acts || !m->ints) {
        snprintf(err, errlen, "hl_model_create: out of memory allocating %zu params and %zu activation floats",
                 m->numel, n_acts);
        hl_decl_free(&d);
        hl_model_free(m);
        return NULL;
    }
    bind_tensors(m, &d);
    hl_decl_free(&d);
    carve_acts(m, m->acts);
    m->meta_ids = m->ints;
    m->rows = m->meta_ids + cfg->meta_tokens;
    m->tokens = m->rows + (size_t)max_B * max_T;
    be->zero(m->ints, n_ints * sizeof(int32_t));
    be->zero(m->grads, m->numel * sizeof(float));
    int32_t *ids = malloc((size_t)(cfg->meta_tokens ? cfg->meta_tokens : 1) * sizeof *ids);   // host staging
    if (!ids) {
        snprintf(err, errlen, "hl_model_create: out of memory");
        hl_model_free(m);
        return NULL;
    }
    for (int i = 0; i < cfg->meta_tokens; i++) ids[i] = i;
    be->h2d(m->meta_ids, ids, (size_t)cfg->meta_tokens * sizeof *ids);
    free(ids);
    return m;
}

void hl_model_free(hl_model *m) {
    if (!m) return;
    free(m->tensors);
    if (m->be) {
        m->be->free(m->ints, ints_of(&m->cfg, m->max_B, m->max_T) * sizeof(int32_t));
        free_floats(m->be, m->params, m->numel); free_floats(m->be, m->grads, m->numel);
        free_floats(m->be, m->acts, m->n_acts);
    }
    free(m);
}

static void init_values(hl_model *m, uint64_t seed) {
    const hl_model_config *cfg = &m->cfg;
    size_t V = cfg->vocab_size, C = cfg->d_model;
    hl_fill_normal(m->gp[G_EMBED], V * C, 0.02, seed, "model.embed_tokens.weight");
    if (cfg->meta_tokens > 0)
        hl_fill_normal(m->gp[G_META], (size_t)cfg->meta_tokens * C, 0.02, seed, "model.memory_tokens");
    hl_fill_const(m->gp[G_NORM], C, 1.0f);
    if (!cfg->tie_embeddings) hl_fill_normal(m->gp[G_LM_HEAD], V * C, 0.02, seed, "lm_head.weight");
    for (int l = 0; l < cfg->n_layers; l++) {
        hl_fill_const(m->norm1_w[l], C, 1.0f);
        m->mixer[l].type->init(&m->mixer[l], seed);
        if (!m->ffn[l].type) continue;
        hl_fill_const(m->norm2_w[l], C, 1.0f);
        m->ffn[l].type->init(&m->ffn[l], seed);
    }
}

// Moves every parameter pointer of m (model-level and per layer) by the
// offset between two arenas of the same layout: from `from` to `to`.
static void rebase_params(hl_model *m, const float *from, float *to) {
#define REBASE(p) do { if (p) (p) = to + ((p) - from); } while (0)
    for (int s = 0; s < G_NSLOTS; s++) REBASE(m->gp[s]);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        REBASE(m->norm1_w[l]); REBASE(m->norm2_w[l]);
        for (int s = 0; s < HL_LAYER_MAX_SLOTS; s++) { REBASE(m->mixer[l].p[s]); REBASE(m->ffn[l].p[s]); }
    }
#undef REBASE
}

// The layers' init functions write values on the host: they run on a host
// staging arena (the parameter pointers rebased onto it), which is then
// copied to the backend's parameter arena.
int hl_model_init(hl_model *m, uint64_t seed) {
    float *host = malloc((m->numel ? m->numel : 1) * sizeof(float));
    if (!host) return HL_EFAIL;
    memset(host, 0, m->numel * sizeof(float));
    rebase_params(m, m->params, host);
    init_values(m, seed);
    rebase_params(m, host, m->params);
    m->be->h2d(m->params, host, m->numel * sizeof(float));
    free(host);
    return HL_OK;
}

int hl_model_params_to_host(hl_model *m, float *host) {
    m->be->d2h(host, m->params, m->numel * sizeof(float));
    return HL_OK;
}
int hl_model_params_from_host(hl_model *m, const float *host) {
    m->be->h2d(m->params, host, m->numel * sizeof(float));
    return HL_OK;
}
int hl_model_grads_to_host(hl_model *m, float *host) {
    m->be->d2h(host, m->grads, m->numel * sizeof(float));
    return HL_OK;
}
const hl_backend *hl_model_backend(const hl_model *m) { return m->be; }
int hl_model_last_status(const hl_model *m) { return m->status; }

float *hl_model_params(hl_model *m) { return m->params; }
float *hl_model_grads(hl_model *m) { return m->grads; }
size_t hl_model_numel(const hl_model *m) { return m->numel; }
int hl_model_num_tensors(const hl_model *m) { return m->n_tensors; }
const hl_tensor_info *hl_model_tensor(const hl_model *m, int i) {
    return (i >= 0 && i < m->n_tensors) ? &m->tensors[i] : NULL;
}
const hl_model_config *hl_model_cfg(const hl_model *m) { return &m->cfg; }
const hl_ops *hl_model_ops(const hl_model *m) { return m->ops; }
int hl_model_max_B(const hl_model *m) { return m->max_B; }
int hl_model_max_T(const hl_model *m) { return m->max_T; }

void hl_model_zero_grad(hl_model *m) { m->be->zero(m->grads, m->numel * sizeof(float)); }

// ---------------------------------------------------------------- forward
// How an op failed, for messages (status codes of core/status.h).
static const char *op_failure(int status) {
    return status == HL_EUNSUPPORTED ? "is unsupported"
         : status == HL_EBADINPUT ? "refused its arguments" : "failed";
}

// Records an op status of the model's current forward/backward (first failure sticks).
static int model_rc(hl_model *m, int rc) {
    if (rc != HL_OK && m->status == HL_OK) m->status = rc;
    return rc;
}
#define M_OP(m, op, args) model_rc((m), HL_OP_CALL((m)->ops, op, args))

static hl_run run_of(hl_model *m, int B, int Tt) {
    hl_run r = { .ops = m->ops, .B = B, .T = Tt, .n_meta = m->cfg.meta_tokens, .scratch = m->scratch,
                 .status = &m->status };
    return r;
}

static void rmsnorm_fwd(hl_model *m, float *out, float *rstd, const float *inp, const float *w,
                        int n, int C, float eps) {
    hl_rmsnorm_fwd_args a = { .out = out, .rstd = rstd, .inp = inp, .weight = w, .N = n, .C = C, .eps = eps };
    M_OP(m, rmsnorm_fwd, &a);
}

static void rmsnorm_bwd(hl_model *m, float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, const float *rstd, int n, int C) {
    hl_rmsnorm_bwd_args a = { .dinp = dinp, .dweight = dw, .dout = dout, .inp = inp, .weight = w,
                              .rstd = rstd, .N = n, .C = C };
    M_OP(m, rmsnorm_bwd, &a);
}

// x (B, Tt, d): meta tokens at rows 0..m-1 of each sequence, then embed(tokens).
static void embed_inputs(hl_model *m, float *x, int B, int T) {
    const hl_model_config *cfg = &m->cfg;
    int Tt = cfg->meta_tokens + T, C = cfg->d_model;
    for (int b = 0; b < B; b++) {
        if (cfg->meta_tokens > 0) {
            hl_embed_fwd_args e = { .out = x + (size_t)b * Tt * C, .ids = m->meta_ids, .table = m->gp[G_META],
                                    .N = cfg->meta_tokens, .V = cfg->meta_tokens, .C = C };
            M_OP(m, embed_fwd, &e);
        }
        hl_embed_fwd_args e = { .out = x + ((size_t)b * Tt + cfg->meta_tokens) * C, .ids = m->tokens + (size_t)b * T,
                                .table = m->gp[G_EMBED], .N = T, .V = cfg->vocab_size, .C = C };
        M_OP(m, embed_fwd, &e);
    }
}

// The blocks over r's B x T positions. dc NULL: the ordinary forward; else
// one token per row (r->T == 1) through each mixer's state_step.
static void blocks_forward(hl_model *m, const hl_run *r, const hl_decode_ctx *dc) {
    const hl_model_config *cfg = &m->cfg;
    int n = r->B * r->T, C = cfg->d_model;
    size_t nc = (size_t)n * C;
    for (int l = 0; l < cfg->n_layers; l++) {
        float *after_mixer = m->ffn[l].type ? m->mid[l] : m->res[l + 1];
        rmsnorm_fwd(m, m->ln1[l], m->rstd1[l], m->res[l], m->norm1_w[l], n, C, cfg->norm_eps);
        if (dc) m->mixer[l].type->state_step(&m->mixer[l], r, dc, m->part_out, m->ln1[l]);
        else m->mixer[l].type->forward(&m->mixer[l], r, m->part_out, m->ln1[l]);
        hl_axpby_args add = { .out = after_mixer, .x = m->res[l], .y = m->part_out, .a = 1, .b = 1, .n = nc };
        M_OP(m, axpby, &add);
        if (!m->ffn[l].type) continue;
        rmsnorm_fwd(m, m->ln2[l], m->rstd2[l], m->mid[l], m->norm2_w[l], n, C, cfg->norm_eps);
        m->ffn[l].type->forward(&m->ffn[l], r, m->part_out, m->ln2[l]);
        hl_axpby_args add2 = { .out = m->res[l + 1], .x = m->mid[l], .y = m->part_out, .a = 1, .b = 1, .n = nc };
        M_OP(m, axpby, &add2);
    }
}

static int forward_args_ok(hl_model *m, const int32_t *tokens, int B, int T,
                           const int32_t *out_pos, int n_out, char *err, size_t errlen) {
    const hl_model_config *cfg = &m->cfg;
    if (B <= 0 || B > m->max_B || T <= 0 || T > m->max_T || n_out < 0 || n_out > B * T)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_forward: B=%d T=%d n_out=%d outside the model's max_B=%d max_T=%d",
                       B, T, n_out, m->max_B, m->max_T);
    for (int i = 0; i < B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_forward: token %d at position %d outside [0, %d)",
                           tokens[i], i, cfg->vocab_size);
    for (int i = 0; out_pos && i < n_out; i++)
        if (out_pos[i] < 0 || out_pos[i] >= B * T)
            return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_forward: out_pos[%d]=%d outside [0, %d)", i, out_pos[i], B * T);
    return HL_OK;
}

int hl_model_forward(hl_model *m, const int32_t *tokens, int B, int T,
                     const int32_t *out_pos, int n_out, const float **logits,
                     char *err, size_t errlen) {
    const hl_model_config *cfg = &m->cfg;
    m->have_forward = 0;
    int rc = forward_args_ok(m, tokens, B, T, out_pos, n_out, err, errlen);
    if (rc) return rc;
    int meta = cfg->meta_tokens, Tt = meta + T, C = cfg->d_model, V = cfg->vocab_size;
    m->B = B; m->T = T; m->n_out = n_out;
    m->be->h2d(m->tokens, tokens, (size_t)B * T * sizeof *tokens);
    m->status = HL_OK;
    hl_run r = run_of(m, B, Tt);
    embed_inputs(m, m->res[0], B, T);
    blocks_forward(m, &r, NULL);
    // gather the requested rows of the last residual stream: row = b*Tt + m + t
    for (int i = 0; i < n_out; i++) {
        int p = out_pos ? out_pos[i] : i;
        m->rows[i] = (p / T) * Tt + meta + p % T;
    }
    if (n_out > 0) {
        hl_embed_fwd_args g = { .out = m->hfin, .ids = m->rows, .table = m->res[cfg->n_layers],
                                .N = n_out, .V = B * Tt, .C = C };
        M_OP(m, embed_fwd, &g);
        rmsnorm_fwd(m, m->hnorm, m->rstd_f, m->hfin, m->gp[G_NORM], n_out, C, cfg->norm_eps);
        const float *head = cfg->tie_embeddings ? m->gp[G_EMBED] : m->gp[G_LM_HEAD];
        hl_linear(&r, m->logits, m->hnorm, head, n_out, C, V);   // logits (n_out, V)
    }
    if (logits) *logits = m->logits;
    if (m->status != HL_OK)
        return hl_fail(err, errlen, m->status, "hl_model_forward: an op of backend '%s' %s: %s",
                       m->ops->name, op_failure(m->status), hl_op_error());
    m->have_forward = 1;
    return HL_OK;
}

// ---------------------------------------------------------------- decoding (layer.h)
int hl_model_capture_state(hl_model *m, const hl_decode_ctx *c, char *err, size_t errlen) {
    if (!m->have_forward)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_capture_state: no successful forward to capture");
    hl_run r = run_of(m, m->B, m->cfg.meta_tokens + m->T);
    m->status = HL_OK;
    for (int l = 0; l < m->cfg.n_layers; l++) m->mixer[l].type->state_prefill(&m->mixer[l], &r, c);
    if (m->status != HL_OK)
        return hl_fail(err, errlen, m->status, "hl_model_capture_state: an op of backend '%s' %s: %s",
                       m->ops->name, op_failure(m->status), hl_op_error());
    return HL_OK;
}

int hl_model_decode_step(hl_model *m, const hl_decode_ctx *c, const int32_t *tokens, int B,
                         const float **logits, char *err, size_t errlen) {
    const hl_model_config *cfg = &m->cfg;
    int C = cfg->d_model, V = cfg->vocab_size;
    m->have_forward = 0;
    if (B <= 0 || B > m->max_B)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_decode_step: B=%d outside [1, %d]", B, m->max_B);
    m->be->h2d(m->tokens, tokens, (size_t)B * sizeof *tokens);
    m->status = HL_OK;
    hl_run r = run_of(m, B, 1);
    hl_embed_fwd_args e = { .out = m->res[0], .ids = m->tokens, .table = m->gp[G_EMBED], .N = B, .V = V, .C = C };
    M_OP(m, embed_fwd, &e);
    blocks_forward(m, &r, c);
    rmsnorm_fwd(m, m->hnorm, m->rstd_f, m->res[cfg->n_layers], m->gp[G_NORM], B, C, cfg->norm_eps);
    hl_linear(&r, m->logits, m->hnorm, cfg->tie_embeddings ? m->gp[G_EMBED] : m->gp[G_LM_HEAD], B, C, V);
    if (logits) *logits = m->logits;
    if (m->status != HL_OK)
        return hl_fail(err, errlen, m->status, "hl_model_decode_step: an op of backend '%s' %s: %s",
                       m->ops->name, op_failure(m->status), hl_op_error());
    return HL_OK;
}

void hl_model_loss_buffers(hl_model *m, float **dlogits, float **row_losses) {
    if (dlogits) *dlogits = m->dlogits;
    if (row_losses) *row_losses = m->losses;
}

const struct hl_layer *hl_model_part(const hl_model *m, int l, int part) {
    if (l < 0 || l >= m->cfg.n_layers) return NULL;
    if (part == HL_PART_MIXER) return &m->mixer[l];
    if (part == HL_PART_FFN) return m->ffn[l].type ? &m->ffn[l] : NULL;
    return NULL;
}

// ---------------------------------------------------------------- backward
// The head: dlogits (n_out, V) -> lm_head/embedding grads, final norm, scatter into dres.
static void head_backward(hl_model *m, const float *dlogits, int Tt) {
    const hl_model_config *cfg = &m->cfg;
    int n_out = m->n_out, C = cfg->d_model, V = cfg->vocab_size;
    int tied = cfg->tie_embeddings;
    hl_run r = run_of(m, m->B, Tt);
    hl_linear_bwd(&r, m->dhnorm, tied ? m->gg[G_EMBED] : m->gg[G_LM_HEAD], dlogits, m->hnorm,
                  tied ? m->gp[G_EMBED] : m->gp[G_LM_HEAD], n_out, C, V);
    rmsnorm_bwd(m, m->dhfin, m->gg[G_NORM], m->dhnorm, m->hfin, m->gp[G_NORM], m->rstd_f, n_out, C);
    m->be->zero(m->dres, (size_t)m->B * Tt * C * sizeof(float));
    hl_embed_bwd_args s = { .dtable = m->dres, .dout = m->dhfin, .ids = m->rows, .N = n_out, .V = m->B * Tt, .C = C };
    M_OP(m, embed_bwd, &s);   // scatter-add of the gathered rows
}

static void blocks_backward(hl_model *m, const hl_run *r) {
    const hl_model_config *cfg = &m->cfg;
    int n = r->B * r->T, C = cfg->d_model;
    size_t nc = (size_t)n * C;
    for (int l = 0; l < cfg->n_layers; l++) {   // consumers add into producers' dK/dV
        hl_layer *L = &m->mixer[l];
        if (!L->has_consumers) continue;
        hl_attn_dims a = hl_attn_dims_of(cfg, l);
        m->be->zero(L->dk_acc, (size_t)n * a.Hkv * a.hd * sizeof(float));
        m->be->zero(L->dv_acc, (size_t)n * a.Hkv * a.vd * sizeof(float));
    }
    for (int l = cfg->n_layers - 1; l >= 0; l--) {
        if (m->ffn[l].type) {
            m->ffn[l].type->backward(&m->ffn[l], r, m->dln, m->dres, m->ln2[l]);
            rmsnorm_bwd(m, m->dtmp, m->norm2_g[l], m->dln, m->mid[l], m->norm2_w[l], m->rstd2[l], n, C);
            hl_add_inplace(r, m->dres, m->dtmp, nc);
        }
        m->mixer[l].type->backward(&m->mixer[l], r, m->dln, m->dres, m->ln1[l]);
        rmsnorm_bwd(m, m->dtmp, m->norm1_g[l], m->dln, m->res[l], m->norm1_w[l], m->rstd1[l], n, C);
        hl_add_inplace(r, m->dres, m->dtmp, nc);
    }
}

static void embed_backward(hl_model *m, int Tt) {
    const hl_model_config *cfg = &m->cfg;
    int C = cfg->d_model, meta = cfg->meta_tokens;
    for (int b = 0; b < m->B; b++) {
        if (meta > 0) {
            hl_embed_bwd_args e = { .dtable = m->gg[G_META], .dout = m->dres + (size_t)b * Tt * C,
                                    .ids = m->meta_ids, .N = meta, .V = meta, .C = C };
            M_OP(m, embed_bwd, &e);
        }
        hl_embed_bwd_args e = { .dtable = m->gg[G_EMBED], .dout = m->dres + ((size_t)b * Tt + meta) * C,
                                .ids = m->tokens + (size_t)b * m->T, .N = m->T, .V = cfg->vocab_size, .C = C };
        M_OP(m, embed_bwd, &e);
    }
}

int hl_model_backward(hl_model *m, const float *dlogits, char *err, size_t errlen) {
    if (!m->have_forward)
        return hl_fail(err, errlen, HL_EBADINPUT, "hl_model_backward: no successful forward to take the gradient of");
    if (m->n_out == 0) return HL_OK;   // no logits: the loss does not depend on the parameters
    int Tt = m->cfg.meta_tokens + m->T;
    hl_run r = run_of(m, m->B, Tt);
    m->status = HL_OK;
    head_backward(m, dlogits, Tt);
    blocks_backward(m, &r);
    embed_backward(m, Tt);
    if (m->status != HL_OK)
        return hl_fail(err, errlen, m->status, "hl_model_backward: an op of backend '%s' %s: %s",
                       m->ops->name, op_failure(m->status), hl_op_error());
    return HL_OK;
}
