// optim.c: learning-rate schedule, gradient clipping, AdamW (optim.h).
#include <math.h>
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

double hl_grad_global_norm(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

double hl_clip_grads(float *g, size_t n, double norm, double clip) {
    if (!(clip > 0 && norm > clip)) return 1.0;
    float scale = (float)(clip / norm);
    for (size_t i = 0; i < n; i++) g[i] *= scale;
    return scale;
}

void hl_adamw_step(const hl_ops *ops, hl_model *m, hl_adam_state *st, const hl_train_config *tc,
                   double lr, int step) {
    float *p = hl_model_params(m), *g = hl_model_grads(m);
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        hl_adamw_args a = {p + t->offset, st->m + t->offset, st->v + t->offset, g + t->offset,
                           t->numel, (float)lr, (float)tc->beta1, (float)tc->beta2,
                           (float)tc->adam_eps, t->weight_decay ? (float)tc->weight_decay : 0.0f, step};
        ops->adamw(&a);
    }
}
