// eval_squad.c: the "squad" evaluation family: SQuAD v1.1 JSON as recall by
// generation (Based's SQuAD completion, asked as a question;
// ../shared/PAPERS.md 5.2).
//
// Family squad/1. Input: the standard SQuAD v1.1 JSON ({"data": [{"paragraphs":
// [{"context", "qas": [{"question", "answers": [{"text"}, ...]}]}]}]}); one
// item per question, in file order. Prompt (exactly):
//   DOC + "\n\nQuestion: " + QUESTION + "\nAnswer:"
// where QUESTION is the question with leading and trailing white space
// removed and DOC the paragraph's context likewise stripped and then cut to
// its first chunk_tokens tokens (default 1920) when longer: the document
// keeps its beginning, as a chunked document does, and the cue always
// follows (the harness's own left cut at max_length may then remove the
// beginning). A cut document is the decoded text of those tokens, without
// a trailing incomplete UTF-8 character; the prompt text is then tokenised
// whole. Request: greedy, max_new_tokens (default 48), stop cfg.stop
// (default "\n"). Answers: every answers[].text of the question (duplicates
// kept, as the official script). Metrics, samples: the generation family's
// (tasks/eval_gen.c): contains (headline), exact_match, f1; params
// {"path", "chunk_tokens"}; samples also hold "id" and "truncated_doc".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "core/json_util.h"
#include "tasks/eval.h"
#include "tasks/eval_gen.h"
#include "text/datadir.h"

extern const hl_eval_family hl_eval_squad;

typedef struct {
    long para;               // paragraph index
    char *question, *id;
    char **answers; int n_answers;
} squad_item;

typedef struct {
    hl_eval_task base;
    char path[HL_DATA_PATH_LEN];
    long n_para; char **para;   // (n_para) stripped contexts
    long n; squad_item *items;  // (n)
    long cached_para;           // the paragraph whose document text is in doc (-1: none)
    char *doc; int doc_cut;     // its (cut) text, 1 when cut
    char *prompt;               // the current item's prompt text
    hl_ids ids;                 // its tokens (load_doc uses it for the document's too)
    hl_gen_scores sc;
} squad_task;

static void squad_close(hl_eval_task *base) {
    squad_task *t = (squad_task *)base;
    if (!t) return;
    for (long i = 0; i < t->n_para; i++) free(t->para[i]);
    free(t->para);
    for (long i = 0; i < t->n; i++) {
        free(t->items[i].question); free(t->items[i].id);
        for (int k = 0; k < t->items[i].n_answers; k++) free(t->items[i].answers[k]);
        free(t->items[i].answers);
    }
    free(t->items); free(t->doc); free(t->prompt);
    hl_ids_free(&t->ids);
    hl_gen_scores_free(&t->sc);
    free(t);
}

// s without leading and trailing white space, malloc'd.
static char *strip_dup(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    char *o = malloc(n + 1);
    if (o) { memcpy(o, s, n); o[n] = 0; }
    return o;
}

// o[key] as an array / a string, else an error naming the JSON path.
static const cJSON *need_array(const char *file, const char *path, const cJSON *o, const char *key, int nonempty,
                               int *rc, char *err, size_t errlen) {
    const cJSON *a = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!cJSON_IsArray(a) || (nonempty && cJSON_GetArraySize(a) == 0)) {
        *rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: %s%s%s: %s (not SQuAD v1.1 JSON)", file, path, path[0] ? "." : "",
                      key, !a ? "missing" : !cJSON_IsArray(a) ? "expected an array" : "empty");
        return NULL;
    }
    return a;
}
static const char *need_string(const char *file, const char *path, const cJSON *o, const char *key, int *rc,
                               char *err, size_t errlen) {
    const cJSON *s = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!cJSON_IsString(s)) {
        *rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: %s.%s: %s (not SQuAD v1.1 JSON)", file, path, key,
                      !s ? "missing" : "expected a string");
        return NULL;
    }
    return s->valuestring;
}

#define OOM(t) hl_fail(err, errlen, HL_EFAIL, "squad: out of memory")

