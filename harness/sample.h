// sample.h: choosing the next token from a row of logits, as `hylab
// generate` does (and any harness code that generates: the next issue's
// recall tasks). Lives in harness/ (not models/): it is a policy applied to
// the model's output, uses core/rng.h only, and the model never calls it.
//
// Modes. temperature == 0: greedy, the argmax (the lowest id among equal
// maxima); top_k and top_p must then be off. temperature > 0: sampling, in
// the order of Hugging Face's logits warpers (TemperatureLogitsWarper,
// TopKLogitsWarper, TopPLogitsWarper):
//   1. x = logits / temperature;
//   2. top_k > 0: keep the tokens whose x is >= the k-th largest x (ties with
//      the k-th value are all kept, as `logits < topk(...)[-1]` removes);
//   3. top_p < 1: softmax over what is kept; sort ascending by probability
//      (among equal probabilities the higher id first, so lower ids are kept
//      first); remove every token whose ascending cumulative probability is
//      <= 1 - top_p, always keeping the most probable one: what remains is
//      the smallest set with probability >= top_p;
//   4. draw u in [0, 1) and return the first kept token, walking ids in
//      increasing order, at which the cumulative renormalised probability
//      exceeds u (inverse CDF).
// Determinism: u depends only on (seed, seq, step) (hl_sample_uniform), so a
// sequence's tokens do not depend on which batch or row it was generated in.
#ifndef HYLAB_SAMPLE_H
#define HYLAB_SAMPLE_H

#include <stdint.h>

typedef struct {
    double temperature;  // 0: greedy; else > 0 and finite
    int top_k;           // 0: off; else >= 1 (>= vocab: off)
    double top_p;        // 1: off; else in (0, 1)
    uint64_t seed;
} hl_sample_opts;

// Greedy, no filters, seed 0.
hl_sample_opts hl_sample_greedy(void);

// NULL when opts are valid, else a static message naming the bad field
// ("temperature must be finite and >= 0", "top_k needs temperature > 0", ...).
const char *hl_sample_check(const hl_sample_opts *o);

typedef struct hl_sampler hl_sampler;
// A sampler for rows of `vocab` logits (scratch for the sort). NULL when
// vocab < 1 or memory runs out. opts must pass hl_sample_check.
hl_sampler *hl_sampler_create(int vocab, const hl_sample_opts *o);
void hl_sampler_free(hl_sampler *s);

// The uniform draw in [0, 1) used for sequence `seq` at step `step` with
// this seed: a pure function of the three.
double hl_sample_uniform(uint64_t seed, uint64_t seq, uint64_t step);

// Steps 1-3 on one row: probs[i] (vocab doubles) receives the renormalised
// probability of token i (0 for removed ones, the kept ones sum to 1). In
// greedy mode the argmax gets 1, every other token 0. Non-finite logits are
// the caller's problem (the model's logits are finite).
void hl_sample_probs(hl_sampler *s, const float *logits, double *probs);

// The next token of sequence `seq` at step `step` (0 = the first generated
// token) from one row of logits.
int32_t hl_sample_next(hl_sampler *s, const float *logits, uint64_t seq, uint64_t step);

#endif
