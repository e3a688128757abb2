// cmd_bench.c: `hylab bench SPEC_OR_CKPT [--set k=v]... [--db FILE]
// [--threads N] [--backend B] [--no-train]`: the measurements of
// harness/run/measure.h over the spec's measure grid, one JSON object per
// figure on stdout; with --db they are recorded as a run of the sweep
// "bench" (variant: the spec's name), replacing an earlier bench of the
// same spec.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/sha256.h"
#include "db/db.h"
#include "harness/cli/commands.h"
#include "harness/run/measure.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/checkpoint.h"
#include "models/model.h"

#define MAX_SETS 64
#define MAX_FIGURES 4096

typedef struct {
    const char *input, *db, *backend;
    const char *sets[MAX_SETS]; int n_sets;
    int threads, train;
} bench_args;

static void usage(FILE *f) {
    fprintf(f,
        "usage: hylab bench SPEC_OR_CKPT [--set k=v]... [--db FILE] [--threads N]\n"
        "                   [--backend cpu|cpu_ref] [--no-train]\n"
        "\n"
        "Measures the spec's model (or a checkpoint's: FILE.safetensors, its weights)\n"
        "over the grid measure.batch x measure.context and prints one JSON object per\n"
        "figure: param_bytes, activation_bytes, state_bytes, state_bytes_analytic,\n"
        "prefill_tok_s, decode_tok_s (all sequences), decode_tok_s_per_seq,\n"
        "train_tok_s and peak_rss_bytes, each with its protocol: the median of\n"
        "measure.repeats timed repetitions after measure.warmup untimed ones, min,\n"
        "max, threads, BLAS core, CPU model, dtype_bytes. Prefill and decode are\n"
        "timed apart (decode: measure.decode_tokens steps after an untimed prefill).\n"
        "\n"
        "  --set k=v         override a spec key (repeatable), e.g.\n"
        "                    --set 'measure.batch=[1,4]' --set 'measure.context=[256,1024]'\n"
        "                    --set measure.protocol=hymba (context 8192, batch 128,\n"
        "                    halved until it fits); a checkpoint takes measure.* only\n"
        "  --db FILE         also record the figures in FILE (sweep \"bench\", variant =\n"
        "                    the spec's name; table measurements)\n"
        "  --threads N       threads, 0..1024 (default 0: all cores)\n"
        "  --backend B       cpu (default) or cpu_ref\n"
        "  --no-train        leave out train_tok_s\n"
        "\n"
        "Exit status: 0 measured, 1 a measurement or the database failed, 2 bad input\n"
        "(nothing measured or written).\n");
}

// Returns -1 to go on, else the exit status.
static int parse_args(int argc, char **argv, bench_args *a) {
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    a->train = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 0; }
        if (!strcmp(o, "--no-train")) { a->train = 0; continue; }
        if (!strncmp(o, "--", 2)) {
            int known = !strcmp(o, "--set") || !strcmp(o, "--db") || !strcmp(o, "--threads") || !strcmp(o, "--backend");
            if (!known) { fprintf(stderr, "hylab bench: unknown option %s (see --help)\n", o); return 2; }
            if (i + 1 >= argc) { fprintf(stderr, "hylab bench: %s needs a value\n", o); return 2; }
            const char *v = argv[++i];
            if (!strcmp(o, "--set")) {
                if (a->n_sets == MAX_SETS) { fprintf(stderr, "hylab bench: too many --set\n"); return 2; }
                a->sets[a->n_sets++] = v;
            } else if (!strcmp(o, "--db")) {
                a->db = v;
            } else if (!strcmp(o, "--backend")) {
                a->backend = v;
            } else {
                char *end;
                errno = 0;
                long t = strtol(v, &end, 10);
                if (!*v || *end || errno || t < 0 || t > HL_MAX_THREADS) {
                    fprintf(stderr, "hylab bench: --threads: expected an integer in [0, %d], got '%s'\n", HL_MAX_THREADS, v);
                    return 2;
                }
                a->threads = (int)t;
            }
            continue;
        }
        if (a->input) { fprintf(stderr, "hylab bench: more than one SPEC_OR_CKPT ('%s', '%s')\n", a->input, o); return 2; }
        a->input = o;
    }
    if (!a->input) { usage(stderr); return 2; }
    return -1;
}

