// test_tasks.c: MQAR examples follow Zoology's definition exactly; the task
// interface through the registry (open, fill, score, report, close).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/test.h"
#include "tasks/task.h"

static hl_task_config mqar(int L, int kv) {
    hl_task_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, "mqar");
    c.seq_len = L; c.num_kv_pairs = kv; c.power_a = 0.01; c.num_examples = 1000;
    return c;
}

// Checks one example's structure; returns NULL or what is wrong.
static const char *check_structure(const hl_task_config *c, int V, const int32_t *in, const int32_t *tg) {
    int L = c->seq_len, kv = c->num_kv_pairs, ctx = 2 * kv;
    for (int i = 0; i < kv; i++) {
        int32_t k = in[2 * i], v = in[2 * i + 1];
        if (k < 1 || k >= V / 2) return "key out of [1, V/2)";
        if (v < V / 2 || v >= V) return "value out of [V/2, V)";
        for (int j = 0; j < i; j++)
            if (in[2 * j] == k || in[2 * j + 1] == v) return "duplicate key or value";
        int queried = 0;
        for (int t = ctx; t < L; t++)
            if (in[t] == k) {
                queried++;
                if ((t - ctx) % 2) return "query at an odd offset";
                if (tg[t] != v) return "label at the query position is not the value";
            }
        if (queried != 1) return "key not queried exactly once";
    }
    int labelled = 0;
    for (int t = 0; t < L; t++) {
        if (tg[t] != HL_IGNORE) labelled++;
        if (t >= ctx && tg[t] == HL_IGNORE && in[t] != 0) return "non-query position is not 0";
        if (t < ctx && tg[t] != HL_IGNORE) return "label inside the context";
    }
    return labelled == kv ? NULL : "wrong number of labels";
}

static void test_structure(void) {
    int sizes[][3] = {{64, 4, 8192}, {128, 8, 8192}, {256, 16, 8192}, {16, 4, 20}};
    for (int s = 0; s < 4; s++) {
        hl_task_config c = mqar(sizes[s][0], sizes[s][1]);
        int V = sizes[s][2], L = c.seq_len;
        int32_t *in = malloc(sizeof(int32_t) * L), *tg = malloc(sizeof(int32_t) * L);
        const char *bad = NULL;
        for (uint64_t i = 0; i < 500 && !bad; i++) {
            hl_mqar_example(&c, V, 7, i % 2 ? HL_SPLIT_TEST : HL_SPLIT_TRAIN, i, in, tg);
            bad = check_structure(&c, V, in, tg);
        }
        char name[64];
        snprintf(name, sizeof name, "mqar_structure_L%d_kv%d_V%d", L, c.num_kv_pairs, V);
        hl_check(!bad, name, "%s", bad ? bad : "");
        free(in); free(tg);
    }
}

static void test_determinism_and_splits(void) {
    hl_task_config c = mqar(64, 4);
    int32_t a[64], at[64], b[64], bt[64];
    hl_mqar_example(&c, 8192, 3, HL_SPLIT_TRAIN, 42, a, at);
    hl_mqar_example(&c, 8192, 3, HL_SPLIT_TRAIN, 42, b, bt);
    hl_check(!memcmp(a, b, sizeof a) && !memcmp(at, bt, sizeof at), "mqar_deterministic", "same inputs differ");
    int same_split = 0, same_seed = 0, same_index = 0;
    for (uint64_t i = 0; i < 200; i++) {
        hl_mqar_example(&c, 8192, 3, HL_SPLIT_TRAIN, i, a, at);
        hl_mqar_example(&c, 8192, 3, HL_SPLIT_TEST, i, b, bt);
        same_split += !memcmp(a, b, sizeof a);
        hl_mqar_example(&c, 8192, 4, HL_SPLIT_TRAIN, i, b, bt);
        same_seed += !memcmp(a, b, sizeof a);
        hl_mqar_example(&c, 8192, 3, HL_SPLIT_TRAIN, i + 1, b, bt);
        same_index += !memcmp(a, b, sizeof a);
    }
    hl_check(!same_split && !same_seed && !same_index, "mqar_streams_differ",
             "train/test %d, seeds %d, indices %d identical", same_split, same_seed, same_index);
}

