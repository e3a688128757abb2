// evaluate.c: hl_eval_run (contract in harness/eval/evaluate.h): one task,
// item by item: the family's requests, the model's answers (eval_ll.c,
// eval_gen.c; their states kept across items), the family's scores, one
// sample line per item (a log-likelihood item's also names the path its
// pairs took: "path": "shared" | "rows").
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"
#include "harness/eval/eval_internal.h"
#include "harness/eval/evaluate.h"

// Writes sample as one line. HL_OK or HL_EFAIL.
static int write_sample(FILE *f, cJSON *sample, char *err, size_t errlen) {
    char *line = cJSON_PrintUnformatted(sample);
    int bad = !line || fputs(line, f) == EOF || fputc('\n', f) == EOF;
    free(line);
    return bad ? hl_fail(err, errlen, HL_EFAIL, "writing samples failed") : HL_OK;
}

// One item: requests, answers, score, sample.
static int run_item(hl_model *m, const hl_tokenizer *tok, hl_eval_task *t, long i, int max_length, FILE *samples,
                    hl_eval_gen **gen, hl_eval_ll_state **lls, hl_eval_stats *st, char *err, size_t errlen) {
    hl_eval_item it;
    int rc = t->family->item(t, i, &it, err, errlen);
    if (rc) return rc;
    hl_eval_answer a;
    memset(&a, 0, sizeof a);
    hl_eval_ll *ll = NULL;
    char *text = NULL;
    hl_eval_ll_path path = HL_EVAL_LL_ROWS;
    double t0 = hl_now_s();
    if (it.kind == HL_EVAL_LOGLIK) {
        ll = calloc((size_t)(it.n_req > 0 ? it.n_req : 1), sizeof *ll);
        if (!ll) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
        rc = hl_eval_answer_loglik(lls, m, &it, max_length, HL_EVAL_LL_AUTO, ll, &a.truncated, &st->tokens, &path, err,
                                   errlen);
        a.ll = ll;
    } else {
        rc = hl_eval_answer_generate(gen, m, tok, &it, max_length, &text, &a.truncated, &st->tokens, err, errlen);
        a.text = text;
    }
    st->seconds += hl_now_s() - t0;
    if (rc) {
        char why[HL_ERR_LEN];
        snprintf(why, sizeof why, "%s", err);
        rc = hl_fail(err, errlen, rc, "%s: item %ld: %s", t->cfg.task, i, why);
    }
    cJSON *sample = NULL;
    if (!rc && samples) {
        sample = cJSON_CreateObject();
        if (!sample || !cJSON_AddStringToObject(sample, "task", t->cfg.task) ||
            !cJSON_AddNumberToObject(sample, "index", (double)i))
            rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    }
    if (!rc && a.truncated) st->truncated++;
    if (!rc && a.truncated && t->cfg.skip_truncated) {
        st->skipped++;
        if (sample && !cJSON_AddBoolToObject(sample, "skipped", 1)) rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    } else if (!rc) {
        rc = t->family->score(t, i, &it, &a, sample, err, errlen);
        if (!rc) st->items++;
    }
    if (!rc && sample && !cJSON_AddBoolToObject(sample, "truncated", a.truncated != 0))
        rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    if (!rc && sample && it.kind == HL_EVAL_LOGLIK && !cJSON_AddStringToObject(sample, "path", hl_eval_ll_path_name(path)))
        rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    if (!rc && sample) rc = write_sample(samples, sample, err, errlen);
    cJSON_Delete(sample);
    free(ll);
    free(text);
    return rc;
}

int hl_eval_run(hl_model *m, const hl_tokenizer *tok, const hl_eval_config *cfg, const char *data_dir,
                int default_max_length, FILE *samples, hl_eval_report *rep, hl_eval_stats *st, char *err,
                size_t errlen) {
    memset(rep, 0, sizeof *rep);
    memset(st, 0, sizeof *st);
    int L = cfg->max_length ? cfg->max_length : default_max_length;
    if (L < 1 || L > hl_model_max_T(m))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: max_length %d is outside [1, %d] (the model's positions)",
                       cfg->task, L, hl_model_max_T(m));
    hl_eval_config run_cfg = *cfg;   // the family sees the context it runs at (niah's default lengths)
    run_cfg.max_length = L;
    hl_eval_task *t = NULL;
    int rc = hl_eval_open(&run_cfg, tok, data_dir, &t, err, errlen);
    if (rc) return rc;
    long n = t->family->n_items(t);
    if (cfg->limit > 0 && cfg->limit < n) n = cfg->limit;
    hl_eval_gen *gen = NULL;
    hl_eval_ll_state *lls = NULL;
    for (long i = 0; i < n && !rc; i++) rc = run_item(m, tok, t, i, L, samples, &gen, &lls, st, err, errlen);
    hl_eval_gen_free(gen);
    hl_eval_ll_free(lls);
    if (!rc) {
        rep->version = t->family->version;
        rc = t->family->report(t, rep, err, errlen);
    }
    char params[128];
    snprintf(params, sizeof params, "{\"max_length\":%d}", L);
    if (!rc && hl_eval_report_add(rep, "truncated", (double)st->truncated, n, NAN, params))
        rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    if (!rc && cfg->skip_truncated && hl_eval_report_add(rep, "skipped", (double)st->skipped, n, NAN, params))
        rc = hl_fail(err, errlen, HL_EFAIL, "out of memory");
    hl_eval_close(t);
    if (rc) hl_eval_report_free(rep);
    return rc;
}

int hl_eval_group_average(const char *group, int n, const hl_eval_config *const *cfgs,
                          const hl_eval_report *const *reps, hl_eval_group_avg *out) {
    memset(out, 0, sizeof *out);
    cJSON *p = cJSON_CreateObject(), *mem = cJSON_AddArrayToObject(p, "members"),
          *met = cJSON_AddArrayToObject(p, "metrics");
    double sum = 0, var = 0;
    int all_sem = 1;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < reps[j]->n; i++) {
            const hl_eval_metric *m = &reps[j]->m[i];
            if (strcmp(m->name, cfgs[j]->metric)) continue;
            sum += m->value;
            if (isfinite(m->sem)) var += m->sem * m->sem; else all_sem = 0;
            out->n += m->n;
            out->k++;
            cJSON_AddItemToArray(mem, cJSON_CreateString(cfgs[j]->task));
            cJSON_AddItemToArray(met, cJSON_CreateString(m->name));
            break;
        }
    out->value = out->k ? sum / out->k : NAN;
    out->sem = out->k && all_sem ? sqrt(var) / out->k : NAN;
    snprintf(out->version, sizeof out->version, "%s/1", group);
    out->params = p ? cJSON_PrintUnformatted(p) : NULL;
    cJSON_Delete(p);
    return out->params ? HL_OK : HL_EFAIL;
}
