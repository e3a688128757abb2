// test_eval_mc.c: the log-likelihood evaluation families (tasks/eval_mc.c),
// the pair rule, the JSONL reader, TASK parsing (tasks/eval_config.c) and
// hl_eval_run's log-likelihood path (harness/eval) on a tiny random model
// with the byte tokenizer: every log-likelihood equals a naive one-row
// forward with logits at every position, acc/acc_norm/acc_bytes follow from
// the per-item log-likelihoods, truncation and skip_truncated are counted,
// and bad files are errors naming the file and line. The two
// log-likelihood paths (harness/eval/eval_internal.h: rows, shared context)
// give the same log-likelihoods (1e-5 relative) and greedy flags on real
// items (hellaswag, piqa, arc_easy, boolq with the gpt2 tokenizer) for the
// committed tests/lmeval checkpoint and random S and H models, including
// items in several chunks of max_B; items that do not qualify (schema,
// truncated) take the rows path; AUTO shares boolq on the A checkpoint and
// keeps rows for hellaswag and for a model with a recurrent state; sample
// records name the path.
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/eval/eval_internal.h"
#include "harness/eval/evaluate.h"
#include "harness/hf_io.h"
#include "models/checkpoint.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "tasks/eval.h"
#include "tasks/jsonl.h"
#include "tests/test.h"
#include "text/datadir.h"

static char dir[] = "/tmp/hylab-test-eval-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_pair_rule(const hl_tokenizer *tok) {
    char err[HL_ERR_LEN];
    hl_eval_pair p;
    int rc = hl_eval_pair_encode(tok, "abc ", "d", &p, err, sizeof err);
    hl_check(rc == HL_OK && p.n_ctx == 3 && p.n_cont == 2 && p.cont[0] == ' ' && p.cont[1] == 'd',
             "pair_trailing_space_moves", "rc %d n_ctx %d n_cont %d", rc, p.n_ctx, p.n_cont);
    hl_eval_pair_free(&p);
    // U+00A0 (no-break space) and a newline are whitespace to str.rstrip()
    rc = hl_eval_pair_encode(tok, "q\n\xc2\xa0", "x", &p, err, sizeof err);
    hl_check(rc == HL_OK && p.n_ctx == 1 && p.n_cont == 4, "pair_unicode_space_moves", "rc %d n_ctx %d n_cont %d", rc,
             p.n_ctx, p.n_cont);
    hl_eval_pair_free(&p);
    rc = hl_eval_pair_encode(tok, "", "x", &p, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "end-of-text"), "pair_empty_context_needs_eos", "rc %d: %s", rc, err);
}

static void test_jsonl(void) {
    char err[HL_ERR_LEN] = "";
    const char *path = write_file("j.jsonl", "{\"a\": 1}\n\n  \n{\"a\": 2\n");
    hl_jsonl r;
    cJSON *o = NULL;
    int rc = hl_jsonl_open(&r, path, err, sizeof err), n = 0;
    while (!rc && !(rc = hl_jsonl_next(&r, 1, &o, err, sizeof err)) && o) { n++; cJSON_Delete(o); }
    hl_check(rc == HL_EBADINPUT && n == 1 && strstr(err, "j.jsonl: line 4: not valid JSON"), "jsonl_bad_line_named",
             "rc %d n %d: %s", rc, n, err);
    hl_jsonl_close(&r);
    path = write_file("k.jsonl", "[1]\n");
    rc = hl_jsonl_open(&r, path, err, sizeof err);
    if (!rc) rc = hl_jsonl_next(&r, 1, &o, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "k.jsonl: line 1: expected a JSON object"), "jsonl_not_object", "%s", err);
    hl_jsonl_close(&r);
}

