// status.c: the one way library-like modules report an error: a message in
// the caller's buffer and a return code (HL_EFAIL / HL_EBADINPUT).
#include <stdarg.h>
#include <stdio.h>
#include "core/status.h"

int hl_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
