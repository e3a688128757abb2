// train.c: one run of a spec: build the model, train it on its task, evaluate,
// report through a sink. Deterministic for a given seed and thread count.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness/train/optim.h"
#include "harness/train/train.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "models/checkpoint.h"
#include "tasks/task.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// ---------------------------------------------------------------- batches
typedef struct {
    int B, T;
    int32_t *inputs;   // (B, T)
    int32_t *targets;  // (B, T) HL_IGNORE where unlabelled
    int32_t *pos;      // (B*T) flat indices of labelled positions
    int32_t *labels;   // (B*T) targets at those positions
    int n_labelled;
} batch;

static int batch_alloc(batch *b, int B, int T) {
    b->B = B; b->T = T;
    b->inputs = malloc(sizeof(int32_t) * B * T);
    b->targets = malloc(sizeof(int32_t) * B * T);
    b->pos = malloc(sizeof(int32_t) * B * T);
    b->labels = malloc(sizeof(int32_t) * B * T);
    return b->inputs && b->targets && b->pos && b->labels;
}

static void batch_free(batch *b) {
    free(b->inputs); free(b->targets); free(b->pos); free(b->labels);
}

// Fills rows [0, rows) with examples first, first+1, ... of the split (the
// test split ignores the run's seed: see hl_task_fill).
static void batch_fill(batch *b, const hl_task_config *task, int vocab, uint64_t seed,
                       hl_split split, uint64_t first, int rows) {
    b->B = rows;
    b->T = task->seq_len;
    hl_task_fill(task, vocab, seed, split, first, rows, b->inputs, b->targets);
    b->n_labelled = hl_labelled_positions(b->targets, rows, b->T, b->pos);
    for (int i = 0; i < b->n_labelled; i++) b->labels[i] = b->targets[b->pos[i]];
}

static int task_vocab(const hl_task_config *task, const hl_model_config *mc) {
    return task->vocab_size > 0 ? task->vocab_size : mc->vocab_size;
}

// ---------------------------------------------------------------- eval
typedef struct { double accuracy, sem, loss; long examples; } eval_result;

// Accuracy = mean over labelled positions of argmax == label (Zoology);
// sem is the standard error over per-example accuracies.
static eval_result evaluate(hl_model *m, const hl_task_config *task, const hl_model_config *mc,
                            uint64_t seed, batch *b, int max_B) {
    eval_result res = {0, 0, 0, 0};
    int V = mc->vocab_size, T = task->seq_len;
    long n = task->num_examples, correct = 0, labelled = 0;
    double sum_acc = 0, sum_acc2 = 0, sum_loss = 0;
    for (long first = 0; first < n; first += max_B) {
        int rows = (int)(n - first < max_B ? n - first : max_B);
        batch_fill(b, task, task_vocab(task, mc), seed, HL_SPLIT_TEST, (uint64_t)first, rows);
        const float *logits;
        float loss = hl_model_forward(m, b->inputs, rows, T, b->pos, b->n_labelled, b->labels, &logits);
        sum_loss += (double)loss * b->n_labelled;
        // per-example accuracy: labelled positions are in row order
        int i = 0;
        for (int r = 0; r < rows; r++) {
            int ex_correct = 0, ex_n = 0;
            for (; i < b->n_labelled && b->pos[i] / T == r; i++) {
                const float *row = logits + (size_t)i * V;
                int best = 0;
                for (int v = 1; v < V; v++) if (row[v] > row[best]) best = v;
                ex_correct += best == b->labels[i];
                ex_n++;
            }
            double acc = ex_n ? (double)ex_correct / ex_n : 0;
            sum_acc += acc; sum_acc2 += acc * acc;
            correct += ex_correct; labelled += ex_n;
        }
    }
    res.examples = n;
    res.accuracy = labelled ? (double)correct / labelled : 0;
    res.loss = labelled ? sum_loss / labelled : 0;
    double mean = sum_acc / n, var = n > 1 ? (sum_acc2 - n * mean * mean) / (n - 1) : 0;
    res.sem = n > 1 && var > 0 ? sqrt(var / n) : 0;
    return res;
}

