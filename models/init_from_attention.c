// init_from_attention.c: a student from an attention teacher (contract and
// the mapping: init_from_attention.h). Two passes: every check first (the
// student is not touched), then hl_model_init(student, seed) for the fresh
// tensors, copies and mappings on host buffers, one h2d.
// This file knows the tensor layouts of two modules (attention.c's
// q/k/v/o_proj and mamba2.c's in_proj row order z|x|B|C|dt and out_proj),
// like hf.c knows them for the Hugging Face names.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/init_from_attention.h"
#include "models/layer.h"

extern const hl_layer_type hl_layer_attention;
extern const hl_layer_type hl_layer_mamba;
extern const hl_layer_type hl_layer_mamba2;

// The tensor of m named name, or NULL.
static const hl_tensor_info *find_tensor(hl_model *m, const char *name) {
    for (int i = 0; i < hl_model_num_tensors(m); i++)
        if (!strcmp(hl_model_tensor(m, i)->name, name)) return hl_model_tensor(m, i);
    return NULL;
}

static int same_shape(const hl_tensor_info *a, const hl_tensor_info *b) {
    if (a->ndim != b->ndim) return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k]) return 0;
    return 1;
}

// Layer index of a "model.layers.{l}." name, else -1.
static int layer_of(const char *name) {
    int l = -1, n = 0;
    if (sscanf(name, "model.layers.%d.%n", &l, &n) == 1 && n > 0) return l;
    return -1;
}

// 1 when student layer l replaces the teacher's attention by Mamba-2.
static int replaced(const hl_model_config *s, const hl_model_config *t, int l) {
    return hl_mixer_type(s->layer[l].kind) == &hl_layer_mamba2 &&
           hl_mixer_type(t->layer[l].kind) == &hl_layer_attention;
}

// The config checks of the header's contract.
static int check_configs(const hl_model_config *s, const hl_model_config *t, char *err, size_t errlen) {
    if (s->vocab_size != t->vocab_size)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.vocab_size: the student's must equal the teacher's (got %d, teacher %d)",
                       s->vocab_size, t->vocab_size);
    if (s->d_model != t->d_model)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.d_model: the student's must equal the teacher's (got %d, teacher %d)",
                       s->d_model, t->d_model);
    if (s->n_layers != t->n_layers)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.n_layers: the student's must equal the teacher's (got %d, teacher %d)",
                       s->n_layers, t->n_layers);
    if (s->tie_embeddings != t->tie_embeddings)
        return hl_fail(err, errlen, HL_EBADINPUT, "model.tie_embeddings: the student's must equal the teacher's (got %s, teacher %s)",
                       s->tie_embeddings ? "true" : "false", t->tie_embeddings ? "true" : "false");
    for (int l = 0; l < s->n_layers; l++) {
        char sk = s->layer[l].kind, tk = t->layer[l].kind;
        if (sk == tk) continue;
        if (hl_mixer_type(sk) == &hl_layer_mamba && hl_mixer_type(tk) == &hl_layer_attention)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.layers: layer %d: attention -> Mamba-1 ('S') is not supported yet: "
                           "hylab's Mamba-1 computes one B and C from x_proj of the conv output, so B <- k_proj and "
                           "C <- q_proj (per head, from the block input) have no place; use 'M' (Mamba-2)", l);
        if (!replaced(s, t, l))
            return hl_fail(err, errlen, HL_EBADINPUT, "model.layers: layer %d is '%c' in the student and '%c' in the teacher: "
                           "a layer is either kept or an attention layer ('A') replaced by Mamba-2 ('M')", l, sk, tk);
        if (t->layer[l].kv_source >= 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.layers: layer %d: the teacher's attention reads layer %d's K/V "
                           "(model.attn.kv_share): it has no k_proj/v_proj to initialise from", l, t->layer[l].kv_source);
        int H = t->attn.n_heads, hd = t->attn.head_dim, vd = t->layer[l].v_head_dim;
        if (vd != hd)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.v_head_dim: the teacher's must equal head_dim to map V to "
                           "Mamba-2 heads (got %d, head_dim %d, layer %d)", vd, hd, l);
        if ((int64_t)H * hd != t->d_model)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.attn.head_dim: the teacher's n_heads * head_dim must equal d_model "
                           "for an expand-1 Mamba-2 (got %d * %d, d_model %d, layer %d)", H, hd, t->d_model, l);
        if (s->ssm.expand != 1)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.expand: must be 1 in a student initialised from attention (got %d)",
                           s->ssm.expand);
        if (s->ssm.headdim != hd)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.headdim: must equal the teacher's head_dim %d (one SSM head per "
                           "attention head) (got %d)", hd, s->ssm.headdim);
        if (s->ssm.d_state != hd)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.d_state: must equal the teacher's head_dim %d (B <- k_proj, "
                           "C <- q_proj per head) (got %d)", hd, s->ssm.d_state);
        if (s->ssm.ngroups != H)
            return hl_fail(err, errlen, HL_EBADINPUT, "model.ssm.ngroups: must equal the teacher's n_heads %d (one B/C group "
                           "per head) (got %d)", H, s->ssm.ngroups);
    }
    return HL_OK;
}

