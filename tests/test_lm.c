// test_lm.c: the language-model family (tasks/lm.c) through the task
// interface, on small corpora written here with the byte tokenizer (one id
// per byte, so every id can be checked against the text):
//  - training windows are a pure function of (config, seed, index), lie in
//    the training part and move with the seed;
//  - the split: the validation part is the last floor(n * val_fraction)
//    ids, walked in consecutive windows of seq_len (+1 for the targets);
//  - the metrics' arithmetic: loss = total nats / tokens, perplexity =
//    exp(loss), bits_per_byte = total nats / ln 2 / bytes (= loss / ln 2
//    exactly for one byte per token), with their counts;
//  - the token cache: written once and reused (same inode and mtime), a
//    cache with a bad header or bad ids rebuilt, a changed corpus gets its own;
//  - bad input: empty corpus, missing corpus, a split shorter than seq_len+1,
//    unknown tokenizer, model vocabulary smaller than the tokenizer's.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/test.h"
#include "tasks/task.h"

static char tmp[256], cache[300];

static void write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fwrite(text, 1, n, f);
    fclose(f);
}

static hl_task_config lm_cfg(const char *corpus, int L) {
    hl_task_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, "lm");
    strcpy(c.tokenizer, "byte");
    snprintf(c.corpus, sizeof c.corpus, "%s", corpus);
    c.seq_len = L; c.val_fraction = 0.1; c.num_examples = 1000;
    return c;
}

// The corpus of the split test: 900 letters then 100 digits.
static char corpus_text[1000];
static void make_corpus(void) {
    for (int i = 0; i < 900; i++) corpus_text[i] = (char)('a' + (i * 7) % 26);
    for (int i = 900; i < 1000; i++) corpus_text[i] = (char)('0' + (i * 3) % 10);
}

static int n_cache_files(void) {
    DIR *d = opendir(cache);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += !strncmp(e->d_name, "tokens-", 7);
    if (d) closedir(d);
    return n;
}

// The one cache file's path (first found).
static int cache_file(char *out, size_t n) {
    DIR *d = opendir(cache);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "tokens-", 7)) { snprintf(out, n, "%s/%s", cache, e->d_name); found = 1; break; }
    if (d) closedir(d);
    return found;
}

