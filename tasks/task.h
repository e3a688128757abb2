// task.h: task families. Each family generates or loads examples and scores
// model outputs. An example is (inputs[T], targets[T]) with targets -1 where
// no label is scored (HL_IGNORE).
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

// The examples a run sees: rows examples first, first+1, ... (mod
// task->num_examples) of split into inputs/targets (rows, task->seq_len).
// Training examples come from run_seed, test examples from HL_TEST_SEED.
void hl_task_fill(const hl_task_config *task, int vocab, uint64_t run_seed, hl_split split,
                  uint64_t first, int rows, int32_t *inputs, int32_t *targets);

// The positions of the labelled targets of a batch, flat b*T+t, in order.
// Returns the count; pos must hold B*T entries.
int hl_labelled_positions(const int32_t *targets, int B, int T, int32_t *pos);

#endif
