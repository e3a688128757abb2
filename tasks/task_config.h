// task_config.h: a task invocation (the spec's train.task or one eval entry),
// filled and validated by the spec parser (harness/spec.c).
#ifndef HYLAB_TASK_CONFIG_H
#define HYLAB_TASK_CONFIG_H

#define HL_MAX_SEQ_LEN (1 << 16)      // a task's seq_len

// A task invocation: the training task or one eval entry.
typedef struct {
    char name[32];           // "mqar"
    int seq_len;
    int num_kv_pairs;
    int vocab_size;          // 0 = the model's vocab_size
    double power_a;          // MQAR gap distribution (Zoology default 0.01)
    long num_examples;       // train: size of the training set (default 100000); eval: test examples (default 1000)
} hl_task_config;

#endif
