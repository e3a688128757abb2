// test_eval_gen.c: the generation side of evaluation.
//   - SQuAD v1.1 normalisation, exact match and F1 against the official
//     script's results (tests/eval_gen/squad_norm.py prints them), contains,
//     and the UTF-8 repair of sample text against Python's;
//   - family "generation": JSONL items (answer / answers / answer_location),
//     its scores and report (per answer_location for the key-value files),
//     the shared longctx file, and bad input naming file and line;
//   - family "squad": items of the shared SQuAD file, the exact prompt, the
//     document chunk, scores, bad JSON naming the path;
//   - hl_eval_answer_generate (harness/eval/eval_gen.c): the same
//     generations as a naive greedy loop over the reference decoding state
//     (hl_infer_create_ref) on a small random model, with and without a stop
//     string, with the prompt cut from the left, stopping at gpt2's eos, and
//     its refusals.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>
#include "tests/test.h"
#include "core/config.h"
#include "core/json_util.h"
#include "harness/eval/eval_internal.h"
#include "kernels/kernels.h"
#include "models/decode.h"
#include "models/model.h"
#include "models/model_config.h"
#include "tasks/eval.h"
#include "tasks/eval_gen.h"
#include "tasks/text_norm.h"

extern const hl_eval_family hl_eval_generation, hl_eval_squad;

static const char *data_dir(void) {
    const char *d = getenv("HYLAB_DATA");
    return d && d[0] ? d : "../shared/data";
}

// ---------------------------------------------------------------- normalisation

// (prediction, gold, normalised prediction, exact_match, f1) as the official
// evaluate-v1.1.py functions give them (tests/eval_gen/squad_norm.py).
static const struct { const char *pred, *gold, *norm; double em, f1; } NORM[] = {
    {"The Denver Broncos!", "Denver Broncos", "denver broncos", 1, 1},
    {"  an apple a day, the\tbest  ", "apple day best", "apple day best", 1, 1},
    {"Th\u00e9\u00e2tre de l'Od\u00e9on", "TH\u00c9\u00c2TRE DE LOD\u00c9ON", "th\u00e9\u00e2tre de lod\u00e9on", 1, 1},
    {"the cat the cat sat", "cat sat on the mat", "cat cat sat", 0, 0.5714285714285715},
    {"another theme", "another theme", "another theme", 1, 1},
    {"a_b the_c", "ab thec", "ab thec", 1, 1},
    {"\u0391\u0398\u0397\u039d\u0391", "\u03b1\u03b8\u03b7\u03bd\u03b1", "\u03b1\u03b8\u03b7\u03bd\u03b1", 1, 1},
    {"\u041c\u041e\u0421\u041a\u0412\u0410 \u0438", "\u043c\u043e\u0441\u043a\u0432\u0430 \u0418", "\u043c\u043e\u0441\u043a\u0432\u0430 \u0438", 1, 1},
    {"\u00a0the\u2003end\u3000", "end", "end", 1, 1},
    {"", "anything", "", 0, 0},
    {"the", "", "", 1, 0},
    {"Beyonc\u00e9's 2003 album", "beyonces 2003 album", "beyonc\u00e9s 2003 album", 0, 0.6666666666666666},
    {"1,000 (approx.)", "1000 approx", "1000 approx", 1, 1},
    {"th\u00e9a the", "th\u00e9a", "th\u00e9a", 1, 1},
    {"x\u2013the\u2013y", "x y", "x\u2013 \u2013y", 0, 0},
};

static void test_norm(void) {
    int n = (int)(sizeof NORM / sizeof NORM[0]);
    for (int i = 0; i < n; i++) {
        char name[64];
        char *norm = hl_squad_normalize(NORM[i].pred);
        double em = hl_squad_exact(NORM[i].pred, NORM[i].gold), f1 = hl_squad_f1(NORM[i].pred, NORM[i].gold);
        snprintf(name, sizeof name, "squad_norm_%d", i);
        hl_check(norm && !strcmp(norm, NORM[i].norm) && em == NORM[i].em && fabs(f1 - NORM[i].f1) < 1e-12, name,
                 "'%s' -> '%s' (want '%s'), em %g (want %g), f1 %.6f (want %.6f)", NORM[i].pred, norm ? norm : "",
                 NORM[i].norm, em, NORM[i].em, f1, NORM[i].f1);
        free(norm);
    }
    const char *golds[] = {"Denver Broncos", "the Broncos", "Broncos"};
    hl_check(hl_squad_exact_max(" the broncos.", golds, 3) == 1 && fabs(hl_squad_f1_max("Denver", golds, 3) - 2.0 / 3) < 1e-12 &&
             hl_squad_exact_max("x", golds, 0) == 0, "squad_max_over_golds", "");
    hl_check(hl_contains_nocase(" they were the DENVER broncos\n", "Denver Broncos") == 1 &&
             hl_contains_nocase("Denver", "Denver Broncos") == 0 && hl_contains_nocase("abc", "") == 1 &&
             hl_contains_nocase("\u00c9COLE", "\u00e9cole") == 1 && hl_contains_max("broncos", golds, 3) == 1 &&
             hl_contains_max("panthers", golds, 3) == 0, "contains_nocase", "");
    double x[] = {1, 0, 1, 1}, m, s;
    hl_mean_sem(x, 4, &m, &s);
    hl_check(m == 0.75 && fabs(s - 0.25) < 1e-12, "mean_sem", "mean %g sem %g (want 0.75, 0.25)", m, s);
    hl_mean_sem(x, 1, &m, &s);
    hl_check(m == 1 && isnan(s), "mean_sem_one_item", "sem %g", s);
}