// Number of keys two examples' contexts have in common.
static int shared_keys(const int32_t *a, const int32_t *b, int kv) {
    int n = 0;
    for (int i = 0; i < kv; i++)
        for (int j = 0; j < kv; j++) n += a[2 * i] == b[2 * j];
    return n;
}

// Streams of neighbouring seeds, indices and splits are unrelated: the keys
// two such examples share are at chance level (kv^2 / (V/2 - 1) per pair).
// A stream that is a shifted copy of another (seed s+1 = seed s one draw
// later) shares kv-1 keys per pair.
static void test_streams_independent(void) {
    hl_task_config c = mqar(64, 4);
    int V = 8192, kv = 4, pairs = 0;
    long shared[3] = {0, 0, 0}; // next seed, next index, other split
    int32_t a[64], at[64], b[64], bt[64];
    for (uint64_t s = 0; s < 100; s++)
        for (uint64_t i = 0; i < 5; i++)
            for (int sp = 0; sp < 2; sp++, pairs++) {
                hl_mqar_example(&c, V, s, (hl_split)sp, i, a, at);
                hl_mqar_example(&c, V, s + 1, (hl_split)sp, i, b, bt);
                shared[0] += shared_keys(a, b, kv);
                hl_mqar_example(&c, V, s, (hl_split)sp, i + 1, b, bt);
                shared[1] += shared_keys(a, b, kv);
                hl_mqar_example(&c, V, s, (hl_split)!sp, i, b, bt);
                shared[2] += shared_keys(a, b, kv);
            }
    double chance = (double)pairs * kv * kv / (V / 2 - 1); // ~3.9
    int ok = 1;
    for (int k = 0; k < 3; k++) ok &= shared[k] <= 5 * chance;
    hl_check(ok, "mqar_streams_independent",
             "shared keys over %d pairs: next seed %ld, next index %ld, other split %ld (chance %.1f)",
             pairs, shared[0], shared[1], shared[2], chance);
}

// Opens MQAR through the registry (seed: the run's seed) and fills rows
// examples of split into b; returns the handle (NULL with a failed check).
static hl_task *open_mqar(const hl_task_config *c, int V, uint64_t seed) {
    char err[256];
    hl_task *t = NULL;
    int rc = hl_task_open(c, V, NULL, seed, &t, err, sizeof err);
    hl_check(rc == HL_OK && t, "mqar_open", "rc %d: %s", rc, err);
    return rc == HL_OK ? t : NULL;
}

static void fill_rows(hl_task *t, hl_split split, int rows, hl_task_batch *b, int32_t *in, int32_t *tg) {
    char err[256];
    int rc = hl_task_fill(t, split, 0, rows, b, err, sizeof err);
    hl_check(rc == HL_OK, "mqar_fill", "rc %d: %s", rc, err);
    memcpy(in, b->inputs, sizeof(int32_t) * rows * b->T);
    memcpy(tg, b->targets, sizeof(int32_t) * rows * b->T);
}

// The test set is the same for every training seed; the training stream is
// not, and no training example (of any seed, even HL_TEST_SEED) is a test
// example. Examples come through the task interface, as the harness gets them.
static void test_fixed_test_set(void) {
    enum { N = 256, L = 64 };
    hl_task_config c = mqar(L, 4);
    int32_t *t0 = malloc(sizeof(int32_t) * 4 * N * L), *t0g = t0 + N * L;
    int32_t *x = t0 + 2 * N * L, *xg = t0 + 3 * N * L;
    int32_t *tr1 = malloc(sizeof(int32_t) * 2 * N * L), *tr1g = tr1 + N * L;
    hl_task_batch b;
    hl_task_batch_alloc(&b, N, L);
    uint64_t seeds[] = {1, 2, 12345, HL_TEST_SEED};
    hl_task *t = open_mqar(&c, 8192, 0), *ts[4];
    for (int k = 0; k < 4; k++) ts[k] = open_mqar(&c, 8192, seeds[k]);
    hl_task *t1 = open_mqar(&c, 8192, 1);
    if (!t || !t1 || !ts[0] || !ts[1] || !ts[2] || !ts[3]) return;
    fill_rows(t, HL_SPLIT_TEST, N, &b, t0, t0g);
    int same_test = 1;
    for (int k = 0; k < 4; k++) {
        fill_rows(ts[k], HL_SPLIT_TEST, N, &b, x, xg);
        same_test &= !memcmp(t0, x, sizeof(int32_t) * N * L) && !memcmp(t0g, xg, sizeof(int32_t) * N * L);
    }
    hl_check(same_test, "mqar_test_set_independent_of_run_seed", "training seeds evaluate on different test sets");
    fill_rows(t, HL_SPLIT_TRAIN, N, &b, x, xg);
    fill_rows(t1, HL_SPLIT_TRAIN, N, &b, tr1, tr1g);
    hl_check(memcmp(x, tr1, sizeof(int32_t) * N * L), "mqar_train_stream_follows_run_seed", "seeds 0 and 1 train on the same examples");
    long overlap = 0;
    for (int k = 0; k < 4; k++) {
        fill_rows(ts[k], HL_SPLIT_TRAIN, N, &b, x, xg);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                overlap += !memcmp(x + i * L, t0 + j * L, sizeof(int32_t) * L);
    }
    hl_check(!overlap, "mqar_train_test_disjoint", "%ld training examples are test examples", overlap);
    hl_task_close(t); hl_task_close(t1);
    for (int k = 0; k < 4; k++) hl_task_close(ts[k]);
    hl_task_batch_free(&b);
    free(t0); free(tr1);
}

