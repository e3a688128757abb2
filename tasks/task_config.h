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

// A task invocation: the training task or one eval entry.
typedef struct {
    char name[32];           // "mqar"
    int seq_len;
    int num_kv_pairs;
    int vocab_size;          // 0 = the model's vocab_size
    double power_a;          // MQAR gap distribution (Zoology default 0.01)
    long num_examples;       // train: size of the training set (default 100000); eval: test examples (default 1000)
} hl_task_config;

// A task family's configuration: its name, the section of its own keys
// (offsets in hl_task_config; NULL: none) and its checks of a filled config
// (vocab_size resolved): HL_OK, or HL_EBADINPUT with "KEY: what is wrong"
// (KEY a key of the task object). NULL: nothing to check.
typedef struct hl_task_family {
    const char *name;
    const hl_cfg_section *section;
    int (*check)(const hl_task_config *cfg, char *why, size_t whylen);
} hl_task_family;

// ---------------------------------------------------------------- registry (tasks/registry.c)
extern const hl_task_family *const hl_task_families[];   // NULL-terminated
const hl_task_family *hl_task_family_find(const char *name);   // NULL if unknown
void hl_task_family_names(char *out, size_t n);                // "mqar"

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
