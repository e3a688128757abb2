// decode.h: inference with a state. Prefill a batch of prompts through the
// model, then advance every sequence one token per step, reusing the state
// (KV caches, conv and SSM states) instead of recomputing the prefix.
//
// Sequences. A state holds up to max_B sequences of up to max_len input
// positions each (prompt + generated tokens; the model's meta tokens come on
// top and are always in front: position p of a sequence is model position
// meta_tokens + p, as in hl_model_forward). Row b of a batch has its own
// length: prompts of different lengths are given right-padded in a (B, T)
// array with lens[b] valid tokens in row b (0 <= lens[b] <= T); what follows
// lens[b] in the row is ignored. After prefill, row b's next token goes to
// position lens[b]; every step advances every row by one.
//
// Equivalence (the contract tests/test_decode.c checks): for any prompt
// split, the logits that prefill and the steps return for position p equal
// the logits of hl_model_forward over the whole sequence at p (relative
// error <= 1e-5), for every mixer (global and sliding-window attention with
// meta tokens, GQA, KV sharing; Mamba; the hybrid head) and any mix of them;
// rows of one batch do not affect each other (to rounding: a row alone may
// take another kernel path, e.g. the cpu backend's one-row sgemv, so greedy
// tokens agree except at near-ties of the logits).
//
// Memory. The state is allocated through the model's backend when the state
// is created and never grows; hl_infer_state_bytes is what was allocated for
// caches and recurrent states, and for max_B = 1 it equals
// hl_model_cache_bytes(cfg, max_len, 4) (describe's analytic count; KV for
// producer layers only, a sliding-window layer keeps a ring of its window
// plus the meta prefix (the longest window among a producer and its
// consumers), an SSM layer its conv and SSM state). Not counted: a few ints
// per sequence and the host logits (max_B, vocab). How each mixer keeps its
// state: DESIGN.md "Decoding".
#ifndef HYLAB_DECODE_H
#define HYLAB_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include "models/model.h"

typedef struct hl_infer hl_infer;

// A state for model m (which must outlive it). Returns NULL with err when the
// sizes are impossible (max_B < 1, max_len < 1, max_len beyond what the
// model's positions allow), a mixer keeps no inference state (layer.h
// hooks) or memory runs out. Several states may share one model; each
// prefill and step uses the model's activation arena while it runs.
// max_B may not exceed the model's max_B (hl_model_create): prompts are
// prefilled through hl_model_forward; a prompt's T may not exceed its max_T.
hl_infer *hl_infer_create(hl_model *m, int max_B, int max_len, char *err, size_t errlen);
// The naive reference, same interface: keeps the tokens (host) and answers
// every prefill and step by re-running hl_model_forward over each whole row
// (O(T^2) per generation). Its state bytes are the token history
// (max_B * max_len int32s); max_len may not exceed the model's max_T.
hl_infer *hl_infer_create_ref(hl_model *m, int max_B, int max_len, char *err, size_t errlen);
void hl_infer_free(hl_infer *s);

// Starts B sequences (B <= max_B) from the prompts tokens (B, T) with lens[b]
// valid tokens each (lens NULL: all T). Forgets any earlier sequences.
// *logits (B, vocab), state-owned HOST memory, valid until the next call: row b holds
// the logits at position lens[b]-1 (the prediction of the next token); a row
// with lens[b] == 0 has no logits yet (its row is zeros). HL_OK, or
// HL_EBADINPUT with a message for a token id outside the vocabulary (only
// the lens[b] valid tokens are read), a length outside [0, T], T or B beyond
// the state's sizes (B < 1 too; T = 0 is valid: every row empty); nothing is
// changed then. HL_EFAIL / an op's status when a backend op fails (the state
// then holds no sequences).
int hl_infer_prefill(hl_infer *s, const int32_t *tokens, int B, int T, const int32_t *lens,
                     const float **logits, char *err, size_t errlen);

