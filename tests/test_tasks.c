// test_tasks.c: MQAR examples follow Zoology's definition exactly.
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

// The test set is the same for every training seed; the training stream is
// not, and no training example (of any seed, even HL_TEST_SEED) is a test
// example.
static void test_fixed_test_set(void) {
    enum { N = 256, L = 64 };
    hl_task_config c = mqar(L, 4);
    int32_t *t0 = malloc(sizeof(int32_t) * 4 * N * L), *t0g = t0 + N * L;
    int32_t *x = t0 + 2 * N * L, *xg = t0 + 3 * N * L;
    hl_task_fill(&c, 8192, 0, HL_SPLIT_TEST, 0, N, t0, t0g);
    int same_test = 1;
    uint64_t seeds[] = {1, 2, 12345, HL_TEST_SEED};
    for (int k = 0; k < 4; k++) {
        hl_task_fill(&c, 8192, seeds[k], HL_SPLIT_TEST, 0, N, x, xg);
        same_test &= !memcmp(t0, x, sizeof(int32_t) * N * L) && !memcmp(t0g, xg, sizeof(int32_t) * N * L);
    }
    hl_check(same_test, "mqar_test_set_independent_of_run_seed", "training seeds evaluate on different test sets");
    int32_t *tr1 = malloc(sizeof(int32_t) * 2 * N * L), *tr1g = tr1 + N * L;
    hl_task_fill(&c, 8192, 0, HL_SPLIT_TRAIN, 0, N, x, xg);
    hl_task_fill(&c, 8192, 1, HL_SPLIT_TRAIN, 0, N, tr1, tr1g);
    hl_check(memcmp(x, tr1, sizeof(int32_t) * N * L), "mqar_train_stream_follows_run_seed", "seeds 0 and 1 train on the same examples");
    long overlap = 0;
    for (int k = 0; k < 4; k++) {
        hl_task_fill(&c, 8192, seeds[k], HL_SPLIT_TRAIN, 0, N, x, xg);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                overlap += !memcmp(x + i * L, t0 + j * L, sizeof(int32_t) * L);
    }
    hl_check(!overlap, "mqar_train_test_disjoint", "%ld training examples are test examples", overlap);
    free(t0); free(tr1);
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
    return hl_test_done();
}