// Rows of a repeated KV projection: dst (H*hd, d) row h*hd + i <- src
// (Hkv*hd, d) row (h / rep)*hd + i (Hugging Face repeat_kv).
static void repeat_kv_rows(float *dst, const float *src, int H, int Hkv, int hd, int d) {
    int rep = H / Hkv;
    for (int h = 0; h < H; h++)
        memcpy(dst + (size_t)h * hd * d, src + (size_t)(h / rep) * hd * d, (size_t)hd * d * sizeof *dst);
}

// Fills replaced layer l's in_proj or out_proj (host arenas sp, tp).
static void map_tensor(const hl_tensor_info *st, float *sp, hl_model *teacher, const float *tp, int l) {
    const hl_model_config *t = hl_model_cfg(teacher);
    int H = t->attn.n_heads, Hkv = t->attn.n_kv_heads, hd = t->attn.head_dim, d = t->d_model;
    size_t di = (size_t)d, GN = (size_t)H * hd;   // expand 1, G = H groups of N = hd
    char name[128];
    const char *proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    const float *w[4];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "model.layers.%d.self_attn.%s.weight", l, proj[i]);
        w[i] = tp + find_tensor(teacher, name)->offset;
    }
    float *dst = sp + st->offset;
    if (strstr(st->name, "out_proj")) {                 // (d, di) <- o_proj (d, H*hd)
        memcpy(dst, w[3], (size_t)d * di * sizeof *dst);
        return;
    }
    // in_proj (2*di + 2*GN + H, d): z | x | B | C | dt; z and dt stay fresh
    repeat_kv_rows(dst + di * d, w[2], H, Hkv, hd, d);             // x <- V
    repeat_kv_rows(dst + (2 * di) * d, w[1], H, Hkv, hd, d);       // B <- K
    memcpy(dst + (2 * di + GN) * d, w[0], GN * d * sizeof *dst);   // C <- Q
}

// 1 when student tensor st of a replaced layer is mapped (in_proj, out_proj).
static int is_mapped(const hl_tensor_info *st) {
    const char *dot = strstr(st->name, ".mamba2.");
    return dot && (!strcmp(dot, ".mamba2.in_proj.weight") || !strcmp(dot, ".mamba2.out_proj.weight"));
}

int hl_init_from_attention(hl_model *student, hl_model *teacher, uint64_t seed,
                           hl_afa_counts *counts, char *err, size_t errlen) {
    const hl_model_config *s = hl_model_cfg(student), *t = hl_model_cfg(teacher);
    int rc = check_configs(s, t, err, errlen);
    if (rc) return rc;
    hl_afa_counts c = {0, 0, 0};
    // pass 1: every kept tensor exists in the teacher with its shape
    for (int i = 0; i < hl_model_num_tensors(student); i++) {
        const hl_tensor_info *st = hl_model_tensor(student, i);
        int l = layer_of(st->name);
        if (l >= 0 && replaced(s, t, l) && strstr(st->name, ".mamba2.")) {
            if (is_mapped(st)) c.mapped++; else c.fresh++;
            continue;
        }
        const hl_tensor_info *tt = find_tensor(teacher, st->name);
        if (!tt)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: the student has this tensor and the teacher does not", st->name);
        if (!same_shape(st, tt))
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: the student's shape differs from the teacher's (model.ffn, "
                           "model.attn or model.meta_tokens differ)", st->name);
        c.copied++;
    }
    // pass 2: fresh init, then copies and mappings on host buffers
    float *sp = malloc(hl_model_numel(student) * sizeof *sp);
    float *tp = malloc(hl_model_numel(teacher) * sizeof *tp);
    if (!sp || !tp) {
        free(sp); free(tp);
        return hl_fail(err, errlen, HL_EFAIL, "init.from_attention: out of memory for the host copies of the parameters");
    }
    rc = hl_model_init(student, seed);
    if (rc == HL_OK) rc = hl_model_params_to_host(student, sp);
    if (rc == HL_OK) rc = hl_model_params_to_host(teacher, tp);
    if (rc != HL_OK) {
        free(sp); free(tp);
        return hl_fail(err, errlen, HL_EFAIL, "init.from_attention: could not initialise or read the parameters");
    }
    for (int i = 0; i < hl_model_num_tensors(student); i++) {
        const hl_tensor_info *st = hl_model_tensor(student, i);
        int l = layer_of(st->name);
        if (l >= 0 && replaced(s, t, l) && strstr(st->name, ".mamba2.")) {
            if (is_mapped(st)) map_tensor(st, sp, teacher, tp, l);
            continue;
        }
        const hl_tensor_info *tt = find_tensor(teacher, st->name);
        memcpy(sp + st->offset, tp + tt->offset, st->numel * sizeof *sp);
    }
    rc = hl_model_params_from_host(student, sp);
    free(sp); free(tp);
    if (rc != HL_OK) return hl_fail(err, errlen, HL_EFAIL, "init.from_attention: could not write the student's parameters");
    if (counts) *counts = c;
    return HL_OK;
}