// (bytes, Python's bytes.decode("utf-8", "replace")) in hex (tests/eval_gen/squad_norm.py).
static const struct { const char *in, *out; } UTF8[] = {
    {"6f6b", "6f6b"},
    {"e282", "efbfbd"},
    {"e28241", "efbfbd41"},
    {"c0af", "efbfbdefbfbd"},
    {"eda080", "efbfbdefbfbdefbfbd"},
    {"f09f98", "efbfbd"},
    {"f09f9880", "f09f9880"},
    {"f4908080", "efbfbdefbfbdefbfbdefbfbd"},
    {"8080", "efbfbdefbfbd"},
    {"61ff62", "61efbfbd62"},
    {"e080af", "efbfbdefbfbdefbfbd"},
    {"e0a0", "efbfbd"},
    {"636166c3a9c3", "636166c3a9efbfbd"},
};

static char *unhex(const char *h) {
    size_t n = strlen(h) / 2;
    char *o = malloc(n + 1);
    for (size_t i = 0; i < n; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); o[i] = (char)v; }
    o[n] = 0;
    return o;
}

static void test_utf8(void) {
    int n = (int)(sizeof UTF8 / sizeof UTF8[0]);
    for (int i = 0; i < n; i++) {
        char *in = unhex(UTF8[i].in), *want = unhex(UTF8[i].out), *got = hl_utf8_sanitize(in), name[64];
        snprintf(name, sizeof name, "utf8_sanitize_%s", UTF8[i].in);
        hl_check(got && !strcmp(got, want), name, "differs from Python's decode(errors=\"replace\")");
        free(in); free(want); free(got);
    }
}

// ---------------------------------------------------------------- generation family

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/hylab_evalgen_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) { close(fd); return NULL; }
    close(fd);
    return path;
}

static hl_eval_config gen_cfg(const char *family, const char *path) {
    hl_eval_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.task, sizeof c.task, "%s_test", family);
    snprintf(c.family, sizeof c.family, "%s", family);
    snprintf(c.path, sizeof c.path, "%s", path);
    return c;
}

static void expect_bad(const hl_eval_family *f, const char *name, const char *text, const char *want,
                       const hl_tokenizer *tok) {
    char *p = write_tmp(text), err[HL_ERR_LEN] = "", w[1200];
    hl_eval_config c = gen_cfg(f->name, p ? p : "");
    hl_eval_task *t = NULL;
    int rc = f->open(&c, tok, data_dir(), &t, err, sizeof err);
    snprintf(w, sizeof w, "%s: %s", p ? p : "?", want);
    hl_check(rc == HL_EBADINPUT && strstr(err, w) && !t, name, "rc %d: '%s' (want '%s')", rc, err, w);
    if (t) f->close(t);
    if (p) unlink(p);
}