static void test_parse_arg(void) {
    hl_eval_config c[HL_EVAL_MAX_TASKS];
    char err[HL_ERR_LEN] = "";
    int n = 0;
    int rc = hl_eval_parse_arg("hellaswag", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_OK && n == 1 && !strcmp(c[0].family, "multiple_choice") && !strcmp(c[0].metric, "acc_norm") &&
                 !strcmp(c[0].path, "eval/hellaswag.jsonl") && !strcmp(c[0].target_delimiter, " "),
             "arg_preset", "rc %d %s", rc, err);
    rc = hl_eval_parse_arg("commonsense", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_OK && n == 5 && !strcmp(c[3].task, "winogrande") && !strcmp(c[3].family, "schema"),
             "arg_group_commonsense", "rc %d n %d %s", rc, n, err);
    rc = hl_eval_parse_arg("{\"task\": \"lm_eval8\", \"limit\": 7}", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_OK && n == 8 && c[7].limit == 7 && !strcmp(c[7].family, "language_modeling"),
             "arg_group_object_limit", "rc %d n %d %s", rc, n, err);
    rc = hl_eval_parse_arg("schema:/x/y.jsonl", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_OK && n == 1 && c[0].from_format && !strcmp(c[0].path, "/x/y.jsonl") &&
                 !strcmp(c[0].task, "schema:y.jsonl"),
             "arg_format_path", "rc %d %s task %s", rc, err, c[0].task);
    rc = hl_eval_parse_arg("nosuch", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "unknown task 'nosuch'") && strstr(err, "hellaswag") && n == 0,
             "arg_unknown", "rc %d %s", rc, err);
    rc = hl_eval_parse_arg("{\"task\": \"piqa\", \"needle\": \"single\"}", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "needle") && strstr(err, "not a setting"), "arg_foreign_key", "%s", err);
    rc = hl_eval_parse_arg("{\"task\": \"piqa\", \"limit\": -1}", "T", c, HL_EVAL_MAX_TASKS, &n, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "limit"), "arg_negative_limit", "%s", err);
    hl_check(hl_eval_task_known("boolq") && hl_eval_task_known("commonsense") &&
                 hl_eval_task_known("multiple_choice:a.jsonl") && !hl_eval_task_known("mqar") &&
                 !hl_eval_task_known("multiple_choice:"),
             "task_known", "");
}

// Opening a file with one defect: HL_EBADINPUT naming file and line.
static void bad_file(const hl_tokenizer *tok, const char *name, const char *family, const char *text, const char *want) {
    char err[HL_ERR_LEN] = "", arg[600];
    const char *path = write_file("bad.jsonl", text);
    snprintf(arg, sizeof arg, "%s:%s", family, path);
    hl_eval_config c;
    int n, rc = hl_eval_parse_arg(arg, "T", &c, 1, &n, err, sizeof err);
    hl_eval_task *t = NULL;
    if (!rc) rc = hl_eval_open(&c, tok, dir, &t, err, sizeof err);
    hl_eval_close(t);
    hl_check(rc == HL_EBADINPUT && strstr(err, "bad.jsonl: line 2") && strstr(err, want), name, "rc %d: %s", rc, err);
}

static void test_bad_files(const hl_tokenizer *tok) {
    const char *mc = "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n";
    const char *sc = "{\"context_options\": [\"a\", \"b\"], \"continuation\": \"c\", \"gold\": 0}\n";
    const char *lm = "{\"context\": \"a\", \"continuation\": \"b\"}\n";
    char t[512];
#define BAD(name, fam, line2, want) \
    snprintf(t, sizeof t, "%s%s\n", fam[0] == 'm' ? mc : fam[0] == 's' ? sc : lm, line2); bad_file(tok, name, fam, t, want)
    BAD("bad_gold_range", "multiple_choice", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}", "gold 2 is outside the 2 choices");
    BAD("bad_one_choice", "multiple_choice", "{\"query\": \"q\", \"choices\": [\"a\"], \"gold\": 0}", "at least 2 needed");
    BAD("bad_empty_choice", "multiple_choice", "{\"query\": \"q\", \"choices\": [\"a\", \"\"], \"gold\": 0}", "choice 1 is empty");
    BAD("bad_missing_key", "multiple_choice", "{\"choices\": [\"a\", \"b\"], \"gold\": 0}", "missing key \"query\"");
    BAD("bad_gold_kind", "multiple_choice", "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0.5}", "expected an integer");
    BAD("bad_malformed", "multiple_choice", "{\"query\": ", "not valid JSON");
    BAD("bad_schema_gold", "schema", "{\"context_options\": [\"a\", \"b\"], \"continuation\": \"c\", \"gold\": -1}", "gold -1");
    BAD("bad_lm_missing", "language_modeling", "{\"context\": \"a\"}", "missing key \"continuation\"");
#undef BAD
    char err[HL_ERR_LEN] = "";
    hl_eval_config c;
    int n;
    hl_eval_parse_arg("multiple_choice:no/such/file.jsonl", "T", &c, 1, &n, err, sizeof err);
    hl_eval_task *tk = NULL;
    int rc = hl_eval_open(&c, tok, dir, &tk, err, sizeof err);
    hl_eval_close(tk);
    hl_check(rc == HL_EBADINPUT && strstr(err, "no/such/file.jsonl") && strstr(err, "missing"), "bad_missing_file", "%s", err);
}

