// train.c: one run of a spec: build the model, train it on its task, evaluate
// (its training-family eval entries; then opts->after_eval, through which
// harness/run runs the evaluation tasks), report through a sink. Deterministic for a given seed and thread count.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/clock.h"
#include "harness/train/optim.h"
#include "harness/train/train.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "models/layer.h"
#include "models/checkpoint.h"
#include "models/losses.h"
#include "tasks/task.h"

// ---------------------------------------------------------------- tasks
// The harness joins tasks and the model: a task fills a batch and names the
// positions that need logits; the model returns logits there; the loss
// (losses.h) and the task's scores are computed on them.

static int task_vocab(const hl_task_config *task, const hl_model_config *mc) {
    return task->vocab_size > 0 ? task->vocab_size : mc->vocab_size;
}

// Forward to logits at the batch's requested positions, then the mean
// cross-entropy over its labelled ones (and, with dlogits, its gradient).
static int batch_loss(hl_model *m, const hl_ops *ops, const hl_task_batch *b, const float **logits,
                      float *dlogits, float *loss, char *err, size_t errlen) {
    int rc = hl_model_forward(m, b->inputs, b->B, b->T, b->pos, b->n_out, logits, err, errlen);
    if (rc) return rc;
    float *row_losses;
    hl_model_loss_buffers(m, NULL, &row_losses);
    const hl_model_config *mc = hl_model_cfg(m);
    return hl_loss_xent(ops, *logits, b->labels, b->n_out, mc->vocab_size, HL_IGNORE,
                        row_losses, dlogits, loss, NULL, err, errlen);
}

// ---------------------------------------------------------------- eval
// Walks the task's evaluation examples in batches of up to max_B rows and
// leaves the task's report in *rep.
static int evaluate(hl_model *m, const hl_ops *ops, hl_task *task, hl_task_batch *b, int max_B, hl_task_report *rep,
                    char *err, size_t errlen) {
    long n = hl_task_eval_examples(task);
    int V = hl_model_cfg(m)->vocab_size;
    hl_task_reset(task);
    for (long first = 0; first < n; first += max_B) {
        int rows = (int)(n - first < max_B ? n - first : max_B);
        int rc = hl_task_fill(task, HL_SPLIT_TEST, (uint64_t)first, rows, b, err, errlen);
        const float *logits;
        float loss;
        if (!rc) rc = batch_loss(m, ops, b, &logits, NULL, &loss, err, errlen);
        if (!rc) rc = hl_task_score(task, b, logits, V, loss, err, errlen);
        if (rc) return rc;
    }
    hl_task_report_get(task, rep);
    return HL_OK;
}

static void report_eval(const hl_sink *sink, const char *task, const hl_task_report *r) {
    for (int i = 0; sink->metric && i < r->n_metrics; i++) {
        const hl_task_metric *tm = &r->metric[i];
        hl_metric mt = {task, tm->name, tm->value, tm->n, tm->sem, r->params_json, r->version};
        sink->metric(sink->ctx, &mt);
    }
}

// ---------------------------------------------------------------- progress
typedef struct { int tty; double start, last_print; } progress;

static void progress_update(progress *pr, const char *label, int step, int steps, double loss,
                            double tokens_per_s, int force) {
    double t = hl_now_s();
    if (!force && pr->tty && t - pr->last_print < 0.2) return;
    if (!force && !pr->tty && t - pr->last_print < 30 && step % (steps / 10 ? steps / 10 : 1)) return;
    pr->last_print = t;
    double eta = step ? (t - pr->start) / step * (steps - step) : 0;
    fprintf(stderr, "%s[%s] step %d/%d  loss %.4f  %.0f tok/s  ETA %.0fs%s",
            pr->tty ? "\r" : "", label, step, steps, loss, tokens_per_s, eta,
            pr->tty ? "   " : "\n");
    if (pr->tty && force) fputc('\n', stderr);
}

// ---------------------------------------------------------------- the run
static void summary_init(hl_run_summary *s, const hl_run_opts *o) {
    memset(s, 0, sizeof *s);
    s->status = HL_RUN_FAILED;
    snprintf(s->backend, sizeof s->backend, "%s", o->backend ? o->backend : "cpu");
}