static void test_generation(const hl_tokenizer *tok) {
    const char *text =
        "{\"context\": \"Q: capital of France?\\nA:\", \"answer\": \"Paris\"}\n"
        "\n"
        "{\"context\": \"The sky is\", \"answers\": [\"blue\", \"grey\"]}\n"
        "{\"context\": \"2+2=\", \"answer\": \"4\"}\n";
    char *p = write_tmp(text), err[HL_ERR_LEN] = "";
    hl_eval_config c = gen_cfg("generation", p);
    hl_eval_task *t = NULL;
    int rc = hl_eval_generation.open(&c, tok, data_dir(), &t, err, sizeof err);
    if (!hl_check(rc == HL_OK && hl_eval_generation.n_items(t) == 3, "generation_open", "rc %d: %s", rc, err)) {
        if (p) unlink(p);
        return;
    }
    hl_eval_item it;
    rc = hl_eval_generation.item(t, 1, &it, err, sizeof err);
    hl_check(!rc && it.kind == HL_EVAL_GENERATE && it.n_prompt == 10 && !memcmp(it.prompt, (int32_t[]){'T', 'h', 'e'}, 12) &&
             it.max_new == 48 && it.stop && !strcmp(it.stop, "\n"), "generation_item", "%s", err);
    const char *gens[3] = {" paris, of course", " Grey", " five"};
    cJSON *s = cJSON_CreateObject();
    for (long i = 0; i < 3; i++) {
        hl_eval_generation.item(t, i, &it, err, sizeof err);
        hl_eval_answer a = {.text = gens[i]};
        rc |= hl_eval_generation.score(t, i, &it, &a, i == 1 ? s : NULL, err, sizeof err);
    }
    char *js = cJSON_PrintUnformatted(s);
    hl_check(!rc && js && strstr(js, "\"answers\":[\"blue\",\"grey\"]") && strstr(js, "\"generation\":\" Grey\"") &&
             strstr(js, "\"contains\":1") && strstr(js, "\"exact_match\":1") && strstr(js, "\"prompt_tail\":\"The sky is\"") &&
             strstr(js, "\"prompt_tokens\":10") && !strstr(js, "answer_location"), "generation_sample", "%s", js ? js : err);
    free(js);
    cJSON_Delete(s);
    hl_eval_report r = {0};
    rc = hl_eval_generation.report(t, &r, err, sizeof err);
    // contains 1,1,0; exact 0,1,0; f1: "paris of course" vs "paris" = 0.5, 1, 0
    hl_check(!rc && r.n == 3 && !strcmp(r.m[0].name, "contains") && fabs(r.m[0].value - 2.0 / 3) < 1e-12 &&
             !strcmp(r.m[1].name, "exact_match") && fabs(r.m[1].value - 1.0 / 3) < 1e-12 && !strcmp(r.m[2].name, "f1") &&
             fabs(r.m[2].value - 0.5) < 1e-12 && r.m[0].n == 3 && fabs(r.m[0].sem - sqrt(1.0 / 3 / 3)) < 1e-12 &&
             strstr(r.m[0].params_json, "\"path\":"), "generation_report", "rc %d n %d %s", rc, r.n, err);
    hl_eval_report_free(&r);
    hl_eval_generation.close(t);
    unlink(p);

    expect_bad(&hl_eval_generation, "generation_bad_json", "{\"context\": \"a\", \"answer\": \"b\"}\n{\"context\": \"a\",\n",
               "line 2: ", tok);
    expect_bad(&hl_eval_generation, "generation_missing_context", "{\"context\": \"a\", \"answer\": \"b\"}\n\n{\"answer\": \"b\"}\n",
               "line 3: missing key \"context\"", tok);
    expect_bad(&hl_eval_generation, "generation_missing_answer", "{\"context\": \"a\"}\n", "line 1: missing key \"answer\" (or \"answers\")", tok);
    expect_bad(&hl_eval_generation, "generation_empty_answers", "{\"context\": \"a\", \"answers\": []}\n", "line 1: key \"answers\"", tok);
    expect_bad(&hl_eval_generation, "generation_answer_not_string", "{\"context\": \"a\", \"answer\": 3}\n", "line 1: key \"answer\"", tok);
    expect_bad(&hl_eval_generation, "generation_not_object", "[1, 2]\n", "line 1: ", tok);
    expect_bad(&hl_eval_generation, "generation_empty_context", "{\"context\": \"\", \"answer\": \"x\"}\n", "line 1: key \"context\": empty", tok);
    expect_bad(&hl_eval_generation, "generation_location_mixed",
               "{\"context\": \"a\", \"answer\": \"b\", \"answer_location\": 2}\n{\"context\": \"a\", \"answer\": \"b\"}\n",
               "line 2: missing key \"answer_location\"", tok);
    expect_bad(&hl_eval_generation, "generation_no_items", "\n\n", "no items", tok);
    hl_eval_config m = gen_cfg("generation", "longctx/no_such.jsonl");
    hl_eval_task *tm = NULL;
    rc = hl_eval_generation.open(&m, tok, data_dir(), &tm, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "longctx/no_such.jsonl") && strstr(err, "generation_test"),
             "generation_missing_file", "rc %d: %s", rc, err);
}

