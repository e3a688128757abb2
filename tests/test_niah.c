// test_niah.c: the needle-in-a-haystack generator and family (tasks/niah.h).
// With the byte and the gpt2 tokenizers (gpt2 read from $HYLAB_DATA), on the
// noise haystack and the corpus/kjv.txt haystack:
//   - the same seed gives the same haystack bytes (and another seed another);
//     an item does not depend on the rest of the grid;
//   - the needle is at the requested depth: its offset in the haystack
//     without needles lies within the sentence around D% of its length;
//   - the prompt fits: prompt tokens + max_new <= length, one more sentence
//     does not fit, gap = length - max_new - prompt tokens, and the ids are
//     the tokenizer's ids of the prompt text;
//   - every variant holds all its needles; the answers and the query are
//     the right ones; values are 7-digit numbers or UUIDs;
//   - scoring (string_match_all x100, per cell and overall) and the bad
//     settings (depth outside [0, 100], a length too small for the
//     template, unknown variant, missing or empty corpus).
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cJSON.h>
#include "tests/test.h"
#include "tasks/eval.h"
#include "tasks/niah.h"

extern const hl_eval_family hl_eval_niah;

static const char *data_dir(void) {
    const char *d = getenv("HYLAB_DATA");
    return d && d[0] ? d : "../shared/data";
}

static hl_eval_config base_cfg(const char *needle, const char *haystack) {
    hl_eval_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.task, sizeof c.task, "niah_test");
    snprintf(c.family, sizeof c.family, "niah");
    snprintf(c.needle, sizeof c.needle, "%s", needle);
    snprintf(c.haystack, sizeof c.haystack, "%s", haystack);
    c.seed = 1234;
    return c;
}

// Sentence boundaries of plain text under niah.h's rule for a corpus: after
// [.!?] followed by white space (and that white space), or after a newline
// (and the white space that follows). 1 when position p is one.
static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int ends_sentence(const char *s, size_t n, size_t i) {   // s[i] closes a sentence
    if (s[i] == '\n') return 1;
    return (s[i] == '.' || s[i] == '!' || s[i] == '?') && (i + 1 >= n || is_ws(s[i + 1]));
}
// The sentence boundaries of s nearest p: *prev the last one < p (0 if
// none), *next the first one > p (n if none); returns whether p is one.
static int boundaries_around(const char *s, size_t n, size_t p, size_t *prev, size_t *next) {
    int at_p = p == 0 || p == n;
    *prev = 0; *next = n;
    for (size_t i = 0; i < n; i++) {
        if (!ends_sentence(s, n, i)) continue;
        size_t b = i + 1;
        while (b < n && is_ws(s[b])) b++;
        if (b < p && b > *prev) *prev = b;
        if (b > p && b < *next) *next = b;
        if (b == p) at_p = 1;
        i = b - 1;
    }
    return at_p;
}

// The haystack with every needle sentence (and the space after it) removed,
// and where needle 0 was: its offset in that plain text.
static char *plain_of(const hl_niah_item *it, size_t *pos0) {
    char *h = strdup(it->haystack);
    *pos0 = (size_t)-1;
    for (int j = it->n_needles - 1; j >= 0; j--) {   // needle 0 last: earlier removals shift it
        char *p = strstr(h, it->needle[j]);
        if (!p) { free(h); return NULL; }
        size_t len = strlen(it->needle[j]);
        if (p[len] == ' ') len++;
        memmove(p, p + len, strlen(p + len) + 1);
        if (j == 0) *pos0 = (size_t)(p - h);
    }
    return h;
}