static int is_ckpt(const char *path) {
    size_t n = strlen(path), k = strlen(".safetensors");
    return n > k && !strcmp(path + n - k, ".safetensors");
}

// The spec (with --set) and, for a checkpoint, its weights on the host.
static int load_input(const bench_args *a, hl_spec *spec, float **host, char *err, size_t errlen) {
    *host = NULL;
    if (!is_ckpt(a->input)) return hl_spec_load_file(a->input, a->sets, a->n_sets, spec, err, errlen);
    for (int i = 0; i < a->n_sets; i++)
        if (strncmp(a->sets[i], "measure.", 8)) {
            snprintf(err, errlen, "%s: --set %s: a checkpoint's model is fixed; only measure.* keys can be set",
                     a->input, a->sets[i]);
            return HL_EBADINPUT;
        }
    char *text = NULL, source[1100];
    int rc = hl_ckpt_read_spec(a->input, &text, err, errlen);
    snprintf(source, sizeof source, "%s (metadata spec)", a->input);
    if (!rc) rc = hl_spec_load_text(text, source, a->sets, a->n_sets, spec, err, errlen);
    free(text);
    if (rc) return rc;
    hl_model *m = hl_model_create(&spec->model, hl_backend_get("cpu_ref"), 1, 1, err, errlen);
    if (!m) rc = HL_EFAIL;
    if (!rc) rc = hl_ckpt_load(a->input, m, err, errlen);
    if (!rc) {
        *host = malloc(hl_model_numel(m) * sizeof **host);
        if (!*host) { snprintf(err, errlen, "out of memory for the checkpoint's weights"); rc = HL_EFAIL; }
        else rc = hl_model_params_to_host(m, *host);
    }
    hl_model_free(m);
    if (rc) { hl_spec_free(spec); free(*host); *host = NULL; }
    return rc;
}

// ---------------------------------------------------------------- figures
// Every figure is printed, and kept (deep copies) for the database.
typedef struct {
    hl_measurement m[MAX_FIGURES];
    hl_measure_protocol pm[MAX_FIGURES];  // m[i].protocol: p's strings, the figure's warmup
    hl_measure_protocol p;
    int n;
    char oom;
} figures;

static void on_measurement(void *ctx, const hl_measurement *m) {
    figures *f = ctx;
    hl_measurement_print_json(stdout, m);
    if (f->n == MAX_FIGURES) { f->oom = 1; return; }
    hl_measurement *c = &f->m[f->n++];
    *c = *m;
    c->kind = strdup(m->kind);
    c->unit = strdup(m->unit);
    if (m->protocol && !f->p.name) {   // one protocol per bench; the counts' warmup is 0
        f->p = *m->protocol;
        f->p.name = strdup(m->protocol->name); f->p.backend = strdup(m->protocol->backend);
        f->p.blas_core = strdup(m->protocol->blas_core); f->p.cpu = strdup(m->protocol->cpu);
    }
    if (!c->kind || !c->unit) f->oom = 1;
    if (m->protocol) {
        f->pm[f->n - 1] = f->p;
        f->pm[f->n - 1].warmup = m->protocol->warmup;
        c->protocol = &f->pm[f->n - 1];
    }
}

static void figures_free(figures *f) {
    for (int i = 0; i < f->n; i++) { free((char *)f->m[i].kind); free((char *)f->m[i].unit); }
    free((char *)f->p.name); free((char *)f->p.backend); free((char *)f->p.blas_core); free((char *)f->p.cpu);
}

