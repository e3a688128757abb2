// measure.c: the measurement protocol of measure.h.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "core/clock.h"
#include "core/rng.h"
#include "harness/run/measure.h"
#include "harness/train/optim.h"
#include "kernels/kernels.h"
#include "models/decode.h"
#include "models/losses.h"
#include "models/model.h"

#define DTYPE_BYTES 4
#define HYMBA_CONTEXT 8192
#define HYMBA_BATCH 128

const char *hl_cpu_model(void) {
    static char model[128];
    if (model[0]) return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        snprintf(model, sizeof model, "%s", v);
        model[strcspn(model, "\n")] = 0;
        break;
    }
    fclose(f);
    return model;
}

long long hl_peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return kb * 1024;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return (long long)ru.ru_maxrss * 1024;   // Linux: kilobytes
}

// JSON has no NaN: a non-finite number is null. Whole numbers (byte
// counts) are printed exactly.
static void json_num(FILE *f, const char *key, double v) {
    if (!isfinite(v)) fprintf(f, ",\"%s\":null", key);
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) fprintf(f, ",\"%s\":%.0f", key, v);
    else fprintf(f, ",\"%s\":%.10g", key, v);
}

// s as a JSON string literal (quotes included).
static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

static void json_str(FILE *f, const char *key, const char *s) {
    fprintf(f, ",\"%s\":", key);
    json_string(f, s);
}

void hl_measurement_print_json(FILE *f, const hl_measurement *m) {
    fputs("{\"kind\":", f);
    json_string(f, m->kind);
    fprintf(f, ",\"batch\":%d,\"context\":%ld", m->batch, m->context);
    json_num(f, "value", m->value);
    json_str(f, "unit", m->unit);
    fprintf(f, ",\"repeats\":%d", m->repeats);
    const hl_measure_protocol *p = m->protocol;
    if (p) {
        fprintf(f, ",\"warmup\":%d", p->warmup);
        json_num(f, "min", m->min);
        json_num(f, "max", m->max);
    }
    json_num(f, "spread", m->spread);
    if (m->dtype_bytes > 0) fprintf(f, ",\"dtype_bytes\":%d", m->dtype_bytes);
    if (p) {
        fprintf(f, ",\"threads\":%d", p->threads);
        json_str(f, "backend", p->backend);
        json_str(f, "blas_core", p->blas_core);
        json_str(f, "cpu", p->cpu);
        json_str(f, "protocol", p->name);
    }
    fputs("}\n", f);
    fflush(f);
}

// ---------------------------------------------------------------- figures
typedef struct {
    const hl_sink *sink;
    hl_measure_protocol proto;
    int batch; long context;
} reporter;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const reporter *r, const char *kind, double value, const char *unit,
                   int repeats, double min, double max) {
    if (!r->sink->measurement) return;
    hl_measurement m = {.kind = kind, .batch = r->batch, .context = r->context, .value = value,
                        .unit = unit, .repeats = repeats, .spread = max - min, .min = min, .max = max,
                        .dtype_bytes = DTYPE_BYTES, .protocol = &r->proto};
    r->sink->measurement(r->sink->ctx, &m);
}

// A count (bytes): no repetitions.
static void report_count(const reporter *r, const char *kind, double value) {
    hl_measure_protocol p = r->proto;
    p.warmup = 0;
    reporter c = *r;
    c.proto = p;
    report(&c, kind, value, "bytes", 1, value, value);
}

// A rate from `repeats` times t[] of `work` units each: the median rate,
// min and max.
static void report_rate(const reporter *r, const char *kind, double work, const double *t, int repeats) {
    double rate[1000];
    for (int i = 0; i < repeats; i++) rate[i] = t[i] > 0 ? work / t[i] : INFINITY;
    qsort(rate, (size_t)repeats, sizeof *rate, cmp_double);
    double med = repeats % 2 ? rate[repeats / 2] : 0.5 * (rate[repeats / 2 - 1] + rate[repeats / 2]);
    report(r, kind, med, "tok/s", repeats, rate[0], rate[repeats - 1]);
}