static void check_item(const char *name, hl_niah *g, const hl_tokenizer *tok, int L, int D, int s, int max_new) {
    char err[HL_ERR_LEN] = "", nm[200];
    hl_niah_item it, again, more;
    int rc = hl_niah_make(g, L, D, s, -1, &it, err, sizeof err);
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_make", name, L, D, s);
    if (!hl_check(rc == HL_OK, nm, "%s", err)) return;
    // fit
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_fits", name, L, D, s);
    hl_check(it.n_ids + max_new <= L && it.gap == L - max_new - it.n_ids && it.gap >= 0, nm,
             "prompt %d + max_new %d vs length %d (gap %d)", it.n_ids, max_new, L, it.gap);
    rc = hl_niah_make(g, L, D, s, it.n_units + 1, &more, err, sizeof err);
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_one_more_sentence_exceeds", name, L, D, s);
    hl_check(rc == HL_OK && more.n_ids + max_new > L, nm, "%d sentences: %d tokens + %d <= %d", it.n_units + 1,
             more.n_ids, max_new, L);
    hl_niah_item_free(&more);
    // ids are the tokenizer's ids of the prompt text, and the prompt is the template around the haystack
    hl_ids ids = {0};
    hl_tokenizer_encode(tok, it.prompt, strlen(it.prompt), &ids, err, sizeof err);
    int same = (int)ids.n == it.n_ids && !memcmp(ids.v, it.ids, ids.n * sizeof *ids.v);
    hl_ids_free(&ids);
    const char *head = "Some special magic numbers are hidden within the following text. Make sure to memorize it. "
                       "I will quiz you about the numbers afterwards.\n";
    const char *uhead = "Some special magic uuids are hidden within the following text. Make sure to memorize it. "
                        "I will quiz you about the uuids afterwards.\n";
    const char *h = strncmp(it.prompt, head, strlen(head)) == 0 ? head : uhead;
    size_t hn = strlen(h), pn = strlen(it.prompt), tn = strlen(" mentioned in the provided text are");
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_prompt", name, L, D, s);
    hl_check(same && strncmp(it.prompt, h, hn) == 0 && strncmp(it.prompt + hn, it.haystack, strlen(it.haystack)) == 0 &&
             it.prompt[hn + strlen(it.haystack)] == '\n' && pn > tn &&
             strcmp(it.prompt + pn - tn, " mentioned in the provided text are") == 0,
             nm, "ids match %d; prompt head/tail wrong", same);
    // same seed, same bytes
    rc = hl_niah_make(g, L, D, s, -1, &again, err, sizeof err);
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_deterministic", name, L, D, s);
    hl_check(rc == HL_OK && strcmp(again.prompt, it.prompt) == 0, nm, "two builds differ");
    hl_niah_item_free(&again);
    // every needle present, needle 0 at the depth
    int all = 1;
    for (int j = 0; j < it.n_needles; j++) all &= strstr(it.haystack, it.needle[j]) != NULL;
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_needles_present", name, L, D, s);
    hl_check(all && it.n_needles >= 1, nm, "a needle is missing");
    size_t pos;
    char *plain = plain_of(&it, &pos);
    snprintf(nm, sizeof nm, "%s_L%d_D%d_s%d_depth", name, L, D, s);
    if (plain) {
        // needle 0 sits at a sentence boundary, the one nearest D% of the plain
        // haystack (2 bytes of slack: the trailing white space the haystack drops)
        size_t n = strlen(plain), prev, next;
        double target = D / 100.0 * (double)n;
        int at = boundaries_around(plain, n, pos, &prev, &next);
        double d = fabs(target - (double)pos);
        hl_check(at && d <= fabs(target - (double)prev) + 2 && d <= fabs(target - (double)next) + 2, nm,
                 "needle at %zu of %zu bytes (%.1f%%; boundary %d), target %.1f, neighbouring boundaries %zu, %zu",
                 pos, n, 100.0 * (double)pos / (double)(n ? n : 1), at, target, prev, next);
    } else {
        hl_check(0, nm, "needle text not found in the haystack");
    }
    free(plain);
    hl_niah_item_free(&it);
}

static int is_uuid(const char *v) {
    if (strlen(v) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) { if (v[i] != '-') return 0; }
        else if (!isxdigit((unsigned char)v[i]) || isupper((unsigned char)v[i])) return 0;
    }
    return v[14] == '4';
}
static int is_number7(const char *v) {
    if (strlen(v) != 7 || v[0] == '0') return 0;
    for (int i = 0; i < 7; i++) if (!isdigit((unsigned char)v[i])) return 0;
    return 1;
}

