// eval_gen.c: the "generation" evaluation family and the scoring the
// generation families share (tasks/eval_gen.h).
//
// Family generation/1: a JSONL file (llm-foundry's generation format), one
// object per line:
//   {"context": TEXT, "answer": TEXT}  or  {"context": TEXT, "answers": [TEXT, ...]}
//   optional "answer_location": INT (the shared longctx/kv_pairs_* files:
//   the position of the queried pair in the JSON object).
// Request: prompt = tok(context) exactly as written (no stripping; the
// key-value files end with "Corresponding Value: "), greedy, at most
// max_new_tokens (default 48), stop string cfg.stop (default "\n").
// Metrics (tasks/text_norm.h): contains (headline: a gold answer occurs in
// the generation ignoring case), exact_match and f1 with SQuAD v1.1's
// normalisation, each the maximum over the item's answers, averaged over
// items, sem = standard error of the mean. params: {"path": the file,
// "length": N when the file name holds "len_N"}. When the items carry
// answer_location, `contains` is also reported per location (params
// {"answer_location": K, "length": N}, in increasing K): the key-value
// retrieval results by length and gold position.
// Samples: prompt_tail / prompt_bytes / prompt_tokens, generation, answers,
// contains, exact_match, f1 (and answer_location).
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "tasks/eval.h"
#include "tasks/eval_gen.h"
#include "tasks/jsonl.h"
#include "tasks/text_norm.h"
#include "text/datadir.h"

extern const hl_eval_family hl_eval_generation;

// ---------------------------------------------------------------- shared scoring

int hl_gen_scores_init(hl_gen_scores *s, long n, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    size_t k = n > 0 ? (size_t)n : 1;
    s->contains = malloc(k * sizeof(double));
    s->exact = malloc(k * sizeof(double));
    s->f1 = malloc(k * sizeof(double));
    if (!s->contains || !s->exact || !s->f1) {
        hl_gen_scores_free(s);
        return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    }
    s->n = n;
    for (long i = 0; i < n; i++) s->contains[i] = s->exact[i] = s->f1[i] = NAN;
    return HL_OK;
}

void hl_gen_scores_free(hl_gen_scores *s) {
    free(s->contains); free(s->exact); free(s->f1);
    memset(s, 0, sizeof *s);
}

int hl_gen_sample_text(cJSON *sample, const char *key, const char *text) {
    char *t = hl_utf8_sanitize(text);
    int ok = t && cJSON_AddStringToObject(sample, key, t);
    free(t);
    return ok ? HL_OK : HL_EFAIL;
}

int hl_gen_score(hl_gen_scores *s, long i, const char *generation, const char *const *golds,
                 int n_gold, const char *prompt, int n_prompt_tokens, cJSON *sample, char *err, size_t errlen) {
    if (i < 0 || i >= s->n) return hl_fail(err, errlen, HL_EFAIL, "generation: item %ld outside [0, %ld)", i, s->n);
    double c = hl_contains_max(generation, golds, n_gold), e = hl_squad_exact_max(generation, golds, n_gold),
           f = hl_squad_f1_max(generation, golds, n_gold);
    if (c < 0 || e < 0 || f < 0) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    s->contains[i] = c; s->exact[i] = e; s->f1[i] = f;
    if (!sample) return HL_OK;
    cJSON *ans = cJSON_AddArrayToObject(sample, "answers");
    for (int k = 0; ans && k < n_gold; k++) {
        char *g = hl_utf8_sanitize(golds[k]);
        if (!g || !cJSON_AddItemToArray(ans, cJSON_CreateString(g))) ans = NULL;
        free(g);
    }
    if (!ans || hl_gen_sample_text(sample, "generation", generation) ||
        !cJSON_AddNumberToObject(sample, "contains", c) || !cJSON_AddNumberToObject(sample, "exact_match", e) ||
        !cJSON_AddNumberToObject(sample, "f1", f))
        return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    return hl_gen_sample_prompt(sample, prompt, n_prompt_tokens, err, errlen);
}

void hl_gen_request(hl_eval_item *out, const hl_ids *ids, const hl_eval_config *cfg) {
    memset(out, 0, sizeof *out);
    out->kind = HL_EVAL_GENERATE;
    out->prompt = ids->v;
    out->n_prompt = (int)ids->n;
    out->max_new = cfg->max_new_tokens;
    out->stop = cfg->stop[0] ? cfg->stop : NULL;
}

int hl_gen_report(const hl_gen_scores *s, const char *params_json, hl_eval_report *r, char *err, size_t errlen) {
    const char *names[3] = {"contains", "exact_match", "f1"};
    const double *cols[3] = {s->contains, s->exact, s->f1};
    double *x = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *x);
    if (!x) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    for (int m = 0; m < 3; m++) {
        long n = 0;
        for (long i = 0; i < s->n; i++)
            if (!isnan(cols[m][i])) x[n++] = cols[m][i];
        if (n == 0) continue;
        double mean, sem;
        hl_mean_sem(x, n, &mean, &sem);
        if (hl_eval_report_add(r, names[m], mean, n, sem, params_json)) {
            free(x);
            return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
        }
    }
    free(x);
    return HL_OK;
}