// The shared key-value file: 300 items, prompt = the context's tokens,
// per-location results.
static void test_kv(const hl_tokenizer *tok) {
    hl_eval_config c = gen_cfg("generation", "longctx/kv_pairs_end_len_2048.jsonl");
    char err[HL_ERR_LEN] = "";
    hl_eval_task *t = NULL;
    int rc = hl_eval_generation.open(&c, tok, data_dir(), &t, err, sizeof err);
    if (!hl_check(rc == HL_OK && hl_eval_generation.n_items(t) == 300, "kv_open", "rc %d: %s", rc, err)) return;
    // the first line, read independently
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/longctx/kv_pairs_end_len_2048.jsonl", data_dir());
    hl_read_text_file(path, (size_t)8 << 20, &text, NULL, err, sizeof err);
    char *nl = text ? strchr(text, '\n') : NULL;
    if (nl) *nl = 0;
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItem(o, "context"));
    const char *ans = cJSON_GetStringValue(cJSON_GetObjectItem(o, "answer"));
    int loc = cJSON_GetObjectItem(o, "answer_location") ? cJSON_GetObjectItem(o, "answer_location")->valueint : -1;
    hl_eval_item it;
    rc = hl_eval_generation.item(t, 0, &it, err, sizeof err);
    hl_check(!rc && ctx && it.n_prompt == (int)strlen(ctx) && (unsigned char)ctx[5] == (unsigned)it.prompt[5] &&
             it.prompt[it.n_prompt - 1] == ' ', "kv_item_is_context", "%s", err);
    cJSON *s = cJSON_CreateObject();
    char gen[200];
    snprintf(gen, sizeof gen, "\"%s\"", ans ? ans : "");
    hl_eval_answer a = {.text = gen};
    rc = hl_eval_generation.score(t, 0, &it, &a, s, err, sizeof err);
    const cJSON *sl = cJSON_GetObjectItem(s, "answer_location");
    hl_check(!rc && cJSON_IsNumber(sl) && sl->valueint == loc && cJSON_GetObjectItem(s, "contains")->valuedouble == 1 &&
             cJSON_GetObjectItem(s, "exact_match")->valuedouble == 1, "kv_score", "%s", err);
    cJSON_Delete(s);
    hl_eval_generation.item(t, 1, &it, err, sizeof err);
    hl_eval_answer wrong = {.text = "no idea"};
    hl_eval_generation.score(t, 1, &it, &wrong, NULL, err, sizeof err);
    hl_eval_report r = {0};
    rc = hl_eval_generation.report(t, &r, err, sizeof err);
    // overall over 2 items (0.5), then one contains per location present among them
    int found_loc = 0, sorted = 1, last = -1, locs = 0;
    for (int k = 3; k < r.n; k++) {
        cJSON *pj = cJSON_Parse(r.m[k].params_json);
        const cJSON *l = cJSON_GetObjectItem(pj, "answer_location"), *len = cJSON_GetObjectItem(pj, "length");
        if (l && len && len->valueint == 2048 && !strcmp(r.m[k].name, "contains")) {
            locs++;
            if (l->valueint <= last) sorted = 0;
            last = l->valueint;
            if (l->valueint == loc && r.m[k].value == 1 && r.m[k].n >= 1) found_loc = 1;
        }
        cJSON_Delete(pj);
    }
    hl_check(!rc && r.n >= 4 && fabs(r.m[0].value - 0.5) < 1e-12 && r.m[0].n == 2 &&
             strstr(r.m[0].params_json, "\"path\":\"longctx/kv_pairs_end_len_2048.jsonl\",\"length\":2048") && found_loc &&
             sorted && locs == r.n - 3 && locs >= 1 && locs <= 2, "kv_report_by_location", "rc %d, %d metrics, %s", rc, r.n,
             r.n ? r.m[0].params_json : err);
    hl_eval_report_free(&r);
    cJSON_Delete(o);
    free(text);
    hl_eval_generation.close(t);
}

// ---------------------------------------------------------------- squad family

