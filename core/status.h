// status.h: the one status/error vocabulary of hylab. Library-like code
// (spec, db, tasks, models, checkpoints) returns one of these codes and, on
// an error, a message in the caller's buffer that names the file and the
// JSON path, option or tensor at fault; only main() exits (status 2 for bad
// input).
#ifndef HYLAB_STATUS_H
#define HYLAB_STATUS_H

#include <stddef.h>

// Return codes: HL_EBADINPUT the input is wrong (exit status 2), HL_EFAIL
// anything else (I/O, memory), HL_EUNSUPPORTED the backend does not
// provide that op (kernels/kernels.h; exit status 1 like HL_EFAIL).
enum { HL_OK = 0, HL_EFAIL = 1, HL_EBADINPUT = 2, HL_EUNSUPPORTED = 3 };

#define HL_NAME_LEN 128     // names: spec, sweep, variant
#define HL_ERR_LEN 1024     // message buffers

// Writes the printf-formatted message into err (if any) and returns code.
__attribute__((format(printf, 4, 5)))
int hl_fail(char *err, size_t errlen, int code, const char *fmt, ...);

#endif