// Which needle, answers and query each variant produces.
static void test_variants(const hl_tokenizer *tok) {
    const char *var[] = {"single", "multikey", "multivalue", "multiquery"};
    for (int vi = 0; vi < 4; vi++)
        for (int uu = 0; uu < 2; uu++) {
            hl_eval_config c = base_cfg(var[vi], "noise");
            snprintf(c.value_kind, sizeof c.value_kind, "%s", uu ? "uuids" : "numbers");
            c.n_lengths = 1; c.lengths[0] = 1200;
            c.max_new_tokens = 16;
            char err[HL_ERR_LEN] = "", nm[120];
            hl_niah *g = NULL;
            hl_niah_item it;
            int rc = hl_niah_open(&c, tok, data_dir(), &g, err, sizeof err);
            if (!rc) rc = hl_niah_make(g, 1200, 50, 1, -1, &it, err, sizeof err);
            snprintf(nm, sizeof nm, "variant_%s_%s", var[vi], c.value_kind);
            if (!hl_check(rc == HL_OK, nm, "%s", err)) { hl_niah_free(g); continue; }
            int want_needles = vi == 0 ? 1 : 4, want_answers = vi == 0 || vi == 1 ? 1 : 4;
            int ok = it.n_needles == want_needles && it.n_answers == want_answers;
            char kind[16];
            snprintf(kind, sizeof kind, "%s", uu ? "uuids" : "numbers");
            for (int a = 0; ok && a < it.n_answers; a++) {
                ok &= uu ? is_uuid(it.answer[a]) : is_number7(it.answer[a]);
                for (int b = 0; b < a; b++) ok &= strcmp(it.answer[a], it.answer[b]) != 0;
            }
            // the needles: "One of the special magic KIND for KEY is: VALUE."; the keys per variant
            char keys[4][64];
            for (int j = 0; ok && j < it.n_needles; j++) {
                char pre[64];
                snprintf(pre, sizeof pre, "One of the special magic %s for ", kind);
                const char *is = strstr(it.needle[j], " is: ");
                ok &= strncmp(it.needle[j], pre, strlen(pre)) == 0 && is != NULL;
                if (!ok) break;
                size_t kl = (size_t)(is - it.needle[j]) - strlen(pre);
                snprintf(keys[j], sizeof keys[j], "%.*s", (int)kl, it.needle[j] + strlen(pre));
                if (j < it.n_answers) {   // answers are the first needles' values
                    char tail[64];
                    snprintf(tail, sizeof tail, " is: %s.", it.answer[j]);
                    ok &= strcmp(is, tail) == 0;
                }
            }
            for (int j = 1; ok && j < it.n_needles; j++)
                ok &= vi == 2 ? strcmp(keys[j], keys[0]) == 0 : strcmp(keys[j], keys[0]) != 0;
            // the query
            char q[300];
            if (vi == 3) snprintf(q, sizeof q, " for %s, %s, %s, and %s mentioned", keys[0], keys[1], keys[2], keys[3]);
            else snprintf(q, sizeof q, " for %s mentioned", keys[0]);
            ok &= ok && strstr(it.prompt, q) != NULL;
            hl_check(ok, nm, "needles/answers/query wrong: %s | %s", it.needle[0], it.answer[0]);
            hl_niah_item_free(&it);
            hl_niah_free(g);
        }
}

