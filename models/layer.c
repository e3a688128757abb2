// layer.c: helpers shared by layer types: tensor declaration, arena carving,
// the deterministic initialiser (splitmix64 per tensor, seeded from the run
// seed and the tensor's name so that init does not depend on tensor order).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/layer.h"

// ---------------------------------------------------------------- declaring tensors
static int decl_grow(hl_decl *d) {
    if (d->n < d->cap) return 1;
    int cap = d->cap ? 2 * d->cap : 64;
    hl_tensor_info *infos = realloc(d->infos, (size_t)cap * sizeof *infos);
    if (infos) d->infos = infos;
    int *ol = realloc(d->owner_layer, (size_t)cap * sizeof(int));
    if (ol) d->owner_layer = ol;
    int *op = realloc(d->owner_part, (size_t)cap * sizeof(int));
    if (op) d->owner_part = op;
    int *os = realloc(d->owner_slot, (size_t)cap * sizeof(int));
    if (os) d->owner_slot = os;
    if (!infos || !ol || !op || !os) { d->failed = 1; return 0; }
    d->cap = cap;
    return 1;
}

static void decl_push(hl_decl *d, int layer, int part, int slot, const char *name,
                      const char *component, int weight_decay, int ndim, const int64_t *shape) {
    if (d->failed || !decl_grow(d)) return;
    hl_tensor_info *t = &d->infos[d->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->numel *= (size_t)shape[i]; }
    t->component = component;
    t->weight_decay = weight_decay;
    d->owner_layer[d->n] = layer;
    d->owner_part[d->n] = part;
    d->owner_slot[d->n] = slot;
    d->n++;
}

void hl_decl_layer(hl_decl *d, int slot, const char *suffix, const char *component,
                   int weight_decay, int ndim, int64_t d0, int64_t d1, int64_t d2) {
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.%s", d->cur_layer, suffix);
    int64_t shape[3] = {d0, d1, d2};
    decl_push(d, d->cur_layer, d->cur_part, slot, name, component, weight_decay, ndim, shape);
}

void hl_decl_global(hl_decl *d, int slot, const char *name, const char *component,
                    int weight_decay, int ndim, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    decl_push(d, -1, 0, slot, name, component, weight_decay, ndim, shape);
}

void hl_decl_free(hl_decl *d) {
    free(d->infos); free(d->owner_layer); free(d->owner_part); free(d->owner_slot);
    memset(d, 0, sizeof *d);
}

// ---------------------------------------------------------------- arena carving
float *hl_take(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;   // keep every buffer 64-byte aligned
    return p;
}

// ---------------------------------------------------------------- fills
void hl_fill_normal(float *p, size_t n, double std, uint64_t seed, const char *name) {
    hl_rng r = hl_rng_for(seed, name);
    for (size_t i = 0; i < n; i++) p[i] = (float)(std * hl_rng_normal(&r));
}

void hl_fill_uniform(float *p, size_t n, double bound, uint64_t seed, const char *name) {
    hl_rng r = hl_rng_for(seed, name);
    for (size_t i = 0; i < n; i++) p[i] = (float)(bound * (2.0 * hl_rng_uniform(&r) - 1.0));
}

void hl_fill_const(float *p, size_t n, float value) {
    for (size_t i = 0; i < n; i++) p[i] = value;
}

void hl_init_normal(hl_layer *L, int slot, double std, uint64_t seed) {
    if (L->p[slot]) hl_fill_normal(L->p[slot], L->t[slot]->numel, std, seed, L->t[slot]->name);
}
void hl_init_uniform(hl_layer *L, int slot, double bound, uint64_t seed) {
    if (L->p[slot]) hl_fill_uniform(L->p[slot], L->t[slot]->numel, bound, seed, L->t[slot]->name);
}
void hl_init_const(hl_layer *L, int slot, float value) {
    if (L->p[slot]) hl_fill_const(L->p[slot], L->t[slot]->numel, value);
}

double hl_resid_std(const hl_model_config *cfg) {
    return 0.02 / sqrt(2.0 * (cfg->n_layers > 0 ? cfg->n_layers : 1));
}

int hl_add_inplace(const hl_run *r, float *out, const float *x, size_t n) {
    hl_axpby_args a = { .out = out, .x = out, .y = x, .a = 1.0f, .b = 1.0f, .n = n };
    return HL_RUN_OP(r, axpby, &a);
}

int hl_linear(const hl_run *r, float *out, const float *inp, const float *w, int N, int IC, int OC) {
    hl_matmul_fwd_args m = { .out = out, .inp = inp, .weight = w, .bias = NULL, .N = N, .IC = IC, .OC = OC };
    return HL_RUN_OP(r, matmul_fwd, &m);
}

int hl_linear_bwd(const hl_run *r, float *dinp, float *dw, const float *dout, const float *inp,
                  const float *w, int N, int IC, int OC) {
    hl_matmul_bwd_args m = { .dinp = dinp, .dweight = dw, .dbias = NULL, .dout = dout,
                             .inp = inp, .weight = w, .N = N, .IC = IC, .OC = OC };
    return HL_RUN_OP(r, matmul_bwd, &m);
}