static void test_squad(const hl_tokenizer *tok) {
    hl_eval_config c = gen_cfg("squad", "recall/squad_v1.1_part_a.json");
    char err[HL_ERR_LEN] = "";
    hl_eval_task *t = NULL;
    int rc = hl_eval_squad.open(&c, tok, data_dir(), &t, err, sizeof err);
    if (!hl_check(rc == HL_OK && hl_eval_squad.n_items(t) == 4961, "squad_open", "rc %d: %s (items %ld)", rc, err,
                  t ? hl_eval_squad.n_items(t) : -1))
        return;
    // item 0, built by hand from the JSON
    char path[1200], *text = NULL;
    snprintf(path, sizeof path, "%s/recall/squad_v1.1_part_a.json", data_dir());
    hl_json_read_file(path, &text, err, sizeof err);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "data"), 0),
                                                             "paragraphs"), 0);
    const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItem(p0, "context"));
    const cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(p0, "qas"), 0);
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(q0, "question"));
    size_t n = (ctx ? strlen(ctx) : 0) + (q ? strlen(q) : 0) + 64;
    char *want = malloc(n);
    snprintf(want, n, "%s\n\nQuestion: %s\nAnswer:", ctx ? ctx : "", q ? q : "");
    hl_eval_item it;
    rc = hl_eval_squad.item(t, 0, &it, err, sizeof err);
    char *got = NULL;
    size_t glen = 0;
    if (!rc) rc = hl_tokenizer_decode(tok, it.prompt, (size_t)it.n_prompt, &got, &glen, err, sizeof err);
    hl_check(!rc && got && !strcmp(got, want) && it.max_new == 48 && it.stop && !strcmp(it.stop, "\n"), "squad_prompt",
             "got '%.120s...' want '%.120s...'", got ? got : err, want);
    free(got);
    cJSON *s = cJSON_CreateObject();
    hl_eval_answer a = {.text = " The Denver Broncos."};
    rc = hl_eval_squad.score(t, 0, &it, &a, s, err, sizeof err);
    char *js = cJSON_PrintUnformatted(s);
    hl_check(!rc && js && strstr(js, "\"contains\":1") && strstr(js, "\"exact_match\":1") && strstr(js, "\"f1\":1") &&
             strstr(js, "\"id\":\"56be4db0acb8001400a502ec\"") && strstr(js, "\"truncated_doc\":false") &&
             strstr(js, "Question: Which NFL team represented the AFC at Super Bowl 50?\\nAnswer:\""),
             "squad_score_sample", "%s", js ? js : err);
    free(js);
    cJSON_Delete(s);
    // the last question: "sthène" (non-ASCII answer)
    rc = hl_eval_squad.item(t, 4960, &it, err, sizeof err);
    hl_eval_answer b = {.text = " Sth\u00e8ne"};
    rc |= hl_eval_squad.score(t, 4960, &it, &b, NULL, err, sizeof err);
    hl_eval_report r = {0};
    rc |= hl_eval_squad.report(t, &r, err, sizeof err);
    hl_check(!rc && r.n == 3 && !strcmp(r.m[0].name, "contains") && r.m[0].value == 1 && r.m[0].n == 2 &&
             r.m[1].value == 1 && strstr(r.m[0].params_json, "\"chunk_tokens\":1920"), "squad_report", "%s", err);
    hl_eval_report_free(&r);
    hl_eval_squad.close(t);
    // chunk_tokens 10: the document is its first 10 tokens
    c.chunk_tokens = 10;
    rc = hl_eval_squad.open(&c, tok, data_dir(), &t, err, sizeof err);
    if (!rc) rc = hl_eval_squad.item(t, 0, &it, err, sizeof err);
    got = NULL;
    if (!rc) rc = hl_tokenizer_decode(tok, it.prompt, (size_t)it.n_prompt, &got, &glen, err, sizeof err);
    snprintf(want, n, "%.10s\n\nQuestion: %s\nAnswer:", ctx ? ctx : "", q ? q : "");
    hl_check(!rc && got && !strcmp(got, want), "squad_chunk", "got '%s' want '%s'", got ? got : err, want);
    free(got);
    if (!rc) hl_eval_squad.close(t);
    free(want);
    cJSON_Delete(root);
    free(text);
    // bad files
    expect_bad(&hl_eval_squad, "squad_no_data", "{\"version\": \"1.1\"}", "data: missing (not SQuAD v1.1 JSON)", tok);
    expect_bad(&hl_eval_squad, "squad_data_not_array", "{\"data\": {}}", "data: expected an array", tok);
    expect_bad(&hl_eval_squad, "squad_no_answers",
               "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"question\": \"q\", \"answers\": []}]}]}]}",
               "data[0].paragraphs[0].qas[0].answers: empty", tok);
    expect_bad(&hl_eval_squad, "squad_answer_text",
               "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"question\": \"q\", \"answers\": [{\"t\": 1}]}]}]}]}",
               "data[0].paragraphs[0].qas[0].answers[0].text: missing", tok);
    expect_bad(&hl_eval_squad, "squad_no_context", "{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}",
               "data[0].paragraphs[0].context: missing", tok);
    expect_bad(&hl_eval_squad, "squad_not_json", "{\"data\": [", "invalid JSON at line 1", tok);
    expect_bad(&hl_eval_squad, "squad_no_questions", "{\"data\": []}", "data: empty", tok);
}