// Naive summed log-likelihood of cont after ctx: one row, logits at every
// position, input cut to the last L + 1 tokens.
static double naive_ll(hl_model *m, const hl_eval_pair *p, int L, int *greedy) {
    int total = p->n_ctx + p->n_cont, start = total - 1 > L ? total - 1 - L : 0, T = total - 1 - start;
    int32_t *x = malloc((size_t)total * sizeof *x);
    for (int i = 0; i < total; i++) x[i] = i < p->n_ctx ? p->ctx[i] : p->cont[i - p->n_ctx];
    const float *lg;
    char err[HL_ERR_LEN];
    hl_model_forward(m, x + start, 1, T, NULL, T, &lg, err, sizeof err);
    int V = hl_model_cfg(m)->vocab_size;
    double ll = 0;
    *greedy = 1;
    for (int t = T - p->n_cont; t < T; t++) {
        const float *r = lg + (size_t)t * V;
        int target = x[start + t + 1], best = 0;
        double mx = r[0], s = 0;
        for (int v = 1; v < V; v++) if (r[v] > mx) { mx = r[v]; best = v; }
        for (int v = 0; v < V; v++) s += exp(r[v] - mx);
        ll += r[target] - mx - log(s);
        *greedy &= best == target;
    }
    free(x);
    return ll;
}

static const char *MC_DATA =
    "{\"query\": \"The cat sat on the\", \"choices\": [\"mat\", \"dog\", \"h\\u00e9llo there\"], \"gold\": 0}\n"
    "{\"query\": \"One two\", \"choices\": [\"three\", \"four\"], \"gold\": 1}\n"
    "\n"
    "{\"query\": \"A long question that will not fit in a short context window at all\", \"choices\": [\"yes\", \"no\"], \"gold\": 1}\n"
    "{\"query\": \"x\", \"choices\": [\"a\", \"bb\", \"ccc\", \"dddd\", \"eeeee\"], \"gold\": 4}\n";

static int count_lines(FILE *f) {
    int n = 0, c;
    rewind(f);
    while ((c = getc(f)) != EOF) n += c == '\n';
    return n;
}

