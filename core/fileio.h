// fileio.h: writing an output file atomically: the contents go to PATH.tmp,
// which is renamed over PATH only when every write and the close succeeded;
// on any error PATH.tmp is removed and PATH is left as it was (nothing
// half-written). Used by the .npy writer, `hylab generate --out` and the
// evaluation samples files (`hylab eval --samples`, `hylab run --samples-dir`).
#ifndef HYLAB_FILEIO_H
#define HYLAB_FILEIO_H

#include <stddef.h>
#include <stdio.h>

// write(fp, ctx) writes the contents and returns 0, or nonzero on a failed
// write (errno set). Returns HL_OK; HL_EBADINPUT when PATH.tmp is too long a
// path; HL_EFAIL with "PATH.tmp: cannot create / write failed / cannot rename
// to PATH: reason" otherwise.
int hl_write_atomic(const char *path, int (*write)(FILE *fp, void *ctx), void *ctx, char *err, size_t errlen);

// hl_write_atomic of the whole contents of src (rewound first; e.g. a
// tmpfile() that collected per-item records): same returns.
int hl_write_atomic_stream(const char *path, FILE *src, char *err, size_t errlen);

#endif
