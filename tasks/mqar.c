// mqar.c: Zoology's multi-query associative recall (MQAR).
//
// Definition (as in Zoology's multiquery_ar, zoology/data/associative_recall.py):
//   vocab V; keys drawn from [1, V/2), values from [V/2, V), distinct within
//   an example. The context is num_kv_pairs pairs k1 v1 k2 v2 ... (2*kv
//   tokens). The rest of the sequence holds queries: each key of the context
//   is queried once, at position 2*kv + 2*g, where the gaps g are drawn
//   without replacement from [0, space), space = (L - 2*kv)/2, with
//   p(g) proportional to a * (g+1)^(a-1) (power_a = a, default 0.01). All
//   other query-region positions hold token 0. The label (the key's value)
//   sits at the query position itself (the model predicts the value right
//   after reading the key); every other label is ignored (HL_IGNORE).
//   Requires L even, V > L, 4*kv <= L.
// Zoology also has an option to fill the zero positions with random tokens
// (random_non_queries); the definition hylab reproduces keeps them zero.
//
// Examples are a pure function of (cfg, vocab, seed, split, index): example i
// is generated from its own RNG stream, so a training set of N examples needs
// no storage and any shard of it can be generated independently. The stream's
// start is a hash of (seed, split, index), so streams of neighbouring seeds or
// indices are unrelated (not shifted copies of each other).
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "tasks/task.h"

extern const hl_task_family hl_task_mqar;

// The start of example `index`'s stream: each of seed, split, index goes
// through the mix in turn, so two different triples start at unrelated states
// (a collision or a stream overlap within an example's few dozen draws has
// probability about 2^-57).
static uint64_t stream_start(uint64_t seed, hl_split split, uint64_t index) {
    uint64_t h = hl_mix64(seed ^ 0x6A09E667F3BCC909ull);
    h = hl_mix64(h ^ ((uint64_t)split + 0xBB67AE8584CAA73Bull));
    return hl_mix64(h ^ index);
}

