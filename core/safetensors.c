// safetensors.c: the safetensors container: reading and writing named
// tensors and string metadata, bounded parsing of the header. See
// safetensors.h. Model checkpoints on top of it: models/checkpoint.c.
#include "core/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes host floats as little-endian: port the byte order first"
#endif

uint64_t hl_st_numel(const hl_st_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->shape[d];
    return n;
}

// Bytes per element of a safetensors dtype, 0 if unknown.
static int dtype_size(const char *dtype) {
    static const struct { const char *name; int size; } known[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
        {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(dtype, known[i].name)) return known[i].size;
    return 0;
}

// ================================================================ writing

// Checks the tensors to be written: names, ranks, shapes.
static int check_tensors_to_write(const char *path, const hl_st_tensor *t, int n,
                                  char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        if (!t[i].name[0] || !strcmp(t[i].name, "__metadata__"))
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor %d: invalid name '%s'",
                        path, i, t[i].name);
        if (t[i].ndim < 0 || t[i].ndim > HL_ST_MAX_DIMS)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': rank %d not in [0, %d]",
                        path, t[i].name, t[i].ndim, HL_ST_MAX_DIMS);
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].shape[d] < 0)
                return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': negative dimension",
                            path, t[i].name);
        if (!t[i].data && hl_st_numel(&t[i]) > 0)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': no data", path, t[i].name);
    }
    return HL_OK;
}

// One header entry {"dtype":"F32","shape":[...],"data_offsets":[b,e]}.
static cJSON *tensor_entry(const hl_st_tensor *t, uint64_t begin, uint64_t end) {
    cJSON *e = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    cJSON *offsets = cJSON_CreateArray();
    if (!e || !shape || !offsets) {
        cJSON_Delete(e); cJSON_Delete(shape); cJSON_Delete(offsets);
        return NULL;
    }
    cJSON_AddStringToObject(e, "dtype", "F32");
    for (int d = 0; d < t->ndim; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddItemToObject(e, "shape", shape);
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)end));
    cJSON_AddItemToObject(e, "data_offsets", offsets);
    return e;
}

// Builds the header JSON text, padded with spaces to a multiple of 8.
static int build_header(const char *path, const hl_st_tensor *t, int n,
                        const hl_st_meta *meta, int n_meta,
                        char **out, uint64_t *out_len, char *err, size_t errlen) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory building the header", path);
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta[i].key, meta[i].value);
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        if (cJSON_GetObjectItemCaseSensitive(root, t[i].name)) {
            cJSON_Delete(root);
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s' appears twice", path, t[i].name);
        }
        uint64_t bytes = hl_st_numel(&t[i]) * sizeof(float);
        cJSON *e = tensor_entry(&t[i], offset, offset + bytes);
        if (!e) { cJSON_Delete(root); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
        cJSON_AddItemToObject(root, t[i].name, e);
        offset += bytes;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory printing the header", path);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    char *buf = realloc(text, padded + 1);
    if (!buf) { free(text); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
    memset(buf + len, ' ', padded - len);
    buf[padded] = 0;
    *out = buf;
    *out_len = padded;
    return HL_OK;
}

static void put_u64_le(unsigned char b[8], uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

// Writes header length, header and data to an open stream.
static int write_contents(FILE *fp, const char *header, uint64_t header_len,
                          const hl_st_tensor *t, int n) {
    unsigned char len8[8];
    put_u64_le(len8, header_len);
    if (fwrite(len8, 1, 8, fp) != 8) return -1;
    if (fwrite(header, 1, header_len, fp) != header_len) return -1;
    for (int i = 0; i < n; i++) {
        size_t numel = (size_t)hl_st_numel(&t[i]);
        if (numel && fwrite(t[i].data, sizeof(float), numel, fp) != numel) return -1;
    }
    return 0;
}

int hl_st_write(const char *path, const hl_st_tensor *tensors, int n,
                const hl_st_meta *meta, int n_meta, char *err, size_t errlen) {
    int rc = check_tensors_to_write(path, tensors, n, err, errlen);
    if (rc) return rc;
    char *header = NULL;
    uint64_t header_len = 0;
    rc = build_header(path, tensors, n, meta, n_meta, &header, &header_len, err, errlen);
    if (rc) return rc;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) { free(header); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path); }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        rc = hl_fail(err, errlen, HL_EFAIL, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int bad = write_contents(fp, header, header_len, tensors, n);
        int saved = errno;
        bad |= fflush(fp) != 0 || fsync(fileno(fp)) != 0;
        if (!bad) saved = errno;
        bad |= fclose(fp) != 0;
        if (bad) rc = hl_fail(err, errlen, HL_EFAIL, "%s: write failed: %s", tmp, strerror(saved ? saved : errno));
        else if (rename(tmp, path) != 0)
            rc = hl_fail(err, errlen, HL_EFAIL, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        if (rc) unlink(tmp);
    }
    free(tmp);
    free(header);
    return rc;
}

// ================================================================ reading

// A JSON number that is an exact non-negative integer below 2^53.
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

// Parses the "shape" array of one entry.
static int parse_shape(const char *path, const char *name, const cJSON *j, hl_st_tensor *t,
                       char *err, size_t errlen) {
    if (!cJSON_IsArray(j))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': \"shape\" missing or not an array", path, name);
    int nd = cJSON_GetArraySize(j);
    if (nd > HL_ST_MAX_DIMS)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': rank %d exceeds %d", path, name, nd, HL_ST_MAX_DIMS);
    t->ndim = nd;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, j) {
        uint64_t v;
        if (!json_uint(dim, &v) || v > (uint64_t)INT64_MAX / 2)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                        path, name, d);
        t->shape[d++] = (int64_t)v;
    }
    return HL_OK;
}

