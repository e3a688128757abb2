// measure.h: inference and training throughput and memory of one spec,
// measured over the grid of its `measure` section (harness/spec.h), each
// figure reported through a sink (core/results.h hl_measurement) with the
// protocol it was taken under.
//
// Protocol. For every point (batch B, context C) of measure.batch x
// measure.context (protocol "grid"), in this order:
//   param_bytes           parameter arena bytes (numel x 4)
//   activation_bytes      the model's activation + index arenas as allocated
//                         for (B, C + decode_tokens) (hl_model_sizes_of)
//   state_bytes           hl_infer_state_bytes of a state for B sequences of
//                         C positions, as allocated
//   state_bytes_analytic  B x hl_model_cache_bytes(cfg, C, 4) (describe's
//                         count); the two must agree exactly
//   prefill_tok_s         B x C / (time of one hl_infer_prefill of B prompts
//                         of C random tokens)
//   decode_tok_s          B x n / (time of n = measure.decode_tokens
//                         hl_infer_step calls after a prefill of C tokens;
//                         the prefill is not timed): all sequences together
//   decode_tok_s_per_seq  n / the same time: one sequence's rate
//   train_tok_s           B x C / (time of one optimizer step: forward, loss,
//                         backward, clip, AdamW) (when opts->train)
//   peak_rss_bytes        the process's resident high-water mark (VmHWM) so
//                         far, read after the point (monotone over the grid)
// Every timed figure is the median of measure.repeats timed repetitions
// after measure.warmup untimed ones (min and max recorded beside it); the
// byte figures are counts (repeats 1, warmup 0, min = max = value). The
// decode figures are absent when decode_tokens is 0. dtype_bytes is 4 (fp32
// weights, activations and states) for every figure. Tokens are random ids
// from train.seed. Parameters are initialised from train.seed, or copied
// from opts->host_params (a checkpoint's): throughput does not depend on
// their values.
//
// Protocol "hymba" (Hymba, Dong et al. 2024, throughput protocol): one point,
// context 8192 and batch 128, halving the batch while the point does not fit
// (predicted memory beyond the machine's physical memory, or an allocation
// failing) down to 1; measure.batch and measure.context are ignored, the
// figures record the batch that ran, and train_tok_s is not measured.
// (Test hook: HYLAB_DEBUG_MEMORY_BYTES=N in the environment stands for the
// machine's physical memory.)
//
// Memory: before allocating a point the bytes it needs (parameters,
// activations, state; gradients and AdamW moments with train) are checked
// against physical memory. Under "grid" a point that does not fit is an
// error (HL_EBADINPUT naming the point), nothing of it measured.
#ifndef HYLAB_MEASURE_H
#define HYLAB_MEASURE_H

#include <stddef.h>
#include <stdio.h>
#include "core/results.h"
#include "harness/spec.h"

typedef struct {
    const char *backend;       // NULL: "cpu"
    int train;                 // 1: also train_tok_s (grid protocol only)
    const float *host_params;  // NULL: initialise from train.seed; else numel floats (model tensor order)
} hl_measure_opts;

// Measures spec over its grid (call hl_blas_init first: the thread count
// recorded is hl_blas_threads()). Each figure goes to sink->measurement as
// soon as it is taken; the hl_measure_protocol it points to lives until the
// call returns. HL_OK; HL_EBADINPUT (a point does not fit in memory, a
// state the model cannot hold) or HL_EFAIL (allocation or an op failed),
// with err; figures taken before the error have been reported.
int hl_measure_run(const hl_spec *spec, const hl_measure_opts *opts, const hl_sink *sink,
                   char *err, size_t errlen);

// `hylab run`: after a run that finished (sum->status done) whose spec has
// measure.after_train, measures it (train_tok_s included; fresh parameters
// from train.seed, as speed does not depend on the trained values) through
// sink, or printed as JSON lines on stdout when sink has no measurement
// callback (runs without --db). A measurement that fails makes the run
// failed: sum->status, error "measure: ...", fail_step = steps. Nothing
// happens otherwise.
void hl_measure_after_train(const hl_spec *spec, const char *backend, const hl_sink *sink,
                            hl_run_summary *sum);

// One figure as one JSON object on one line: kind, batch, context, value,
// unit, repeats, warmup, min, max, spread, dtype_bytes, threads, backend,
// blas_core, cpu, protocol (the protocol fields only when it has one).
void hl_measurement_print_json(FILE *f, const hl_measurement *m);

// The CPU model (/proc/cpuinfo "model name"; "unknown" without one).
const char *hl_cpu_model(void);
// The process's resident-memory high-water mark in bytes (VmHWM of
// /proc/self/status, else getrusage's ru_maxrss).
long long hl_peak_rss_bytes(void);

#endif