static int max_seq_len(const hl_spec *spec) { return hl_spec_longest_seq_len(spec); }

// fail_step: the step at which the run stopped (sum->steps when none).
static hl_run_status fail_at(hl_run_summary *s, hl_run_status st, int fail_step, const char *msg) {
    s->status = st;
    s->fail_step = fail_step;
    snprintf(s->error, sizeof s->error, "%s", msg);
    return st;
}

static hl_run_status fail(hl_run_summary *s, hl_run_status st, const char *msg) {
    return fail_at(s, st, s->steps, msg);
}

// The training task and the eval tasks, opened for the run.
typedef struct {
    hl_task *train;
    hl_task *eval[HL_MAX_EVAL];
    int n_eval;
} run_tasks;

static void tasks_close(run_tasks *t) {
    hl_task_close(t->train);
    for (int i = 0; i < t->n_eval; i++) hl_task_close(t->eval[i]);
}

static int tasks_open(run_tasks *t, const hl_spec *spec, const char *data_dir, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    const hl_model_config *mc = &spec->model;
    const hl_task_config *tc = &spec->train.task;
    int rc = hl_task_open(tc, task_vocab(tc, mc), data_dir, spec->train.seed, &t->train, err, errlen);
    for (int i = 0; !rc && i < spec->n_eval; i++, t->n_eval++)
        rc = hl_task_open(&spec->eval[i], task_vocab(&spec->eval[i], mc), data_dir, spec->train.seed,
                          &t->eval[i], err, errlen);
    if (rc) tasks_close(t);
    return rc;
}

// Evaluates every eval task: final, the metrics go to the sink; else the
// headline metric as the "<task>.<metric>" eval curve.
static int run_evals(hl_model *m, const hl_ops *ops, const hl_spec *spec, run_tasks *tasks, const hl_sink *sink,
                     hl_task_batch *eb, int max_B, int step, int final, char *err, size_t errlen) {
    for (int i = 0; i < spec->n_eval; i++) {
        hl_task_report r;
        int rc = evaluate(m, ops, tasks->eval[i], eb, max_B, &r, err, errlen);
        if (rc) return rc;
        if (final) report_eval(sink, spec->eval[i].name, &r);
        else if (sink->curve && r.n_metrics > 0) {
            char name[96];
            snprintf(name, sizeof name, "%s.%s", spec->eval[i].name, r.metric[0].name);
            sink->curve(sink->ctx, step, "eval", name, r.metric[0].value);
        }
    }
    return HL_OK;
}

// The teacher of train.teacher (NULL model without one): its model built
// from the checkpoint's own spec on the student's backend, and the KL
// scratch of hl_loss_distill (HL_DISTILL_ROWS x V).
typedef struct {
    hl_model *m;
    float *scratch;
    const hl_teacher_config *cfg;
} teacher_run;

static void teacher_close(teacher_run *t) {
    hl_model_free(t->m);
    free(t->scratch);
    memset(t, 0, sizeof *t);
}

// Builds the teacher for B x max_T positions and loads its weights. The
// vocab and width were checked before the run (hl_spec_check_teacher); they
// are checked again here, since the file may have changed since.
static int teacher_open(teacher_run *t, const hl_spec *spec, const hl_backend *be, int B, int max_T,
                        char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->cfg = &spec->train.teacher;
    if (!t->cfg->on) return HL_OK;
    int rc = hl_spec_check_teacher(spec, spec->name, err, errlen);
    if (rc) return rc;
    char *json = NULL;
    hl_spec ts;
    rc = hl_ckpt_read_spec(t->cfg->ckpt, &json, err, errlen);
    if (!rc) rc = hl_spec_load_text(json, t->cfg->ckpt, NULL, 0, &ts, err, errlen);
    free(json);
    if (rc) return rc;
    t->m = hl_model_create(&ts.model, be, B, max_T, err, errlen);
    hl_spec_free(&ts);
    if (!t->m) return HL_EFAIL;
    rc = hl_ckpt_load(t->cfg->ckpt, t->m, err, errlen);
    t->scratch = malloc(sizeof(float) * HL_DISTILL_ROWS * (size_t)spec->model.vocab_size);
    if (!rc && !t->scratch) rc = hl_fail(err, errlen, HL_EFAIL, "out of memory for the distillation scratch");
    if (rc) teacher_close(t);
    return rc;
}