// The family: items in grid order, pure per cell, scored x100, reports.
static void test_family(const hl_tokenizer *tok) {
    hl_eval_config c = base_cfg("multivalue", "noise");
    c.n_lengths = 2; c.lengths[0] = 800; c.lengths[1] = 1100;
    c.n_depths = 2; c.depths[0] = 10; c.depths[1] = 90;
    c.samples = 2;
    c.max_new_tokens = 32;
    char err[HL_ERR_LEN] = "";
    hl_eval_task *t = NULL;
    int rc = hl_eval_niah.open(&c, tok, data_dir(), &t, err, sizeof err);
    if (!hl_check(rc == HL_OK, "family_open", "%s", err)) return;
    hl_check(hl_eval_niah.n_items(t) == 8, "family_items", "%ld items, want 2*2*2", hl_eval_niah.n_items(t));
    // item 5 = (length 1100, depth 10, sample 1), equal to the generator's item alone
    hl_eval_config c1 = c;
    c1.n_lengths = 1; c1.lengths[0] = 1100;
    hl_niah *g = NULL;
    hl_niah_item it;
    memset(&it, 0, sizeof it);
    rc = hl_niah_open(&c1, tok, data_dir(), &g, err, sizeof err);
    if (!rc) rc = hl_niah_make(g, 1100, 10, 1, -1, &it, err, sizeof err);
    hl_eval_item req;
    int rc2 = hl_eval_niah.item(t, 5, &req, err, sizeof err);
    hl_check(!rc && !rc2 && req.kind == HL_EVAL_GENERATE && req.n_prompt == it.n_ids &&
             !memcmp(req.prompt, it.ids, (size_t)it.n_ids * sizeof *it.ids) && req.max_new == 32 && req.stop == NULL,
             "family_item_is_cell_item", "%s", err);
    // scores: item 0 finds all 4 values, item 1 two of them (in other case), item 5 none
    hl_niah_item i0, i1;
    hl_niah_make(g, 800, 10, 0, -1, &i0, err, sizeof err);
    hl_niah_make(g, 800, 10, 1, -1, &i1, err, sizeof err);
    char gen0[400], gen1[400];
    snprintf(gen0, sizeof gen0, " %s, %s, %s and %s.", i0.answer[3], i0.answer[0], i0.answer[1], i0.answer[2]);
    snprintf(gen1, sizeof gen1, " %s and %s", i1.answer[1], i1.answer[2]);
    for (char *p = gen1; *p; p++) *p = (char)toupper((unsigned char)*p);
    const char *gens[8] = {gen0, gen1, "", "", "", "nothing", "", ""};
    cJSON *sample = cJSON_CreateObject();
    int ok = 1;
    long order[] = {0, 1, 5};
    for (int k = 0; k < 3; k++) {
        long i = order[k];
        hl_eval_niah.item(t, i, &req, err, sizeof err);
        hl_eval_answer a = {.text = gens[i]};
        ok &= hl_eval_niah.score(t, i, &req, &a, i == 1 ? sample : NULL, err, sizeof err) == HL_OK;
    }
    const cJSON *sm = cJSON_GetObjectItem(sample, "string_match_all"), *gn = cJSON_GetObjectItem(sample, "generation");
    hl_check(ok && cJSON_IsNumber(sm) && sm->valuedouble == 50 && cJSON_IsString(gn) && !strcmp(gn->valuestring, gen1) &&
             cJSON_GetArraySize(cJSON_GetObjectItem(sample, "answers")) == 4 &&
             cJSON_GetObjectItem(sample, "prompt_tokens") && cJSON_GetObjectItem(sample, "depth")->valueint == 10,
             "family_score_sample", "%s", err);
    cJSON_Delete(sample);
    hl_eval_report r = {0};
    rc = hl_eval_niah.report(t, &r, err, sizeof err);
    // overall: mean of 100, 50, 0 = 50 over 3; cells: (800,10) 75 over 2, (1100,10) 0 over 1
    int good = rc == HL_OK && r.n == 3 && !strcmp(r.m[0].name, "string_match_all") && fabs(r.m[0].value - 50) < 1e-9 &&
               r.m[0].n == 3 && strstr(r.m[0].params_json, "\"lengths\":[800,1100]") &&
               fabs(r.m[1].value - 75) < 1e-9 && r.m[1].n == 2 &&
               strstr(r.m[1].params_json, "\"length\":800,\"depth\":10,\"needle\":\"multivalue\"") &&
               fabs(r.m[2].value) < 1e-9 && r.m[2].n == 1 && strstr(r.m[2].params_json, "\"length\":1100,\"depth\":10") &&
               isnan(r.m[2].sem) && fabs(r.m[1].sem - 25) < 1e-9;
    hl_check(good, "family_report", "rc %d, %d metrics: %s = %g (%s)", rc, r.n, r.n ? r.m[0].name : "",
             r.n ? r.m[0].value : 0, r.n ? r.m[0].params_json : "");
    for (int k = 0; k < r.n; k++) {
        cJSON *pj = cJSON_Parse(r.m[k].params_json);
        char nm[64];
        snprintf(nm, sizeof nm, "family_report_params_json_%d", k);
        hl_check(pj != NULL, nm, "not JSON: %s", r.m[k].params_json);
        cJSON_Delete(pj);
    }
    hl_eval_report_free(&r);
    hl_niah_item_free(&it); hl_niah_item_free(&i0); hl_niah_item_free(&i1);
    hl_niah_free(g);
    hl_eval_niah.close(t);
    // another seed, another haystack
    hl_eval_config c2 = c1;
    c2.seed = 1235;
    hl_niah *g2 = NULL;
    hl_niah_item a1, a2;
    memset(&a1, 0, sizeof a1); memset(&a2, 0, sizeof a2);
    hl_niah_open(&c1, tok, data_dir(), &g, err, sizeof err);
    hl_niah_open(&c2, tok, data_dir(), &g2, err, sizeof err);
    rc = hl_niah_make(g, 1100, 50, 0, -1, &a1, err, sizeof err) || hl_niah_make(g2, 1100, 50, 0, -1, &a2, err, sizeof err);
    hl_check(!rc && strcmp(a1.prompt, a2.prompt) != 0, "other_seed_other_item", "%s", err);
    hl_niah_item_free(&a1); hl_niah_item_free(&a2);
    hl_niah_free(g); hl_niah_free(g2);
}

static void expect_bad(const char *name, hl_eval_config c, const hl_tokenizer *tok, const char *want) {
    char err[HL_ERR_LEN] = "";
    hl_eval_task *t = NULL;
    int rc = hl_eval_niah.open(&c, tok, data_dir(), &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, want) && !t, name, "rc %d, message '%s' (want '%s')", rc, err, want);
    if (t) hl_eval_niah.close(t);
}

