// safetensors.h: the safetensors container (https://github.com/huggingface/safetensors):
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON header, padded with spaces to a multiple of 8:
//             {"__metadata__": {"key": "value", ...},
//              "tensor.name": {"dtype": "F32", "shape": [V, C],
//                              "data_offsets": [begin, end]}, ...}
//   rest      raw little-endian tensor data; offsets are relative to the
//             start of this region, which every tensor covers exactly once
//             (no overlaps, no holes, nothing after the last tensor).
// Named tensors and string metadata, no model (hylab's model checkpoints:
// models/checkpoint.h). Every function returns HL_OK, HL_EBADINPUT (the file
// is wrong: the message names the file and, where one is at fault, the
// tensor) or HL_EFAIL (I/O or memory failure), with a message in err.
#ifndef HYLAB_SAFETENSORS_H
#define HYLAB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/status.h"

#define HL_ST_MAX_DIMS 8
#define HL_ST_NAME_LEN 256

// What a reader accepts before parsing a header. The JSON header is parsed
// with cJSON, which takes about 100 bytes per JSON value, and each tensor
// entry takes ~370 bytes of hl_st_tensor: refusing more than 16 values per
// tensor (rank <= 8: object, dtype, shape array and dims, offsets) plus
// some metadata keeps parsing memory a small multiple of
// max_header + max_tensors * 2 KB, whatever the header holds.
typedef struct {
    uint64_t max_header;             // bytes of JSON header
    int max_tensors;                 // tensor entries
} hl_st_limits;
// Any safetensors file: 100 MB of header as the safetensors library allows,
// 65536 tensors (a Hugging Face shard holds a few thousand at most).
#define HL_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define HL_ST_MAX_TENSORS 65536
typedef struct {
    char name[HL_ST_NAME_LEN];
    char dtype[8];                   // "F32", "F16", "BF16", "I64", ...
    int ndim;
    int64_t shape[HL_ST_MAX_DIMS];
    uint64_t begin, end;             // byte offsets into the data region
    const float *data;               // writing only: numel fp32 values
} hl_st_tensor;

typedef struct {
    const char *key, *value;
} hl_st_meta;

// Number of elements of a tensor (product of its shape; 1 for a scalar).
uint64_t hl_st_numel(const hl_st_tensor *t);

// Writes n F32 tensors (name, ndim, shape, data; dtype/offsets are ignored and
// computed) and n_meta metadata strings to path, atomically: the data goes to
// "path.tmp", which is renamed over path only once complete. Names must be
// unique and must not be "__metadata__".
int hl_st_write(const char *path, const hl_st_tensor *tensors, int n,
                const hl_st_meta *meta, int n_meta, char *err, size_t errlen);

// An open safetensors file: header parsed and validated, data not yet read.
typedef struct {
    char path[1024];
    FILE *fp;
    uint64_t data_start;             // 8 + N
    uint64_t data_size;              // bytes after the header
    int n;                           // tensors, in header order
    hl_st_tensor *tensors;
    int n_meta;
    hl_st_meta *meta;                // strings owned by the file
} hl_st_file;

// Opens and validates: header length (at most lim->max_header), the number
// of JSON values (at most 16 per tensor of lim->max_tensors: counted before
// parsing), JSON, every entry's dtype, shape and offsets (in bounds, size =
// numel * dtype size, no overlap, no hole, no duplicate names), metadata
// values all strings. On error nothing stays open. hl_st_open uses the
// limits of any safetensors file (HL_ST_MAX_HEADER, HL_ST_MAX_TENSORS).
int hl_st_open_limited(const char *path, const hl_st_limits *lim, hl_st_file *f, char *err, size_t errlen);
int hl_st_open(const char *path, hl_st_file *f, char *err, size_t errlen);
void hl_st_close(hl_st_file *f);
// The tensor of that name, or NULL.
const hl_st_tensor *hl_st_find(const hl_st_file *f, const char *name);
// The metadata value for key, or NULL.
const char *hl_st_meta_get(const hl_st_file *f, const char *key);
// Reads tensor t (of f) into dst, which holds (t->end - t->begin) bytes.
int hl_st_read(hl_st_file *f, const hl_st_tensor *t, void *dst,
               char *err, size_t errlen);
// Reads tensor t (of f) as f32 into dst (numel values): F32 as stored, F16
// and BF16 converted; any other dtype is HL_EBADINPUT naming the tensor.
int hl_st_read_f32(hl_st_file *f, const hl_st_tensor *t, float *dst, char *err, size_t errlen);

#endif