static void test_windows_and_split(const char *corpus) {
    hl_task_config c = lm_cfg(corpus, 16);
    char err[512];
    hl_task *a = NULL, *b = NULL, *s2 = NULL;
    int rc = hl_task_open(&c, 256, tmp, 5, &a, err, sizeof err);
    if (!hl_check(rc == HL_OK, "lm_open", "%s", err)) return;
    hl_task_open(&c, 256, tmp, 5, &b, err, sizeof err);
    hl_task_open(&c, 256, tmp, 6, &s2, err, sizeof err);
    hl_task_batch x, y, z;
    hl_task_batch_alloc(&x, 8, 16); hl_task_batch_alloc(&y, 8, 16); hl_task_batch_alloc(&z, 8, 16);

    hl_task_fill(a, HL_SPLIT_TRAIN, 40, 8, &x, err, sizeof err);
    hl_task_fill(b, HL_SPLIT_TRAIN, 40, 8, &y, err, sizeof err);
    hl_task_fill(s2, HL_SPLIT_TRAIN, 40, 8, &z, err, sizeof err);
    hl_check(!memcmp(x.inputs, y.inputs, sizeof(int32_t) * 128) && !memcmp(x.targets, y.targets, sizeof(int32_t) * 128),
             "lm_train_deterministic", "two opens with one seed give different windows");
    hl_check(memcmp(x.inputs, z.inputs, sizeof(int32_t) * 128) != 0, "lm_train_seed_changes_windows",
             "seeds 5 and 6 give the same windows");
    // each row is a window of the training part: inputs = text[s..s+16), targets = text[s+1..s+17)
    int bad = 0, starts_differ = 0;
    long first_start = -1;
    for (int r = 0; r < 8 && !bad; r++) {
        long s = -1;
        for (long k = 0; k + 17 <= 900 && s < 0; k++) {
            int m = 1;
            for (int t = 0; t < 16 && m; t++)
                m = x.inputs[r * 16 + t] == (unsigned char)corpus_text[k + t] &&
                    x.targets[r * 16 + t] == (unsigned char)corpus_text[k + t + 1];
            if (m) s = k;
        }
        if (s < 0) bad = 1;
        if (r == 0) first_start = s;
        else starts_differ |= s != first_start;
    }
    hl_check(!bad && starts_differ && x.n_out == 128 && x.pos[127] == 127, "lm_train_windows_in_training_part",
             "a row is not a window of the first 900 bytes (bad %d, n_out %d)", bad, x.n_out);
    // index i is index i mod num_examples
    hl_task_fill(a, HL_SPLIT_TRAIN, 40 + 1000, 8, &y, err, sizeof err);
    hl_check(!memcmp(x.inputs, y.inputs, sizeof(int32_t) * 128), "lm_train_index_mod_num_examples",
             "index 1040 differs from index 40 with num_examples 1000");

    // validation: n_val = 100, windows = (100 - 1) / 16 = 6, consecutive from byte 900
    long n_eval = hl_task_eval_examples(a);
    hl_check(n_eval == 6, "lm_validation_window_count", "got %ld, want 6", n_eval);
    rc = hl_task_fill(a, HL_SPLIT_TEST, 0, 6, &y, err, sizeof err);
    bad = rc != HL_OK;
    for (int r = 0; r < 6 && !bad; r++)
        for (int t = 0; t < 16; t++)
            bad |= y.inputs[r * 16 + t] != (unsigned char)corpus_text[900 + 16 * r + t] ||
                   y.targets[r * 16 + t] != (unsigned char)corpus_text[900 + 16 * r + t + 1];
    hl_check(!bad && y.n_out == 96, "lm_validation_consecutive_windows_of_the_tail",
             "rows are not bytes 900 + 16k .. (+1 for targets); n_out %d", y.n_out);
    rc = hl_task_fill(a, HL_SPLIT_TEST, 6, 1, &y, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "lm_validation_past_the_end_refused", "window 6 of 6: rc %d", rc);
    c.num_examples = 4;
    hl_task *four;
    hl_task_open(&c, 256, tmp, 5, &four, err, sizeof err);
    hl_check(hl_task_eval_examples(four) == 4, "lm_validation_num_examples_limits", "got %ld", hl_task_eval_examples(four));
    hl_task_close(four);

    // metrics: two batches with mean losses 2.5 (96 positions) and 1.25 (32)
    hl_task_reset(a);
    float logits[1];
    hl_task_fill(a, HL_SPLIT_TEST, 0, 6, &y, err, sizeof err);
    hl_task_score(a, &y, logits, 256, 2.5f, err, sizeof err);
    hl_task_fill(a, HL_SPLIT_TEST, 0, 2, &y, err, sizeof err);
    hl_task_score(a, &y, logits, 256, 1.25f, err, sizeof err);
    hl_task_report rep;
    hl_task_report_get(a, &rep);
    double nats = 2.5 * 96 + 1.25 * 32, loss = nats / 128;
    int ok = rep.n_metrics == 3 && !strcmp(rep.metric[0].name, "loss") && !strcmp(rep.metric[1].name, "perplexity") &&
             !strcmp(rep.metric[2].name, "bits_per_byte") && !strcmp(rep.version, "lm/1");
    hl_check(ok && fabs(rep.metric[0].value - loss) <= 1e-12 * loss && rep.metric[0].n == 128,
             "lm_loss_is_total_nats_over_tokens", "loss %.17g (n %ld), want %.17g (128)", rep.metric[0].value,
             rep.metric[0].n, loss);
    hl_check(fabs(rep.metric[1].value - exp(loss)) <= 1e-12 * exp(loss), "lm_perplexity_is_exp_loss",
             "%.17g vs %.17g", rep.metric[1].value, exp(loss));
    hl_check(fabs(rep.metric[2].value - loss / log(2.0)) <= 1e-12 * loss && rep.metric[2].n == 128,
             "lm_bits_per_byte_is_loss_over_ln2_for_bytes", "bpb %.17g (n %ld), loss/ln2 %.17g", rep.metric[2].value,
             rep.metric[2].n, loss / log(2.0));
    hl_check(strstr(rep.params_json, "\"windows\":8") && strstr(rep.params_json, "\"tokenizer\":\"byte\""),
             "lm_report_params", "%s", rep.params_json);

    hl_task_batch_free(&x); hl_task_batch_free(&y); hl_task_batch_free(&z);
    hl_task_close(a); hl_task_close(b); hl_task_close(s2);
}

