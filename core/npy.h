// npy.h: float32 .npy files (NumPy format version 1.0), C order.
// Header: "\x93NUMPY", version 1 0, uint16 LE header length, then
// "{'descr': '<f4', 'fortran_order': False, 'shape': (T, V), }" padded with
// spaces and ended by '\n' so that the data starts at a multiple of 64.
#ifndef HYLAB_NPY_H
#define HYLAB_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

#define HL_NPY_MAX_DIMS 8

// Writes data (product of shape floats, C order) to path atomically (via
// "path.tmp" + rename). Returns HL_OK or HL_EFAIL/HL_EBADINPUT with err.
int hl_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape,
                     char *err, size_t errlen);

// Reads a little-endian float32, C-order .npy (versions 1.0 and 2.0).
// *data is malloc'd (the caller frees); shape receives up to HL_NPY_MAX_DIMS dims.
int hl_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[HL_NPY_MAX_DIMS],
                    char *err, size_t errlen);

#endif
