// rng.c: the deterministic generator (see rng.h).
#include "core/rng.h"

#include <math.h>

uint64_t hl_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t hl_splitmix64(uint64_t *s) { return hl_mix64(*s += 0x9E3779B97F4A7C15ULL); }

hl_rng hl_rng_for(uint64_t seed, const char *name) {
    uint64_t h = 0xCBF29CE484222325ULL;           // FNV-1a of the name
    for (const char *c = name; *c; c++) { h ^= (unsigned char)*c; h *= 0x100000001B3ULL; }
    uint64_t s = seed ^ 0x5851F42D4C957F2DULL;
    hl_rng r = { hl_splitmix64(&s) ^ h };
    return r;
}

uint64_t hl_rng_u64(hl_rng *r) { return hl_splitmix64(&r->s); }

double hl_rng_uniform(hl_rng *r) { return (double)(hl_rng_u64(r) >> 11) * 0x1.0p-53; }

double hl_rng_normal(hl_rng *r) {
    double u1 = 1.0 - hl_rng_uniform(r);   // (0, 1]: log is finite
    double u2 = hl_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
