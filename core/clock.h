// clock.h: the one wall clock hylab times with (throughput, eval seconds,
// run wall time): CLOCK_MONOTONIC in seconds, never set back.
#ifndef HYLAB_CLOCK_H
#define HYLAB_CLOCK_H

// Seconds on the monotonic clock (an arbitrary origin: use differences).
double hl_now_s(void);

#endif
