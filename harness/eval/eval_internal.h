// eval_internal.h: how harness/eval/evaluate.c answers the two kinds of
// request (tasks/eval.h): eval_ll.c runs log-likelihood pairs through
// hl_model_forward, eval_gen.c generates greedily through models/decode.h.
#ifndef HYLAB_EVAL_INTERNAL_H
#define HYLAB_EVAL_INTERNAL_H

#include "models/model.h"
#include "tasks/eval.h"
#include "text/tokenizer.h"

// Answers the item's n_req pairs (in batches of at most the model's max_B
// rows): out[i] for pair i. Inputs cut from the left to max_length
// ((ctx + cont)[-(max_length+1):][:-1]); *truncated = 1 when any pair was
// cut. *tokens += the input positions run (padding not counted). A
// continuation longer than max_length is cut with the input: its last
// max_length tokens are scored (hl_eval_ll.n_tokens).
int hl_eval_answer_loglik(hl_model *m, const hl_eval_item *it, int max_length,
                          hl_eval_ll *out, int *truncated, long *tokens, char *err, size_t errlen);

// Generation state kept across items (a decode state sized for
// max_length); created on first use, freed by hl_eval_gen_free.
typedef struct hl_eval_gen hl_eval_gen;
void hl_eval_gen_free(hl_eval_gen *g);   // NULL ok

// Greedy generation for a GENERATE item: prompt cut from the left to
// max_length - max_new tokens (*truncated = 1 then), at most max_new new
// tokens, stopping when the decoded text contains it->stop; *text (malloc'd,
// caller frees) is the decoded generation up to (not including) the stop
// string. *tokens += the positions run (prompt + steps). *g is created on
// first use.
int hl_eval_answer_generate(hl_eval_gen **g, hl_model *m, const hl_tokenizer *tok,
                            const hl_eval_item *it, int max_length, char **text,
                            int *truncated, long *tokens, char *err, size_t errlen);

#endif