static void test_run(const hl_tokenizer *tok) {
    char err[HL_ERR_LEN] = "";
    hl_spec spec;
    int rc = hl_spec_load_text(
        "{\"name\": \"t\", \"model\": {\"vocab_size\": 256, \"d_model\": 16, \"n_layers\": 2, \"layers\": \"AS\","
        " \"attn\": {\"n_heads\": 2, \"n_kv_heads\": 2, \"head_dim\": 8}, \"ssm\": {\"d_state\": 4, \"d_conv\": 4, \"expand\": 2}},"
        " \"train\": {\"task\": {\"name\": \"mqar\", \"seq_len\": 64, \"num_kv_pairs\": 2}, \"steps\": 1, \"batch_size\": 1}}",
        "spec", NULL, 0, &spec, err, sizeof err);
    if (!hl_check(rc == HL_OK, "spec", "%s", err)) return;
    const hl_backend *be = hl_backend_lookup("cpu", err, sizeof err);
    hl_model *m = hl_model_create(&spec.model, be, 2, 64, err, sizeof err);   // max_B 2: 5 choices take 3 batches
    hl_model_init(m, 5);
    char arg[600];
    snprintf(arg, sizeof arg, "multiple_choice:%s", write_file("mc.jsonl", MC_DATA));
    hl_eval_config c;
    int n;
    hl_eval_parse_arg(arg, "T", &c, 1, &n, err, sizeof err);
    c.max_length = 32;
    FILE *s = tmpfile();
    hl_eval_report rep;
    hl_eval_stats st;
    rc = hl_eval_run(m, tok, &c, dir, 64, s, &rep, &st, err, sizeof err);
    if (!hl_check(rc == HL_OK, "run_mc", "%s", err)) return;
    hl_check(st.items == 4 && st.truncated == 1 && st.skipped == 0 && count_lines(s) == 4, "run_counts",
             "items %ld truncated %ld lines %d", st.items, st.truncated, count_lines(s));
    // every ll equals the naive forward; acc/acc_norm/acc_bytes recomputed
    hl_eval_task *t = NULL;
    hl_eval_open(&c, tok, dir, &t, err, sizeof err);
    rewind(s);
    char line[8192];
    double worst = 0, acc = 0, accn = 0, accb = 0;
    int greedy_ok = 1, items = 0;
    static const char *const CH[4][5] = {{"mat", "dog", "h\xc3\xa9llo there"}, {"three", "four"}, {"yes", "no"},
                                         {"a", "bb", "ccc", "dddd", "eeeee"}};
    static const int NCH[4] = {3, 2, 2, 5}, CP[3] = {3, 3, 11};
    while (fgets(line, sizeof line, s)) {
        cJSON *o = cJSON_Parse(line);
        int i = (int)cJSON_GetObjectItem(o, "index")->valuedouble;
        hl_eval_item it;
        t->family->item(t, i, &it, err, sizeof err);
        cJSON *lls = cJSON_GetObjectItem(o, "lls"), *gr = cJSON_GetObjectItem(o, "is_greedy");
        double best = -INFINITY, bestn = -INFINITY, bestb = -INFINITY;
        int pred = 0, pn = 0, pb = 0;
        for (int k = 0; k < it.n_req; k++) {
            int g;
            double want = naive_ll(m, &it.req[k], 32, &g), got = cJSON_GetArrayItem(lls, k)->valuedouble;
            if (fabs(want - got) > worst) worst = fabs(want - got);
            greedy_ok &= g == cJSON_IsTrue(cJSON_GetArrayItem(gr, k));
            double cp = i == 0 && k < 3 ? CP[k] : (double)strlen(CH[i][k]);
            if (got > best) { best = got; pred = k; }
            if (got / cp > bestn) { bestn = got / cp; pn = k; }
            if (got / (double)strlen(CH[i][k]) > bestb) { bestb = got / (double)strlen(CH[i][k]); pb = k; }
        }
        int gold = (int)cJSON_GetObjectItem(o, "gold")->valuedouble;
        greedy_ok &= (int)cJSON_GetObjectItem(o, "pred")->valuedouble == pred &&
                     (int)cJSON_GetObjectItem(o, "pred_norm")->valuedouble == pn &&
                     (int)cJSON_GetObjectItem(o, "pred_bytes")->valuedouble == pb && it.n_req == NCH[i];
        acc += pred == gold; accn += pn == gold; accb += pb == gold;
        items++;
        cJSON_Delete(o);
    }
    hl_eval_close(t);
    hl_check(worst < 1e-4, "run_ll_equals_naive_forward", "worst |diff| %g", worst);
    hl_check(greedy_ok, "run_greedy_and_preds", "");
    double racc = NAN, raccn = NAN, raccb = NAN, semacc = NAN;
    long trunc = -1;
    for (int i = 0; i < rep.n; i++) {
        if (!strcmp(rep.m[i].name, "acc")) { racc = rep.m[i].value; semacc = rep.m[i].sem; }
        if (!strcmp(rep.m[i].name, "acc_norm")) raccn = rep.m[i].value;
        if (!strcmp(rep.m[i].name, "acc_bytes")) raccb = rep.m[i].value;
        if (!strcmp(rep.m[i].name, "truncated")) trunc = (long)rep.m[i].value;
    }
    double p = acc / items, want_sem = sqrt(p * (1 - p) * items / (items - 1)) / sqrt(items);
    hl_check(items == 4 && racc == p && raccn == accn / items && raccb == accb / items && trunc == 1 &&
                 fabs(semacc - want_sem) < 1e-12 && !strcmp(rep.version, "multiple_choice/1"),
             "run_metrics", "acc %g/%g norm %g/%g bytes %g/%g sem %g/%g trunc %ld", racc, p, raccn, accn / items, raccb,
             accb / items, semacc, want_sem, trunc);
    hl_eval_report_free(&rep);
    fclose(s);

    // skip_truncated: the cut item is skipped and counted; --limit
    c.skip_truncated = 1;
    c.limit = 3;
    rc = hl_eval_run(m, tok, &c, dir, 64, NULL, &rep, &st, err, sizeof err);
    long skipped = -1, nacc = -1;
    for (int i = 0; rc == HL_OK && i < rep.n; i++) {
        if (!strcmp(rep.m[i].name, "skipped")) skipped = (long)rep.m[i].value;
        if (!strcmp(rep.m[i].name, "acc")) nacc = rep.m[i].n;
    }
    hl_check(rc == HL_OK && st.items == 2 && st.skipped == 1 && skipped == 1 && nacc == 2, "run_skip_truncated_limit",
             "rc %d items %ld skipped %ld/%ld n %ld", rc, st.items, st.skipped, skipped, nacc);
    hl_eval_report_free(&rep);

    // schema and language_modeling: one pair per context / one pair
    snprintf(arg, sizeof arg, "schema:%s",
             write_file("sc.jsonl", "{\"context_options\": [\"Bob ate\", \"Ann ate\"], \"continuation\": \"the pie.\", \"gold\": 1}\n"));
    hl_eval_parse_arg(arg, "T", &c, 1, &n, err, sizeof err);
    s = tmpfile();
    rc = hl_eval_run(m, tok, &c, dir, 64, s, &rep, &st, err, sizeof err);
    rewind(s);
    int ok = rc == HL_OK && fgets(line, sizeof line, s) && strstr(line, "\"lls\":[") && rep.n == 2 &&
             !strcmp(rep.m[0].name, "acc") && !strcmp(rep.version, "schema/1");
    hl_check(ok, "run_schema", "rc %d %s", rc, err);
    if (rc == HL_OK) hl_eval_report_free(&rep);
    fclose(s);
    snprintf(arg, sizeof arg, "language_modeling:%s",
             write_file("lm.jsonl", "{\"context\": \"to be or not to\", \"continuation\": \"be\"}\n"
                                    "{\"context\": \"abc\", \"continuation\": \"d\"}\n"));
    hl_eval_parse_arg(arg, "T", &c, 1, &n, err, sizeof err);
    s = tmpfile();
    rc = hl_eval_run(m, tok, &c, dir, 64, s, &rep, &st, err, sizeof err);
    double l0 = NAN, l1 = NAN, ppl = NAN;
    rewind(s);
    for (int i = 0; rc == HL_OK && fgets(line, sizeof line, s); i++) {
        cJSON *o = cJSON_Parse(line);
        *(i ? &l1 : &l0) = cJSON_GetObjectItem(o, "ll")->valuedouble;
        cJSON_Delete(o);
    }
    for (int i = 0; rc == HL_OK && i < rep.n; i++)
        if (!strcmp(rep.m[i].name, "perplexity")) ppl = rep.m[i].value;
    hl_check(rc == HL_OK && fabs(ppl - exp(-(l0 + l1) / 2)) < 1e-9 * ppl, "run_lm_perplexity", "ppl %g want %g (%s)", ppl,
             exp(-(l0 + l1) / 2), err);
    if (rc == HL_OK) hl_eval_report_free(&rep);
    fclose(s);
    // max_length beyond the model
    c.max_length = 65;
    rc = hl_eval_run(m, tok, &c, dir, 64, NULL, &rep, &st, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "max_length 65"), "run_max_length_beyond_model", "%s", err);
    hl_model_free(m);
    hl_spec_free(&spec);
}