static double uniform01(uint64_t *state) {
    return (double)(hl_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

// Integer uniform in [lo, hi).
static int32_t uniform_int(uint64_t *state, int32_t lo, int32_t hi) {
    return lo + (int32_t)(hl_splitmix64(state) % (uint64_t)(hi - lo));
}

int hl_mqar_check(const hl_task_config *cfg, int vocab, char *err, size_t errlen) {
    int L = cfg->seq_len, kv = cfg->num_kv_pairs;
    if (L < 2 || L % 2) { snprintf(err, errlen, "seq_len: must be even and >= 2 (got %d)", L); return HL_EBADINPUT; }
    if (kv < 1) { snprintf(err, errlen, "num_kv_pairs: must be >= 1 (got %d)", kv); return HL_EBADINPUT; }
    if (4 * kv > L) { snprintf(err, errlen, "num_kv_pairs: 4*num_kv_pairs must be <= seq_len (got %d for seq_len %d)", kv, L); return HL_EBADINPUT; }
    if (vocab <= L) { snprintf(err, errlen, "vocab_size: must be > seq_len (got %d for seq_len %d)", vocab, L); return HL_EBADINPUT; }
    if (vocab / 2 - 1 < kv) { snprintf(err, errlen, "vocab_size: too small for %d distinct keys (got %d)", kv, vocab); return HL_EBADINPUT; }
    if (!(cfg->power_a > 0)) { snprintf(err, errlen, "power_a: must be > 0 (got %g)", cfg->power_a); return HL_EBADINPUT; }
    return HL_OK;
}

// Draws n distinct integers from [lo, hi) by rejection (n is small next to
// hi - lo: 4*kv <= L < V guarantees n < (hi - lo) / 2 for keys and values).
static void draw_distinct(uint64_t *rng, int32_t lo, int32_t hi, int n, int32_t *out) {
    for (int i = 0; i < n; i++) {
        int fresh;
        do {
            out[i] = uniform_int(rng, lo, hi);
            fresh = 1;
            for (int j = 0; j < i; j++) if (out[j] == out[i]) { fresh = 0; break; }
        } while (!fresh);
    }
}

// Draws n distinct gaps from [0, space) with weights w[g] = a*(g+1)^(a-1),
// sequentially without replacement (renormalising after each draw, as
// numpy's choice(replace=False, p=...) does). w is scratch of `space`.
static void draw_gaps(uint64_t *rng, int space, int n, double a, double *w, int *gaps) {
    double total = 0;
    for (int g = 0; g < space; g++) { w[g] = a * pow(g + 1, a - 1); total += w[g]; }
    for (int i = 0; i < n; i++) {
        double r = uniform01(rng) * total, acc = 0;
        int pick = -1;
        for (int g = 0; g < space; g++) {
            if (w[g] == 0) continue;
            pick = g;               // last non-empty bucket absorbs rounding
            acc += w[g];
            if (r < acc) break;
        }
        gaps[i] = pick;
        total -= w[pick];
        w[pick] = 0;
    }
}

void hl_mqar_example(const hl_task_config *cfg, int vocab, uint64_t seed,
                     hl_split split, uint64_t index,
                     int32_t *inputs, int32_t *targets) {
    int L = cfg->seq_len, kv = cfg->num_kv_pairs;
    int context = 2 * kv, space = (L - context) / 2;
    uint64_t rng = stream_start(seed, split, index);

    int32_t *keys = malloc(sizeof(int32_t) * 2 * kv), *values = keys + kv;
    int *gaps = malloc(sizeof(int) * kv);
    double *w = malloc(sizeof(double) * space);
    draw_distinct(&rng, 1, vocab / 2, kv, keys);
    draw_distinct(&rng, vocab / 2, vocab, kv, values);
    draw_gaps(&rng, space, kv, cfg->power_a, w, gaps);

    for (int t = 0; t < L; t++) { inputs[t] = 0; targets[t] = HL_IGNORE; }
    for (int i = 0; i < kv; i++) {
        inputs[2 * i] = keys[i];        // context: k v k v ...
        inputs[2 * i + 1] = values[i];
        int q = context + 2 * gaps[i];  // query position of key i
        inputs[q] = keys[i];
        targets[q] = values[i];
    }
    free(keys); free(gaps); free(w);
}

// ---------------------------------------------------------------- the family
// Version 1: the examples above, the fixed test set (HL_TEST_SEED) and
// Zoology's scoring (argmax at each query position).
typedef struct {
    hl_task base;
    uint64_t seed;          // the run's seed: training examples
    // scores since the last reset
    long correct, labelled, examples;
    double sum_acc, sum_acc2, sum_loss;
} mqar_task;

static int mqar_open(const hl_task_config *cfg, int vocab, const char *data_dir, uint64_t seed,
                     hl_task **out, char *err, size_t errlen) {
    (void)data_dir;   // generated: no data to read
    *out = NULL;
    int rc = hl_mqar_check(cfg, vocab, err, errlen);
    if (rc) return rc;
    if (cfg->num_examples <= 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "num_examples: must be >= 1 (got %ld)", cfg->num_examples);
    mqar_task *t = calloc(1, sizeof *t);
    if (!t) return hl_fail(err, errlen, HL_EFAIL, "mqar: out of memory");
    t->base.family = &hl_task_mqar;
    t->base.cfg = *cfg;
    t->base.vocab = vocab;
    t->seed = seed;
    *out = &t->base;
    return HL_OK;
}

static long mqar_eval_examples(const hl_task *t) { return t->cfg.num_examples; }

// Rows are examples first, first+1, ... (mod num_examples) of the split:
// training examples from the run's seed, test examples from HL_TEST_SEED.
// Logits are needed at the labelled (query) positions only.
static int mqar_fill(hl_task *tk, hl_split split, uint64_t first, int rows, hl_task_batch *b,
                     char *err, size_t errlen) {
    (void)err; (void)errlen;
    const mqar_task *t = (const mqar_task *)tk;
    const hl_task_config *cfg = &tk->cfg;
    uint64_t seed = split == HL_SPLIT_TEST ? HL_TEST_SEED : t->seed;
    size_t T = (size_t)cfg->seq_len;
    b->B = rows;
    b->T = cfg->seq_len;
    for (int r = 0; r < rows; r++)
        hl_mqar_example(cfg, tk->vocab, seed, split, (first + r) % (uint64_t)cfg->num_examples,
                        b->inputs + r * T, b->targets + r * T);
    b->n_out = hl_labelled_positions(b->targets, rows, b->T, b->pos);
    for (int i = 0; i < b->n_out; i++) b->labels[i] = b->targets[b->pos[i]];
    return HL_OK;
}

static void mqar_reset(hl_task *tk) {
    mqar_task *t = (mqar_task *)tk;
    t->correct = t->labelled = t->examples = 0;
    t->sum_acc = t->sum_acc2 = t->sum_loss = 0;
}

// Accuracy = mean over labelled positions of argmax == label (Zoology); the
// per-example accuracies give the standard error. Labelled positions come
// in row order (mqar_fill).
static int mqar_score(hl_task *tk, const hl_task_batch *b, const float *logits, int V, float batch_loss,
                      char *err, size_t errlen) {
    mqar_task *t = (mqar_task *)tk;
    int T = b->T, i = 0;
    if (V <= 0 || b->n_out < 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "mqar: scoring %d logits of width %d", b->n_out, V);
    t->sum_loss += (double)batch_loss * b->n_out;
    for (int r = 0; r < b->B; r++) {
        int ex_correct = 0, ex_n = 0;
        for (; i < b->n_out && b->pos[i] / T == r; i++) {
            const float *row = logits + (size_t)i * V;
            int best = 0;
            for (int v = 1; v < V; v++) if (row[v] > row[best]) best = v;
            ex_correct += best == b->labels[i];
            ex_n++;
        }
        double acc = ex_n ? (double)ex_correct / ex_n : 0;
        t->sum_acc += acc; t->sum_acc2 += acc * acc;
        t->correct += ex_correct; t->labelled += ex_n;
    }
    t->examples += b->B;
    return HL_OK;
}

static void mqar_report(const hl_task *tk, hl_task_report *out) {
    const mqar_task *t = (const mqar_task *)tk;
    long n = t->examples;
    double mean = n ? t->sum_acc / n : 0, var = n > 1 ? (t->sum_acc2 - n * mean * mean) / (n - 1) : 0;
    hl_task_metric acc = {"accuracy", t->labelled ? (double)t->correct / t->labelled : 0, n,
                          n > 1 && var > 0 ? sqrt(var / n) : 0};
    hl_task_metric loss = {"loss", t->labelled ? t->sum_loss / t->labelled : 0, n, NAN};
    out->metric[0] = acc;
    out->metric[1] = loss;
    out->n_metrics = 2;
    snprintf(out->params_json, sizeof out->params_json, "{\"num_kv_pairs\":%d,\"seq_len\":%d}",
             tk->cfg.num_kv_pairs, tk->cfg.seq_len);
}

static void mqar_close(hl_task *t) { free(t); }

// ---------------------------------------------------------------- configuration
// MQAR's keys in train.task and eval entries (the generic ones, name,
// seq_len, vocab_size, num_examples, are tasks/task_config.c's):
//   num_kv_pairs  4, in [1, 65536]; 4 * num_kv_pairs <= seq_len
//   power_a       0.01 (Zoology's default), > 0
// and hl_mqar_check's conditions: seq_len even, vocab_size > seq_len and
// enough keys for num_kv_pairs distinct ones.
static int mqar_config_check(const hl_task_config *cfg, char *why, size_t whylen) {
    char msg[HL_ERR_LEN / 2];
    if (hl_mqar_check(cfg, cfg->vocab_size, msg, sizeof msg) == HL_OK) return HL_OK;
    // "seq_len: must be even ..." -> "seq_len: MQAR: must be even ..."
    char *colon = strstr(msg, ": ");
    if (!colon) return hl_fail(why, whylen, HL_EBADINPUT, "MQAR: %s", msg);
    *colon = '\0';
    return hl_fail(why, whylen, HL_EBADINPUT, "%s: MQAR: %s", msg, colon + 2);
}

static const hl_cfg_key mqar_keys[] = {
    {.name = "num_kv_pairs", .kind = HL_CFG_INT, .offset = offsetof(hl_task_config, num_kv_pairs),
     .dflt = 4, .min = 1, .max = HL_MAX_SEQ_LEN},
    {.name = "power_a", .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_task_config, power_a),
     .dflt = 0.01, .min = 0, .max = INFINITY, .flags = HL_CFG_MIN_EXCLUSIVE},
    {.name = NULL}};
static const hl_cfg_section mqar_section = {.name = "mqar", .keys = mqar_keys};

const hl_task_family hl_task_mqar = {
    .name = "mqar", .version = "mqar/1", .section = &mqar_section, .check = mqar_config_check,
    .open = mqar_open, .eval_examples = mqar_eval_examples, .fill = mqar_fill,
    .reset = mqar_reset, .score = mqar_score, .report = mqar_report, .close = mqar_close,
};
