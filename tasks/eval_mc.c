// eval_mc.c: the log-likelihood families (tasks/eval.h), MosaicML's
// in-context formats scored as lm-evaluation-harness scores them:
//   multiple_choice   {"query", "choices": [..], "gold"}: one pair per
//                     choice (query, delimiter + choice); acc = argmax of the
//                     summed ll, acc_norm = argmax of ll / len(choice) in
//                     Unicode code points, acc_bytes = argmax of ll / UTF-8
//                     bytes of the choice (ties: the lowest index, np.argmax).
//   schema            {"context_options": [..], "continuation", "gold"}: one
//                     pair per context (context, delimiter + continuation),
//                     partial scoring; acc.
//   language_modeling {"context", "continuation"}: one pair (context,
//                     delimiter + continuation); acc = every continuation
//                     token greedy; perplexity = exp(-mean(ll)) over
//                     documents (lm-eval's aggregation, sem NAN); ll = the
//                     mean summed ll per document.
// sem of acc-like metrics: sample standard deviation / sqrt(n) (lm-eval's
// mean_stderr; NAN when n < 2). Items are read and checked at open: a
// malformed line, a missing key, a gold index outside the choices, fewer
// than two choices / contexts, an empty choice or continuation are
// HL_EBADINPUT "FILE: line N: what".
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/eval.h"
#include "tasks/jsonl.h"
#include "text/datadir.h"

enum { MC, SCHEMA, LM };

extern const hl_eval_family hl_eval_multiple_choice, hl_eval_schema, hl_eval_language_modeling;

typedef struct {
    char **ctx;      // n_ctx strings: the query (mc, lm) or the context options (schema)
    char **cont;     // n_cont strings: the choices (mc) or the continuation (schema, lm)
    int n_ctx, n_cont;
    int gold;        // -1 for lm
} mc_item;

typedef struct { double sum, sumsq; long n; } acc_sum;

typedef struct {
    hl_eval_task h;
    int kind;
    long n; mc_item *items;
    int n_pairs; hl_eval_pair *pairs;    // the current item's requests
    acc_sum acc, acc_norm, acc_bytes, ll;
} mc_task;

static void add(acc_sum *a, double v) { a->sum += v; a->sumsq += v * v; a->n++; }
static double mean(const acc_sum *a) { return a->n ? a->sum / (double)a->n : NAN; }
static double sem(const acc_sum *a) {
    if (a->n < 2) return NAN;
    double m = mean(a), var = (a->sumsq - (double)a->n * m * m) / (double)(a->n - 1);
    return sqrt(var > 0 ? var : 0) / sqrt((double)a->n);
}

static void free_pairs(mc_task *t) {
    for (int i = 0; i < t->n_pairs; i++) hl_eval_pair_free(&t->pairs[i]);
    free(t->pairs);
    t->pairs = NULL;
    t->n_pairs = 0;
}

