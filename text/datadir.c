// datadir.c: resolving the data directory and the path of one data file
// (text/datadir.h); the manifest itself is text/manifest.c.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/sha256.h"
#include "text/datadir.h"

int hl_data_dir(const char *option, char *out, size_t n, char *err, size_t errlen) {
    int k;
    const char *env = getenv("HYLAB_DATA"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (option && *option) k = snprintf(out, n, "%s", option);
    else if (env && *env) k = snprintf(out, n, "%s", env);
    else if (xdg && *xdg) k = snprintf(out, n, "%s/hylab", xdg);
    else k = snprintf(out, n, "%s/.local/share/hylab", home && *home ? home : ".");
    if (k < 0 || (size_t)k >= n)
        return hl_fail(err, errlen, HL_EBADINPUT, "data directory: path longer than %zu bytes", n ? n - 1 : 0);
    return HL_OK;
}

const hl_data_entry *hl_data_find(const char *rel_path) {
    for (const hl_data_entry *e = hl_data_manifest; e->path; e++)
        if (!strcmp(e->path, rel_path)) return e;
    return NULL;
}

int hl_data_path(const char *data_dir, const char *rel, const char *task,
                 char *out, size_t n, char *err, size_t errlen) {
    int k = rel[0] == '/' ? snprintf(out, n, "%s", rel) : snprintf(out, n, "%s/%s", data_dir, rel);
    if (k < 0 || (size_t)k >= n)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: data path longer than %zu bytes", rel, n ? n - 1 : 0);
    const hl_data_entry *e = rel[0] == '/' ? NULL : hl_data_find(rel);
    if (!task || !*task) task = e ? e->needed_by : "this task";
    struct stat st;
    if (stat(out, &st) != 0) {
        if (e)
            return hl_fail(err, errlen, HL_EBADINPUT,
                           "%s: missing (needed by %s; run `hylab data fetch --data-dir %s %s`, or give --data-dir / HYLAB_DATA)",
                           out, task, data_dir, rel);
        return hl_fail(err, errlen, HL_EBADINPUT,
                       "%s: missing (needed by %s; run `hylab data fetch --data-dir %s`, or give --data-dir / HYLAB_DATA)",
                       out, task, data_dir);
    }
    if (!S_ISREG(st.st_mode))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: not a regular file (needed by %s)", out, task);
    if (access(out, R_OK) != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot read (%s; needed by %s)", out, strerror(errno), task);
    return HL_OK;
}

int hl_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen) {
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) { if (!is_stdin) fclose(f); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(b, cap + 1);
        if (!nb) free(b);
        b = nb;
    }
    int bad = ferror(f);
    if (!is_stdin) fclose(f);
    if (bad) { free(b); return hl_fail(err, errlen, HL_EBADINPUT, "%s: read error", path); }
    b[n] = 0;
    *out = b; *len = n;
    return HL_OK;
}

int hl_data_check(const char *path, const hl_data_entry *e, int full, int64_t *size, char *sha) {
    struct stat st;
    if (sha) sha[0] = 0;
    *size = -1;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, R_OK) != 0) return HL_DATA_MISSING;
    *size = (int64_t)st.st_size;
    if (*size != e->size) return HL_DATA_WRONG_SIZE;
    if (!full) return HL_DATA_GOOD;
    char *buf, err[HL_ERR_LEN], hex[65];
    size_t len;
    if (hl_read_file(path, &buf, &len, err, sizeof err) != HL_OK) return HL_DATA_MISSING;
    hl_sha256_hex(buf, len, hex);
    free(buf);
    if (sha) memcpy(sha, hex, sizeof hex);
    return strcmp(hex, e->sha256) ? HL_DATA_WRONG_SHA : HL_DATA_GOOD;
}
