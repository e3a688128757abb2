// cpu/ops.c: the fast cpu op table (OpenMP + OpenBLAS; argument checks first)
// and the per-thread scratch.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu.h"
#include "kernels/op_table.h"

// Per-thread persistent scratch: HL_SCRATCH_SLOTS buffers per thread (thread
// local, so OpenMP workers and concurrent callers never share one), each
// grown on demand to the largest size asked and then reused: no allocation
// and no page faults on the hot path once a shape has been seen. Kept until
// the process exits (OpenMP keeps its workers for the whole run).
typedef struct { float *p; size_t cap; } scratch_slot;
static _Thread_local scratch_slot slots[HL_SCRATCH_SLOTS];

float *hl_cpu_scratch_raw(int slot, size_t n) {
    scratch_slot *s = &slots[slot];
    if (n > s->cap) {
        free(s->p);
        size_t cap = n + n / 4 + 16; // room to grow a little without reallocating
        void *p = NULL;
        if (posix_memalign(&p, 64, cap * sizeof(float))) {
            fprintf(stderr, "hylab: kernels/cpu: out of memory allocating %zu floats of scratch\n", n);
            abort();
        }
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

float *hl_cpu_scratch(int slot, size_t n) {
    float *p = hl_cpu_scratch_raw(slot, n);
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

HL_OP_TABLE(hl_cpu, hl_ops_cpu, "cpu")