// Reads every paragraph and question of root into t.
static int read_squad(squad_task *t, const cJSON *root, char *err, size_t errlen) {
    int rc = HL_OK;
    char path[160];
    const cJSON *data = need_array(t->path, "", root, "data", 1, &rc, err, errlen);
    if (!data) return rc;
    long cap_p = 0, cap_q = 0;
    int ai = 0;
    for (const cJSON *art = data->child; art; art = art->next, ai++) {
        snprintf(path, sizeof path, "data[%d]", ai);
        const cJSON *paras = need_array(t->path, path, art, "paragraphs", 0, &rc, err, errlen);
        if (!paras) return rc;
        int pi = 0;
        for (const cJSON *p = paras->child; p; p = p->next, pi++) {
            snprintf(path, sizeof path, "data[%d].paragraphs[%d]", ai, pi);
            const char *ctx = need_string(t->path, path, p, "context", &rc, err, errlen);
            const cJSON *qas = ctx ? need_array(t->path, path, p, "qas", 0, &rc, err, errlen) : NULL;
            if (!qas) return rc;
            if (t->n_para == cap_p) {
                cap_p = cap_p ? 2 * cap_p : 256;
                char **np = realloc(t->para, (size_t)cap_p * sizeof *np);
                if (!np) return OOM(t);
                t->para = np;
            }
            if (!(t->para[t->n_para++] = strip_dup(ctx))) return OOM(t);
            int qi = 0;
            for (const cJSON *q = qas->child; q; q = q->next, qi++) {
                snprintf(path, sizeof path, "data[%d].paragraphs[%d].qas[%d]", ai, pi, qi);
                const char *question = need_string(t->path, path, q, "question", &rc, err, errlen);
                const cJSON *ans = question ? need_array(t->path, path, q, "answers", 1, &rc, err, errlen) : NULL;
                if (!ans) return rc;
                const cJSON *idj = cJSON_GetObjectItemCaseSensitive(q, "id");
                if (t->n == cap_q) {
                    cap_q = cap_q ? 2 * cap_q : 1024;
                    squad_item *ni = realloc(t->items, (size_t)cap_q * sizeof *ni);
                    if (!ni) return OOM(t);
                    t->items = ni;
                }
                squad_item *it = &t->items[t->n++];
                memset(it, 0, sizeof *it);
                it->para = t->n_para - 1;
                it->question = strip_dup(question);
                it->id = strdup(cJSON_IsString(idj) ? idj->valuestring : "");
                int na = cJSON_GetArraySize(ans);
                it->answers = calloc((size_t)na, sizeof *it->answers);
                if (!it->question || !it->id || !it->answers) return OOM(t);
                int k = 0;
                for (const cJSON *a = ans->child; a; a = a->next, k++) {
                    char apath[200];
                    snprintf(apath, sizeof apath, "%s.answers[%d]", path, k);
                    const char *text = need_string(t->path, apath, a, "text", &rc, err, errlen);
                    if (!text) return rc;
                    if (!(it->answers[k] = strdup(text))) return OOM(t);
                    it->n_answers = k + 1;
                }
            }
        }
    }
    if (t->n == 0) return hl_fail(err, errlen, HL_EBADINPUT, "%s: no questions", t->path);
    return HL_OK;
}

static int squad_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                      hl_eval_task **out, char *err, size_t errlen) {
    *out = NULL;
    squad_task *t = calloc(1, sizeof *t);
    if (!t) return OOM(t);
    t->base.family = &hl_eval_squad;
    t->base.cfg = *cfg;
    t->base.tok = tok;
    t->cached_para = -1;
    hl_eval_config *c = &t->base.cfg;
    if (c->max_new_tokens == 0) c->max_new_tokens = 48;
    if (!c->stop[0]) strcpy(c->stop, "\n");
    if (c->chunk_tokens == 0) c->chunk_tokens = 1920;
    const char *task = c->task[0] ? c->task : "squad";
    char *text = NULL;
    cJSON *root = NULL;
    int rc = HL_OK;
    if (c->max_new_tokens < 1 || c->chunk_tokens < 1) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: %s: must be >= 1 (got %d)", task,
                     c->max_new_tokens < 1 ? "max_new_tokens" : "chunk_tokens",
                     c->max_new_tokens < 1 ? c->max_new_tokens : c->chunk_tokens);
        goto fail;
    }
    rc = hl_data_path(data_dir, c->path, task, t->path, sizeof t->path, err, errlen);
    if (!rc) rc = hl_json_read_file(t->path, &text, err, errlen);
    if (!rc) rc = hl_json_parse(text, t->path, &root, err, errlen);
    if (!rc) rc = read_squad(t, root, err, errlen);
    if (!rc) rc = hl_gen_scores_init(&t->sc, t->n, err, errlen);
    free(text);
    cJSON_Delete(root);
    if (rc) goto fail;
    *out = &t->base;
    return HL_OK;
fail:
    squad_close(&t->base);
    return rc;
}