// Parses "data_offsets" and checks bounds and size against dtype and shape.
static int parse_offsets(const char *path, const char *name, const cJSON *j, hl_st_tensor *t,
                         uint64_t data_size, char *err, size_t errlen) {
    uint64_t b, e;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 ||
        !json_uint(cJSON_GetArrayItem(j, 0), &b) || !json_uint(cJSON_GetArrayItem(j, 1), &e))
        return hl_fail(err, errlen, HL_EBADINPUT,
                    "%s: tensor '%s': \"data_offsets\" must be [begin, end] (non-negative integers)", path, name);
    if (b > e)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': data_offsets [%llu, %llu]: begin after end",
                    path, name, (unsigned long long)b, (unsigned long long)e);
    if (e > data_size)
        return hl_fail(err, errlen, HL_EBADINPUT,
                    "%s: tensor '%s': data_offsets [%llu, %llu] beyond the %llu data bytes in the file (truncated?)",
                    path, name, (unsigned long long)b, (unsigned long long)e, (unsigned long long)data_size);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] && numel > UINT64_MAX / 16 / (uint64_t)t->shape[d])
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': shape too large", path, name);
        numel *= (uint64_t)t->shape[d];
    }
    uint64_t want = numel * (uint64_t)dtype_size(t->dtype);
    if (e - b != want)
        return hl_fail(err, errlen, HL_EBADINPUT,
                    "%s: tensor '%s': data_offsets span %llu bytes but dtype %s and its shape need %llu",
                    path, name, (unsigned long long)(e - b), t->dtype, (unsigned long long)want);
    t->begin = b;
    t->end = e;
    return HL_OK;
}

// Parses one tensor entry of the header.
static int parse_entry(const char *path, const cJSON *j, hl_st_tensor *t, uint64_t data_size,
                       char *err, size_t errlen) {
    const char *name = j->string;
    memset(t, 0, sizeof *t);
    if (strlen(name) >= HL_ST_NAME_LEN || !name[0])
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor name '%.60s...' empty or too long", path, name);
    strcpy(t->name, name);
    if (!cJSON_IsObject(j))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!cJSON_IsString(dt) || !dtype_size(dt->valuestring))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': \"dtype\" missing or unknown", path, name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    int rc = parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(j, "shape"), t, err, errlen);
    if (rc) return rc;
    return parse_offsets(path, name, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), t, data_size,
                         err, errlen);
}

// Copies the __metadata__ object (string values only) into f.
static int parse_metadata(hl_st_file *f, const cJSON *j, char *err, size_t errlen) {
    if (!cJSON_IsObject(j))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: \"__metadata__\" is not an object", f->path);
    int n = cJSON_GetArraySize(j);
    f->meta = calloc(n ? (size_t)n : 1, sizeof *f->meta);
    if (!f->meta) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", f->path);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, j) {
        if (!cJSON_IsString(kv))
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: __metadata__.%s: value is not a string", f->path, kv->string);
        char *k = strdup(kv->string), *v = strdup(kv->valuestring);
        f->meta[f->n_meta].key = k;
        f->meta[f->n_meta].value = v;
        f->n_meta++;
        if (!k || !v) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", f->path);
    }
    return HL_OK;
}