// Items 0..n-1 of preset `task` through both paths: the worst relative ll
// difference, greedy flags equal, every item shared (want_shared) or rows.
static void paths_agree(const char *what, hl_model *m, const hl_tokenizer *tok, const char *data_dir, const char *task,
                        int n, int max_length, int want_shared) {
    char err[HL_ERR_LEN] = "", name[160];
    hl_eval_config c;
    int k;
    int rc = hl_eval_parse_arg(task, "T", &c, 1, &k, err, sizeof err);
    c.max_length = max_length;
    hl_eval_task *t = NULL;
    if (!rc) rc = hl_eval_open(&c, tok, data_dir, &t, err, sizeof err);
    hl_eval_ll_state *st = NULL;
    double worst = 0;
    int flags = 1, paths = 1, items = 0, chunked = 0;
    long tok_rows = 0, tok_shared = 0;
    for (int i = 0; !rc && i < n; i++) {
        hl_eval_item it;
        rc = t->family->item(t, i, &it, err, sizeof err);
        if (rc) break;
        hl_eval_ll a[16], b[16];
        int tr_a, tr_b;
        hl_eval_ll_path ua, ub;
        rc = hl_eval_answer_loglik(&st, m, &it, max_length, HL_EVAL_LL_ROWS, a, &tr_a, &tok_rows, &ua, err, sizeof err);
        if (!rc)
            rc = hl_eval_answer_loglik(&st, m, &it, max_length, HL_EVAL_LL_SHARED, b, &tr_b, &tok_shared, &ub, err,
                                       sizeof err);
        if (rc) break;
        paths &= ua == HL_EVAL_LL_ROWS && ub == (want_shared ? HL_EVAL_LL_SHARED : HL_EVAL_LL_ROWS) && tr_a == tr_b;
        chunked |= it.n_req > hl_model_max_B(m);
        for (int j = 0; j < it.n_req; j++) {
            double d = fabs(a[j].ll - b[j].ll) / fmax(fabs(a[j].ll), 1e-3);
            if (d > worst || isnan(d)) worst = d;
            flags &= a[j].greedy == b[j].greedy && a[j].n_tokens == b[j].n_tokens;
        }
        items++;
    }
    hl_eval_ll_free(st);
    hl_eval_close(t);
    snprintf(name, sizeof name, "paths_same_lls_%s_%s", what, task);
    hl_check(!rc && items == n && worst <= 1e-5, name, "rc %d %s: %d items, worst relative difference %.3g", rc, err, items,
             worst);
    snprintf(name, sizeof name, "paths_same_greedy_%s_%s", what, task);
    hl_check(!rc && flags, name, "greedy flags or token counts differ");
    snprintf(name, sizeof name, "paths_taken_%s_%s", what, task);
    hl_check(!rc && paths && (!want_shared || tok_shared < tok_rows), name,
             "path or truncation differs (want %s); positions rows %ld shared %ld", want_shared ? "shared" : "rows",
             tok_rows, tok_shared);
    if (!strcmp(task, "hellaswag")) {
        snprintf(name, sizeof name, "paths_chunks_covered_%s", what);
        hl_check(chunked, name, "no item had more pairs than max_B %d", hl_model_max_B(m));
    }
}