// The terms of one step's loss, for the curves.
typedef struct { double loss, kl, ce; } step_loss;

// One optimizer step's loss and gradients on batch tb: the cross-entropy
// (or, with a teacher, kl_weight * KL + ce_weight * CE: the teacher runs
// forward only, on the same batch) plus the modules' auxiliary losses.
static int train_step_grads(hl_model *m, const hl_ops *ops, const teacher_run *t, const hl_task_batch *tb,
                            step_loss *out, char *err, size_t errlen) {
    const float *logits, *tlogits = NULL;
    float *dlogits, *row_losses, total, aux, kl = 0, ce = 0;
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    hl_model_zero_grad(m);
    int rc = HL_OK;
    if (t->m) {
        rc = hl_model_forward(t->m, tb->inputs, tb->B, tb->T, tb->pos, tb->n_out, &tlogits, err, errlen);
        if (!rc) rc = hl_model_forward(m, tb->inputs, tb->B, tb->T, tb->pos, tb->n_out, &logits, err, errlen);
        if (!rc) rc = hl_loss_distill(ops, logits, tlogits, tb->labels, tb->n_out, hl_model_cfg(m)->vocab_size, HL_IGNORE,
                                      t->cfg->kl_weight, t->cfg->ce_weight, t->cfg->temperature, row_losses, dlogits,
                                      t->scratch, &total, &kl, &ce, err, errlen);
    } else {
        rc = batch_loss(m, ops, tb, &logits, dlogits, &total, err, errlen);
        ce = total;
    }
    if (!rc) rc = hl_loss_aux(m, &aux, err, errlen);
    if (!rc) rc = hl_model_backward(m, dlogits, err, errlen);
    if (!rc) *out = (step_loss){total + aux, kl, ce};
    return rc;
}

// The statistics of the modules' last forward (layer.h stat: the moe FFN's
// router load balance, entropy, per-expert fractions) as "train" curves
// named "<type>.L<layer>.<stat>", e.g. "moe.L3.frac.e5".
static void record_layer_stats(const hl_model *m, const hl_sink *sink, int step) {
    for (int l = 0; l < hl_model_cfg(m)->n_layers; l++)
        for (int part = HL_PART_MIXER; part <= HL_PART_FFN; part++) {
            const hl_layer *L = hl_model_part(m, l, part);
            if (!L || !L->type || !L->type->stat) continue;
            char stat[64], name[128];
            double v;
            for (int i = 0; L->type->stat(L, i, stat, sizeof stat, &v); i++) {
                snprintf(name, sizeof name, "%s.L%d.%s", L->type->name, l, stat);
                sink->curve(sink->ctx, step, "train", name, v);
            }
        }
}