// Fills f->tensors and f->meta from the parsed header.
static int parse_header_json(hl_st_file *f, const cJSON *root, int max_tensors, char *err, size_t errlen) {
    if (!cJSON_IsObject(root))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: header is not a JSON object", f->path);
    int n = cJSON_GetArraySize(root);
    if (n > max_tensors + 1)   // + __metadata__
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: header has %d entries, over the limit of %d tensors",
                       f->path, n, max_tensors);
    f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
    if (!f->tensors) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", f->path);
    const cJSON *item;
    int seen_meta = 0;
    cJSON_ArrayForEach(item, root) {
        int rc;
        if (!strcmp(item->string, "__metadata__")) {
            if (seen_meta++)
                return hl_fail(err, errlen, HL_EBADINPUT, "%s: \"__metadata__\" appears twice", f->path);
            rc = parse_metadata(f, item, err, errlen);
        } else {
            rc = parse_entry(f->path, item, &f->tensors[f->n], f->data_size, err, errlen);
            if (!rc) f->n++;
        }
        if (rc) return rc;
    }
    return HL_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const hl_st_tensor *const *)a)->name, (*(const hl_st_tensor *const *)b)->name);
}

static int cmp_by_offsets(const void *a, const void *b) {
    const hl_st_tensor *x = *(const hl_st_tensor *const *)a, *y = *(const hl_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

// No duplicate names; the tensors tile the data region exactly.
static int check_layout(hl_st_file *f, char *err, size_t errlen) {
    const hl_st_tensor **idx = malloc((f->n ? (size_t)f->n : 1) * sizeof *idx);
    if (!idx) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", f->path);
    for (int i = 0; i < f->n; i++) idx[i] = &f->tensors[i];
    int rc = HL_OK;
    qsort(idx, (size_t)f->n, sizeof *idx, cmp_by_name);
    for (int i = 1; i < f->n && !rc; i++)
        if (!strcmp(idx[i]->name, idx[i - 1]->name))
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s' appears twice", f->path, idx[i]->name);
    qsort(idx, (size_t)f->n, sizeof *idx, cmp_by_offsets);
    uint64_t covered = 0;
    const hl_st_tensor *prev = NULL;
    for (int i = 0; i < f->n && !rc; i++) {
        const hl_st_tensor *t = idx[i];
        if (t->begin == t->end) continue;  // empty tensors occupy nothing
        if (t->begin < covered)
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': data overlaps tensor '%s'",
                      f->path, t->name, prev->name);
        else if (t->begin > covered)
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': %llu unused bytes before its data",
                      f->path, t->name, (unsigned long long)(t->begin - covered));
        covered = t->end;
        prev = t;
    }
    if (!rc && covered != f->data_size)
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: %llu bytes after the last tensor's data",
                  f->path, (unsigned long long)(f->data_size - covered));
    free(idx);
    return rc;
}

// Reads the 8-byte length and the header text; sets data_start/data_size.
static int read_header_text(hl_st_file *f, uint64_t max_header, char **text, uint64_t *len, char *err, size_t errlen) {
    if (fseeko(f->fp, 0, SEEK_END) != 0)
        return hl_fail(err, errlen, HL_EFAIL, "%s: cannot seek: %s", f->path, strerror(errno));
    off_t size = ftello(f->fp);
    rewind(f->fp);
    unsigned char b[8];
    if (size < 8 || fread(b, 1, 8, f->fp) != 8)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: %lld bytes: too short for a safetensors file",
                    f->path, (long long)size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    if (n > (uint64_t)size - 8)
        return hl_fail(err, errlen, HL_EBADINPUT,
                    "%s: header length %llu does not fit in the %lld-byte file (not safetensors, or truncated)",
                    f->path, (unsigned long long)n, (long long)size);
    if (n > max_header)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: header of %llu bytes is over the limit of %llu bytes",
                    f->path, (unsigned long long)n, (unsigned long long)max_header);
    char *buf = malloc(n + 1);
    if (!buf) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory for a %llu-byte header", f->path,
                          (unsigned long long)n);
    if (fread(buf, 1, n, f->fp) != n) {
        free(buf);
        return hl_fail(err, errlen, HL_EFAIL, "%s: cannot read the header: %s", f->path, strerror(errno));
    }
    buf[n] = 0;
    f->data_start = 8 + n;
    f->data_size = (uint64_t)size - 8 - n;
    *text = buf;
    *len = n;
    return HL_OK;
}

