// optim.c: learning-rate schedule, gradient clipping, AdamW (optim.h).
#include <math.h>
#include <stdlib.h>
#include "harness/train/optim.h"

double hl_lr_at(const hl_train_config *tc, int step) {
    int s = step - 1, W = tc->warmup_steps;
    if (s < W) return tc->lr * (s + 1) / W;
    if (tc->schedule == HL_SCHED_CONSTANT) return tc->lr;
    int decay = tc->steps - W;   // > 0 for any step in 1..steps here
    double f = decay > 0 ? (double)(s - W) / decay : 1.0;
    if (f > 1) f = 1;
    double shape = tc->schedule == HL_SCHED_COSINE ? 0.5 * (1 + cos(M_PI * f)) : 1 - f;
    return tc->min_lr + (tc->lr - tc->min_lr) * shape;
}

// s + the sum of squares of g[0..n), accumulated in order in double.
static double add_squares(double s, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

double hl_grad_global_norm(const float *g, size_t n) { return sqrt(add_squares(0, g, n)); }

double hl_clip_grads(float *g, size_t n, double norm, double clip) {
    if (!(clip > 0 && norm > clip)) return 1.0;
    float scale = (float)(clip / norm);
    for (size_t i = 0; i < n; i++) g[i] *= scale;
    return scale;
}

int hl_adam_create(hl_adam_state *st, hl_model *m) {
    const hl_backend *be = hl_model_backend(m);
    size_t n = hl_model_numel(m), bytes = n * sizeof(float);
    *st = (hl_adam_state){ .be = be, .n = n };
    st->m = be->alloc(bytes);
    st->v = be->alloc(bytes);
    st->host = malloc(HL_NORM_CHUNK * sizeof(float));
    if (!st->m || !st->v || !st->host) { hl_adam_free(st); return HL_EFAIL; }
    be->zero(st->m, bytes);
    be->zero(st->v, bytes);
    return HL_OK;
}

void hl_adam_free(hl_adam_state *st) {
    if (st->be) { st->be->free(st->m, st->n * sizeof(float)); st->be->free(st->v, st->n * sizeof(float)); }
    free(st->host);
    *st = (hl_adam_state){0};
}

double hl_model_grad_norm(hl_model *m, hl_adam_state *st) {
    const float *g = hl_model_grads(m);   // backend memory: only offsets are taken here
    double s = 0;
    for (size_t off = 0; off < st->n; off += HL_NORM_CHUNK) {
        size_t len = st->n - off < HL_NORM_CHUNK ? st->n - off : HL_NORM_CHUNK;
        st->be->d2h(st->host, g + off, len * sizeof(float));
        s = add_squares(s, st->host, len);
    }
    return sqrt(s);
}

int hl_model_clip_grads(hl_model *m, double norm, double clip, double *scale) {
    *scale = 1.0;
    if (!(clip > 0 && norm > clip)) return HL_OK;
    float s = (float)(clip / norm);
    *scale = s;
    float *g = hl_model_grads(m);
    hl_axpby_args a = { .out = g, .x = g, .y = g, .a = s, .b = 0.0f, .n = hl_model_numel(m) };
    return HL_OP_CALL(hl_model_backend(m)->ops, axpby, &a);
}

void hl_zero_frozen_grads(hl_model *m, const hl_train_config *tc) {
    const hl_backend *be = hl_model_backend(m);
    float *g = hl_model_grads(m);
    for (int i = 0; tc->n_freeze && i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (hl_train_frozen(tc, t->name)) be->zero(g + t->offset, t->numel * sizeof(float));
    }
}

int hl_adamw_step(hl_model *m, hl_adam_state *st, const hl_train_config *tc, double lr, int step) {
    const hl_ops *ops = hl_model_backend(m)->ops;
    float *p = hl_model_params(m), *g = hl_model_grads(m);
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        if (hl_train_frozen(tc, t->name)) continue;
        hl_adamw_args a = {p + t->offset, st->m + t->offset, st->v + t->offset, g + t->offset,
                           t->numel, (float)lr, (float)tc->beta1, (float)tc->beta2,
                           (float)tc->adam_eps, t->weight_decay ? (float)tc->weight_decay : 0.0f, step};
        int rc = HL_OP_CALL(ops, adamw, &a);
        if (rc) return rc;
    }
    return HL_OK;
}
