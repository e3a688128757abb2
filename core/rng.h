// rng.h: a small deterministic generator: splitmix64, one stream per
// (seed, name) (the name is hashed with FNV-1a), so that e.g. every parameter
// tensor's initial values depend only on the seed and the tensor's name.
#ifndef HYLAB_RNG_H
#define HYLAB_RNG_H

#include <stdint.h>

// splitmix64's finaliser: a bijective 64-bit mix (every input bit affects
// every output bit); hashes seeds and indices into stream starts.
uint64_t hl_mix64(uint64_t z);
// splitmix64: advances *state by the golden-ratio increment and returns
// hl_mix64 of it (a small, well-mixed generator; a stream per state).
uint64_t hl_splitmix64(uint64_t *state);

typedef struct { uint64_t s; } hl_rng;
hl_rng hl_rng_for(uint64_t seed, const char *name);
uint64_t hl_rng_u64(hl_rng *r);
double hl_rng_uniform(hl_rng *r);        // [0, 1)
double hl_rng_normal(hl_rng *r);         // N(0, 1), Box-Muller

#endif