// An upper bound on the JSON values in text: every value but the first is
// the first item of an array or object, or follows a comma.
static uint64_t json_values_bound(const char *text, uint64_t len) {
    uint64_t n = 1;
    for (uint64_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\') i++;
        } else if (c == ',' || c == '[' || c == '{') {
            n++;
        }
    }
    return n;
}

// Parses the header text: one JSON object, then only spaces.
static int parse_header_text(hl_st_file *f, const char *text, uint64_t len, int max_tensors, char *err, size_t errlen) {
    uint64_t values = json_values_bound(text, len), max_values = 64 + 16 * (uint64_t)max_tensors;
    if (values > max_values)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: header has up to %llu JSON values, over the limit of %llu "
                       "(16 per tensor for %d tensors)", f->path, (unsigned long long)values,
                       (unsigned long long)max_values, max_tensors);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long pos = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: header is not valid JSON (near byte %ld)", f->path, pos);
    }
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
            cJSON_Delete(root);
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: header has bytes after the JSON object", f->path);
        }
    int rc = parse_header_json(f, root, max_tensors, err, errlen);
    cJSON_Delete(root);
    return rc;
}

int hl_st_open(const char *path, hl_st_file *f, char *err, size_t errlen) {
    const hl_st_limits any = {HL_ST_MAX_HEADER, HL_ST_MAX_TENSORS};
    return hl_st_open_limited(path, &any, f, err, errlen);
}

int hl_st_open_limited(const char *path, const hl_st_limits *lim, hl_st_file *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fp = fopen(path, "rb");
    if (!f->fp) return hl_fail(err, errlen, errno == ENOENT ? HL_EBADINPUT : HL_EFAIL,
                            "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    uint64_t len = 0;
    int rc = read_header_text(f, lim->max_header, &text, &len, err, errlen);
    if (!rc) rc = parse_header_text(f, text, len, lim->max_tensors, err, errlen);
    if (!rc) rc = check_layout(f, err, errlen);
    free(text);
    if (rc) hl_st_close(f);
    return rc;
}

void hl_st_close(hl_st_file *f) {
    if (f->fp) fclose(f->fp);
    for (int i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->meta);
    free(f->tensors);
    f->fp = NULL; f->meta = NULL; f->tensors = NULL;
    f->n = f->n_meta = 0;
}

const hl_st_tensor *hl_st_find(const hl_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *hl_st_meta_get(const hl_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

int hl_st_read(hl_st_file *f, const hl_st_tensor *t, void *dst, char *err, size_t errlen) {
    uint64_t bytes = t->end - t->begin;
    if (!bytes) return HL_OK;
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin), SEEK_SET) != 0)
        return hl_fail(err, errlen, HL_EFAIL, "%s: tensor '%s': cannot seek: %s", f->path, t->name, strerror(errno));
    if (fread(dst, 1, bytes, f->fp) != bytes)
        return hl_fail(err, errlen, HL_EFAIL, "%s: tensor '%s': short read (file changed or I/O error)",
                    f->path, t->name);
    return HL_OK;
}

// ---------------------------------------------------------------- dtypes
static float f16_to_f32(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
    return h & 0x8000 ? -v : v;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

// Raw little-endian values of a dtype to f32, in place-safe order (dst may
// alias src only for F32).
static void to_f32(const char *dtype, const void *src, float *dst, size_t n) {
    if (!strcmp(dtype, "F32")) { memmove(dst, src, n * sizeof(float)); return; }
    const uint16_t *h = src;
    int bf = !strcmp(dtype, "BF16");
    for (size_t i = 0; i < n; i++) dst[i] = bf ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
}

int hl_st_read_f32(hl_st_file *f, const hl_st_tensor *t, float *dst, char *err, size_t errlen) {
    size_t n = (size_t)hl_st_numel(t);
    if (!strcmp(t->dtype, "F32")) return hl_st_read(f, t, dst, err, errlen);
    if (strcmp(t->dtype, "F16") && strcmp(t->dtype, "BF16"))
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: tensor '%s': dtype %s not supported (F32, F16 or BF16)",
                       f->path, t->name, t->dtype);
    void *raw = malloc(n * 2 + 1);
    if (!raw) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", f->path);
    int rc = hl_st_read(f, t, raw, err, errlen);
    if (!rc) to_f32(t->dtype, raw, dst, n);
    free(raw);
    return rc;
}