// ---------------------------------------------------------------- one point
typedef struct {
    const hl_spec *spec;
    const hl_measure_opts *o;
    const hl_backend *be;
    int train;
    int32_t *tokens;         // (B, C) random ids, then (B) per decode step
    int32_t *targets;        // (B, C) for training
} point_ctx;

static void fill_random(int32_t *a, size_t n, int vocab, hl_rng *g) {
    for (size_t i = 0; i < n; i++) a[i] = (int32_t)(hl_rng_u64(g) % (uint64_t)vocab);
}

// Physical memory in bytes (0 when unknown: no check). Test hook
// (tests/test_bench.sh): HYLAB_DEBUG_MEMORY_BYTES=N takes N instead.
static double phys_bytes(void) {
    const char *dbg = getenv("HYLAB_DEBUG_MEMORY_BYTES");
    if (dbg && atof(dbg) > 0) return atof(dbg);
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

// Bytes a point needs: model arenas for (B, C), the decode state, tokens;
// gradients, AdamW moments and the training model's arenas with train.
static double point_bytes(const hl_model_config *cfg, int B, int C, int decode_tokens, int train) {
    hl_model_sizes z = hl_model_sizes_of(cfg, B, C + decode_tokens);
    if (z.params < 0) return INFINITY;
    double params = 4.0 * (double)z.params, acts = 4.0 * (double)(z.acts + z.ints);
    double need = params * 2 + acts + (double)B * (double)hl_model_cache_bytes(cfg, (int64_t)C + decode_tokens, 4)
                + 8.0 * B * C;
    if (train) need += params * 2 + acts;  // AdamW moments; the training model's arenas
    return need;
}

static int load_params(hl_model *m, const point_ctx *p, char *err, size_t errlen) {
    int rc = p->o->host_params ? hl_model_params_from_host(m, p->o->host_params)
                               : hl_model_init(m, p->spec->train.seed);
    if (rc) snprintf(err, errlen, "initialising the parameters failed");
    return rc;
}

// Prefill and decode figures (and the byte counts) at (B, C).
static int measure_inference(const point_ctx *p, reporter *r, int B, int C, char *err, size_t errlen) {
    const hl_spec *s = p->spec;
    const hl_measure_config *mc = &s->measure;
    int n = mc->decode_tokens, reps = mc->repeats;
    hl_model *m = hl_model_create(&s->model, p->be, B, C + n, err, errlen);
    if (!m) return HL_EFAIL;
    int rc = load_params(m, p, err, errlen);
    hl_infer *st = NULL, *probe = NULL;
    double state_bytes = 0;
    // Everything is allocated before the first figure of the point is
    // reported: a point that does not fit (Hymba's protocol halves the
    // batch then) reports nothing.
    if (!rc) {
        // The state at exactly C positions, as describe counts it.
        probe = hl_infer_create(m, B, C, err, errlen);
        if (!probe) rc = HL_EFAIL;
    }
    if (!rc) {
        state_bytes = (double)hl_infer_state_bytes(probe);
        hl_infer_free(probe);
        st = hl_infer_create(m, B, C + n, err, errlen);
        if (!st) rc = HL_EFAIL;
    }
    if (!rc) {
        report_count(r, "param_bytes", 4.0 * (double)hl_model_numel(m));
        hl_model_sizes z = hl_model_sizes_of(&s->model, B, C + n);
        report_count(r, "activation_bytes", 4.0 * (double)(z.acts + z.ints));
        report_count(r, "state_bytes", state_bytes);
        report_count(r, "state_bytes_analytic", (double)B * (double)hl_model_cache_bytes(&s->model, C, 4));
    }
    double t[1000];
    const float *logits;
    // prefill: warmup + repeats, each timed alone
    for (int i = 0; !rc && i < mc->warmup + reps; i++) {
        double t0 = hl_now_s();
        rc = hl_infer_prefill(st, p->tokens, B, C, NULL, &logits, err, errlen);
        if (i >= mc->warmup) t[i - mc->warmup] = hl_now_s() - t0;
    }
    if (!rc) report_rate(r, "prefill_tok_s", (double)B * C, t, reps);
    // decode: each repetition prefills (untimed), then times n steps
    for (int i = 0; !rc && n > 0 && i < mc->warmup + reps; i++) {
        rc = hl_infer_prefill(st, p->tokens, B, C, NULL, &logits, err, errlen);
        double t0 = hl_now_s();
        for (int k = 0; !rc && k < n; k++) rc = hl_infer_step(st, p->tokens + (size_t)k * B, &logits, err, errlen);
        if (i >= mc->warmup) t[i - mc->warmup] = hl_now_s() - t0;
    }
    if (!rc && n > 0) {
        report_rate(r, "decode_tok_s", (double)B * n, t, reps);
        report_rate(r, "decode_tok_s_per_seq", (double)n, t, reps);
    }
    hl_infer_free(st);
    hl_model_free(m);
    return rc;
}

// One optimizer step on random tokens at (B, C), timed: train_tok_s.
static int measure_train(const point_ctx *p, reporter *r, int B, int C, char *err, size_t errlen) {
    const hl_spec *s = p->spec;
    const hl_measure_config *mc = &s->measure;
    hl_model *m = hl_model_create(&s->model, p->be, B, C, err, errlen);
    if (!m) return HL_EFAIL;
    hl_adam_state adam = {0};
    int rc = load_params(m, p, err, errlen);
    if (!rc && hl_adam_create(&adam, m)) { snprintf(err, errlen, "out of memory for the AdamW state"); rc = HL_EFAIL; }
    const hl_ops *ops = hl_model_ops(m);
    float *dlogits, *row_losses;
    hl_model_loss_buffers(m, &dlogits, &row_losses);
    double t[1000];
    int N = B * C, V = s->model.vocab_size;
    for (int i = 0; !rc && i < mc->warmup + mc->repeats; i++) {
        double t0 = hl_now_s(), scale;
        const float *logits;
        float loss, aux;
        hl_model_zero_grad(m);
        rc = hl_model_forward(m, p->tokens, B, C, NULL, N, &logits, err, errlen);
        if (!rc) rc = hl_loss_xent(ops, logits, p->targets, N, V, -1, row_losses, dlogits, &loss, NULL, err, errlen);
        if (!rc) rc = hl_loss_aux(m, &aux, err, errlen);
        if (!rc) rc = hl_model_backward(m, dlogits, err, errlen);
        if (!rc) rc = hl_model_clip_grads(m, hl_model_grad_norm(m, &adam), s->train.grad_clip, &scale);
        if (!rc) rc = hl_adamw_step(m, &adam, &s->train, s->train.lr, i + 1);
        if (rc && !err[0]) snprintf(err, errlen, "training step: %s", hl_op_error());
        if (i >= mc->warmup) t[i - mc->warmup] = hl_now_s() - t0;
    }
    if (!rc) report_rate(r, "train_tok_s", (double)N, t, mc->repeats);
    hl_adam_free(&adam);
    hl_model_free(m);
    return rc;
}

static int measure_point(const point_ctx *p, reporter *r, int B, int C, char *err, size_t errlen) {
    r->batch = B; r->context = C;
    err[0] = 0;
    int rc = measure_inference(p, r, B, C, err, errlen);
    if (!rc && p->train) rc = measure_train(p, r, B, C, err, errlen);
    if (!rc) report_count(r, "peak_rss_bytes", (double)hl_peak_rss_bytes());
    return rc;
}

int hl_measure_run(const hl_spec *spec, const hl_measure_opts *o, const hl_sink *sink,
                   char *err, size_t errlen) {
    const hl_measure_config *mc = &spec->measure;
    const hl_backend *be = hl_backend_get(o->backend ? o->backend : "cpu");
    if (!be) { snprintf(err, errlen, "unknown backend '%s'", o->backend); return HL_EBADINPUT; }
    int hymba = !strcmp(mc->protocol, "hymba");
    reporter r = {.sink = sink,
                  .proto = {.name = hymba ? "hymba" : "grid", .warmup = mc->warmup, .threads = hl_blas_threads(),
                            .backend = be->name, .blas_core = hl_blas_core(), .cpu = hl_cpu_model()}};
    point_ctx p = {.spec = spec, .o = o, .be = be, .train = o->train && !hymba};
    double phys = phys_bytes();
    // Under "grid" every point is checked before anything is allocated.
    for (int i = 0; !hymba && i < mc->n_batch; i++)
        for (int j = 0; j < mc->n_context; j++) {
            int B = mc->batch[i], C = mc->context[j];
            double need = point_bytes(&spec->model, B, C, mc->decode_tokens, p.train);
            if (phys > 0 && need > phys) {
                snprintf(err, errlen, "measure: batch %d at context %d needs %.1f GiB; this machine has %.1f GiB of memory",
                         B, C, need / (1 << 30), phys / (1 << 30));
                return HL_EBADINPUT;
            }
        }
    // the largest point: token buffers for it
    long maxB = hymba ? HYMBA_BATCH : 1, maxC = hymba ? HYMBA_CONTEXT : 1;
    for (int i = 0; !hymba && i < mc->n_batch; i++) if (mc->batch[i] > maxB) maxB = mc->batch[i];
    for (int i = 0; !hymba && i < mc->n_context; i++) if (mc->context[i] > maxC) maxC = mc->context[i];
    size_t ntok = (size_t)maxB * (size_t)(maxC > mc->decode_tokens ? maxC : mc->decode_tokens);
    p.tokens = malloc(ntok * sizeof *p.tokens);
    p.targets = malloc(ntok * sizeof *p.targets);
    if (!p.tokens || !p.targets) {
        free(p.tokens); free(p.targets);
        snprintf(err, errlen, "out of memory for %zu token ids", ntok);
        return HL_EFAIL;
    }
    hl_rng g = hl_rng_for(spec->train.seed, "measure");
    fill_random(p.tokens, ntok, spec->model.vocab_size, &g);
    fill_random(p.targets, ntok, spec->model.vocab_size, &g);
    int rc = HL_OK;
    if (hymba) {
        // Halve the batch while the point does not fit or fails to allocate.
        for (int B = HYMBA_BATCH; B >= 1; B /= 2) {
            double need = point_bytes(&spec->model, B, HYMBA_CONTEXT, mc->decode_tokens, 0);
            if (phys > 0 && need > phys) {
                fprintf(stderr, "hylab: measure: batch %d at context %d needs %.2f GiB, more than the %.2f GiB of memory;"
                        " halving the batch\n", B, HYMBA_CONTEXT, need / (1 << 30), phys / (1 << 30));
                continue;
            }
            rc = measure_point(&p, &r, B, HYMBA_CONTEXT, err, errlen);
            if (rc != HL_EFAIL || B == 1) break;
            fprintf(stderr, "hylab: measure: batch %d at context %d: %s; halving the batch\n", B, HYMBA_CONTEXT, err);
        }
        if (!rc && r.batch == 0) {
            snprintf(err, errlen, "measure.protocol \"hymba\": batch 1 at context %d does not fit in memory", HYMBA_CONTEXT);
            rc = HL_EBADINPUT;
        }
    } else {
        for (int i = 0; !rc && i < mc->n_batch; i++)
            for (int j = 0; !rc && j < mc->n_context; j++)
                rc = measure_point(&p, &r, mc->batch[i], mc->context[j], err, errlen);
    }
    free(p.tokens); free(p.targets);
    return rc;
}

static void print_measurement(void *ctx, const hl_measurement *m) {
    (void)ctx;
    hl_measurement_print_json(stdout, m);
}

void hl_measure_after_train(const hl_spec *spec, const char *backend, const hl_sink *sink,
                            hl_run_summary *sum) {
    if (!spec->measure.after_train || sum->status != HL_RUN_DONE) return;
    hl_sink printer = {.measurement = print_measurement};
    hl_measure_opts o = {.backend = backend, .train = 1};
    char err[HL_ERR_LEN];
    if (hl_measure_run(spec, &o, sink->measurement ? sink : &printer, err, sizeof err) == HL_OK) return;
    sum->status = HL_RUN_FAILED;
    sum->fail_step = sum->steps;
    snprintf(sum->error, sizeof sum->error, "measure: %.1000s", err);
}
