// blas.c: OpenBLAS core selection and thread set-up (see kernels.h).
#include <cpuid.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#include "core/clock.h"
#include "kernels/kernels.h"

// OpenBLAS extensions (declared here: the system cblas.h may be netlib's).
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

#define HL_REEXEC_MARKER "HYLAB_BLAS_REEXEC"

typedef struct { int avx2, fma, avx512f, avx512dq, avx512bw, avx512vl, os_avx, os_avx512; } cpu_feats;

static cpu_feats read_cpu_features(void) {
    cpu_feats f = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    f.fma = (c >> 12) & 1;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (osxsave && avx) { // XCR0: the OS saves YMM (bits 1,2) and ZMM (5,6,7) state
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        f.os_avx = (lo & 0x6) == 0x6;
        f.os_avx512 = f.os_avx && (lo & 0xe0) == 0xe0;
    }
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f.avx2 = (b >> 5) & 1;
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
    }
    return f;
}

// The OpenBLAS core type this CPU deserves, or NULL to let OpenBLAS decide.
static const char *wanted_coretype(void) {
    cpu_feats f = read_cpu_features();
    if (f.os_avx512 && f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl) return "SkylakeX";
    if (f.os_avx && f.avx2 && f.fma) return "Haswell";
    return NULL;
}

// OMP_WAIT_POLICY defaults to PASSIVE: with active waiting, idle OpenMP
// threads spin between parallel regions and, on a shared or busy machine,
// take the cores from the threads doing the work (measured on a loaded
// 2-core host: 6k tokens/s spinning vs 67k passive for the MQAR tiny model).
// A user who sets OMP_WAIT_POLICY keeps their choice. libgomp reads it at
// load time, like OpenBLAS reads its core type, hence the same re-exec.
void hl_blas_preinit(char **argv) {
    if (getenv(HL_REEXEC_MARKER) || !argv || !argv[0]) return;
    int changed = 0;
    const char *core = wanted_coretype();
    if (core && !getenv("OPENBLAS_CORETYPE")) { setenv("OPENBLAS_CORETYPE", core, 1); changed = 1; }
    if (!getenv("OMP_WAIT_POLICY")) { setenv("OMP_WAIT_POLICY", "PASSIVE", 1); changed = 1; }
    if (!changed) return;
    setenv(HL_REEXEC_MARKER, "1", 1);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with whatever OpenBLAS and libgomp picked
    fprintf(stderr, "hylab: warning: re-exec to set OPENBLAS_CORETYPE/OMP_WAIT_POLICY failed\n");
}

void hl_blas_init(int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    if (threads > HL_MAX_THREADS) threads = HL_MAX_THREADS;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

const char *hl_blas_core(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

int hl_blas_threads(void) { return openblas_get_num_threads(); }

const char *hl_blas_config(void) {
    const char *config = openblas_get_config();
    return config ? config : "OpenBLAS (version unknown)";
}

double hl_blas_sgemm_gflops(int n, int repeats) {
    if (n <= 0) return 0.0;
    if (repeats <= 0) repeats = 1;
    size_t nn = (size_t)n * n;
    float *A = malloc(sizeof(float) * nn), *B = malloc(sizeof(float) * nn), *C = malloc(sizeof(float) * nn);
    if (!A || !B || !C) { free(A); free(B); free(C); return 0.0; }
    for (size_t i = 0; i < nn; i++) { A[i] = (float)(i % 7) * 0.1f; B[i] = (float)(i % 5) * 0.1f; }
    // one warm-up call, then time the best of `repeats`
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = hl_now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        double dt = hl_now_s() - t0;
        if (dt < best) best = dt;
    }
    free(A); free(B); free(C);
    return 2.0 * n * (double)nn / best * 1e-9;
}