hl_run_status hl_train_run(const hl_spec *spec, const hl_run_opts *opts,
                           const hl_sink *sink, hl_run_summary *sum) {
    const hl_train_config *tc = &spec->train;
    const hl_model_config *mc = &spec->model;
    char err[HL_ERR_LEN];
    double t_start = hl_now_s();
    summary_init(sum, opts);
    hl_blas_init(opts->threads);
    snprintf(sum->blas_core, sizeof sum->blas_core, "%s", hl_blas_core());
    sum->threads = hl_blas_threads();
    const hl_backend *be = hl_backend_lookup(opts->backend ? opts->backend : "cpu", err, sizeof err);
    if (!be) return fail(sum, HL_RUN_FAILED, err);
    const hl_ops *ops = be->ops;

    int B = tc->batch_size, T = tc->task.seq_len, max_T = max_seq_len(spec);
    run_tasks tasks;
    if (tasks_open(&tasks, spec, opts->data_dir, err, sizeof err)) return fail(sum, HL_RUN_FAILED, err);
    hl_model *m = hl_model_create(mc, be, B, max_T, err, sizeof err);
    if (!m) { tasks_close(&tasks); return fail(sum, HL_RUN_FAILED, err); }
    sum->params = (long long)hl_model_numel(m);
    hl_model_counts counts = hl_model_count(mc, 1);
    sum->active_params = sum->params - (long long)(counts.params - counts.active_params);
    teacher_run teacher;
    if (teacher_open(&teacher, spec, be, B, max_T, err, sizeof err)) {
        hl_model_free(m);
        tasks_close(&tasks);
        return fail(sum, HL_RUN_FAILED, err);
    }
    hl_adam_state st = {0};
    hl_task_batch tb, eb;
    int tb_ok = hl_task_batch_alloc(&tb, B, T) == HL_OK, eb_ok = hl_task_batch_alloc(&eb, B, max_T) == HL_OK;
    if (hl_model_init(m, tc->seed) || hl_adam_create(&st, m) || !tb_ok || !eb_ok) {
        if (tb_ok) hl_task_batch_free(&tb);
        if (eb_ok) hl_task_batch_free(&eb);
        hl_adam_free(&st);
        teacher_close(&teacher);
        hl_model_free(m);
        tasks_close(&tasks);
        return fail(sum, HL_RUN_FAILED, "out of memory allocating optimizer state and batches");
    }

    // Test-only hook (tests/test_runner.sh): HYLAB_DEBUG_BAD_TOKEN_STEP=N puts
    // token id -1 into the batch of step N, so that the forward refuses it
    // and the run fails at that step (a status, not a NaN).
    const char *bad_env = getenv("HYLAB_DEBUG_BAD_TOKEN_STEP");
    int bad_token_step = bad_env ? atoi(bad_env) : 0;
    progress pr = {isatty(2), hl_now_s(), 0};
    int curve_every = tc->steps > 200 ? tc->steps / 200 : 1;
    double train_time = 0, loss = 0, tokens = 0;
    sum->status = HL_RUN_DONE;
    for (int step = 1; step <= tc->steps; step++) {
        double t0 = hl_now_s();
        int rc = hl_task_fill(tasks.train, HL_SPLIT_TRAIN, (uint64_t)(step - 1) * B, B, &tb, err, sizeof err);
        if (!rc && step == bad_token_step) tb.inputs[0] = -1;   // test hook: a programming error
        step_loss sl;
        if (!rc) rc = train_step_grads(m, ops, &teacher, &tb, &sl, err, sizeof err);
        if (!rc) { loss = sl.loss; hl_zero_frozen_grads(m, tc); }
        if (rc) {   // a task, model, loss or op error: the run failed (not a divergence)
            char msg[HL_ERR_LEN];
            snprintf(msg, sizeof msg, "step %d: %.1000s", step, err);
            fail_at(sum, HL_RUN_FAILED, step, msg);
            break;
        }
        double gnorm = hl_model_grad_norm(m, &st), clip_scale;
        if (!isfinite(loss) || !isfinite(gnorm)) {
            if (isfinite(loss))
                snprintf(err, sizeof err, "gradient norm is %s at step %d (loss %.4g)", isnan(gnorm) ? "NaN" : "inf", step, loss);
            else
                snprintf(err, sizeof err, "loss is %s at step %d", isnan(loss) ? "NaN" : "inf", step);
            fail_at(sum, HL_RUN_DIVERGED, step, err);
            sum->steps = step;
            break;
        }
        int orc = hl_model_clip_grads(m, gnorm, tc->grad_clip, &clip_scale);
        double lr = hl_lr_at(tc, step);
        if (!orc) orc = hl_adamw_step(m, &st, tc, lr, step);
        if (orc) {
            snprintf(err, sizeof err, "step %d: optimizer: %s", step, hl_op_error());
            fail_at(sum, HL_RUN_FAILED, step, err);
            break;
        }
        train_time += hl_now_s() - t0;
        tokens += (double)B * T;
        sum->steps = step;
        if (sink->curve && (step % curve_every == 0 || step == tc->steps || step == 1)) {
            sink->curve(sink->ctx, step, "train", "loss", loss);
            sink->curve(sink->ctx, step, "train", "lr", lr);
            if (teacher.m) {   // the unweighted terms (the loss curve has the weighted sum)
                sink->curve(sink->ctx, step, "train", "kl", sl.kl);
                sink->curve(sink->ctx, step, "train", "ce", sl.ce);
            }
            record_layer_stats(m, sink, step);
        }
        if (opts->progress) progress_update(&pr, opts->label ? opts->label : spec->name, step, tc->steps, loss, tokens / train_time, step == tc->steps);
        if (tc->debug_abort_step && step == tc->debug_abort_step) {
            fprintf(stderr, "[%s] train.debug_abort_step: raising SIGABRT at step %d\n", spec->name, step);
            abort();
        }
        if (tc->eval_every && step % tc->eval_every == 0 && step != tc->steps &&
            run_evals(m, ops, spec, &tasks, sink, &eb, B, step, 0, err, sizeof err)) {
            fail_at(sum, HL_RUN_FAILED, step, err);
            break;
        }
    }
    sum->final_train_loss = loss;
    sum->tokens_per_s = train_time > 0 ? tokens / train_time : 0;
    if (sum->status == HL_RUN_DONE) {
        if (run_evals(m, ops, spec, &tasks, sink, &eb, B, tc->steps, 1, err, sizeof err) ||
            (opts->after_eval && opts->after_eval(opts->after_eval_ctx, m, spec, sink, err, sizeof err)))
            fail(sum, HL_RUN_FAILED, err);
        else if (opts->save_path && hl_ckpt_save(opts->save_path, m, spec->canonical_json, err, sizeof err) != HL_OK)
            fail(sum, HL_RUN_FAILED, err);
    }
    if (sink->measurement && sum->tokens_per_s > 0) {
        hl_measurement meas = {.kind = "train_tokens_per_s", .batch = B, .context = T, .value = sum->tokens_per_s,
                               .unit = "tokens/s", .repeats = tc->steps, .spread = NAN};
        sink->measurement(sink->ctx, &meas);
    }
    sum->wall_s = hl_now_s() - t_start;
    hl_task_batch_free(&tb); hl_task_batch_free(&eb);
    hl_adam_free(&st);
    teacher_close(&teacher);
    hl_model_free(m);
    tasks_close(&tasks);
    return sum->status;
}