static void test_cache(const char *corpus) {
    hl_task_config c = lm_cfg(corpus, 16);
    char err[512], file[600];
    hl_task *t;
    // the first open (test_windows_and_split) wrote one cache file; opens since reused it
    struct stat s1, s2;
    int have = n_cache_files() == 1 && cache_file(file, sizeof file) && stat(file, &s1) == 0;
    // header (200 bytes: struct cache_header of tasks/lm.c) + 1000 int32 ids
    hl_check(have && s1.st_size == 200 + 1000 * 4, "lm_cache_written_once",
             "%d cache files in %s (size %ld)", n_cache_files(), cache, have ? (long)s1.st_size : -1L);
    if (!have) return;
    sleep(1);   // a rewrite would show in the mtime
    hl_task_open(&c, 256, tmp, 0, &t, err, sizeof err);
    hl_task_close(t);
    stat(file, &s2);
    hl_check(s1.st_ino == s2.st_ino && s1.st_mtime == s2.st_mtime, "lm_cache_reused",
             "the cache file was rewritten (inode %lu -> %lu)", (unsigned long)s1.st_ino, (unsigned long)s2.st_ino);

    // a header that does not match (the corpus hash changed in the file): rebuilt
    FILE *f = fopen(file, "r+b");
    fseek(f, 8 + 4 + 4 + 32 + 65, SEEK_SET);   // corpus_sha (struct cache_header of tasks/lm.c)
    fputs("0000", f);
    fclose(f);
    int rc = hl_task_open(&c, 256, tmp, 0, &t, err, sizeof err);
    stat(file, &s2);
    hl_check(rc == HL_OK && s2.st_ino != s1.st_ino && n_cache_files() == 1, "lm_cache_bad_header_rebuilt",
             "rc %d, inode %lu -> %lu: %s", rc, (unsigned long)s1.st_ino, (unsigned long)s2.st_ino, err);
    hl_task_batch b;
    hl_task_batch_alloc(&b, 1, 16);
    if (rc == HL_OK) {
        hl_task_fill(t, HL_SPLIT_TEST, 0, 1, &b, err, sizeof err);
        hl_check(b.inputs[0] == (unsigned char)corpus_text[900], "lm_cache_rebuilt_ids", "id %d", b.inputs[0]);
        hl_task_close(t);
    }
    // an id outside the tokenizer (the last id set to 9999): rebuilt
    stat(file, &s1);
    f = fopen(file, "r+b");
    fseek(f, -4, SEEK_END);
    int32_t big = 9999;
    fwrite(&big, 4, 1, f);
    fclose(f);
    rc = hl_task_open(&c, 256, tmp, 0, &t, err, sizeof err);
    stat(file, &s2);
    hl_check(rc == HL_OK && s2.st_ino != s1.st_ino, "lm_cache_bad_ids_rebuilt", "rc %d: %s", rc, err);
    if (rc == HL_OK) hl_task_close(t);
    // a truncated cache: rebuilt
    stat(file, &s1);
    rc = truncate(file, s1.st_size - 4);
    if (rc == 0) rc = hl_task_open(&c, 256, tmp, 0, &t, err, sizeof err);
    stat(file, &s2);
    hl_check(rc == HL_OK && s2.st_ino != s1.st_ino && s2.st_size == s1.st_size, "lm_cache_truncated_rebuilt",
             "rc %d: %s", rc, err);
    if (rc == HL_OK) hl_task_close(t);

    // a changed corpus: its own cache file, the ids of the new text
    char path[400];
    snprintf(path, sizeof path, "%s/%s", tmp, corpus);
    corpus_text[900] = 'Z';
    write_file(path, corpus_text, sizeof corpus_text);
    rc = hl_task_open(&c, 256, tmp, 0, &t, err, sizeof err);
    if (rc == HL_OK) hl_task_fill(t, HL_SPLIT_TEST, 0, 1, &b, err, sizeof err);
    hl_check(rc == HL_OK && n_cache_files() == 2 && b.inputs[0] == 'Z', "lm_cache_changed_corpus_own_file",
             "rc %d, %d files, id %d: %s", rc, n_cache_files(), b.inputs[0], err);
    if (rc == HL_OK) hl_task_close(t);
    hl_task_batch_free(&b);
}

