// generate.h: generating tokens for a list of prompts with a model's
// inference state (models/decode.h), what `hylab generate` runs and what
// harness code that needs a model's answers (the next issue's recall tasks)
// can call.
//
// Prompts go through the state in batches of up to `batch` consecutive
// prompts, right-padded to the longest of the batch (decode.h's layout).
// Each prompt gets up to max_new tokens: the first from the prefill's logits,
// each next one from a step that feeds the previous one. A prompt stops early
// after generating `eos` (kept as its last token) when eos >= 0; a batch
// stops when all its prompts have stopped (stopped rows keep being fed their
// last token, which no other row sees). Token choice is hl_sample_next with
// sequence index = the prompt's index in the list and step = the generated
// token's index, so the output of a prompt does not depend on `batch` or on
// the other prompts (decode.h: rows do not affect each other).
#ifndef HYLAB_GENERATE_H
#define HYLAB_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "harness/prompts.h"
#include "harness/sample.h"
#include "models/model.h"

typedef struct {
    int max_new;            // >= 1
    int eos;                // -1: none; else an id in [0, vocab)
    int batch;              // >= 1: prompts per prefill
    hl_sample_opts sample;  // must pass hl_sample_check
} hl_gen_opts;

typedef struct {
    int32_t *ids;           // malloc'd: the generated tokens (prompt not included)
    int n;                  // 1..max_new
} hl_gen_out;

// The sizes generation needs: *max_B = min(batch, p->n) rows, *max_T = the
// longest prompt (what a prefill runs through hl_model_forward) and
// *max_len = the longest prompt + max_new - 1 positions (what the state
// holds). The model must have been created with max_B >= *max_B and
// max_T >= *max_T (hl_infer_create's requirement).
void hl_gen_sizes(const hl_prompts *p, const hl_gen_opts *o, int *max_B, int *max_T, int *max_len);

// Generates for every prompt of p into out[0..p->n) (the caller's array;
// free each out[i].ids, also on error: what is not generated is NULL).
// HL_OK; HL_EBADINPUT for options out of range; otherwise the state's status
// with its message (a state that cannot be created, a failed op).
int hl_generate(hl_model *m, const hl_prompts *p, const hl_gen_opts *o, hl_gen_out *out, char *err,
                size_t errlen);

// ---- greedy speculative decoding (issue 11 part 4). A draft model proposes
// `lookahead` = K tokens per row (K one-token steps of its own state), the
// target is fed the last emitted token and the K proposals in one
// hl_infer_steps call (K+1 positions, state kept after each), and row b
// keeps the longest prefix of proposals equal to the target's argmax, then
// the target's own token at the first mismatch (or after all K); both states
// rewind to that point (hl_infer_rewind). The output of each prompt is the
// target's own greedy output token for token (hl_generate with the same
// batch: the target's logits come from the same one-token steps). Greedy
// only: o->sample must have temperature 0.
typedef struct {
    int64_t blocks;     // target verification calls (one per K+1 positions, all rows)
    int64_t drafted;    // proposals checked (up to K per row per block: a row that ends stops checking)
    int64_t accepted;   // proposals the target agreed with and that were emitted
    int64_t emitted;    // tokens generated in all
} hl_spec_stats;

// The sizes speculative generation needs: as hl_gen_sizes but *max_len =
// the longest prompt + max_new + K + 1 (a block feeds K+1 tokens before
// the rewind; a stopped row rewinds to where it stopped).
void hl_gen_spec_sizes(const hl_prompts *p, const hl_gen_opts *o, int lookahead, int *max_B, int *max_T,
                       int *max_len);

// Generates for every prompt of p into out[0..p->n) (as hl_generate) with
// target m and draft `draft` (both created with hl_gen_spec_sizes' sizes),
// filling *stats (may be NULL). HL_OK; HL_EBADINPUT for options out of
// range, lookahead < 1, sampling (temperature > 0: not implemented yet) or a
// draft whose vocabulary size differs from the target's; otherwise a state's
// status with its message.
int hl_generate_spec(hl_model *m, hl_model *draft, const hl_prompts *p, const hl_gen_opts *o, int lookahead,
                     hl_gen_out *out, hl_spec_stats *stats, char *err, size_t errlen);

#endif
