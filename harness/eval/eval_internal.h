// eval_internal.h: how harness/eval/evaluate.c answers the two kinds of
// request (tasks/eval.h): eval_ll.c runs log-likelihood pairs through
// hl_model_forward or a shared-context decode state, eval_gen.c generates
// greedily through models/decode.h.
#ifndef HYLAB_EVAL_INTERNAL_H
#define HYLAB_EVAL_INTERNAL_H

#include "models/model.h"
#include "tasks/eval.h"
#include "text/tokenizer.h"

// How an item's log-likelihood pairs go through the model (eval_ll.c):
//   ROWS    every pair is one right-padded row of hl_model_forward (chunks
//           of the model's max_B): the context runs once per pair;
//   SHARED  when every pair has the same context ids and nothing is cut
//           (n_ctx + n_cont - 1 <= max_length for all): the context is
//           prefilled once through models/decode.h, forked to the pairs'
//           rows (chunks of max_B, each chunk prefills again) and the
//           continuations advance one token per step; an item that does
//           not qualify (schema's differing contexts, truncation) runs as
//           ROWS;
//   AUTO    SHARED where it is faster (hl_eval_ll_auto_shared), else ROWS.
// Both give the same log-likelihoods (1e-5 relative) and greedy flags
// (except at near-ties of the logits); tests/test_eval_mc.c checks it.
typedef enum { HL_EVAL_LL_AUTO = 0, HL_EVAL_LL_ROWS = 1, HL_EVAL_LL_SHARED = 2 } hl_eval_ll_path;
// "rows" or "shared" (what the sample record's "path" holds); "auto".
const char *hl_eval_ll_path_name(hl_eval_ll_path p);

// 1 when AUTO takes SHARED for the item on model m: it qualifies, has >= 2
// pairs, every mixer of m keeps a forkable state and none is a
// recurrent-state mixer (HL_CAP_STATE), and
// (n_req - 1) * n_ctx >= 64 * (the longest n_cont - 1) (the saved context
// positions against the steps; the rule and its figures in eval_ll.c).
int hl_eval_ll_auto_shared(hl_model *m, const hl_eval_item *it, int max_length);

// State kept across items by the SHARED path (a decode state of the
// model's max_B rows at most x max_length positions, grown to the largest
// item seen; recreated when the model or max_length changes); created on
// first use, freed by hl_eval_ll_free.
typedef struct hl_eval_ll_state hl_eval_ll_state;
void hl_eval_ll_free(hl_eval_ll_state *s);   // NULL ok

// Answers the item's n_req pairs: out[i] for pair i, by path want (*used:
// the path taken, ROWS or SHARED). Inputs cut from the left to max_length
// ((ctx + cont)[-(max_length+1):][:-1]); *truncated = 1 when any pair was
// cut. *tokens += the input positions run (padding and the filler tokens
// of finished rows not counted; SHARED: the context once per chunk, then
// n_cont - 1 steps per pair). A continuation longer than max_length is cut
// with the input: its last max_length tokens are scored
// (hl_eval_ll.n_tokens). *st is created on first SHARED use. A model
// whose mixers keep no forkable inference state (layer.h hooks) runs AUTO
// as ROWS; SHARED is then HL_EUNSUPPORTED.
int hl_eval_answer_loglik(hl_eval_ll_state **st, hl_model *m, const hl_eval_item *it, int max_length,
                          hl_eval_ll_path want, hl_eval_ll *out, int *truncated, long *tokens,
                          hl_eval_ll_path *used, char *err, size_t errlen);

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