// SQuAD with the gpt2 tokenizer: the prompt of item 0 is the tokens of the
// exact text, and a chunk of 7 tokens is the decoded text of the context's
// first 7 gpt2 tokens.
static void test_squad_gpt2(void) {
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *tok = NULL;
    int rc = hl_tokenizer_open("gpt2", data_dir(), &tok, err, sizeof err);
    if (!hl_check(rc == HL_OK, "squad_gpt2_tokenizer", "%s", err)) return;
    const char *ctx = "Super Bowl 50 was an American football game to determine the champion of the National Football "
                      "League (NFL) for the 2015 season.";
    hl_ids ids = {0};
    hl_tokenizer_encode(tok, ctx, strlen(ctx), &ids, err, sizeof err);
    char *head = NULL;
    size_t hn = 0;
    hl_tokenizer_decode(tok, ids.v, 7, &head, &hn, err, sizeof err);
    for (int chunk = 0; chunk < 2; chunk++) {
        hl_eval_config c = gen_cfg("squad", "recall/squad_v1.1_part_a.json");
        c.chunk_tokens = chunk ? 7 : 0;
        hl_eval_task *t = NULL;
        hl_eval_item it;
        rc = hl_eval_squad.open(&c, tok, data_dir(), &t, err, sizeof err);
        if (!rc) rc = hl_eval_squad.item(t, 0, &it, err, sizeof err);
        char want[1024];
        snprintf(want, sizeof want, "%s\n\nQuestion: Which NFL team represented the AFC at Super Bowl 50?\nAnswer:",
                 chunk ? head : "");
        hl_ids w = {0};
        hl_tokenizer_encode(tok, want, strlen(want), &w, err, sizeof err);
        char *got = NULL;
        size_t gl = 0;
        if (!rc) rc = hl_tokenizer_decode(tok, it.prompt, (size_t)it.n_prompt, &got, &gl, err, sizeof err);
        int ok = !rc && got && (chunk ? (int)w.n == it.n_prompt && !memcmp(w.v, it.prompt, w.n * sizeof *w.v)
                                      : strncmp(got, ctx, strlen(ctx)) == 0 &&
                                            strstr(got, "\n\nQuestion: Which NFL team represented the AFC at Super Bowl 50?\nAnswer:"));
        hl_check(ok, chunk ? "squad_gpt2_chunk" : "squad_gpt2_prompt", "%s | %.200s", err, got ? got : "");
        free(got);
        hl_ids_free(&w);
        if (t) hl_eval_squad.close(t);
    }
    free(head);
    hl_ids_free(&ids);
    hl_tokenizer_free(tok);
}

// ---------------------------------------------------------------- generation vs the naive oracle

static hl_model *small_model(int max_T, int vocab) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"vocab_size\": %d, \"d_model\": 16, \"n_layers\": 2, \"layers\": \"AS\","
             " \"attn\": {\"n_heads\": 2, \"n_kv_heads\": 2, \"head_dim\": 8},"
             " \"ssm\": {\"d_state\": 4, \"d_conv\": 4, \"expand\": 2}, \"ffn\": {\"type\": \"none\"}}", vocab);
    char err[HL_ERR_LEN] = "";
    cJSON *o = cJSON_Parse(spec);
    hl_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    hl_cfg_ctx ctx = {"test", err, sizeof err, NULL};
    int rc = hl_cfg_read(&ctx, hl_model_section(), o, "model", &cfg, NULL);
    cJSON_Delete(o);
    if (rc) { printf("model config: %s\n", err); return NULL; }
    hl_model *m = hl_model_create(&cfg, hl_backend_get("cpu"), 1, max_T, err, sizeof err);
    if (!m) { printf("model: %s\n", err); return NULL; }
    hl_model_init(m, 7);
    // larger weights than the init so that greedy text varies
    size_t n = hl_model_numel(m);
    float *p = malloc(n * sizeof *p);
    hl_model_params_to_host(m, p);
    uint64_t st = 42;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = 3.0f * p[i] + 0.3f * ((float)(st >> 40) / (float)(1 << 24) - 0.5f);
    }
    hl_model_params_from_host(m, p);
    free(p);
    return m;
}

// The oracle: greedy over the reference state, stopping before the
// tokenizer's eos, the text decoded at the end and cut at the stop string.
// *steps: tokens generated (eos not counted).
static int32_t oracle_ids[512];   // the last oracle's generated ids

static char *oracle(hl_model *m, const hl_tokenizer *tok, const int32_t *prompt, int n, int max_new, const char *stop,
                    int max_len, int *steps) {
    char err[HL_ERR_LEN];
    hl_infer *s = hl_infer_create_ref(m, 1, max_len, err, sizeof err);
    if (!s) { printf("ref: %s\n", err); return NULL; }
    int V = hl_model_cfg(m)->vocab_size;
    int32_t out[512];
    const float *lg;
    int k = 0;
    char *text = calloc(1, 1);
    size_t len = 0;
    if (hl_infer_prefill(s, prompt, 1, n, NULL, &lg, err, sizeof err)) { hl_infer_free(s); free(text); return NULL; }
    for (;;) {
        int32_t best = 0;
        for (int v = 1; v < V; v++) if (lg[v] > lg[best]) best = v;
        if (best == hl_tokenizer_eos(tok)) break;
        out[k++] = best;
        free(text); text = NULL; len = 0;
        hl_tokenizer_decode(tok, out, (size_t)k, &text, &len, err, sizeof err);
        if (stop && strstr(text, stop)) { *strstr(text, stop) = 0; break; }
        if (k == max_new) break;
        if (hl_infer_step(s, &best, &lg, err, sizeof err)) { free(text); text = NULL; break; }
    }
    hl_infer_free(s);
    *steps = k;
    memcpy(oracle_ids, out, (size_t)k * sizeof *out);
    return text;
}