// hl_eval_run (AUTO) on the first 3 items of task: every sample record names the path `want`.
static void auto_paths(const char *what, hl_model *m, const hl_tokenizer *tok, const char *data_dir, const char *task,
                       const char *want) {
    char err[HL_ERR_LEN] = "", name[160], line[65536], needle[64];
    hl_eval_config c;
    int n, hits = 0, lines = 0;
    int rc = hl_eval_parse_arg(task, "T", &c, 1, &n, err, sizeof err);
    c.limit = 3;
    c.max_length = hl_model_max_T(m);
    FILE *f = tmpfile();
    hl_eval_report rep;
    hl_eval_stats st;
    if (!rc) rc = hl_eval_run(m, tok, &c, data_dir, 256, f, &rep, &st, err, sizeof err);
    if (!rc) hl_eval_report_free(&rep);
    snprintf(needle, sizeof needle, "\"path\":\"%s\"", want);
    rewind(f);
    while (!rc && fgets(line, sizeof line, f)) { lines++; hits += strstr(line, needle) != NULL; }
    fclose(f);
    snprintf(name, sizeof name, "auto_path_%s_%s_%s", what, task, want);
    hl_check(!rc && lines == 3 && hits == 3, name, "rc %d %s: %d of %d records with %s", rc, err, hits, lines, needle);
}

