// eval_tasks.c: a spec's evaluation tasks on a trained model, and their
// check before a sweep starts (contract in harness/run/eval_tasks.h).
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"
#include "core/fileio.h"
#include "harness/eval/evaluate.h"
#include "harness/run/eval_tasks.h"
#include "text/tokenizer.h"

// DIR/<spec_hash>.eval<E>.<task>.jsonl, E the entry's index in the spec's
// eval list, the task text's characters outside [A-Za-z0-9_.-] as '_'.
static void samples_path(const char *dir, const hl_spec *spec, int task_index, const hl_eval_config *cfg,
                         char *out, size_t n) {
    int e = 0;
    while (e < spec->n_eval_entries && !(spec->eval_entry[e].is_task && spec->eval_entry[e].index == task_index)) e++;
    char task[1100];
    hl_eval_task_text(cfg, task, sizeof task);
    for (char *c = task; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-'))
            *c = '_';
    snprintf(out, n, "%s/%s.eval%d.%s.jsonl", dir, spec->hash, e, task);
}

// Each metric's parameters gain the settings that select its items (limit,
// max_length, skip_truncated) where the family did not give them.
static void report_eval_task(const hl_sink *sink, const hl_eval_config *cfg, int max_length, const hl_eval_report *r) {
    for (int i = 0; sink->metric && i < r->n; i++) {
        const hl_eval_metric *em = &r->m[i];
        cJSON *p = cJSON_Parse(em->params_json[0] ? em->params_json : "{}");
        if (!cJSON_IsObject(p)) { cJSON_Delete(p); p = cJSON_CreateObject(); }
        if (!cJSON_HasObjectItem(p, "limit")) cJSON_AddNumberToObject(p, "limit", (double)cfg->limit);
        if (!cJSON_HasObjectItem(p, "max_length")) cJSON_AddNumberToObject(p, "max_length", max_length);
        if (cfg->skip_truncated && !cJSON_HasObjectItem(p, "skip_truncated")) cJSON_AddTrueToObject(p, "skip_truncated");
        char *params = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        hl_metric mt = {cfg->task, em->name, em->value, em->n, em->sem, params ? params : em->params_json, r->version};
        sink->metric(sink->ctx, &mt);
        free(params);
    }
}

static int report_group_avg(const hl_sink *sink, const hl_spec_eval_task *t, const hl_eval_report *reps) {
    const hl_eval_config *cfgs[HL_EVAL_MAX_TASKS];
    const hl_eval_report *rp[HL_EVAL_MAX_TASKS];
    int n = t->n < HL_EVAL_MAX_TASKS ? t->n : HL_EVAL_MAX_TASKS;
    for (int j = 0; j < n; j++) { cfgs[j] = &t->cfg[j]; rp[j] = &reps[j]; }
    hl_eval_group_avg avg;
    int rc = hl_eval_group_average(t->group, n, cfgs, rp, &avg);
    if (!rc) {
        hl_metric mt = {t->group, "avg", avg.value, avg.n, avg.sem, avg.params, avg.version};
        if (sink->metric) sink->metric(sink->ctx, &mt);
    }
    free(avg.params);
    return rc;
}

int hl_run_eval_tasks(void *ctx, hl_model *m, const hl_spec *spec, const hl_sink *sink, char *err, size_t errlen) {
    const hl_eval_tasks_ctx *opts = ctx;
    if (!spec->n_eval_tasks) return HL_OK;
    hl_tokenizer *tok;
    int rc = hl_tokenizer_open(spec->train.task.tokenizer, opts->data_dir, &tok, err, errlen);
    for (int i = 0; !rc && i < spec->n_eval_tasks; i++) {
        const hl_spec_eval_task *t = &spec->eval_tasks[i];
        hl_eval_report *reps = calloc((size_t)t->n, sizeof *reps);
        if (!reps) { rc = hl_fail(err, errlen, HL_EFAIL, "out of memory"); break; }
        int done = 0;
        for (; !rc && done < t->n; done++) {
            hl_eval_stats st;
            double t0 = hl_now_s();
            FILE *samples = NULL;
            if (opts->samples_dir && !(samples = tmpfile())) {
                rc = hl_fail(err, errlen, HL_EFAIL, "--samples-dir: cannot create a temporary file");
                break;
            }
            rc = hl_eval_run(m, tok, &t->cfg[done], opts->data_dir, spec->train.task.seq_len, samples, &reps[done], &st,
                             err, errlen);
            if (!rc && samples) {
                char path[4096];
                samples_path(opts->samples_dir, spec, i, &t->cfg[done], path, sizeof path);
                rc = hl_write_atomic_stream(path, samples, err, errlen);
            }
            if (samples) fclose(samples);
            if (rc) break;
            const hl_eval_config *c = &t->cfg[done];
            report_eval_task(sink, c, c->max_length ? c->max_length : spec->train.task.seq_len, &reps[done]);
            if (opts->progress)
                fprintf(stderr, "[%s] eval %s: %ld items, %ld tokens, %.1f s\n", opts->label ? opts->label : spec->name,
                        t->cfg[done].task, st.items, st.tokens, hl_now_s() - t0);
        }
        if (!rc && t->group[0] && report_group_avg(sink, t, reps))
            rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
        for (int j = 0; j < done; j++) hl_eval_report_free(&reps[j]);
        free(reps);
    }
    hl_tokenizer_free(tok);
    return rc;
}

int hl_check_eval_tasks(const hl_spec *spec, const char *data_dir, char *err, size_t errlen) {
    if (!spec->n_eval_tasks) return HL_OK;
    char msg[HL_ERR_LEN];
    hl_tokenizer *tok;
    int rc = hl_tokenizer_open(spec->train.task.tokenizer, data_dir, &tok, msg, sizeof msg);
    if (rc) return hl_fail(err, errlen, rc == HL_EFAIL ? HL_EFAIL : HL_EBADINPUT, "train.task.tokenizer: %s", msg);
    if (hl_tokenizer_vocab(tok) > spec->model.vocab_size)
        rc = hl_fail(err, errlen, HL_EBADINPUT,
                     "train.task.tokenizer: model.vocab_size %d is smaller than tokenizer %s's vocabulary (%d)",
                     spec->model.vocab_size, hl_tokenizer_name(tok), hl_tokenizer_vocab(tok));
    for (int e = 0; !rc && e < spec->n_eval_entries; e++) {
        if (!spec->eval_entry[e].is_task) continue;
        const hl_spec_eval_task *t = &spec->eval_tasks[spec->eval_entry[e].index];
        for (int k = 0; !rc && k < t->n; k++) {
            hl_eval_task *et;
            rc = hl_eval_open(&t->cfg[k], tok, data_dir, &et, msg, sizeof msg);
            if (rc) rc = hl_fail(err, errlen, rc == HL_EFAIL ? HL_EFAIL : HL_EBADINPUT, "eval[%d]: %s", e, msg);
            else hl_eval_close(et);
        }
    }
    hl_tokenizer_free(tok);
    return rc;
}