static void free_strings(char **s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

static void mc_close(hl_eval_task *h) {
    mc_task *t = (mc_task *)h;
    if (!t) return;
    free_pairs(t);
    for (long i = 0; i < t->n; i++) {
        free_strings(t->items[i].ctx, t->items[i].n_ctx);
        free_strings(t->items[i].cont, t->items[i].n_cont);
    }
    free(t->items);
    free(t);
}

// Copies of the n strings of a JSON array (or of one string when arr is a string).
static char **copy_strings(const cJSON *arr, int n) {
    char **s = calloc((size_t)n, sizeof *s);
    if (!s) return NULL;
    const cJSON *e = cJSON_IsArray(arr) ? arr->child : arr;
    for (int i = 0; i < n; i++, e = e->next) {
        if (!(s[i] = strdup(e->valuestring))) { free_strings(s, i); return NULL; }
    }
    return s;
}

// Reads one line's item into *it. HL_OK or an error naming the line.
static int read_item(mc_task *t, const hl_jsonl *r, const cJSON *o, mc_item *it, char *err, size_t errlen) {
    const cJSON *arr = NULL, *one = NULL;
    const char *s = NULL;
    int n = 0, rc;
    memset(it, 0, sizeof *it);
    it->gold = -1;
    if (t->kind == MC) {
        if ((rc = hl_jsonl_string(r, o, "query", &s, err, errlen))) return rc;
        one = cJSON_GetObjectItemCaseSensitive(o, "query");
        if ((rc = hl_jsonl_strings(r, o, "choices", 2, &arr, &n, err, errlen))) return rc;
        int k = 0;
        for (const cJSON *e = arr->child; e; e = e->next, k++)
            if (!e->valuestring[0]) return hl_jsonl_fail(r, err, errlen, "key \"choices\": choice %d is empty", k);
        it->n_ctx = 1; it->n_cont = n;
        it->ctx = copy_strings(one, 1);
        it->cont = copy_strings(arr, n);
    } else if (t->kind == SCHEMA) {
        if ((rc = hl_jsonl_strings(r, o, "context_options", 2, &arr, &n, err, errlen))) return rc;
        if ((rc = hl_jsonl_string(r, o, "continuation", &s, err, errlen))) return rc;
        if (!s[0]) return hl_jsonl_fail(r, err, errlen, "key \"continuation\": empty");
        it->n_ctx = n; it->n_cont = 1;
        it->ctx = copy_strings(arr, n);
        it->cont = copy_strings(cJSON_GetObjectItemCaseSensitive(o, "continuation"), 1);
    } else {
        if ((rc = hl_jsonl_string(r, o, "context", &s, err, errlen))) return rc;
        if ((rc = hl_jsonl_string(r, o, "continuation", &s, err, errlen))) return rc;
        if (!s[0]) return hl_jsonl_fail(r, err, errlen, "key \"continuation\": empty");
        it->n_ctx = 1; it->n_cont = 1;
        it->ctx = copy_strings(cJSON_GetObjectItemCaseSensitive(o, "context"), 1);
        it->cont = copy_strings(cJSON_GetObjectItemCaseSensitive(o, "continuation"), 1);
    }
    if (!it->ctx || !it->cont) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    if (t->kind != LM) {
        if ((rc = hl_jsonl_int(r, o, "gold", &it->gold, err, errlen))) return rc;
        int k = t->kind == MC ? it->n_cont : it->n_ctx;
        if (it->gold < 0 || it->gold >= k)
            return hl_jsonl_fail(r, err, errlen, "gold %d is outside the %d %s (0..%d)", it->gold, k,
                                 t->kind == MC ? "choices" : "context options", k - 1);
    }
    return HL_OK;
}

static int mc_open_kind(int kind, const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                        hl_eval_task **out, char *err, size_t errlen) {
    *out = NULL;
    char path[HL_DATA_PATH_LEN];
    int rc = hl_data_path(data_dir, cfg->path, cfg->task, path, sizeof path, err, errlen);
    if (rc) return rc;
    mc_task *t = calloc(1, sizeof *t);
    if (!t) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    t->h.family = kind == MC ? &hl_eval_multiple_choice : kind == SCHEMA ? &hl_eval_schema
                                                                         : &hl_eval_language_modeling;
    t->h.cfg = *cfg;
    t->h.tok = tok;
    t->kind = kind;
    hl_jsonl r;
    if ((rc = hl_jsonl_open(&r, path, err, errlen))) { free(t); return rc; }
    long cap = 0;
    for (;;) {
        cJSON *o = NULL;
        if ((rc = hl_jsonl_next(&r, 1, &o, err, errlen)) || !o) break;
        if (t->n == cap) {
            long nc = cap ? 2 * cap : 256;
            mc_item *ni = realloc(t->items, (size_t)nc * sizeof *ni);
            if (!ni) { cJSON_Delete(o); rc = hl_fail(err, errlen, HL_EFAIL, "out of memory"); break; }
            t->items = ni;
            cap = nc;
        }
        rc = read_item(t, &r, o, &t->items[t->n], err, errlen);
        t->n++;   // a half-read item is freed by close
        cJSON_Delete(o);
        if (rc) break;
    }
    if (!rc && t->n == 0) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: no items", path);
    hl_jsonl_close(&r);
    if (rc) { mc_close(&t->h); return rc; }
    *out = &t->h;
    return HL_OK;
}

static long mc_n_items(const hl_eval_task *h) { return ((const mc_task *)h)->n; }

// "delimiter + text" (malloc'd).
static char *delimited(const char *delim, const char *text) {
    size_t a = strlen(delim), b = strlen(text);
    char *s = malloc(a + b + 1);
    if (s) { memcpy(s, delim, a); memcpy(s + a, text, b + 1); }
    return s;
}

static int mc_item_fn(hl_eval_task *h, long i, hl_eval_item *out, char *err, size_t errlen) {
    mc_task *t = (mc_task *)h;
    const mc_item *it = &t->items[i];
    free_pairs(t);
    int n = it->n_ctx > it->n_cont ? it->n_ctx : it->n_cont;
    t->pairs = calloc((size_t)n, sizeof *t->pairs);
    if (!t->pairs) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    for (int k = 0; k < n; k++) {
        const char *ctx = it->ctx[it->n_ctx == 1 ? 0 : k], *cont = it->cont[it->n_cont == 1 ? 0 : k];
        char *dc = delimited(h->cfg.target_delimiter, cont);
        if (!dc) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
        char why[HL_ERR_LEN / 2];
        int rc = hl_eval_pair_encode(h->tok, ctx, dc, &t->pairs[k], why, sizeof why);
        free(dc);
        if (rc) return hl_fail(err, errlen, rc, "%s: item %ld, request %d: %s", h->cfg.path, i, k, why);
        t->n_pairs = k + 1;
    }
    memset(out, 0, sizeof *out);
    out->kind = HL_EVAL_LOGLIK;
    out->n_req = n;
    out->req = t->pairs;
    return HL_OK;
}

// Unicode code points of UTF-8 s (continuation bytes not counted).
static long code_points(const char *s) {
    long n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int argmax(const double *v, int n) {
    int b = 0;
    for (int k = 1; k < n; k++) if (v[k] > v[b]) b = k;
    return b;
}

static int add_array(cJSON *sample, const char *key, const double *v, int n, int as_bool) {
    cJSON *a = cJSON_AddArrayToObject(sample, key);
    if (!a) return HL_EFAIL;
    for (int k = 0; k < n; k++) {
        cJSON *e = as_bool ? cJSON_CreateBool(v[k] != 0) : cJSON_CreateNumber(v[k]);
        if (!e) return HL_EFAIL;
        cJSON_AddItemToArray(a, e);
    }
    return HL_OK;
}

static int mc_score(hl_eval_task *h, long i, const hl_eval_item *item, const hl_eval_answer *a, cJSON *sample,
                    char *err, size_t errlen) {
    mc_task *t = (mc_task *)h;
    const mc_item *it = &t->items[i];
    int n = item->n_req;
    double *v = malloc((size_t)4 * (size_t)n * sizeof *v);
    if (!v) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    double *ll = v, *norm = v + n, *bytes = v + 2 * n, *greedy = v + 3 * n;
    for (int k = 0; k < n; k++) {
        ll[k] = a->ll[k].ll;
        greedy[k] = a->ll[k].greedy;
        if (t->kind == MC) {
            norm[k] = ll[k] / (double)code_points(it->cont[k]);
            bytes[k] = ll[k] / (double)strlen(it->cont[k]);
        }
    }
    int rc = HL_OK;
    if (t->kind == LM) {
        add(&t->acc, greedy[0]);
        add(&t->ll, ll[0]);
        if (sample && (!cJSON_AddNumberToObject(sample, "ll", ll[0]) ||
                       !cJSON_AddBoolToObject(sample, "is_greedy", greedy[0] != 0) ||
                       !cJSON_AddNumberToObject(sample, "n_tokens", a->ll[0].n_tokens)))
            rc = HL_EFAIL;
    } else {
        int pred = argmax(ll, n);
        add(&t->acc, pred == it->gold);
        int pn = -1, pb = -1;
        if (t->kind == MC) {
            pn = argmax(norm, n);
            pb = argmax(bytes, n);
            add(&t->acc_norm, pn == it->gold);
            add(&t->acc_bytes, pb == it->gold);
        }
        if (sample) {
            rc = add_array(sample, "lls", ll, n, 0);
            if (!rc) rc = add_array(sample, "is_greedy", greedy, n, 1);
            if (!rc && !cJSON_AddNumberToObject(sample, "pred", pred)) rc = HL_EFAIL;
            if (!rc && t->kind == MC && (!cJSON_AddNumberToObject(sample, "pred_norm", pn) ||
                                         !cJSON_AddNumberToObject(sample, "pred_bytes", pb)))
                rc = HL_EFAIL;
            if (!rc && !cJSON_AddNumberToObject(sample, "gold", it->gold)) rc = HL_EFAIL;
        }
    }
    free(v);
    return rc ? hl_fail(err, errlen, HL_EFAIL, "out of memory") : HL_OK;
}

static int mc_report(const hl_eval_task *h, hl_eval_report *r, char *err, size_t errlen) {
    const mc_task *t = (const mc_task *)h;
    char params[512];
    snprintf(params, sizeof params, "{\"path\":\"%.400s\"}", h->cfg.path);
    int rc = hl_eval_report_add(r, "acc", mean(&t->acc), t->acc.n, sem(&t->acc), params);
    if (t->kind == MC) {
        rc |= hl_eval_report_add(r, "acc_norm", mean(&t->acc_norm), t->acc_norm.n, sem(&t->acc_norm), params);
        rc |= hl_eval_report_add(r, "acc_bytes", mean(&t->acc_bytes), t->acc_bytes.n, sem(&t->acc_bytes), params);
    }
    if (t->kind == LM) {
        rc |= hl_eval_report_add(r, "perplexity", t->ll.n ? exp(-mean(&t->ll)) : NAN, t->ll.n, NAN, params);
        rc |= hl_eval_report_add(r, "ll", mean(&t->ll), t->ll.n, sem(&t->ll), params);
    }
    return rc ? hl_fail(err, errlen, HL_EFAIL, "out of memory") : HL_OK;
}

static int open_mc(const hl_eval_config *c, const hl_tokenizer *k, const char *d, hl_eval_task **o, char *e, size_t n) {
    return mc_open_kind(MC, c, k, d, o, e, n);
}
static int open_schema(const hl_eval_config *c, const hl_tokenizer *k, const char *d, hl_eval_task **o, char *e,
                       size_t n) {
    return mc_open_kind(SCHEMA, c, k, d, o, e, n);
}
static int open_lm(const hl_eval_config *c, const hl_tokenizer *k, const char *d, hl_eval_task **o, char *e, size_t n) {
    return mc_open_kind(LM, c, k, d, o, e, n);
}

const hl_eval_family hl_eval_multiple_choice = {"multiple_choice", "multiple_choice/1", open_mc, mc_n_items,
                                                mc_item_fn, mc_score, mc_report, mc_close};
const hl_eval_family hl_eval_schema = {"schema", "schema/1", open_schema, mc_n_items, mc_item_fn, mc_score,
                                       mc_report, mc_close};
const hl_eval_family hl_eval_language_modeling = {"language_modeling", "language_modeling/1", open_lm, mc_n_items,
                                                  mc_item_fn, mc_score, mc_report, mc_close};
