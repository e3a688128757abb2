// backend.c: the backend registry, the host memory functions the CPU
// backends share, their provenance, and the op status message (kernels.h).
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "kernels/kernels.h"

// ---------------------------------------------------------------- op names and status
#define HL_OP_NAME(p, op, T) #op,
const char *const hl_op_names[HL_OP_COUNT] = { HL_OP_LIST(HL_OP_NAME, _) };
#undef HL_OP_NAME

hl_op_id hl_op_index(const char *name) {
    for (int i = 0; i < HL_OP_COUNT; i++)
        if (name && !strcmp(name, hl_op_names[i])) return (hl_op_id)i;
    return HL_OP_COUNT;
}

static _Thread_local char op_error[256];

const char *hl_op_error(void) { return op_error; }

int hl_op_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op_error, sizeof op_error, fmt, ap);
    va_end(ap);
    return code;
}

// ---------------------------------------------------------------- host memory
// Anonymous mmap: zero-filled, page-aligned, and a page is only faulted in
// when first touched (a model's activation arena is sized for the largest
// batch; memset-ing it touched ~300 MB and 0.75 s per run for the tiny MQAR
// model, whose logits buffer is sized for every position).
static void *host_alloc(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static void host_free(void *p, size_t n) { if (p) munmap(p, n ? n : 1); }
static void host_zero(void *p, size_t n) { if (n) memset(p, 0, n); }
static void host_copy(void *dst, const void *src, size_t n) { if (n) memcpy(dst, src, n); }
static void host_sync(void) {}   // CPU ops are synchronous

static void host_device(char *buf, size_t len) {
    snprintf(buf, len, "host CPU, %d threads", omp_get_max_threads());
}
static void no_libs(char *buf, size_t len) { snprintf(buf, len, "none"); }
static void blas_libs(char *buf, size_t len) {
    snprintf(buf, len, "%s, core %s, %d threads", hl_blas_config(), hl_blas_core(), hl_blas_threads());
}

// ---------------------------------------------------------------- registry
static const hl_backend backends[] = {
    { .name = "cpu_ref", .ops = &hl_ops_cpu_ref, .alloc = host_alloc, .free = host_free, .zero = host_zero,
      .h2d = host_copy, .d2h = host_copy, .d2d = host_copy, .sync = host_sync, .op_supported = NULL,
      .device = host_device, .libs = no_libs },
    { .name = "cpu", .ops = &hl_ops_cpu, .alloc = host_alloc, .free = host_free, .zero = host_zero,
      .h2d = host_copy, .d2h = host_copy, .d2d = host_copy, .sync = host_sync, .op_supported = NULL,
      .device = host_device, .libs = blas_libs },
};
#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

int hl_backend_count(void) { return N_BACKENDS; }

const hl_backend *hl_backend_at(int i) { return i >= 0 && i < N_BACKENDS ? &backends[i] : NULL; }

const hl_backend *hl_backend_get(const char *name) {
    for (int i = 0; name && i < N_BACKENDS; i++)
        if (!strcmp(name, backends[i].name)) return &backends[i];
    return NULL;
}

void hl_backend_known(char *buf, size_t len) {
    size_t used = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < N_BACKENDS && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", backends[i].name);
}

const hl_backend *hl_backend_lookup(const char *name, char *err, size_t errlen) {
    const hl_backend *be = hl_backend_get(name);
    if (!be && errlen) {
        char known[256];
        hl_backend_known(known, sizeof known);
        snprintf(err, errlen, "unknown or unavailable backend '%s' (known: %s)", name ? name : "(none)", known);
    }
    return be;
}

const hl_ops *hl_ops_get(const char *name) {
    const hl_backend *be = hl_backend_get(name);
    return be ? be->ops : NULL;
}

#define HL_OP_PRESENT(p, op, T) case HL_OP_##op: present = p->op != NULL; break;
int hl_backend_supports(const hl_backend *be, hl_op_id op) {
    int present = 0;
    switch (op) {
        HL_OP_LIST(HL_OP_PRESENT, be->ops)
        default: return 0;
    }
    return present && (!be->op_supported || be->op_supported(op));
}
#undef HL_OP_PRESENT