static void test_paths(const char *data_dir) {
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *tok = NULL;
    if (!hl_check(hl_tokenizer_open("gpt2", data_dir, &tok, err, sizeof err) == HL_OK, "paths_gpt2_tokenizer", "%s", err))
        return;
    const hl_backend *be = hl_backend_get("cpu");
    const char *tasks[] = {"hellaswag", "piqa", "arc_easy"};
    // the committed lm-eval checkpoint (A, d_model 16), max_B 3: hellaswag's 4 pairs take two chunks
    hl_spec spec;
    int rc = hl_ckpt_spec("tests/lmeval/model.safetensors", &spec, err, sizeof err);
    hl_model *m = rc ? NULL : hl_model_create(&spec.model, be, 3, 1024, err, sizeof err);
    if (m) rc = hl_ckpt_load("tests/lmeval/model.safetensors", m, err, sizeof err);
    if (hl_check(m && !rc, "paths_lmeval_model", "%s", err)) {
        for (int i = 0; i < 3; i++) paths_agree("lmeval", m, tok, data_dir, tasks[i], 12, 256, 1);
        paths_agree("lmeval", m, tok, data_dir, "winogrande", 4, 256, 0);   // schema: contexts differ
        paths_agree("lmeval_cut", m, tok, data_dir, "hellaswag", 3, 16, 0);  // every item cut at 16
        paths_agree("lmeval", m, tok, data_dir, "boolq", 6, 1024, 1);
        auto_paths("lmeval", m, tok, data_dir, "boolq", "shared");      // one-token continuations: AUTO shares
        auto_paths("lmeval", m, tok, data_dir, "hellaswag", "rows");    // long continuations: rows
    }
    hl_model_free(m);
    if (!rc) hl_spec_free(&spec);
    // random S and H models (H: sliding window, meta tokens, GQA)
    const char *layers[] = {"SS", "HSH"};
    for (int k = 0; k < 2; k++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"name\": \"p\", \"model\": {\"vocab_size\": 50257, \"d_model\": 16, \"n_layers\": %d, \"layers\": \"%s\","
                 " \"meta_tokens\": 2, \"attn\": {\"n_heads\": 4, \"n_kv_heads\": 2, \"head_dim\": 4, \"window\": %d},"
                 " \"ssm\": {\"d_state\": 4, \"d_conv\": 4, \"expand\": 2}},"
                 " \"train\": {\"task\": {\"name\": \"mqar\", \"seq_len\": 64, \"num_kv_pairs\": 2}, \"steps\": 1, \"batch_size\": 1}}",
                 (int)strlen(layers[k]), layers[k], k ? 16 : 0);
        rc = hl_spec_load_text(text, "spec", NULL, 0, &spec, err, sizeof err);
        m = rc ? NULL : hl_model_create(&spec.model, be, 3, 256, err, sizeof err);
        if (m) rc = hl_model_init(m, 3);
        if (hl_check(m && !rc, "paths_random_model", "%s: %s", layers[k], err)) {
            for (int i = 0; i < 3; i++) paths_agree(layers[k], m, tok, data_dir, tasks[i], 6, 256, 1);
            auto_paths(layers[k], m, tok, data_dir, "boolq", "rows");   // a recurrent state: AUTO keeps rows
        }
        hl_model_free(m);
        if (!rc) hl_spec_free(&spec);
    }
    hl_tokenizer_free(tok);
}

// Every preset that reads a file names a file of the data manifest
// (text/manifest.c), whose needed_by names the preset and each group that
// holds it (what `hylab data list` and a missing-file message show).
static void test_presets_in_manifest(void) {
    int bad = 0;
    char why[256] = "";
    for (const hl_eval_preset *p = hl_eval_presets; p->name; p++) {
        if (!p->path) continue;
        const hl_data_entry *e = hl_data_find(p->path);
        if (!e || !strstr(e->needed_by, p->name)) {
            if (!bad++) snprintf(why, sizeof why, "preset %s: %s", p->name, e ? e->needed_by : "not in the manifest");
            continue;
        }
        for (const hl_eval_group *g = hl_eval_groups; g->name; g++)
            for (int i = 0; g->members[i]; i++)
                if (!strcmp(g->members[i], p->name) && !strstr(e->needed_by, g->name) && !bad++)
                    snprintf(why, sizeof why, "%s: needed_by '%s' lacks group %s", p->path, e->needed_by, g->name);
    }
    hl_check(!bad, "presets_files_in_manifest", "%d bad: %s", bad, why);
}

int main(void) {
    test_presets_in_manifest();
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char err[HL_ERR_LEN];
    hl_tokenizer *tok = NULL;
    if (!hl_check(hl_tokenizer_open("byte", NULL, &tok, err, sizeof err) == HL_OK, "byte_tokenizer", "%s", err))
        return hl_test_done();
    hl_blas_init(1);
    test_pair_rule(tok);
    test_jsonl();
    test_parse_arg();
    test_bad_files(tok);
    test_run(tok);
    hl_tokenizer_free(tok);
    char data_dir[HL_DATA_PATH_LEN];
    if (hl_check(hl_data_dir(NULL, data_dir, sizeof data_dir, err, sizeof err) == HL_OK, "paths_data_dir", "%s", err))
        test_paths(data_dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return hl_test_done();
}