// Appends tokens[b] to every sequence b of the last prefill (B of them) and
// returns the logits (B, vocab) at the new positions. HL_EBADINPUT when a
// token is outside the vocabulary or a sequence would pass max_len (nothing
// is changed then; also when no prefill has run).
int hl_infer_step(hl_infer *s, const int32_t *tokens, const float **logits, char *err, size_t errlen);

// Forks one sequence: after a prefill (and any steps), rows 0..B-1 become
// copies of row src (its length, every layer's KV cache and recurrent
// state; the reference: its token history), and the next step advances
// those B sequences (B <= max_B; row src is one of them when src < B). The
// logits handed out by the last call are copied the same way (row b of the
// state's host logits = row src's), so the next step's tokens can be chosen
// from them. Cost: one backend d2d per copied row and state part (layer.h
// state_parts), no model call. Then prefill(ctx) + fork(0, B) + steps equal
// prefill of B copies of ctx + the same steps (tests/test_decode.c). HL_OK;
// HL_EBADINPUT (nothing changed) when no prefill has run (or the last call
// failed), src is outside [0, sequences of the last prefill or fork), or
// B outside [1, max_B]; HL_EUNSUPPORTED when a mixer does not declare its
// state's parts.
int hl_infer_fork(hl_infer *s, int src, int B, char *err, size_t errlen);

// ---- speculative decoding: several steps in one call, then a rewind.
// Rollback design: whole-state snapshots. After each of the steps of
// hl_infer_steps (and before the first since a rewind) the state (every
// layer's parts, all rows) is copied d2d into a slot; hl_infer_rewind copies
// row b's parts back from the slot of its last kept step. This is exact for
// every mixer (attention KV rings, conv rings, SSM states alike: the
// restored floats are the ones that step left), at a memory cost of
// (max_snap + 1) * hl_infer_state_bytes (not counted in it) and one state
// copy per step plus one per block. Cheaper variants (attention rewinding by length only,
// snapshots of the recurrent parts only): the status file wip11-c.md.

// Gives the state max_snap snapshot slots (backend memory (max_snap + 1) *
// the state's bytes, plus host logits (max_snap + 1, max_B, vocab)); once
// per state.
// HL_OK; HL_EBADINPUT for max_snap < 1 or a second call; HL_EUNSUPPORTED
// when a mixer does not declare its state's parts; HL_EFAIL out of memory.
int hl_infer_snapshots(hl_infer *s, int max_snap, char *err, size_t errlen);
// Feeds n tokens to every row: tokens (B, n) row-major (row b's n tokens in
// order), the same as n hl_infer_step calls, keeping the state and logits
// after each. *logits (n, B, vocab) host, valid until the next call: [j][b]
// is row b's prediction after its j-th token. Steps accumulate until a
// rewind (or a prefill, step or fork, which drop them): their total may not
// exceed max_snap. HL_EBADINPUT (nothing changed) without slots or
// sequences, n < 1 or past the slots, a row passing max_len, a token outside
// the vocabulary; a failed op: its status, no sequences left.
int hl_infer_steps(hl_infer *s, const int32_t *tokens, int n, const float **logits, char *err, size_t errlen);
// Row b goes back to its state after the first keep[b] (0..steps since the
// last rewind; 0: before them) of those tokens: its length, every layer's state and its
// logits row (handed out in *logits (B, vocab) host, when not NULL), as if
// only those tokens had been stepped. Drops the snapshots. HL_EBADINPUT
// (nothing changed) when no steps ran since the last prefill, step, fork or
// rewind, or a keep[b] is out of range.
int hl_infer_rewind(hl_infer *s, const int32_t *keep, const float **logits, char *err, size_t errlen);

// Positions filled in sequence b (its prompt length + the steps since).
int hl_infer_len(const hl_infer *s, int b);
// Bytes allocated for caches and recurrent states (not the model's arenas).
int64_t hl_infer_state_bytes(const hl_infer *s);

#endif
