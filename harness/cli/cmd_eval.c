// cmd_eval.c: hylab eval CKPT TASK... — evaluates a trained checkpoint on
// evaluation tasks (tasks/eval.h) through harness/eval/evaluate.h.
//
// Order: every argument, the checkpoint's spec, the tokenizer (the spec's
// train.task.tokenizer, else --tokenizer), and every task's data file are
// read and checked before anything is written (bad input: exit 2, no sample
// file, nothing in the database). Then the model runs each task; metrics
// print as one JSON line each, {"task","metric","value","n","sem",
// "version","params"}; a group argument (commonsense, ...) adds its average
// as task = the group, metric "avg". --samples is written atomically at the
// end; --db records one run (sweep "eval", variant = the checkpoint's file
// name, status done, the metrics with their versions).
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/fileio.h"
#include "core/sha256.h"
#include "db/db.h"
#include "harness/cli/commands.h"
#include "harness/eval/evaluate.h"
#include "harness/hf_io.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "tasks/eval.h"
#include "text/datadir.h"
#include "text/tokenizer.h"

#define MAX_ARGS 64
#define MAX_ROWS 8                        // rows (choices) per forward batch
#define ACT_BUDGET ((int64_t)3 << 30)     // bytes of model activations we allow for the batch

typedef struct {
    const char *ckpt, *samples, *db, *data_dir, *tokenizer, *backend;
    const char *tasks[MAX_ARGS]; int n_tasks;
    long limit; int has_limit;
    int max_length, skip_truncated, threads;
} eval_args;

// One expanded task and where its argument came from.
typedef struct {
    hl_eval_config cfg;
    int arg;                              // index into eval_args.tasks
    hl_eval_report rep;
    hl_eval_stats st;
    int done;
} eval_job;

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: hylab eval CKPT.safetensors TASK... [--samples FILE.jsonl] [--limit N] [--db FILE]\n"
            "                  [--data-dir D] [--tokenizer NAME] [--max-length N] [--skip-truncated]\n"
            "                  [--threads N] [--backend cpu|cpu_ref]\n\n"
            "Evaluates the checkpoint on each TASK and prints one JSON line per metric:\n"
            "  {\"task\",\"metric\",\"value\",\"n\",\"sem\",\"version\",\"params\"}\n"
            "TASK: a preset (hellaswag, piqa, arc_easy, arc_challenge, winogrande, boolq,\n"
            "openbookqa, lambada_openai; squad, kv_pairs_{beginning,middle,end}_{2048,4096};\n"
            "niah_single, niah_multikey, niah_multivalue, niah_multiquery), a group\n"
            "(commonsense: its members and their average as metric \"avg\"; lm_eval8;\n"
            "recall; longctx), FORMAT:PATH (multiple_choice:x.jsonl, schema:x.jsonl,\n"
            "language_modeling:x.jsonl, generation:x.jsonl; PATH relative to the data\n"
            "directory or absolute), or a JSON object {\"task\": ..., \"limit\": 50, ...}\n"
            "(niah: \"lengths\", \"depths\", \"samples\", \"haystack\", \"needle\", \"seed\").\n\n"
            "  --samples FILE       one JSON line per item (index, lls, pred, pred_norm, gold, ...)\n"
            "  --limit N            the first N items of each task (0: all)\n"
            "  --db FILE            record a run (variant = the checkpoint's file name)\n"
            "  --data-dir D         the data directory (else HYLAB_DATA, else the default)\n"
            "  --tokenizer NAME     when the checkpoint's spec names none (train.task.tokenizer)\n"
            "  --max-length N       context in tokens (inputs cut from the left); default the\n"
            "                       spec's train.task.seq_len\n"
            "  --skip-truncated     skip items whose input was cut (counted as \"skipped\")\n"
            "  --threads N          threads (0: all cores)\n");
}

static int int_opt(const char *opt, const char *val, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (!*val || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "hylab eval: %s: expected an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, val);
        return 2;
    }
    *out = v;
    return 0;
}