int hl_gen_sample_prompt(cJSON *sample, const char *prompt, int n_tokens, char *err, size_t errlen) {
    size_t n = strlen(prompt), from = n > 200 ? n - 200 : 0;
    while (from < n && ((unsigned char)prompt[from] & 0xC0) == 0x80) from++;   // not inside a character
    if (hl_gen_sample_text(sample, "prompt_tail", prompt + from) ||
        !cJSON_AddNumberToObject(sample, "prompt_bytes", (double)n) ||
        !cJSON_AddNumberToObject(sample, "prompt_tokens", n_tokens))
        return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    return HL_OK;
}

int hl_gen_json_string(const char *s, char *out, size_t n) {
    cJSON *j = cJSON_CreateString(s);
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!p) return HL_EFAIL;
    snprintf(out, n, "%s", strlen(p) < n ? p : "\"(too long)\"");
    cJSON_free(p);
    return HL_OK;
}

// ---------------------------------------------------------------- the family

typedef struct {
    char *context;
    char **answers; int n_answers;
    int location;            // answer_location, -1: none
} gen_item;

typedef struct {
    hl_eval_task base;
    char path[HL_DATA_PATH_LEN];
    long n;
    gen_item *items;         // (n)
    int has_location;        // every item has answer_location
    int length;              // "len_N" of the file name, 0: none
    hl_ids prompt;           // the current item's tokens
    hl_gen_scores sc;
} gen_task;

static void gen_close(hl_eval_task *base) {
    gen_task *t = (gen_task *)base;
    if (!t) return;
    for (long i = 0; i < t->n; i++) {
        free(t->items[i].context);
        for (int k = 0; k < t->items[i].n_answers; k++) free(t->items[i].answers[k]);
        free(t->items[i].answers);
    }
    free(t->items);
    hl_ids_free(&t->prompt);
    hl_gen_scores_free(&t->sc);
    free(t);
}

// One JSONL object into *it.
static int read_item(const hl_jsonl *r, const cJSON *o, gen_item *it, int *has_loc, char *err, size_t errlen) {
    const char *ctx;
    int rc = hl_jsonl_string(r, o, "context", &ctx, err, errlen);
    if (rc) return rc;
    if (!ctx[0]) return hl_jsonl_fail(r, err, errlen, "key \"context\": empty");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "answers");
    int n = 1;
    const char *one = NULL;
    if (arr) rc = hl_jsonl_strings(r, o, "answers", 1, &arr, &n, err, errlen);
    else if (!cJSON_GetObjectItemCaseSensitive(o, "answer"))
        return hl_jsonl_fail(r, err, errlen, "missing key \"answer\" (or \"answers\")");
    else rc = hl_jsonl_string(r, o, "answer", &one, err, errlen);
    if (rc) return rc;
    it->location = -1;
    if (cJSON_GetObjectItemCaseSensitive(o, "answer_location")) {
        rc = hl_jsonl_int(r, o, "answer_location", &it->location, err, errlen);
        if (rc) return rc;
        if (it->location < 0) return hl_jsonl_fail(r, err, errlen, "key \"answer_location\": must be >= 0 (got %d)", it->location);
    }
    *has_loc = it->location >= 0;
    it->context = strdup(ctx);
    it->answers = calloc((size_t)n, sizeof *it->answers);
    if (!it->context || !it->answers) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    it->n_answers = n;
    for (int k = 0; k < n; k++) {
        it->answers[k] = strdup(one ? one : cJSON_GetArrayItem(arr, k)->valuestring);
        if (!it->answers[k]) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    }
    return HL_OK;
}