// ---------------------------------------------------------------- the interface
static void test_registry(void) {
    char err[256] = "", names[64];
    const hl_task_family *f = hl_task_family_find("mqar");
    hl_check(f && !strcmp(f->name, "mqar") && !strcmp(f->version, "mqar/1"), "registry_has_mqar",
             "%s", f ? f->version : "not found");
    hl_check(!hl_task_family_find("nope") && !hl_task_family_find(NULL), "registry_unknown_is_null", "");
    hl_task_family_names(names, sizeof names);
    hl_check(strstr(names, "mqar") != NULL, "registry_names", "%s", names);
    int n = 0;
    for (; hl_task_families[n]; n++)
        hl_check(hl_task_families[n]->open && hl_task_families[n]->fill && hl_task_families[n]->score &&
                 hl_task_families[n]->report && hl_task_families[n]->reset && hl_task_families[n]->close &&
                 hl_task_families[n]->eval_examples && hl_task_families[n]->version,
                 "registry_family_complete", "%s", hl_task_families[n]->name);
    hl_check(n >= 1, "registry_nonempty", "%d families", n);
    hl_task_config c = mqar(64, 4);
    strcpy(c.name, "nope");
    hl_task *t = (hl_task *)&c;   // must be reset to NULL
    int rc = hl_task_open(&c, 8192, NULL, 0, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, "unknown task family 'nope'") && strstr(err, "mqar"),
             "open_unknown_family_is_error", "rc %d: %s", rc, err);
    c = mqar(63, 4);
    rc = hl_task_open(&c, 8192, NULL, 0, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, "seq_len"), "open_checks_config", "rc %d: %s", rc, err);
}

// Logits (n_out, V) whose argmax is the label (right) or another token.
static float *logits_for(const hl_task_batch *b, int V, int wrong_row) {
    float *lg = calloc((size_t)b->n_out * V, sizeof(float));
    for (int i = 0; i < b->n_out; i++) {
        int row = b->pos[i] / b->T, label = b->labels[i];
        int hot = row == wrong_row || wrong_row < -1 ? (label + 1) % V : label;
        lg[(size_t)i * V + hot] = 5.0f;
    }
    return lg;
}

