// task_config.c: the sections of train.task and eval entries (contract in
// tasks/task_config.h). Generic keys (every family):
//   name / task    train.task.name (default "mqar"); in eval entries "task"
//                  (default: the training task's); a family of tasks/registry.c
//   seq_len        64, in [1, 65536] (HL_MAX_SEQ_LEN)
//   vocab_size     0 -> model.vocab_size (stored resolved), in [0, 2^20];
//                  at most model.vocab_size (the model embeds the task's ids)
//   num_examples   train: 100000, in [1, 1e9] (an index range: examples are
//                  drawn as needed); eval: 1000, in [1, 1e6] (each is evaluated)
//   tokenizer      "" (none: generated tasks), or a text/tokenizer.h name
//                  ("byte", "gpt2"); left out of the canonical spec while "",
//                  so specs without it keep their hash. Families that read
//                  text require it (lm); `hylab eval` and reports read the
//                  training task's tokenizer for a checkpoint.
// then the keys of every registered family (MQAR's: tasks/mqar.c). In an
// eval entry every missing key takes the training task's value, except
// num_examples (1000). After the keys the family's check runs.
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/task.h"
#include "text/tokenizer.h"

#define MAX_TRAIN_EXAMPLES 1e9
#define MAX_EVAL_EXAMPLES 1e6
#define MAX_ROWS 32

static int task_finish(const hl_cfg_ctx *c, const char *path, const char *name_key, hl_task_config *t) {
    int model_vocab = *(const int *)c->env;
    char p[HL_CFG_PATH_LEN], known[128];
    const hl_task_family *f = hl_task_family_find(t->name);
    if (!f) {
        hl_cfg_join(p, path, name_key);
        hl_task_family_names(known, sizeof known);
        return hl_cfg_fail(c, p, "unknown task (got \"%s\"; known: %s)", t->name, known);
    }
    if (t->tokenizer[0] && !hl_tokenizer_known(t->tokenizer)) {
        hl_cfg_join(p, path, "tokenizer");
        hl_tokenizer_names(known, sizeof known);
        return hl_cfg_fail(c, p, "unknown tokenizer (got \"%s\"; known: %s)", t->tokenizer, known);
    }
    if (t->vocab_size == 0) t->vocab_size = model_vocab;
    hl_cfg_join(p, path, "vocab_size");
    if (t->vocab_size > model_vocab)
        return hl_cfg_fail(c, p, "must be <= model.vocab_size: the model cannot embed larger token ids (got %d for %d)",
                           t->vocab_size, model_vocab);
    char why[HL_ERR_LEN / 2];
    if (f->check && f->check(t, why, sizeof why) != HL_OK) {
        // the family names the key first: "seq_len: MQAR: must be even ..."
        char *colon = strstr(why, ": ");
        if (!colon) return hl_cfg_fail(c, path, "%s", why);
        *colon = '\0';
        hl_cfg_join(p, path, why);
        return hl_cfg_fail(c, p, "%s", colon + 2);
    }
    return HL_OK;
}

static int train_finish(const hl_cfg_ctx *c, const char *path, void *obj) { return task_finish(c, path, "name", obj); }
static int eval_finish(const hl_cfg_ctx *c, const char *path, void *obj) { return task_finish(c, path, "task", obj); }

#define TASK_INT(key, field, d, lo, hi) \
    {.name = key, .kind = HL_CFG_INT, .offset = offsetof(hl_task_config, field), .dflt = d, .min = lo, .max = hi}
#define TASK_ROWS(name_key, examples, max_examples) \
    {.name = name_key, .kind = HL_CFG_STRING, .offset = offsetof(hl_task_config, name), \
     .capacity = sizeof(((hl_task_config *)0)->name), .dflt_text = "mqar"}, \
    TASK_INT("seq_len", seq_len, 64, 1, HL_MAX_SEQ_LEN), \
    TASK_INT("vocab_size", vocab_size, 0, 0, HL_MAX_TASK_VOCAB), \
    {.name = "num_examples", .kind = HL_CFG_LONG, .offset = offsetof(hl_task_config, num_examples), \
     .dflt = examples, .min = 1, .max = max_examples}, \
    {.name = "tokenizer", .kind = HL_CFG_STRING, .offset = offsetof(hl_task_config, tokenizer), \
     .capacity = sizeof(((hl_task_config *)0)->tokenizer), .dflt_text = "", .flags = HL_CFG_OMIT_DEFAULT}
static const hl_cfg_key train_generic[] = {TASK_ROWS("name", 100000, MAX_TRAIN_EXAMPLES), {.name = NULL}};
static const hl_cfg_key eval_generic[] = {TASK_ROWS("task", 1000, MAX_EVAL_EXAMPLES), {.name = NULL}};

static hl_cfg_key train_keys[MAX_ROWS], eval_keys[MAX_ROWS];
static hl_cfg_section train_section = {.name = "task", .keys = train_keys, .finish = train_finish};
static hl_cfg_section eval_section = {.name = "eval", .keys = eval_keys, .finish = eval_finish};

// generic rows, then each family's rows not already there (one row per name:
// two families declaring one key must declare the same row).
static void build(hl_cfg_key *rows, const hl_cfg_key *generic) {
    int n = 0;
    for (const hl_cfg_key *k = generic; k->name; k++) rows[n++] = *k;
    for (int i = 0; hl_task_families[i]; i++) {
        const hl_cfg_section *s = hl_task_families[i]->section;
        for (const hl_cfg_key *k = s ? s->keys : NULL; k && k->name; k++) {
            int have = 0;
            for (int r = 0; r < n; r++) have |= !strcmp(rows[r].name, k->name);
            if (have) continue;
            if (n + 1 >= MAX_ROWS) {
                fprintf(stderr, "hylab: tasks/task_config.c: more than %d task keys\n", MAX_ROWS - 1);
                abort();
            }
            rows[n++] = *k;
        }
    }
    rows[n].name = NULL;
}

static void build_both(void) {
    build(train_keys, train_generic);
    build(eval_keys, eval_generic);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

const hl_cfg_section *hl_task_train_section(void) {
    pthread_once(&once, build_both);
    return &train_section;
}

const hl_cfg_section *hl_task_eval_section(void) {
    pthread_once(&once, build_both);
    return &eval_section;
}