static void test_generate(const hl_tokenizer *tok) {
    const int L = 96;
    hl_model *m = small_model(L, 256);
    if (!hl_check(m != NULL, "gen_model", "")) return;
    hl_eval_gen *g = NULL;
    char err[HL_ERR_LEN] = "";
    const char *prompts[] = {"The quick brown fox", "Question: what is 2+2?\nAnswer:", "a", "zzzz zzzz zzzz zzzz",
                             "Once upon a time, in a land far away, there lived"};
    int n_distinct = 0;
    char *first_texts[5] = {0};
    for (int pi = 0; pi < 5; pi++) {
        int32_t ids[128];
        int n = (int)strlen(prompts[pi]);
        for (int i = 0; i < n; i++) ids[i] = (unsigned char)prompts[pi][i];
        hl_eval_item it = {.kind = HL_EVAL_GENERATE, .prompt = ids, .n_prompt = n, .max_new = 24, .stop = NULL};
        char *text = NULL, name[64];
        int trunc = -1, steps = 0;
        long tokens = 0;
        int rc = hl_eval_answer_generate(&g, m, tok, &it, L, &text, &trunc, &tokens, err, sizeof err);
        char *want = oracle(m, tok, ids, n, 24, NULL, L, &steps);
        snprintf(name, sizeof name, "generate_equals_oracle_%d", pi);
        hl_check(!rc && text && want && !strcmp(text, want) && trunc == 0 && tokens == n + 23 && steps == 24, name,
                 "rc %d '%s' vs oracle '%s' (tokens %ld, err %s)", rc, text ? text : "", want ? want : "", tokens, err);
        // with a stop string taken from inside the generation: cut before its first occurrence
        if (want && strlen(want) >= 8) {
            char stop[3] = {want[5], want[6], 0};
            it.stop = stop;
            char *t2 = NULL, *w2 = NULL;
            tokens = 0;
            rc = hl_eval_answer_generate(&g, m, tok, &it, L, &t2, &trunc, &tokens, err, sizeof err);
            w2 = oracle(m, tok, ids, n, 24, stop, L, &steps);
            char cut[64];
            snprintf(cut, sizeof cut, "%s", want);
            *strstr(cut, stop) = 0;
            snprintf(name, sizeof name, "generate_stop_equals_oracle_%d", pi);
            hl_check(!rc && t2 && w2 && !strcmp(t2, w2) && !strcmp(t2, cut) && tokens == n + steps - 1, name,
                     "'%s' vs oracle '%s' vs cut '%s' (stop '%s')", t2 ? t2 : err, w2 ? w2 : "", cut, stop);
            free(t2); free(w2);
        }
        first_texts[pi] = text;
        int dup = 0;
        for (int j = 0; j < pi; j++) dup |= first_texts[j] && text && !strcmp(first_texts[j], text);
        n_distinct += !dup;
        free(want);
    }
    hl_check(n_distinct >= 3, "generate_texts_vary", "only %d distinct generations (the model is too flat to test)", n_distinct);
    for (int pi = 0; pi < 5; pi++) free(first_texts[pi]);
    // a prompt longer than max_length - max_new is cut from the left
    int32_t ids[90];
    for (int i = 0; i < 90; i++) ids[i] = (int32_t)("abcdefghij klmnop, qrstu. "[i % 26]);
    hl_eval_item it = {.kind = HL_EVAL_GENERATE, .prompt = ids, .n_prompt = 90, .max_new = 10, .stop = NULL};
    char *text = NULL;
    int trunc = 0, steps = 0;
    long tokens = 0;
    int rc = hl_eval_answer_generate(&g, m, tok, &it, 64, &text, &trunc, &tokens, err, sizeof err);   // new max_length
    char *want = oracle(m, tok, ids + 36, 54, 10, NULL, 64, &steps);
    hl_check(!rc && trunc == 1 && text && want && !strcmp(text, want) && tokens == 54 + 9, "generate_left_cut",
             "rc %d trunc %d '%s' vs '%s' tokens %ld %s", rc, trunc, text ? text : "", want ? want : "", tokens, err);
    free(text); free(want);
    // refusals
    it.max_new = 64;
    rc = hl_eval_answer_generate(&g, m, tok, &it, 64, &text, &trunc, &tokens, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "leaves no room for the prompt"), "generate_no_room", "rc %d: %s", rc, err);
    it.max_new = 4; it.n_prompt = 0;
    rc = hl_eval_answer_generate(&g, m, tok, &it, 64, &text, &trunc, &tokens, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "empty prompt"), "generate_empty_prompt", "rc %d: %s", rc, err);
    it.n_prompt = 5; it.kind = HL_EVAL_LOGLIK;
    rc = hl_eval_answer_generate(&g, m, tok, &it, 64, &text, &trunc, &tokens, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "generate_wrong_kind", "rc %d", rc);
    hl_eval_gen_free(g);
    hl_model_free(m);
}