static int gen_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                    hl_eval_task **out, char *err, size_t errlen) {
    *out = NULL;
    gen_task *t = calloc(1, sizeof *t);
    if (!t) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    t->base.family = &hl_eval_generation;
    t->base.cfg = *cfg;
    t->base.tok = tok;
    if (t->base.cfg.max_new_tokens == 0) t->base.cfg.max_new_tokens = 48;
    if (!t->base.cfg.stop[0]) strcpy(t->base.cfg.stop, "\n");
    hl_jsonl r = {0};
    int rc = HL_OK;
    const char *task = cfg->task[0] ? cfg->task : "generation";
    if (t->base.cfg.max_new_tokens < 1) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: max_new_tokens: must be >= 1 (got %d)", task, t->base.cfg.max_new_tokens);
        goto fail;
    }
    rc = hl_data_path(data_dir, cfg->path, task, t->path, sizeof t->path, err, errlen);
    if (!rc) rc = hl_jsonl_open(&r, t->path, err, errlen);
    if (rc) goto fail;
    long cap = 0;
    int all_loc = 1, any_loc = 0;
    for (;;) {
        cJSON *o;
        rc = hl_jsonl_next(&r, 1, &o, err, errlen);
        if (rc || !o) break;
        if (t->n == cap) {
            cap = cap ? 2 * cap : 256;
            gen_item *p = realloc(t->items, (size_t)cap * sizeof *p);
            if (!p) { cJSON_Delete(o); rc = hl_fail(err, errlen, HL_EFAIL, "generation: out of memory"); break; }
            t->items = p;
        }
        memset(&t->items[t->n], 0, sizeof t->items[t->n]);
        int loc = 0;
        rc = read_item(&r, o, &t->items[t->n++], &loc, err, errlen);
        cJSON_Delete(o);
        if (rc) break;
        all_loc &= loc; any_loc |= loc;
        if (any_loc && !all_loc) { rc = hl_jsonl_fail(&r, err, errlen, "missing key \"answer_location\" (earlier lines have it)"); break; }
    }
    hl_jsonl_close(&r);
    if (rc) goto fail;
    if (t->n == 0) { rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: no items", t->path); goto fail; }
    t->has_location = any_loc;
    const char *base = strrchr(t->path, '/');
    const char *len = strstr(base ? base : t->path, "len_");
    if (len && isdigit((unsigned char)len[4])) t->length = atoi(len + 4);
    rc = hl_gen_scores_init(&t->sc, t->n, err, errlen);
    if (rc) goto fail;
    *out = &t->base;
    return HL_OK;
fail:
    gen_close(&t->base);
    return rc;
}

static long gen_n_items(const hl_eval_task *t) { return ((const gen_task *)t)->n; }

static int gen_item_req(hl_eval_task *base, long i, hl_eval_item *out, char *err, size_t errlen) {
    gen_task *t = (gen_task *)base;
    if (i < 0 || i >= t->n) return hl_fail(err, errlen, HL_EBADINPUT, "generation: item %ld outside [0, %ld)", i, t->n);
    t->prompt.n = 0;
    const char *ctx = t->items[i].context;
    int rc = hl_tokenizer_encode(base->tok, ctx, strlen(ctx), &t->prompt, err, errlen);
    if (!rc) hl_gen_request(out, &t->prompt, &base->cfg);
    return rc;
}

static int gen_score(hl_eval_task *base, long i, const hl_eval_item *item, const hl_eval_answer *a,
                     cJSON *sample, char *err, size_t errlen) {
    gen_task *t = (gen_task *)base;
    const gen_item *it = &t->items[i];
    int rc = hl_gen_score(&t->sc, i, a->text ? a->text : "", (const char *const *)it->answers, it->n_answers,
                          it->context, item->n_prompt, sample, err, errlen);
    if (!rc && sample && it->location >= 0 && !cJSON_AddNumberToObject(sample, "answer_location", it->location))
        rc = hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    return rc;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int gen_report(const hl_eval_task *base, hl_eval_report *r, char *err, size_t errlen) {
    const gen_task *t = (const gen_task *)base;
    char params[512], len[32] = "", ps[400];
    if (t->length) snprintf(len, sizeof len, ",\"length\":%d", t->length);
    if (hl_gen_json_string(base->cfg.path, ps, sizeof ps)) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    snprintf(params, sizeof params, "{\"path\":%s%s}", ps, len);
    int rc = hl_gen_report(&t->sc, params, r, err, errlen);
    if (rc || !t->has_location) return rc;
    int *locs = malloc((size_t)t->n * sizeof *locs);
    unsigned char *keep = malloc((size_t)t->n);
    if (!locs || !keep) { free(locs); free(keep); return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory"); }
    for (long i = 0; i < t->n; i++) locs[i] = t->items[i].location;
    qsort(locs, (size_t)t->n, sizeof *locs, cmp_int);
    for (long u = 0; u < t->n && !rc; u++) {
        if (u > 0 && locs[u] == locs[u - 1]) continue;
        long n = 0;
        double *x = NULL;
        for (long i = 0; i < t->n; i++) {
            keep[i] = t->items[i].location == locs[u] && !isnan(t->sc.contains[i]);
            n += keep[i];
        }
        if (n == 0) continue;
        x = malloc((size_t)n * sizeof *x);
        if (!x) { rc = hl_fail(err, errlen, HL_EFAIL, "generation: out of memory"); break; }
        long k = 0;
        for (long i = 0; i < t->n; i++) if (keep[i]) x[k++] = t->sc.contains[i];
        double mean, sem;
        hl_mean_sem(x, n, &mean, &sem);
        free(x);
        snprintf(params, sizeof params, "{\"answer_location\":%d%s}", locs[u], len);
        if (hl_eval_report_add(r, "contains", mean, n, sem, params))
            rc = hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    }
    free(locs); free(keep);
    return rc;
}

const hl_eval_family hl_eval_generation = {
    .name = "generation", .version = "generation/1",
    .open = gen_open, .n_items = gen_n_items, .item = gen_item_req, .score = gen_score,
    .report = gen_report, .close = gen_close,
};