// open must fail with HL_EBADINPUT and a message holding `want`.
static void expect_bad(const char *name, hl_task_config c, int vocab, const char *want) {
    char err[1024] = "";
    hl_task *t = NULL;
    int rc = hl_task_open(&c, vocab, tmp, 0, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, want), name, "rc %d, message '%s' (want '%s')", rc, err, want);
    hl_task_close(t);
}

static void test_bad_inputs(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/empty.txt", tmp);
    write_file(path, "", 0);
    expect_bad("lm_bad_empty_corpus", lm_cfg("empty.txt", 16), 256, "empty.txt: empty corpus");
    expect_bad("lm_bad_missing_corpus", lm_cfg("nope/none.txt", 16), 256, "nope/none.txt: missing (needed by lm");
    snprintf(path, sizeof path, "%s/short.txt", tmp);
    write_file(path, "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", 108);
    // 108 bytes: 98 training, 10 validation ids < 17
    expect_bad("lm_bad_short_validation", lm_cfg("short.txt", 16), 256, "each part needs at least seq_len + 1 = 17");
    hl_task_config c = lm_cfg("short.txt", 16);
    c.val_fraction = 0.95;   // 6 training ids
    expect_bad("lm_bad_short_training", c, 256, "6 training");
    c = lm_cfg("corpus.txt", 16);
    strcpy(c.tokenizer, "nope");
    expect_bad("lm_bad_unknown_tokenizer", c, 256, "tokenizer: lm needs a tokenizer");
    expect_bad("lm_bad_model_vocab_smaller", lm_cfg("corpus.txt", 16), 200,
               "vocab_size: the model's vocabulary (200) is smaller than tokenizer byte's (256)");
    // an absolute corpus path ignores the data directory
    snprintf(path, sizeof path, "%s/corpus.txt", tmp);
    hl_task_config abs = lm_cfg(path, 16);
    char err[512];
    hl_task *t;
    int rc = hl_task_open(&abs, 256, "/nonexistent", 0, &t, err, sizeof err);
    hl_check(rc == HL_OK, "lm_absolute_corpus_path", "%s", err);
    if (rc == HL_OK) hl_task_close(t);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/hylab-test-lm-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    setenv("HYLAB_CACHE", cache, 1);
    make_corpus();
    char path[400];
    snprintf(path, sizeof path, "%s/corpus.txt", tmp);
    write_file(path, corpus_text, sizeof corpus_text);
    test_windows_and_split("corpus.txt");
    test_cache("corpus.txt");
    test_bad_inputs();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return hl_test_done();
}
