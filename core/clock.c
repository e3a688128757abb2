// clock.c: see core/clock.h.
#include <time.h>
#include "core/clock.h"

double hl_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
