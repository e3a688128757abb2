// evaluate.h: runs an evaluation task (tasks/eval.h) on a model: answers its
// log-likelihood requests with forward passes and its generation requests
// with cached greedy decoding (models/decode.h), writes per-item sample
// records, and returns the family's metrics plus the harness's own counts.
//
// Log-likelihood (harness/eval/eval_ll.c): the pairs of one item go
// through the model either as one batch of rows (context + continuation,
// right-padded; logits only at the continuation positions; input = (ctx +
// cont)[-(max_length+1):][:-1] as in lm-evaluation-harness, cut from the
// left when longer than max_length), or, where eval_ll.c's rule says it is
// faster (one shared context, nothing cut, no recurrent layer), by
// prefilling the shared context once, forking the decode state into one row
// per pair and stepping the continuations. Both give the same
// log-likelihoods (1e-5 relative, tests/test_eval_mc.c); each item's sample
// record names its "path" ("rows" or "shared"). The log-probabilities are
// computed from the fp32 logits (log-softmax, summed in double) over the
// continuation. Generation: the prompt is cut
// from the left to max_length - max_new tokens; greedy (argmax, ties to the
// lowest id); stop string checked on the decoded text after every token.
//
// Besides the family's metrics the report holds "truncated" (items whose
// input was cut; value = count, n = items) and, with skip_truncated,
// "skipped". Items are 0..min(limit, n_items)-1, in order.
#ifndef HYLAB_EVALUATE_H
#define HYLAB_EVALUATE_H

#include <stdio.h>
#include "core/status.h"
#include "models/model.h"
#include "tasks/eval.h"
#include "text/tokenizer.h"

typedef struct {
    long items;            // items scored
    long truncated;        // items cut to max_length
    long skipped;          // items skipped (skip_truncated)
    long tokens;           // input positions run through the model
    double seconds;        // wall time of the model calls
} hl_eval_stats;

// Opens cfg's task, runs every item through model m (max_T >= max_length,
// else HL_EBADINPUT; an item with more pairs than the model's max_B runs in
// several batches), scores it and fills *rep (caller frees with
// hl_eval_report_free) and *st. samples: a JSONL stream (NULL: none); one
// line per item: {"task", "index", ...the family's fields, "truncated"}.
// max_length: cfg->max_length or, when 0, default_max_length.
// HL_EBADINPUT: the task's data (naming file and line); nothing is then
// returned in rep. Other statuses: the model's.
int hl_eval_run(hl_model *m, const hl_tokenizer *tok, const hl_eval_config *cfg,
                const char *data_dir, int default_max_length, FILE *samples,
                hl_eval_report *rep, hl_eval_stats *st, char *err, size_t errlen);

// The average of a group's members (tasks/eval_config.h groups): the mean
// of each member's headline metric (cfgs[i]->metric in reps[i], i < n), as
// task = group, metric "avg", version "<group>/1"; n the summed counts; sem
// sqrt(sum of the members' sem^2) / k (the mean of k independent
// estimates; NAN when a member has none); params {"members": [...],
// "metrics": [...]} (*params malloc'd, caller frees; NULL when out of
// memory, with HL_EFAIL). k: members found (a member without its metric is
// left out).
typedef struct {
    double value, sem;
    long n;
    int k;
    char version[48];
    char *params;
} hl_eval_group_avg;
int hl_eval_group_average(const char *group, int n, const hl_eval_config *const *cfgs,
                          const hl_eval_report *const *reps, hl_eval_group_avg *out);

#endif