// Records the figures as the result of run (sweep "bench", variant = spec
// name), replacing an earlier bench of the same spec.
static int record(const char *path, const hl_spec *spec, figures *f, double wall, char *err, size_t errlen) {
    hl_db *db;
    if (hl_db_open(path, HL_DB_CREATE, &db, err, errlen)) return HL_EFAIL;
    char hash[65];
    size_t n = strlen(spec->canonical_json) + 16;
    char *src = malloc(n);
    if (!src) { hl_db_close(db); snprintf(err, errlen, "out of memory"); return HL_EFAIL; }
    snprintf(src, n, "bench\n%s", spec->canonical_json);
    hl_sha256_hex(src, strlen(src), hash);
    free(src);
    hl_db_prov prov;
    hl_db_provenance(&prov);
    long long sweep_id, run_id;
    hl_claim_result res;
    hl_claim_opts co = {.force = 1, .pid = (int)getpid(), .prov = &prov, .threads = f->p.threads,
                        .backend = f->p.backend};
    hl_db_sink *sink = NULL;
    int rc = hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (!rc) rc = hl_db_record_sweep(db, "bench", spec->canonical_json, hash, &sweep_id, err, errlen);
    if (!rc) rc = hl_db_plan_run(db, sweep_id, "bench", spec->name, "{}", spec->hash, spec->canonical_json,
                                 &run_id, err, errlen);
    if (!rc) rc = hl_db_exec(db, "COMMIT", err, errlen);
    else hl_db_exec(db, "ROLLBACK", NULL, 0);
    if (!rc) rc = hl_db_claim_run(db, run_id, &co, &res, err, errlen);
    if (!rc && res != HL_CLAIM_OK) {
        snprintf(err, errlen, "%s: the bench of %s is being recorded by another process", path, spec->name);
        rc = HL_EFAIL;
    }
    if (!rc) rc = hl_db_sink_new(db, run_id, &sink, err, errlen);
    if (!rc) {
        hl_sink k = hl_db_sink_iface(sink);
        for (int i = 0; i < f->n; i++) k.measurement(k.ctx, &f->m[i]);
        hl_run_summary sum;
        memset(&sum, 0, sizeof sum);
        sum.status = HL_RUN_DONE;
        snprintf(sum.backend, sizeof sum.backend, "%s", f->p.backend ? f->p.backend : "cpu");
        snprintf(sum.blas_core, sizeof sum.blas_core, "%s", f->p.blas_core ? f->p.blas_core : "");
        sum.threads = f->p.threads;
        hl_model_counts c = hl_model_count(&spec->model, 1);
        sum.params = c.params;
        sum.active_params = c.active_params;
        sum.wall_s = wall;
        rc = hl_db_sink_error(sink) ? (snprintf(err, errlen, "%s", hl_db_sink_error(sink)), HL_EFAIL)
                                    : hl_db_finish_run(sink, &sum, wall, err, errlen);
    }
    if (sink) hl_db_sink_free(sink);
    hl_db_close(db);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0) return prc;
    char berr[512];
    if (!hl_backend_lookup(a.backend, berr, sizeof berr)) {
        fprintf(stderr, "hylab bench: --backend: %s\n", berr);
        return 2;
    }
    char err[HL_ERR_LEN] = "";
    hl_spec spec;
    memset(&spec, 0, sizeof spec);
    float *host = NULL;
    int rc = load_input(&a, &spec, &host, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hylab bench: %s\n", err);
        return rc == HL_EBADINPUT ? 2 : 1;
    }
    hl_blas_init(a.threads);
    figures *f = calloc(1, sizeof *f);
    if (!f) { fprintf(stderr, "hylab bench: out of memory\n"); hl_spec_free(&spec); free(host); return 1; }
    hl_sink sink = {.ctx = f, .measurement = on_measurement};
    hl_measure_opts mo = {.backend = a.backend, .train = a.train, .host_params = host};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = hl_measure_run(&spec, &mo, &sink, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    int status = 0;
    if (rc) {
        fprintf(stderr, "hylab bench: %s: %s\n", a.input, err);
        status = rc == HL_EBADINPUT && f->n == 0 ? 2 : 1;
    } else if (f->oom) {
        fprintf(stderr, "hylab bench: out of memory keeping the figures\n");
        status = 1;
    } else if (a.db && record(a.db, &spec, f, wall, err, sizeof err)) {
        fprintf(stderr, "hylab bench: %s\n", err);
        status = 1;
    } else {
        fprintf(stderr, "hylab bench: %s: %d figures in %.1f s%s%s\n", spec.name, f->n, wall,
                a.db ? " -> " : "", a.db ? a.db : "");
    }
    figures_free(f);
    free(f);
    free(host);
    hl_spec_free(&spec);
    return status;
}