// fill -> score -> report round trip: perfect logits score 1.0, wrong ones
// 0.0, one wrong example out of R gives (R-1)/R with the standard error of
// R per-example accuracies; metric names, counts, parameters and version.
static void test_fill_score_report(void) {
    enum { R = 8, L = 64, V = 8192 };
    char err[256] = "";
    hl_task_config c = mqar(L, 4);
    c.num_examples = R;
    hl_task *t = open_mqar(&c, V, 3);
    if (!t) return;
    hl_task_batch b;
    hl_task_batch_alloc(&b, R, L);
    hl_check(hl_task_eval_examples(t) == R, "eval_examples", "%ld", hl_task_eval_examples(t));
    int rc = hl_task_fill(t, HL_SPLIT_TEST, 0, R, &b, err, sizeof err);
    int32_t in[L], tg[L];
    hl_mqar_example(&c, V, HL_TEST_SEED, HL_SPLIT_TEST, R - 1, in, tg);
    hl_check(rc == HL_OK && b.B == R && b.T == L && b.n_out == 4 * R &&
             !memcmp(in, b.inputs + (R - 1) * L, sizeof in) && !memcmp(tg, b.targets + (R - 1) * L, sizeof tg),
             "fill_is_the_examples", "rc %d n_out %d", rc, b.n_out);
    int ok = 1;
    for (int i = 0; i < b.n_out; i++) ok &= b.targets[b.pos[i]] == b.labels[i] && b.labels[i] != HL_IGNORE;
    hl_check(ok, "fill_positions_are_labelled", "");

    const double cases[3][2] = {{-1, 1.0}, {-2, 0.0}, {2, (R - 1.0) / R}};   // wrong_row, accuracy
    for (int k = 0; k < 3; k++) {
        float *lg = logits_for(&b, V, (int)cases[k][0]);
        hl_task_reset(t);
        rc = hl_task_score(t, &b, lg, V, 0.25f, err, sizeof err);
        hl_task_report r;
        hl_task_report_get(t, &r);
        // one 0 among R-1 ones: sample variance 1/R, sem = sqrt(var / R) = 1/R
        double sem = k == 2 ? 1.0 / R : 0;
        char name[64];
        snprintf(name, sizeof name, "score_accuracy_%s", k == 0 ? "perfect" : k == 1 ? "wrong" : "one_wrong_row");
        hl_check(rc == HL_OK && r.n_metrics == 2 && !strcmp(r.metric[0].name, "accuracy") &&
                 fabs(r.metric[0].value - cases[k][1]) < 1e-12 && r.metric[0].n == R &&
                 fabs(r.metric[0].sem - sem) < 1e-12,
                 name, "rc %d: %d metrics, %s %.6g (want %.6g) n %ld sem %.6g (want %.6g)", rc, r.n_metrics,
                 r.metric[0].name, r.metric[0].value, cases[k][1], r.metric[0].n, r.metric[0].sem, sem);
        free(lg);
        if (k) continue;
        hl_check(!strcmp(r.metric[1].name, "loss") && fabs(r.metric[1].value - 0.25) < 1e-7 && r.metric[1].n == R &&
                 isnan(r.metric[1].sem), "report_loss", "%s %.6g n %ld", r.metric[1].name, r.metric[1].value, r.metric[1].n);
        hl_check(!strcmp(r.params_json, "{\"num_kv_pairs\":4,\"seq_len\":64}") && r.version &&
                 !strcmp(r.version, "mqar/1"), "report_params_and_version", "%s %s", r.params_json,
                 r.version ? r.version : "(null)");
    }
    // scores accumulate over batches until reset: perfect then wrong = 0.5
    float *good = logits_for(&b, V, -1), *bad = logits_for(&b, V, -2);
    hl_task_reset(t);
    hl_task_score(t, &b, good, V, 1.0f, err, sizeof err);
    hl_task_score(t, &b, bad, V, 3.0f, err, sizeof err);
    hl_task_report r;
    hl_task_report_get(t, &r);
    hl_check(fabs(r.metric[0].value - 0.5) < 1e-12 && r.metric[0].n == 2 * R && fabs(r.metric[1].value - 2.0) < 1e-12,
             "score_accumulates", "accuracy %.6g n %ld loss %.6g", r.metric[0].value, r.metric[0].n, r.metric[1].value);
    rc = hl_task_fill(t, HL_SPLIT_TRAIN, 0, R + 1, &b, err, sizeof err);
    hl_check(rc == HL_EBADINPUT, "fill_over_capacity_is_error", "rc %d", rc);
    free(good); free(bad);
    hl_task_batch_free(&b);
    hl_task_close(t);
}