static void test_bad(const hl_tokenizer *tok) {
    hl_eval_config c = base_cfg("single", "noise");
    c.n_lengths = 1; c.lengths[0] = 500;
    c.n_depths = 2; c.depths[0] = 50; c.depths[1] = 120;
    expect_bad("bad_depth", c, tok, "niah_test: depths[1]: 120 is outside [0, 100]");
    c.depths[1] = -1;
    expect_bad("bad_depth_negative", c, tok, "depths[1]: -1 is outside [0, 100]");
    c.depths[1] = 100;
    c.lengths[0] = 200;   // the template alone is ~250 bytes
    expect_bad("bad_length_too_small", c, tok, "niah_test: lengths: 200 tokens cannot hold the prompt template and 128 new tokens");
    c.lengths[0] = 500;
    hl_eval_config d = c;
    snprintf(d.needle, sizeof d.needle, "multi");
    expect_bad("bad_needle", d, tok, "needle: unknown variant 'multi'");
    d = c;
    snprintf(d.value_kind, sizeof d.value_kind, "words");
    expect_bad("bad_value_kind", d, tok, "value_kind: unknown 'words'");
    d = c;
    d.n_lengths = 0; d.max_length = 0;
    expect_bad("bad_no_length", d, tok, "lengths: none given");
    d = c;
    snprintf(d.haystack, sizeof d.haystack, "corpus/no_such_file.txt");
    expect_bad("bad_missing_corpus", d, tok, "corpus/no_such_file.txt");
    char path[] = "/tmp/hylab_niah_emptyXXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) { if (write(fd, "\n \n", 3) != 3) fd = -1; close(fd); }
    d = c;
    snprintf(d.haystack, sizeof d.haystack, "%s", path);
    expect_bad("bad_empty_corpus", d, tok, "empty haystack corpus");
    unlink(path);
    d = c;
    d.max_length = 499;
    expect_bad("bad_length_above_max_length", d, tok, "lengths[0]: 500 is more than max_length 499");
    // lengths default to max_length
    d = c;
    d.n_lengths = 0; d.max_length = 900;
    hl_niah *g = NULL;
    char err[HL_ERR_LEN] = "";
    int rc = hl_niah_open(&d, tok, data_dir(), &g, err, sizeof err);
    const hl_eval_config *e = rc ? NULL : hl_niah_config(g);
    hl_check(e && e->n_lengths == 1 && e->lengths[0] == 900 && e->max_new_tokens == 128 && e->samples == 4,
             "defaults", "%s", err);
    hl_niah_free(g);
    d.n_depths = 0;
    rc = hl_niah_open(&d, tok, data_dir(), &g, err, sizeof err);
    e = rc ? NULL : hl_niah_config(g);
    hl_check(e && e->n_depths == 5 && e->depths[0] == 0 && e->depths[2] == 50 && e->depths[4] == 100, "default_depths", "%s", err);
    hl_niah_free(g);
}

static void test_tokenizer(const char *tname, const int *lengths, int nl) {
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *tok = NULL;
    int rc = hl_tokenizer_open(tname, data_dir(), &tok, err, sizeof err);
    char nm[160];
    snprintf(nm, sizeof nm, "%s_tokenizer_open", tname);
    if (!hl_check(rc == HL_OK, nm, "%s", err)) return;
    const char *hay[] = {"noise", "corpus/kjv.txt"};
    const char *needle[] = {"single", "multiquery"};
    const int depths[] = {0, 25, 50, 75, 100};
    for (int h = 0; h < 2; h++) {
        hl_eval_config c = base_cfg(needle[h], hay[h]);
        c.max_new_tokens = 32;
        c.max_length = lengths[0];
        hl_niah *g = NULL;
        rc = hl_niah_open(&c, tok, data_dir(), &g, err, sizeof err);
        char name[80];
        snprintf(name, sizeof name, "%s_%s", tname, h ? "kjv" : "noise");
        snprintf(nm, sizeof nm, "%s_open", name);
        if (!hl_check(rc == HL_OK, nm, "%s", err)) continue;
        for (int li = 0; li < nl; li++)
            for (int di = 0; di < 5; di++) check_item(name, g, tok, lengths[li], depths[di], di % 2, 32);
        hl_niah_free(g);
    }
    if (!strcmp(tname, "byte")) {
        test_variants(tok);
        test_family(tok);
        test_bad(tok);
    }
    hl_tokenizer_free(tok);
}

int main(void) {
    const int byte_lengths[] = {900, 3000};
    const int gpt2_lengths[] = {300, 2048};
    test_tokenizer("byte", byte_lengths, 2);
    test_tokenizer("gpt2", gpt2_lengths, 2);
    return hl_test_done();
}
