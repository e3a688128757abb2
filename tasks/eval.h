// eval.h: evaluation families scored from text, in the manner of
// lm-evaluation-harness: the family turns each item of a data set into
// requests, the harness (harness/eval/evaluate.h) answers them with the
// model, and the family scores the answers. Tasks never call the model.
//
// Two kinds of request (lm-evaluation-harness's output types):
//   HL_EVAL_LOGLIK   n_req (context, continuation) token pairs. The answer,
//                    per pair: the summed log-probability of the
//                    continuation tokens given the context, whether every
//                    continuation token was the greedy argmax, and the
//                    number of continuation tokens. All pairs of one item
//                    are answered in one batch.
//   HL_EVAL_GENERATE one prompt; the answer is the greedy continuation,
//                    decoded to text, up to (not including) the first
//                    occurrence of the stop string, or max_new tokens.
// Token pairs follow lm-evaluation-harness's rule (hl_eval_pair below).
// Inputs longer than the harness's max_length are cut from the left (the
// harness counts such items, and can skip them); a family never truncates.
//
// Families (tasks/eval_registry.c lists them; one file each):
//   multiple_choice   {query, choices[], gold}        acc, acc_norm, acc_bytes
//   schema            {context_options[], continuation, gold}   acc (partial scoring)
//   language_modeling {context, continuation}         acc (greedy match), perplexity
//   generation        {context, answer | answers[]}   contains, exact_match, f1
//   squad             SQuAD v1.1 JSON -> generation items (document, question cue)
//   niah              RULER needle in a haystack, generated from a seed
// Presets name a family + file + settings (hellaswag, piqa, ..., commonsense).
//
// Versions: every family has "<name>/<n>"; n changes whenever its items or
// scoring change, and it is recorded with every metric.
#ifndef HYLAB_EVAL_H
#define HYLAB_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "text/tokenizer.h"
#include "tasks/eval_config.h"

typedef struct cJSON cJSON;

typedef enum { HL_EVAL_LOGLIK = 1, HL_EVAL_GENERATE = 2 } hl_eval_kind;

// One (context, continuation) pair, token ids. n_ctx >= 1 (an empty context
// is replaced by the tokenizer's eos, as the harness does; a tokenizer without
// eos makes it an error), n_cont >= 1.
typedef struct {
    int32_t *ctx; int n_ctx;
    int32_t *cont; int n_cont;
} hl_eval_pair;

typedef struct {
    double ll;        // summed log-probability of the continuation (natural log)
    int greedy;       // 1: every continuation token was the argmax (ties: lowest id)
    int n_tokens;     // continuation tokens scored
} hl_eval_ll;

// The requests of one item; the family owns the memory until the next
// item() or close().
typedef struct {
    hl_eval_kind kind;
    int n_req; hl_eval_pair *req;          // LOGLIK
    int32_t *prompt; int n_prompt;         // GENERATE
    int max_new;                           // GENERATE: most new tokens
    const char *stop;                      // GENERATE: stop string ("\n"), NULL: none
} hl_eval_item;

// The answers to one item.
typedef struct {
    const hl_eval_ll *ll;                  // LOGLIK: n_req answers
    const char *text;                      // GENERATE: the generation, cut before stop
    int truncated;                         // 1: the item's input was cut from the left
} hl_eval_answer;

// ---------------------------------------------------------------- reports
// Metrics of an evaluation: a list, since some families report a grid
// (niah: one string_match_all per length x depth). Each metric carries its
// own parameters (JSON object text), recorded with it in the database.
typedef struct {
    char name[48];         // "acc", "acc_norm", "string_match_all", ...
    double value;
    long n;                // items it averages over
    double sem;            // standard error of the mean, NAN when not meaningful
    char params_json[512]; // {"length":1024,"depth":50} or the task's settings
} hl_eval_metric;

typedef struct {
    int n, cap;
    hl_eval_metric *m;
    const char *version;   // the family's version, e.g. "multiple_choice/1"
} hl_eval_report;

// Appends a metric (params_json NULL: "{}"). HL_OK or HL_EFAIL (memory).
int hl_eval_report_add(hl_eval_report *r, const char *name, double value, long n, double sem,
                       const char *params_json);
void hl_eval_report_free(hl_eval_report *r);

// ---------------------------------------------------------------- families
typedef struct hl_eval_task hl_eval_task;

typedef struct hl_eval_family {
    const char *name;      // "multiple_choice", ...: the FORMAT of FORMAT:PATH
    const char *version;   // "<name>/<n>"
    // Opens cfg's data (paths through text/datadir.h's hl_data_path under
    // data_dir) and reads every item: a malformed file is HL_EBADINPUT
    // naming the file and line ("hellaswag.jsonl: line 12: gold 4 is outside
    // the 4 choices"). tok outlives the task.
    int (*open)(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                hl_eval_task **out, char *err, size_t errlen);
    long (*n_items)(const hl_eval_task *t);   // before cfg->limit
    // The requests of item i (0 <= i < n_items).
    int (*item)(hl_eval_task *t, long i, hl_eval_item *out, char *err, size_t errlen);
    // Scores item i's answers (accumulated) and adds the item's fields to
    // sample (a JSON object; NULL: no samples kept): at least the
    // prediction(s) and gold; multiple choice: lls, pred, pred_norm, gold.
    int (*score)(hl_eval_task *t, long i, const hl_eval_item *item, const hl_eval_answer *a,
                 cJSON *sample, char *err, size_t errlen);
    // The metrics of what was scored since open (r->version is set by the caller).
    int (*report)(const hl_eval_task *t, hl_eval_report *r, char *err, size_t errlen);
    void (*close)(hl_eval_task *t);
} hl_eval_family;

// Every open eval task starts with this header.
struct hl_eval_task {
    const hl_eval_family *family;
    hl_eval_config cfg;
    const hl_tokenizer *tok;
};

// ---------------------------------------------------------------- shared helpers (tasks/eval_common.c)
// lm-evaluation-harness's pair rule: trailing whitespace of context moves to
// the front of continuation; whole = tok(context + continuation), ctx =
// tok(context), continuation ids = whole[len(ctx):]; an empty context is
// replaced by eos. Fills p (malloc'd ids; hl_eval_pair_free releases).
int hl_eval_pair_encode(const hl_tokenizer *tok, const char *context, const char *continuation,
                        hl_eval_pair *p, char *err, size_t errlen);
void hl_eval_pair_free(hl_eval_pair *p);

// ---------------------------------------------------------------- registry (tasks/eval_registry.c)
extern const hl_eval_family *const hl_eval_families[];   // NULL-terminated
const hl_eval_family *hl_eval_family_find(const char *name);

int hl_eval_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                 hl_eval_task **out, char *err, size_t errlen);
void hl_eval_close(hl_eval_task *t);   // NULL ok

#endif
