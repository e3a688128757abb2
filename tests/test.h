// test.h: the tiny test framework every tests/test_*.c uses.
// Each check prints one line: "ok NAME", "FAIL NAME: why" or "skip NAME: why";
// hl_test_done() prints the closing "N passed, N failed, N skipped" of this
// program and returns its exit status. tests/run_tests.sh adds them up.
#ifndef HYLAB_TEST_H
#define HYLAB_TEST_H
#include <stdarg.h>
#include <stdio.h>

static int hl_t_passed, hl_t_failed, hl_t_skipped;

// Record one named check. Returns cond so callers can stop early.
static inline int hl_check(int cond, const char *name, const char *fmt, ...) {
    if (cond) { hl_t_passed++; printf("ok %s\n", name); fflush(stdout); return 1; }
    hl_t_failed++;
    printf("FAIL %s: ", name);
    va_list ap; va_start(ap, fmt); vprintf(fmt, ap); va_end(ap);
    printf("\n"); fflush(stdout);
    return 0;
}
static inline void hl_skip(const char *name, const char *why) {
    hl_t_skipped++; printf("skip %s: %s\n", name, why); fflush(stdout);
}
static inline int hl_test_done(void) {
    printf("%d passed, %d failed, %d skipped\n", hl_t_passed, hl_t_failed, hl_t_skipped);
    return hl_t_failed ? 1 : 0;
}
#endif