// hylab's generator reproduces tests/fixtures/mqar_examples.txt, the golden
// examples of the Python port (tests/torch/mqar_data.py) that the PyTorch
// replica trains on: pins the generator and keeps the port honest.
static void test_golden_examples(void) {
    const char *path = "tests/fixtures/mqar_examples.txt";
    FILE *f = fopen(path, "r");
    if (!f) { hl_check(0, "mqar_golden_examples", "cannot open %s (run from the repository root)", path); return; }
    char line[8192];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f) && !bad) {
        if (line[0] == '#') continue;
        unsigned long long seed, index;
        int split, V, L, kv, used;
        double a;
        if (sscanf(line, "%llu %d %llu %d %d %d %lf :%n", &seed, &split, &index, &V, &L, &kv, &a, &used) != 7 || L > 256) { bad = 1; break; }
        hl_task_config c = mqar(L, kv);
        c.power_a = a;
        int32_t in[256], tg[256];
        hl_mqar_example(&c, V, seed, (hl_split)split, index, in, tg);
        char *p = line + used;
        for (int t = 0; t < 2 * L && !bad; t++) {
            if (t == L) { while (*p == ' ') p++; bad = *p++ != ':'; }
            char *end;
            long v = strtol(p, &end, 10);
            bad |= end == p || v != (t < L ? in[t] : tg[t - L]);
            p = end;
        }
        n++;
    }
    fclose(f);
    hl_check(!bad && n >= 90, "mqar_golden_examples", "example %d of %s differs (or the file is short)", n, path);
}

// With one kv pair the gap law is exact: p(g) = (g+1)^(a-1) / sum. Compare
// the empirical histogram with it (chi-square-like, generous bound), and
// check that a uniform law would have been rejected.
static void test_gap_distribution(void) {
    hl_task_config c = mqar(64, 1);
    int space = (64 - 2) / 2, n = 20000;
    double *expect = calloc(space, sizeof(double)), total = 0;
    long *count = calloc(space, sizeof(long));
    for (int g = 0; g < space; g++) { expect[g] = c.power_a * pow(g + 1, c.power_a - 1); total += expect[g]; }
    int32_t in[64], tg[64];
    for (int i = 0; i < n; i++) {
        hl_mqar_example(&c, 8192, 11, HL_SPLIT_TRAIN, (uint64_t)i, in, tg);
        for (int t = 2; t < 64; t++) if (tg[t] != HL_IGNORE) count[(t - 2) / 2]++;
    }
    double chi = 0, chi_uniform = 0;
    for (int g = 0; g < space; g++) {
        double e = n * expect[g] / total, u = (double)n / space;
        chi += (count[g] - e) * (count[g] - e) / e;
        chi_uniform += (count[g] - u) * (count[g] - u) / u;
    }
    // 30 degrees of freedom: the 99.9% point is ~59.7.
    hl_check(chi < 59.7 && chi_uniform > 59.7, "mqar_gap_law", "chi2 %.1f (uniform %.1f)", chi, chi_uniform);
    free(expect); free(count);
}

static void test_checks(void) {
    char err[256];
    hl_task_config c = mqar(64, 4);
    hl_check(hl_mqar_check(&c, 8192, err, sizeof err) == HL_OK, "mqar_check_ok", "%s", err);
    c.seq_len = 63;
    hl_check(hl_mqar_check(&c, 8192, err, sizeof err) == HL_EBADINPUT && strstr(err, "seq_len"), "mqar_check_odd", "%s", err);
    c = mqar(64, 17);
    hl_check(hl_mqar_check(&c, 8192, err, sizeof err) == HL_EBADINPUT && strstr(err, "num_kv_pairs"), "mqar_check_kv", "%s", err);
    c = mqar(64, 4);
    hl_check(hl_mqar_check(&c, 64, err, sizeof err) == HL_EBADINPUT && strstr(err, "vocab_size"), "mqar_check_vocab", "%s", err);
}

static void test_labelled_positions(void) {
    int32_t tg[6] = {HL_IGNORE, 5, HL_IGNORE, HL_IGNORE, 9, 1}, pos[6];
    int n = hl_labelled_positions(tg, 2, 3, pos);
    hl_check(n == 3 && pos[0] == 1 && pos[1] == 4 && pos[2] == 5, "labelled_positions", "n=%d", n);
}

int main(void) {
    test_structure();
    test_determinism_and_splits();
    test_streams_independent();
    test_fixed_test_set();
    test_golden_examples();
    test_gap_distribution();
    test_checks();
    test_labelled_positions();
    test_registry();
    test_fill_score_report();
    return hl_test_done();
}