static long squad_n_items(const hl_eval_task *t) { return ((const squad_task *)t)->n; }

// The document text of paragraph p (cut to chunk_tokens tokens) into t->doc.
static int load_doc(squad_task *t, long p, char *err, size_t errlen) {
    if (t->cached_para == p) return HL_OK;
    free(t->doc); t->doc = NULL; t->cached_para = -1;
    const char *ctx = t->para[p];
    t->ids.n = 0;
    int rc = hl_tokenizer_encode(t->base.tok, ctx, strlen(ctx), &t->ids, err, errlen);
    if (rc) return rc;
    size_t len = 0;
    if ((long)t->ids.n > t->base.cfg.chunk_tokens) {
        rc = hl_tokenizer_decode(t->base.tok, t->ids.v, (size_t)t->base.cfg.chunk_tokens, &t->doc, &len, err, errlen);
        if (rc) return rc;
        // drop a trailing incomplete UTF-8 character
        size_t k = len, back = 0;
        while (k > 0 && back < 4 && ((unsigned char)t->doc[k - 1] & 0xC0) == 0x80) { k--; back++; }
        if (k > 0 && (unsigned char)t->doc[k - 1] >= 0xC0) {
            unsigned char lead = (unsigned char)t->doc[k - 1];
            size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
            if (back < need) t->doc[k - 1] = 0;
        }
        t->doc_cut = 1;
    } else {
        t->doc = strdup(ctx);
        if (!t->doc) return OOM(t);
        t->doc_cut = 0;
    }
    t->cached_para = p;
    return HL_OK;
}

static int squad_item_req(hl_eval_task *base, long i, hl_eval_item *out, char *err, size_t errlen) {
    squad_task *t = (squad_task *)base;
    if (i < 0 || i >= t->n) return hl_fail(err, errlen, HL_EBADINPUT, "squad: item %ld outside [0, %ld)", i, t->n);
    const squad_item *it = &t->items[i];
    int rc = load_doc(t, it->para, err, errlen);
    if (rc) return rc;
    static const char cue0[] = "\n\nQuestion: ", cue1[] = "\nAnswer:";
    size_t nd = strlen(t->doc), nq = strlen(it->question);
    free(t->prompt);
    t->prompt = malloc(nd + nq + sizeof cue0 + sizeof cue1);
    if (!t->prompt) return OOM(t);
    memcpy(t->prompt, t->doc, nd);
    memcpy(t->prompt + nd, cue0, sizeof cue0 - 1);
    memcpy(t->prompt + nd + sizeof cue0 - 1, it->question, nq);
    memcpy(t->prompt + nd + sizeof cue0 - 1 + nq, cue1, sizeof cue1);
    t->ids.n = 0;
    rc = hl_tokenizer_encode(base->tok, t->prompt, strlen(t->prompt), &t->ids, err, errlen);
    if (rc) return rc;
    hl_gen_request(out, &t->ids, &base->cfg);
    return HL_OK;
}

static int squad_score(hl_eval_task *base, long i, const hl_eval_item *item, const hl_eval_answer *a,
                       cJSON *sample, char *err, size_t errlen) {
    squad_task *t = (squad_task *)base;
    const squad_item *it = &t->items[i];
    // the prompt of item i is the last one built (score follows item)
    int rc = hl_gen_score(&t->sc, i, a->text ? a->text : "", (const char *const *)it->answers, it->n_answers,
                          t->prompt ? t->prompt : "", item->n_prompt, sample, err, errlen);
    if (!rc && sample && (!cJSON_AddStringToObject(sample, "id", it->id) ||
                !cJSON_AddBoolToObject(sample, "truncated_doc", t->cached_para == it->para && t->doc_cut)))
        rc = OOM(t);
    return rc;
}

static int squad_report(const hl_eval_task *base, hl_eval_report *r, char *err, size_t errlen) {
    const squad_task *t = (const squad_task *)base;
    char params[512], ps[400];
    if (hl_gen_json_string(base->cfg.path, ps, sizeof ps)) return OOM(t);
    snprintf(params, sizeof params, "{\"path\":%s,\"chunk_tokens\":%d}", ps, base->cfg.chunk_tokens);
    return hl_gen_report(&t->sc, params, r, err, errlen);
}

const hl_eval_family hl_eval_squad = {
    .name = "squad", .version = "squad/1",
    .open = squad_open, .n_items = squad_n_items, .item = squad_item_req, .score = squad_score,
    .report = squad_report, .close = squad_close,
};
