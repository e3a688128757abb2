// task.h: task families. Each family generates or loads examples and scores
// model outputs. An example is (inputs[T], targets[T]) with targets -1 where
// no label is scored (HL_IGNORE).
//
// The interface every family implements (hl_task_family, one file per
// family, listed in tasks/registry.c) and that the harness drives:
//   open    (its hl_task_config, the vocab, the data directory, the run seed)
//           -> a handle, or HL_EBADINPUT / HL_EFAIL with a message;
//   fill    a training or evaluation batch: inputs, targets, and which
//           positions need logits (with their labels);
//   score   the logits of an evaluation batch at those positions (accumulated);
//   metrics what the accumulated scores give (name, value, count, sem) and
//           the task's parameters and version;
//   close.
// Tasks never call the model: the harness asks the task for a batch, runs
// the model to logits at the requested positions and hands them back.
#ifndef HYLAB_TASK_H
#define HYLAB_TASK_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "tasks/task_config.h"

#define HL_IGNORE (-1)

// Which split an example index belongs to: the split is hashed into every
// example's stream, so train and test streams are unrelated even at one seed.
typedef enum { HL_SPLIT_TRAIN = 0, HL_SPLIT_TEST = 1 } hl_split;

// The test set depends only on the data configuration (as in Zoology), not on
// the run: test examples are drawn with this seed whatever train.seed is, so
// every seed of a grid is evaluated on the same examples.
#define HL_TEST_SEED 0x7E57u

// MQAR (Zoology multi-query associative recall: Arora et al. 2023, "Zoology:
// Measuring and Improving Recall in Efficient Language Models", as in its
// multiquery_ar; the definition is at the top of tasks/mqar.c). Example `index` of `split` is a pure
// function of (cfg, vocab, seed, split, index). inputs/targets are (seq_len).
// Returns HL_OK or HL_EBADINPUT (with err) when the parameters are impossible.
int hl_mqar_check(const hl_task_config *cfg, int vocab, char *err, size_t errlen);
void hl_mqar_example(const hl_task_config *cfg, int vocab, uint64_t seed,
                     hl_split split, uint64_t index,
                     int32_t *inputs, int32_t *targets);

// ---------------------------------------------------------------- batches
// A batch of rows examples, allocated for up to max_B rows of max_T tokens.
// Positions are flat b*T + t; pos lists the positions whose logits the task
// needs, in increasing order, and labels their targets (HL_IGNORE: logits
// wanted but unscored).
typedef struct {
    int B, T;          // this batch: rows, tokens per row
    int max_B, max_T;  // capacity
    int32_t *inputs;   // (B, T)
    int32_t *targets;  // (B, T), HL_IGNORE where unlabelled
    int32_t *pos;      // (n_out) positions that need logits
    int32_t *labels;   // (n_out) targets at pos
    int n_out;
} hl_task_batch;

// HL_OK, or HL_EFAIL when memory runs out (b is then freed).
int hl_task_batch_alloc(hl_task_batch *b, int max_B, int max_T);
void hl_task_batch_free(hl_task_batch *b);

// The positions of the labelled targets of a batch, flat b*T+t, in order.
// Returns the count; pos must hold B*T entries.
int hl_labelled_positions(const int32_t *targets, int B, int T, int32_t *pos);

// ---------------------------------------------------------------- metrics
#define HL_TASK_MAX_METRICS 8

typedef struct {
    char name[32];      // "accuracy", "loss", ...
    double value;
    long n;             // examples it averages over
    double sem;         // standard error of the mean, NAN when not meaningful
} hl_task_metric;

// What a task reports after an evaluation. metric[0] is the headline metric
// (the harness records it as the "<task>.<name>" eval curve during training).
typedef struct {
    int n_metrics;
    hl_task_metric metric[HL_TASK_MAX_METRICS];
    char params_json[256];   // the task parameters recorded with every metric
    const char *version;     // the family's version string, e.g. "mqar/1"
} hl_task_report;

// ---------------------------------------------------------------- families
typedef struct hl_task hl_task;   // an open task; the family's state follows

typedef struct hl_task_family {
    const char *name;      // the spec's task name, e.g. "mqar"
    const char *version;   // "<name>/<n>": n changes when examples or scoring change
    // The section of the family's own keys in train.task and eval entries
    // (core/config.h; offsets in hl_task_config; NULL: none): the spec parser
    // reads them through tasks/task_config.c, knowing no family.
    const hl_cfg_section *section;
    // Checks of a filled config (vocab_size resolved): HL_OK, or HL_EBADINPUT
    // with "KEY: what is wrong" (KEY a key of the task object). NULL: none.
    int (*check)(const hl_task_config *cfg, char *why, size_t whylen);
    // Checks cfg (HL_EBADINPUT naming the field, "seq_len: ...") and returns
    // a handle in *out. data_dir: where a family that reads data finds it
    // (NULL: none given; families that generate their data ignore it).
    // seed: the run's seed (training examples; evaluation examples may
    // ignore it, e.g. MQAR's fixed test set).
    int (*open)(const hl_task_config *cfg, int vocab, const char *data_dir, uint64_t seed,
                hl_task **out, char *err, size_t errlen);
    // Number of evaluation examples (the test set the harness walks).
    long (*eval_examples)(const hl_task *t);
    // Fills b with rows examples first, first+1, ... of split (rows <=
    // b->max_B; the family's seq_len <= b->max_T). HL_OK or HL_EBADINPUT.
    int (*fill)(hl_task *t, hl_split split, uint64_t first, int rows, hl_task_batch *b,
                char *err, size_t errlen);
    // Forgets the accumulated scores (before an evaluation).
    void (*reset)(hl_task *t);
    // Accumulates the scores of an evaluation batch: logits (b->n_out, V) at
    // b->pos, and batch_loss, the mean cross-entropy over the batch's
    // labelled positions (computed by the harness; the task may report it).
    int (*score)(hl_task *t, const hl_task_batch *b, const float *logits, int V, float batch_loss,
                 char *err, size_t errlen);
    // The metrics of the scores accumulated since the last reset.
    void (*report)(const hl_task *t, hl_task_report *out);
    void (*close)(hl_task *t);
} hl_task_family;

// Every open task starts with this header (the family's struct embeds it first).
struct hl_task {
    const hl_task_family *family;
    hl_task_config cfg;
    int vocab;
};

// ---------------------------------------------------------------- registry (registry.c)
extern const hl_task_family *const hl_task_families[];   // NULL-terminated
const hl_task_family *hl_task_family_find(const char *name);   // NULL if unknown
// The registered family names as "mqar" / "a, b or c" (for messages).
void hl_task_family_names(char *out, size_t n);

// The calls the harness makes, through the family's table. hl_task_open
// fails with HL_EBADINPUT "task.name: unknown task family 'x' (known: ...)"
// for a name no family has.
int hl_task_open(const hl_task_config *cfg, int vocab, const char *data_dir, uint64_t seed,
                 hl_task **out, char *err, size_t errlen);
long hl_task_eval_examples(const hl_task *t);
int hl_task_fill(hl_task *t, hl_split split, uint64_t first, int rows, hl_task_batch *b,
                 char *err, size_t errlen);
void hl_task_reset(hl_task *t);
int hl_task_score(hl_task *t, const hl_task_batch *b, const float *logits, int V, float batch_loss,
                  char *err, size_t errlen);
void hl_task_report_get(const hl_task *t, hl_task_report *out);
void hl_task_close(hl_task *t);   // NULL ok

#endif