// Generation stops at the tokenizer's eos (gpt2's 50256), which is not part
// of the text. With tied embeddings and eos never in the input, setting
// eos's embedding row to a multiple of the row of the 4th greedy token
// changes only eos's logit, which then wins at that step or before.
static void test_generate_eos(void) {
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *tok = NULL;
    if (!hl_check(hl_tokenizer_open("gpt2", data_dir(), &tok, err, sizeof err) == HL_OK, "eos_tokenizer", "%s", err)) return;
    const int L = 64;
    hl_model *m = small_model(L, 50257);
    const char *prompt = "The capital of France is";
    hl_ids ids = {0};
    hl_tokenizer_encode(tok, prompt, strlen(prompt), &ids, err, sizeof err);
    int steps = 0, steps2 = 0;
    char *before = m ? oracle(m, tok, ids.v, (int)ids.n, 12, NULL, L, &steps) : NULL;
    // the 4th greedy token and its logit's sign, from the logits after 3 greedy tokens
    hl_ids seq = {0};
    for (size_t i = 0; i < ids.n; i++) hl_ids_push(&seq, ids.v[i]);
    int ok = m && before && steps >= 4;
    if (ok) {
        for (int i = 0; i < 3; i++) hl_ids_push(&seq, oracle_ids[i]);
        hl_infer *s = hl_infer_create_ref(m, 1, L, err, sizeof err);
        const float *lg;
        hl_infer_prefill(s, seq.v, 1, (int)seq.n, NULL, &lg, err, sizeof err);
        int32_t a = 0;
        for (int v = 1; v < 50257; v++) if (lg[v] > lg[a]) a = v;
        float factor = lg[a] > 0 ? 2.0f : 0.5f;
        hl_infer_free(s);
        size_t n = hl_model_numel(m);
        float *p = malloc(n * sizeof *p);
        hl_model_params_to_host(m, p);
        for (int i = 0; i < hl_model_num_tensors(m); i++) {
            const hl_tensor_info *t = hl_model_tensor(m, i);
            if (strcmp(t->name, "model.embed_tokens.weight")) continue;
            int64_t C = t->shape[1];
            for (int64_t c = 0; c < C; c++)
                p[t->offset + (size_t)(50256 * C + c)] = factor * p[t->offset + (size_t)(a * C + c)];
        }
        hl_model_params_from_host(m, p);
        free(p);
    }
    hl_eval_gen *g = NULL;
    hl_eval_item it = {.kind = HL_EVAL_GENERATE, .prompt = ids.v, .n_prompt = (int)ids.n, .max_new = 12, .stop = NULL};
    char *text = NULL;
    int trunc = 0;
    long tokens = 0;
    int rc = ok ? hl_eval_answer_generate(&g, m, tok, &it, L, &text, &trunc, &tokens, err, sizeof err) : -1;
    char *want = ok ? oracle(m, tok, ids.v, (int)ids.n, 12, NULL, L, &steps2) : NULL;
    hl_check(ok && !rc && text && want && !strcmp(text, want) && steps2 <= 3 && steps2 < steps &&
             tokens == (long)ids.n + steps2 && !strstr(text, "<|endoftext|>"), "generate_stops_at_eos",
             "rc %d '%s' vs oracle '%s' (%d steps, %d before the change; %ld positions) %s", rc, text ? text : "",
             want ? want : "", steps2, steps, tokens, err);
    free(text); free(want); free(before);
    hl_ids_free(&ids); hl_ids_free(&seq);
    hl_eval_gen_free(g);
    hl_model_free(m);
    hl_tokenizer_free(tok);
}

int main(void) {
    test_norm();
    test_utf8();
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *tok = NULL;
    if (!hl_check(hl_tokenizer_open("byte", NULL, &tok, err, sizeof err) == HL_OK, "byte_tokenizer", "%s", err))
        return hl_test_done();
    test_generation(tok);
    test_kv(tok);
    test_squad(tok);
    test_generate(tok);
    hl_tokenizer_free(tok);
    test_squad_gpt2();
    test_generate_eos();
    return hl_test_done();
}