// Returns 0 ok, 1 help shown, 2 bad usage.
static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->backend = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { eval_usage(stdout); return 1; }
        if (!strcmp(o, "--skip-truncated")) { a->skip_truncated = 1; continue; }
        if (!strncmp(o, "--", 2)) {
            if (i + 1 >= argc) { fprintf(stderr, "hylab eval: %s needs a value\n", o); return 2; }
            const char *v = argv[++i];
            long x = 0;
            if (!strcmp(o, "--samples")) a->samples = v;
            else if (!strcmp(o, "--db")) a->db = v;
            else if (!strcmp(o, "--data-dir")) a->data_dir = v;
            else if (!strcmp(o, "--tokenizer")) a->tokenizer = v;
            else if (!strcmp(o, "--backend")) a->backend = v;
            else if (!strcmp(o, "--limit")) { if (int_opt(o, v, 0, 1000000000L, &x)) return 2; a->limit = x; a->has_limit = 1; }
            else if (!strcmp(o, "--max-length")) { if (int_opt(o, v, 1, 1 << 20, &x)) return 2; a->max_length = (int)x; }
            else if (!strcmp(o, "--threads")) { if (int_opt(o, v, 0, HL_MAX_THREADS, &x)) return 2; a->threads = (int)x; }
            else { fprintf(stderr, "hylab eval: unknown option '%s'\n", o); return 2; }
            continue;
        }
        if (!a->ckpt) a->ckpt = o;
        else if (a->n_tasks < MAX_ARGS) a->tasks[a->n_tasks++] = o;
        else { fprintf(stderr, "hylab eval: too many TASK arguments (at most %d)\n", MAX_ARGS); return 2; }
    }
    if (!a->ckpt || !a->n_tasks) {
        fprintf(stderr, "hylab eval: a checkpoint and at least one TASK are required\n");
        eval_usage(stderr);
        return 2;
    }
    return 0;
}

// The tokenizer the spec names (train.task.tokenizer) into name, "" if none.
static int spec_tokenizer(const char *ckpt, char *name, size_t n, char *err, size_t errlen) {
    char *json = NULL;
    name[0] = '\0';
    int rc = hl_ckpt_read_spec(ckpt, &json, err, errlen);
    if (rc) return rc;
    cJSON *s = cJSON_Parse(json);
    free(json);
    cJSON *train = cJSON_GetObjectItemCaseSensitive(s, "train");
    cJSON *task = cJSON_GetObjectItemCaseSensitive(train, "task");
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(task, "tokenizer");
    if (cJSON_IsString(tok)) snprintf(name, n, "%s", tok->valuestring);
    cJSON_Delete(s);
    return HL_OK;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// The metric's params: the family's object plus the evaluation settings.
static char *metric_params(const hl_eval_metric *m, const eval_job *j, int L, const char *tok) {
    cJSON *p = cJSON_Parse(m->params_json);
    if (!cJSON_IsObject(p)) { cJSON_Delete(p); p = cJSON_CreateObject(); }
    if (!p) return NULL;
    char text[1200];
    hl_eval_task_text(&j->cfg, text, sizeof text);
    if (!cJSON_GetObjectItemCaseSensitive(p, "task")) cJSON_AddStringToObject(p, "task", text);
    if (!cJSON_GetObjectItemCaseSensitive(p, "max_length")) cJSON_AddNumberToObject(p, "max_length", L);
    cJSON_AddNumberToObject(p, "limit", (double)j->cfg.limit);
    cJSON_AddBoolToObject(p, "skip_truncated", j->cfg.skip_truncated);
    cJSON_AddStringToObject(p, "tokenizer", tok);
    if (j->cfg.metric[0]) cJSON_AddStringToObject(p, "headline", j->cfg.metric);
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return s;
}

// Prints one metric line (params JSON text).
static void print_metric(const char *task, const char *metric, double value, long n, double sem,
                         const char *version, const char *params) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "task", task);
    cJSON_AddStringToObject(o, "metric", metric);
    if (isfinite(value)) cJSON_AddNumberToObject(o, "value", value); else cJSON_AddNullToObject(o, "value");
    cJSON_AddNumberToObject(o, "n", (double)n);
    if (isfinite(sem)) cJSON_AddNumberToObject(o, "sem", sem); else cJSON_AddNullToObject(o, "sem");
    cJSON_AddStringToObject(o, "version", version ? version : "");
    cJSON *p = cJSON_Parse(params);
    if (p) cJSON_AddItemToObject(o, "params", p); else cJSON_AddNullToObject(o, "params");
    char *s = cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

// A collected metric (printed and recorded).
typedef struct {
    char task[64], metric[48], version[48];
    double value, sem; long n;
    char *params;
} out_metric;

typedef struct { out_metric *m; int n, cap; } out_list;