// ---------------------------------------------------------------- stdout sink
// JSON has no NaN or infinity: a non-finite value (a diverged loss) is null.
static void json_number(FILE *f, const char *key, double v, const char *fmt) {
    fprintf(f, ",\"%s\":", key);
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("null", f);
}

// One JSON object per metric: {"task":..,"metric":..,"value":..,"n":..,"version":..,<params>}
static void stdout_metric(void *ctx, const hl_metric *mt) {
    (void)ctx;
    printf("{\"task\":\"%s\",\"metric\":\"%s\"", mt->task, mt->metric);
    json_number(stdout, "value", mt->value, "%.6g");
    printf(",\"n\":%ld", mt->n);
    if (mt->version) printf(",\"version\":\"%s\"", mt->version);
    if (!isnan(mt->sem)) json_number(stdout, "sem", mt->sem, "%.6g");
    const char *p = mt->params_json;
    if (p && p[0] == '{' && p[1] != '}') printf(",%.*s", (int)strlen(p) - 2, p + 1);
    printf("}\n");
    fflush(stdout);
}

hl_sink hl_stdout_sink(void) {
    hl_sink s = {NULL, NULL, stdout_metric, NULL};
    return s;
}

static const char *status_name(hl_run_status s) {
    return s == HL_RUN_DONE ? "done" : s == HL_RUN_DIVERGED ? "diverged" : "failed";
}

// Writes s as a JSON string literal (quotes included).
static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

void hl_print_summary_json(FILE *f, const hl_spec *spec, const hl_run_summary *s) {
    fputs("{\"summary\":true,\"name\":", f);
    json_string(f, spec->name);
    fprintf(f, ",\"spec_hash\":\"%s\",\"status\":\"%s\",\"steps\":%d",
            spec->hash, status_name(s->status), s->steps);
    json_number(f, "final_train_loss", s->final_train_loss, "%.6g");
    json_number(f, "tokens_per_s", s->tokens_per_s, "%.1f");
    json_number(f, "wall_s", s->wall_s, "%.3f");
    fprintf(f, ",\"params\":%lld,\"backend\":\"%s\",\"blas_core\":\"%s\",\"threads\":%d",
            s->params, s->backend, s->blas_core, s->threads);
    if (s->status != HL_RUN_DONE) {
        fputs(",\"error\":", f);
        json_string(f, s->error);
    }
    fputs("}\n", f);
    fflush(f);
}
