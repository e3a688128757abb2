// task_config.h: a task invocation (the spec's train.task or one eval entry)
// and the task families' config sections (core/config.h). The generic keys
// are tasks/task_config.c's; each family (tasks/registry.c lists them) owns
// the section of its own keys and their checks (MQAR: tasks/mqar.c).
#ifndef HYLAB_TASK_CONFIG_H
#define HYLAB_TASK_CONFIG_H

#include <stddef.h>
#include "core/config.h"

#define HL_MAX_SEQ_LEN (1 << 16)      // a task's seq_len
#define HL_MAX_TASK_VOCAB (1 << 20)   // a task's vocab_size (as the model's)
#define HL_TASK_PATH_LEN 256          // a task's data file path (lm's corpus), NUL included

// A task invocation: the training task or one eval entry.
typedef struct {
    char name[32];           // "mqar"
    int seq_len;
    int num_kv_pairs;
    int vocab_size;          // 0 = the model's vocab_size
    double power_a;          // MQAR gap distribution (Zoology default 0.01)
    long num_examples;       // train: size of the training set (default 100000); eval: test examples (default 1000)
    // Added with issue 9 (left out of the canonical spec at their defaults,
    // so existing spec hashes are unchanged):
    char tokenizer[32];      // text/tokenizer.h name ("byte", "gpt2"); "" = none (generated tasks)
    char corpus[HL_TASK_PATH_LEN]; // lm: the corpus, relative to the data directory or absolute
    double val_fraction;     // lm: the held-out tail of the token stream (default 0.1)
} hl_task_config;

// The task families (their config sections and checks among their fields)
// are declared in tasks/task.h and listed in tasks/registry.c.

// ---------------------------------------------------------------- sections (tasks/task_config.c)
// The section of the spec's train.task (name key "name", num_examples at most
// 1e9: an index range) or of one eval entry (name key "task", num_examples at
// most 1e6: each is evaluated): the generic keys and every family's keys.
// Read with hl_cfg_read into an hl_task_config, env = a pointer to the
// model's vocab_size (int); an eval entry passes the training task (with
// num_examples 1000) as `base`, so a missing key takes its value.
const hl_cfg_section *hl_task_train_section(void);
const hl_cfg_section *hl_task_eval_section(void);

#endif