static int out_add(out_list *l, const char *task, const char *metric, double value, long n, double sem,
                   const char *version, char *params) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        out_metric *m = realloc(l->m, (size_t)cap * sizeof *m);
        if (!m) { free(params); return HL_EFAIL; }
        l->m = m; l->cap = cap;
    }
    out_metric *o = &l->m[l->n++];
    snprintf(o->task, sizeof o->task, "%s", task);
    snprintf(o->metric, sizeof o->metric, "%s", metric);
    snprintf(o->version, sizeof o->version, "%s", version ? version : "");
    o->value = value; o->n = n; o->sem = sem; o->params = params;
    print_metric(task, metric, value, n, sem, version, params ? params : "{}");
    fflush(stdout);
    return HL_OK;
}

static void out_free(out_list *l) {
    for (int i = 0; i < l->n; i++) free(l->m[i].params);
    free(l->m);
}

// The average of a group's members' headline metrics.
static int group_average(const eval_args *a, int arg, const eval_job *jobs, int n_jobs, out_list *out) {
    const hl_eval_group *g = hl_eval_group_find(a->tasks[arg]);
    if (!g) {   // a JSON object naming a group
        cJSON *o = cJSON_Parse(a->tasks[arg]);
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "task");
        g = cJSON_IsString(t) ? hl_eval_group_find(t->valuestring) : NULL;
        cJSON_Delete(o);
    }
    if (!g) return HL_OK;
    const hl_eval_config *cfgs[HL_EVAL_MAX_TASKS];
    const hl_eval_report *reps[HL_EVAL_MAX_TASKS];
    int k = 0;
    for (int j = 0; j < n_jobs && k < HL_EVAL_MAX_TASKS; j++)
        if (jobs[j].arg == arg) { cfgs[k] = &jobs[j].cfg; reps[k] = &jobs[j].rep; k++; }
    hl_eval_group_avg avg;
    if (hl_eval_group_average(g->name, k, cfgs, reps, &avg)) return HL_EFAIL;
    return out_add(out, g->name, "avg", avg.value, avg.n, avg.sem, avg.version, avg.params);
}

// Records the evaluation as a run: sweep "eval" keyed by the task list, the
// settings and the checkpoint file (path, size, mtime), one run (the
// checkpoint's spec), replaced by a later evaluation of the same.
static int record(const eval_args *a, const hl_spec *spec, const out_list *out, double wall, char *err,
                  size_t errlen) {
    hl_db *db;
    if (hl_db_open(a->db, HL_DB_CREATE, &db, err, errlen)) return HL_EFAIL;
    cJSON *src = cJSON_CreateObject(), *tasks = cJSON_AddArrayToObject(src, "tasks");
    for (int i = 0; i < a->n_tasks; i++) cJSON_AddItemToArray(tasks, cJSON_CreateString(a->tasks[i]));
    cJSON_AddNumberToObject(src, "limit", (double)a->limit);
    cJSON_AddNumberToObject(src, "max_length", a->max_length);
    cJSON_AddBoolToObject(src, "skip_truncated", a->skip_truncated);
    cJSON_AddStringToObject(src, "spec_hash", spec->hash);
    // two checkpoints of one spec (e.g. steps apart) are two evaluations:
    // the file's identity (real path, size, modification time) keys it too
    struct stat fs;
    char *real = realpath(a->ckpt, NULL);
    cJSON_AddStringToObject(src, "checkpoint", real ? real : a->ckpt);
    free(real);
    if (stat(a->ckpt, &fs) == 0) {
        cJSON_AddNumberToObject(src, "checkpoint_bytes", (double)fs.st_size);
        cJSON_AddNumberToObject(src, "checkpoint_mtime", (double)fs.st_mtime);
    }
    char *src_json = cJSON_PrintUnformatted(src);
    cJSON_Delete(src);
    if (!src_json) { hl_db_close(db); return hl_fail(err, errlen, HL_EFAIL, "out of memory"); }
    char hash[65];
    hl_sha256_hex(src_json, strlen(src_json), hash);
    hl_db_prov prov;
    hl_db_provenance(&prov);
    long long sweep_id, run_id;
    hl_claim_result res;
    hl_claim_opts co = {.force = 1, .pid = (int)getpid(), .prov = &prov, .threads = a->threads, .backend = a->backend};
    hl_db_sink *sink = NULL;
    int rc = hl_db_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (!rc) rc = hl_db_record_sweep(db, "eval", src_json, hash, &sweep_id, err, errlen);
    if (!rc) rc = hl_db_plan_run(db, sweep_id, "eval", base_name(a->ckpt), "{}", spec->hash, spec->canonical_json,
                                 &run_id, err, errlen);
    if (!rc) rc = hl_db_exec(db, "COMMIT", err, errlen);
    else hl_db_exec(db, "ROLLBACK", NULL, 0);
    free(src_json);
    if (!rc) rc = hl_db_claim_run(db, run_id, &co, &res, err, errlen);
    if (!rc && res != HL_CLAIM_OK) rc = hl_fail(err, errlen, HL_EFAIL, "%s: this evaluation is being recorded by another process", a->db);
    if (!rc) rc = hl_db_sink_new(db, run_id, &sink, err, errlen);
    if (!rc) {
        hl_sink k = hl_db_sink_iface(sink);
        for (int i = 0; i < out->n; i++) {
            const out_metric *o = &out->m[i];
            hl_metric m = {o->task, o->metric, o->value, o->n, o->sem, o->params ? o->params : "{}", o->version};
            k.metric(k.ctx, &m);
        }
        hl_run_summary sum;
        memset(&sum, 0, sizeof sum);
        sum.status = HL_RUN_DONE;
        snprintf(sum.backend, sizeof sum.backend, "%s", a->backend);
        sum.threads = a->threads;
        hl_model_counts counts = hl_model_count(&spec->model, 1);
        sum.params = counts.params;
        sum.active_params = counts.active_params;
        sum.wall_s = wall;
        rc = hl_db_sink_error(sink) ? hl_fail(err, errlen, HL_EFAIL, "%s", hl_db_sink_error(sink))
                                    : hl_db_finish_run(sink, &sum, wall, err, errlen);
    }
    if (sink) hl_db_sink_free(sink);
    hl_db_close(db);
    return rc;
}

