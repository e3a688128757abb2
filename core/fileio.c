// fileio.c: atomic output files (see fileio.h).
#include "core/fileio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

int hl_write_atomic(const char *path, int (*write)(FILE *fp, void *ctx), void *ctx, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return hl_fail(err, errlen, HL_EFAIL, "%s: cannot create: %s", tmp, strerror(errno));
    errno = 0;
    int bad = write(fp, ctx) != 0;
    int saved = errno;
    bad |= fclose(fp) != 0;
    if (bad) {
        unlink(tmp);
        return hl_fail(err, errlen, HL_EFAIL, "%s: write failed: %s", tmp, strerror(saved ? saved : errno));
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return hl_fail(err, errlen, HL_EFAIL, "%s: cannot rename to %s: %s", tmp, path, strerror(saved));
    }
    return HL_OK;
}

static int copy_stream(FILE *dst, void *ctx) {
    FILE *src = ctx;
    char buf[1 << 16];
    size_t k;
    rewind(src);
    while ((k = fread(buf, 1, sizeof buf, src)) > 0)
        if (fwrite(buf, 1, k, dst) != k) return 1;
    return ferror(src) ? 1 : 0;
}

int hl_write_atomic_stream(const char *path, FILE *src, char *err, size_t errlen) {
    return hl_write_atomic(path, copy_stream, src, err, errlen);
}
