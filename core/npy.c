// npy.c: float32 .npy writer and reader. See npy.h.
#include "core/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/status.h"

// Formats the header dict, padding and '\n' (without the 10-byte preamble).
// Returns its length, or -1 if it does not fit in cap.
static int format_header(char *out, size_t cap, int ndim, const int64_t *shape) {
    char dims[HL_NPY_MAX_DIMS * 24 + 8] = "";
    size_t used = 0;
    for (int d = 0; d < ndim; d++)
        used += (size_t)snprintf(dims + used, sizeof dims - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (ndim == 1) snprintf(dims + used, sizeof dims - used, ",");
    int n = snprintf(out, cap, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    if (n < 0 || (size_t)n >= cap) return -1;
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;  // preamble + dict + '\n'
    size_t len = total - 10;
    if (len >= cap || len > 65535) return -1;
    memset(out + n, ' ', len - 1 - (size_t)n);
    out[len - 1] = '\n';
    out[len] = 0;
    return (int)len;
}

typedef struct {
    const char *header;
    size_t hlen;
    const float *data;
    size_t numel;
} npy_body;

// The preamble, the header and the data (hl_write_atomic's writer).
static int write_npy(FILE *fp, void *ctx) {
    const npy_body *b = ctx;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(b->hlen & 0xff), (unsigned char)(b->hlen >> 8)};
    return fwrite(pre, 1, 10, fp) != 10 || fwrite(b->header, 1, b->hlen, fp) != b->hlen ||
           (b->numel && fwrite(b->data, sizeof(float), b->numel, fp) != b->numel);
}

int hl_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape,
                     char *err, size_t errlen) {
    if (ndim < 0 || ndim > HL_NPY_MAX_DIMS)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: rank %d not supported", path, ndim);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return hl_fail(err, errlen, HL_EBADINPUT, "%s: negative dimension", path);
        numel *= (size_t)shape[d];
    }
    char header[512];
    int hlen = format_header(header, sizeof header, ndim, shape);
    if (hlen < 0) return hl_fail(err, errlen, HL_EBADINPUT, "%s: shape too long for a header", path);
    npy_body body = {header, (size_t)hlen, data, numel};
    return hl_write_atomic(path, write_npy, &body, err, errlen);
}

// Points at the value after 'key': in the dict text, or NULL.
static const char *dict_value(const char *dict, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(dict, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
}

// Parses "(a, b, ...)" into shape.
static int parse_shape_tuple(const char *p, int *ndim, int64_t *shape) {
    if (*p++ != '(') return -1;
    *ndim = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') return 0;
        if (!isdigit((unsigned char)*p) || *ndim == HL_NPY_MAX_DIMS) return -1;
        char *end;
        shape[(*ndim)++] = strtoll(p, &end, 10);
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') return -1;
    }
}

// Reads the preamble and the header dict text (malloc'd into *dict).
static int read_npy_header(FILE *fp, const char *path, char **dict, char *err, size_t errlen) {
    unsigned char pre[12];
    if (fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: not a .npy file", path);
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2) return hl_fail(err, errlen, HL_EBADINPUT, "%s: truncated header", path);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        if (hlen > (1u << 24)) return hl_fail(err, errlen, HL_EBADINPUT, "%s: header too long", path);
    } else {
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: unsupported .npy version %d", path, pre[6]);
    }
    char *d = malloc(hlen + 1);
    if (!d) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    if (fread(d, 1, hlen, fp) != hlen) { free(d); return hl_fail(err, errlen, HL_EBADINPUT, "%s: truncated header", path); }
    d[hlen] = 0;
    *dict = d;
    return HL_OK;
}

// Checks dtype and order and extracts the shape from the header dict.
static int parse_npy_dict(const char *dict, const char *path, int *ndim, int64_t *shape,
                          char *err, size_t errlen) {
    const char *descr = dict_value(dict, "descr");
    if (!descr || strncmp(descr, "'<f4'", 5) != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: dtype is not little-endian float32 ('<f4')", path);
    const char *fo = dict_value(dict, "fortran_order");
    if (!fo || strncmp(fo, "False", 5) != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: Fortran order not supported", path);
    const char *sh = dict_value(dict, "shape");
    if (!sh || parse_shape_tuple(sh, ndim, shape) != 0)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot parse the shape", path);
    return HL_OK;
}

// Bytes left in fp after the current position (-1 if it cannot seek).
static int64_t bytes_left(FILE *fp) {
    off_t here = ftello(fp);
    if (here < 0 || fseeko(fp, 0, SEEK_END) != 0) return -1;
    off_t end = ftello(fp);
    if (end < here || fseeko(fp, here, SEEK_SET) != 0) return -1;
    return (int64_t)(end - here);
}

// The data must be exactly numel floats: checked against the file before
// anything is allocated, so a shape claiming 2^62 elements costs nothing.
static int check_data_size(FILE *fp, const char *path, int ndim, const int64_t *shape, size_t *numel,
                           char *err, size_t errlen) {
    int64_t left = bytes_left(fp);
    uint64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] && n > (uint64_t)left / (uint64_t)shape[d]) { n = UINT64_MAX; break; }
        n *= (uint64_t)shape[d];
    }
    if (left < 0) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot seek (not a regular file?)", path);
    if (n == UINT64_MAX)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: the shape is larger than the %lld data bytes in the file",
                       path, (long long)left);
    if (n * sizeof(float) != (uint64_t)left)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: the shape needs %llu data bytes, the file holds %lld",
                       path, (unsigned long long)(n * sizeof(float)), (long long)left);
    *numel = (size_t)n;
    return HL_OK;
}

int hl_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[HL_NPY_MAX_DIMS],
                    char *err, size_t errlen) {
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot open: %s", path, strerror(errno));
    char *dict = NULL;
    int rc = read_npy_header(fp, path, &dict, err, errlen);
    if (!rc) rc = parse_npy_dict(dict, path, ndim, shape, err, errlen);
    free(dict);
    size_t numel = 0;
    if (!rc) rc = check_data_size(fp, path, *ndim, shape, &numel, err, errlen);
    float *buf = NULL;
    if (!rc && !(buf = malloc(numel ? numel * sizeof(float) : 1)))
        rc = hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    if (!rc && fread(buf, sizeof(float), numel, fp) != numel)
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: truncated data", path);
    if (!rc && fgetc(fp) != EOF) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: bytes after the data", path);
    fclose(fp);
    if (rc) { free(buf); return rc; }
    *data = buf;
    return HL_OK;
}