static void task_params_json(const hl_task_config *t, char *buf, size_t len) {
    snprintf(buf, len, "{\"num_kv_pairs\":%d,\"seq_len\":%d}", t->num_kv_pairs, t->seq_len);
}

static void report_eval(const hl_sink *sink, const hl_task_config *task, const eval_result *r) {
    char params[128];
    task_params_json(task, params, sizeof params);
    hl_metric acc = {task->name, "accuracy", r->accuracy, r->examples, r->sem, params};
    hl_metric loss = {task->name, "loss", r->loss, r->examples, NAN, params};
    if (sink->metric) { sink->metric(sink->ctx, &acc); sink->metric(sink->ctx, &loss); }
}

// ---------------------------------------------------------------- progress
typedef struct { int tty; double start, last_print; } progress;

static void progress_update(progress *pr, const char *label, int step, int steps, double loss,
                            double tokens_per_s, int force) {
    double t = now_s();
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

static int max_seq_len(const hl_spec *spec) {
    int T = spec->train.task.seq_len;
    for (int i = 0; i < spec->n_eval; i++) if (spec->eval[i].seq_len > T) T = spec->eval[i].seq_len;
    return T;
}

static hl_run_status fail(hl_run_summary *s, hl_run_status st, const char *msg) {
    s->status = st;
    snprintf(s->error, sizeof s->error, "%s", msg);
    return st;
}

static void run_evals(hl_model *m, const hl_spec *spec, const hl_sink *sink, batch *eb, int max_B,
                      int step, int final) {
    for (int i = 0; i < spec->n_eval; i++) {
        const hl_task_config *task = &spec->eval[i];
        eval_result r = evaluate(m, task, &spec->model, spec->train.seed, eb, max_B);
        if (final) report_eval(sink, task, &r);
        else if (sink->curve) {
            char name[96];
            snprintf(name, sizeof name, "%s.accuracy", task->name);
            sink->curve(sink->ctx, step, "eval", name, r.accuracy);
        }
    }
}

hl_run_status hl_train_run(const hl_spec *spec, const hl_run_opts *opts,
                           const hl_sink *sink, hl_run_summary *sum) {
    const hl_train_config *tc = &spec->train;
    const hl_model_config *mc = &spec->model;
    char err[HL_ERR_LEN];
    double t_start = now_s();
    summary_init(sum, opts);
    hl_blas_init(opts->threads);
    snprintf(sum->blas_core, sizeof sum->blas_core, "%s", hl_blas_core());
    sum->threads = hl_blas_threads();
    const hl_backend *be = hl_backend_get(opts->backend ? opts->backend : "cpu");
    if (!be) {
        char known[256];
        hl_backend_known(known, sizeof known);
        snprintf(err, sizeof err, "unknown backend '%s' (known: %s)", opts->backend, known);
        return fail(sum, HL_RUN_FAILED, err);
    }

    int B = tc->batch_size, T = tc->task.seq_len, max_T = max_seq_len(spec);
    hl_model *m = hl_model_create(mc, be, B, max_T, err, sizeof err);
    if (!m) return fail(sum, HL_RUN_FAILED, err);
    sum->params = (long long)hl_model_numel(m);
    hl_adam_state st = {0};
    batch tb, eb;
    if (hl_model_init(m, tc->seed) || hl_adam_create(&st, m) || !batch_alloc(&tb, B, T) || !batch_alloc(&eb, B, max_T)) {
        hl_adam_free(&st);
        hl_model_free(m);
        return fail(sum, HL_RUN_FAILED, "out of memory allocating optimizer state and batches");
    }

    progress pr = {isatty(2), now_s(), 0};
    int curve_every = tc->steps > 200 ? tc->steps / 200 : 1;
    double train_time = 0, loss = 0, tokens = 0;
    int vocab = task_vocab(&tc->task, mc);
    sum->status = HL_RUN_DONE;
    for (int step = 1; step <= tc->steps; step++) {
        double t0 = now_s();
        batch_fill(&tb, &tc->task, vocab, tc->seed, HL_SPLIT_TRAIN, (uint64_t)(step - 1) * B, B);
        hl_model_zero_grad(m);
        loss = hl_model_forward(m, tb.inputs, B, T, tb.pos, tb.n_labelled, tb.labels, NULL);
        hl_model_backward(m);
        if (hl_model_last_status(m)) {   // an op refused its arguments: an error, not a divergence
            snprintf(err, sizeof err, "step %d: %s", step, hl_op_error());
            fail(sum, HL_RUN_FAILED, err);
            sum->steps = step;
            break;
        }
        double gnorm = hl_model_grad_norm(m, &st), clip_scale;
        if (!isfinite(loss) || !isfinite(gnorm)) {
            if (isfinite(loss))
                snprintf(err, sizeof err, "gradient norm is %s at step %d (loss %.4g)", isnan(gnorm) ? "NaN" : "inf", step, loss);
            else
                snprintf(err, sizeof err, "loss is %s at step %d", isnan(loss) ? "NaN" : "inf", step);
            fail(sum, HL_RUN_DIVERGED, err);
            sum->steps = step;
            break;
        }
        int orc = hl_model_clip_grads(m, gnorm, tc->grad_clip, &clip_scale);
        double lr = hl_lr_at(tc, step);
        if (!orc) orc = hl_adamw_step(m, &st, tc, lr, step);
        if (orc) {
            snprintf(err, sizeof err, "step %d: optimizer: %s", step, hl_op_error());
            fail(sum, HL_RUN_FAILED, err);
            break;
        }
        train_time += now_s() - t0;
        tokens += (double)B * T;
        sum->steps = step;
        if (sink->curve && (step % curve_every == 0 || step == tc->steps || step == 1)) {
            sink->curve(sink->ctx, step, "train", "loss", loss);
            sink->curve(sink->ctx, step, "train", "lr", lr);
        }
        if (opts->progress) progress_update(&pr, opts->label ? opts->label : spec->name, step, tc->steps, loss, tokens / train_time, step == tc->steps);
        if (tc->debug_abort_step && step == tc->debug_abort_step) {
            fprintf(stderr, "[%s] train.debug_abort_step: raising SIGABRT at step %d\n", spec->name, step);
            abort();
        }
        if (tc->eval_every && step % tc->eval_every == 0 && step != tc->steps)
            run_evals(m, spec, sink, &eb, B, step, 0);
    }
    sum->final_train_loss = loss;
    sum->tokens_per_s = train_time > 0 ? tokens / train_time : 0;
    if (sum->status == HL_RUN_DONE) {
        run_evals(m, spec, sink, &eb, B, tc->steps, 1);
        if (opts->save_path && hl_ckpt_save(opts->save_path, m, spec->canonical_json, err, sizeof err) != HL_OK)
            fail(sum, HL_RUN_FAILED, err);
    }
    if (sink->measurement && sum->tokens_per_s > 0) {
        hl_measurement meas = {"train_tokens_per_s", B, T, sum->tokens_per_s, "tokens/s", tc->steps, NAN};
        sink->measurement(sink->ctx, &meas);
    }
    sum->wall_s = now_s() - t_start;
    batch_free(&tb); batch_free(&eb);
    hl_adam_free(&st);
    hl_model_free(m);
    return sum->status;
}

// ---------------------------------------------------------------- stdout sink
// JSON has no NaN or infinity: a non-finite value (a diverged loss) is null.
static void json_number(FILE *f, const char *key, double v, const char *fmt) {
    fprintf(f, ",\"%s\":", key);
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("null", f);
}

// One JSON object per metric: {"task":..,"metric":..,"value":..,"n":..,<params>}
static void stdout_metric(void *ctx, const hl_metric *mt) {
    (void)ctx;
    printf("{\"task\":\"%s\",\"metric\":\"%s\"", mt->task, mt->metric);
    json_number(stdout, "value", mt->value, "%.6g");
    printf(",\"n\":%ld", mt->n);
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