// Everything after the checks: model, runs, output.
static int run_all(const eval_args *a, const hl_spec *spec, const hl_tokenizer *tok, const char *data_dir,
                   eval_job *jobs, int n_jobs, int default_L, int max_L, char *err, size_t errlen) {
    char berr[512];
    const hl_backend *be = hl_backend_lookup(a->backend, berr, sizeof berr);
    if (!be) return hl_fail(err, errlen, HL_EBADINPUT, "--backend: %s", berr);
    int B = MAX_ROWS;
    while (B > 1) {
        hl_model_sizes s = hl_model_sizes_of(&spec->model, B, max_L);
        if (s.acts >= 0 && s.acts * 4 <= ACT_BUDGET) break;
        B /= 2;
    }
    hl_blas_init(a->threads);
    hl_model *m = hl_model_create(&spec->model, be, B, max_L, err, errlen);
    if (!m) return HL_EFAIL;
    int rc = hl_ckpt_load(a->ckpt, m, err, errlen);
    FILE *samples = NULL;
    if (!rc && a->samples && !(samples = tmpfile())) rc = hl_fail(err, errlen, HL_EFAIL, "cannot create a temporary file: %s", strerror(errno));
    out_list out = {0};
    double t0 = hl_now_s();
    for (int j = 0; j < n_jobs && !rc; j++) {
        rc = hl_eval_run(m, tok, &jobs[j].cfg, data_dir, default_L, samples, &jobs[j].rep, &jobs[j].st, err, errlen);
        if (rc) break;
        jobs[j].done = 1;
        int L = jobs[j].cfg.max_length ? jobs[j].cfg.max_length : default_L;
        for (int i = 0; i < jobs[j].rep.n && !rc; i++) {
            const hl_eval_metric *mm = &jobs[j].rep.m[i];
            char *params = metric_params(mm, &jobs[j], L, hl_tokenizer_name(tok));
            rc = out_add(&out, jobs[j].cfg.task, mm->name, mm->value, mm->n, mm->sem, jobs[j].rep.version, params);
        }
        const hl_eval_stats *st = &jobs[j].st;
        fprintf(stderr, "hylab eval: %s: %ld items (%ld truncated, %ld skipped), %ld tokens in %.2f s (%.0f tokens/s)\n",
                jobs[j].cfg.task, st->items, st->truncated, st->skipped, st->tokens, st->seconds,
                st->seconds > 0 ? (double)st->tokens / st->seconds : 0.0);
        if (j + 1 == n_jobs || jobs[j + 1].arg != jobs[j].arg) rc = rc ? rc : group_average(a, jobs[j].arg, jobs, j + 1, &out);
    }
    double wall = hl_now_s() - t0;
    if (!rc && samples) rc = hl_write_atomic_stream(a->samples, samples, err, errlen);
    if (!rc && a->db) rc = record(a, spec, &out, wall, err, errlen);
    if (samples) fclose(samples);
    out_free(&out);
    hl_model_free(m);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : 2;
    char err[HL_ERR_LEN] = "", data_dir[HL_DATA_PATH_LEN], tokname[64];
    eval_job *jobs = calloc(HL_EVAL_MAX_TASKS, sizeof *jobs);
    hl_eval_config cfgs[HL_EVAL_MAX_TASKS];
    hl_spec spec;
    memset(&spec, 0, sizeof spec);
    hl_tokenizer *tok = NULL;
    int n_jobs = 0, rc = jobs ? HL_OK : hl_fail(err, sizeof err, HL_EFAIL, "out of memory");
    for (int i = 0; i < a.n_tasks && !rc; i++) {
        int n = 0;
        char source[64];
        snprintf(source, sizeof source, "TASK %d", i + 1);
        rc = hl_eval_parse_arg(a.tasks[i], source, cfgs, HL_EVAL_MAX_TASKS - n_jobs, &n, err, sizeof err);
        for (int k = 0; !rc && k < n; k++) {
            eval_job *j = &jobs[n_jobs + k];
            j->cfg = cfgs[k];
            j->arg = i;
            if (a.has_limit) j->cfg.limit = a.limit;
            if (a.max_length) j->cfg.max_length = a.max_length;
            if (a.skip_truncated) j->cfg.skip_truncated = 1;
        }
        n_jobs += n;
    }
    if (!rc) rc = hl_ckpt_spec(a.ckpt, &spec, err, sizeof err);
    if (!rc) rc = spec_tokenizer(a.ckpt, tokname, sizeof tokname, err, sizeof err);
    if (!rc && tokname[0] && a.tokenizer && strcmp(tokname, a.tokenizer))
        rc = hl_fail(err, sizeof err, HL_EBADINPUT, "--tokenizer %s: the checkpoint's spec names tokenizer %s",
                     a.tokenizer, tokname);
    if (!rc && !tokname[0]) {
        if (a.tokenizer) snprintf(tokname, sizeof tokname, "%s", a.tokenizer);
        else rc = hl_fail(err, sizeof err, HL_EBADINPUT,
                          "%s: the spec names no tokenizer (train.task.tokenizer): give --tokenizer", a.ckpt);
    }
    if (!rc) rc = hl_data_dir(a.data_dir, data_dir, sizeof data_dir, err, sizeof err);
    if (!rc) rc = hl_tokenizer_open(tokname, data_dir, &tok, err, sizeof err);
    if (!rc && hl_tokenizer_vocab(tok) > spec.model.vocab_size)
        rc = hl_fail(err, sizeof err, HL_EBADINPUT, "tokenizer %s has %d ids, more than the model's vocab_size %d",
                     tokname, hl_tokenizer_vocab(tok), spec.model.vocab_size);
    int default_L = spec.train.task.seq_len, max_L = 1;
    for (int j = 0; !rc && j < n_jobs; j++) {
        int L = jobs[j].cfg.max_length ? jobs[j].cfg.max_length : default_L;
        if (L > max_L) max_L = L;
        jobs[j].cfg.max_length = L;   // the families see the context they run at (niah's default lengths)
        hl_eval_task *t = NULL;   // opened once here so that bad data stops us before anything is written
        rc = hl_eval_open(&jobs[j].cfg, tok, data_dir, &t, err, sizeof err);
        hl_eval_close(t);
    }
    if (!rc) rc = run_all(&a, &spec, tok, data_dir, jobs, n_jobs, default_L, max_L, err, sizeof err);
    if (rc) fprintf(stderr, "hylab eval: %s\n", err);
    for (int j = 0; jobs && j < n_jobs; j++) hl_eval_report_free(&jobs[j].rep);
    free(jobs);
    hl_tokenizer_free(tok);
    hl_spec_free(&spec);
    return rc == HL_OK ? 0 : rc == HL_EBADINPUT ? 2 : 1;
}
