// checkpoint.h: safetensors checkpoints (DESIGN.md "Checkpoints").
//
// A hylab checkpoint is a safetensors file (the container: core/safetensors.h)
// holding a hl_model's parameters as fp32 ("F32") tensors in the order of the
// model's tensor list, names and shapes from hl_model_tensor(), and the
// canonical spec in the header's __metadata__:
//   {"__metadata__": {"spec": "<canonical spec>", "format": "pt", "producer": "hylab"},
//    "model.embed_tokens.weight": {"dtype": "F32", "shape": [V, C],
//                                  "data_offsets": [begin, end]}, ...}
// Every function returns HL_OK, HL_EBADINPUT (the file is wrong: the message
// names the file and, where one is at fault, the tensor) or HL_EFAIL (I/O or
// memory failure), with a message in err.
#ifndef HYLAB_CHECKPOINT_H
#define HYLAB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/safetensors.h"

// hylab's own checkpoints (hl_ckpt_*): a model has at most 256 layers x 19
// tensors + 3 (4867), whose entries plus the canonical spec make headers
// under 0.7 MB: 4 MiB and 8192 tensors leave room and refuse a hostile
// header before it costs more than ~20 MB to parse.
#define HL_CKPT_MAX_HEADER ((uint64_t)4 << 20)
#define HL_CKPT_MAX_TENSORS 8192

typedef struct hl_model hl_model;

// Saves every parameter tensor of m (model tensor order, F32) with
// __metadata__ {"spec": spec_json, "format": "pt", "producer": "hylab"}.
int hl_ckpt_save(const char *path, hl_model *m, const char *spec_json,
                 char *err, size_t errlen);
// Both readers open the file with the hylab checkpoint limits
// (HL_CKPT_MAX_HEADER, HL_CKPT_MAX_TENSORS).
// Reads __metadata__["spec"] into *spec_json (malloc'd; the caller frees).
int hl_ckpt_read_spec(const char *path, char **spec_json, char *err, size_t errlen);
// Loads the parameters of m from path. The file must hold exactly the model's
// tensors (no missing, no extra), each F32 with the model's shape, every
// value finite (else HL_EBADINPUT naming the tensor and the element).
// Values are read and checked in a host staging buffer and copied into m
// (the backend's h2d) only when every tensor was read and is finite: on any
// error m is left unchanged. Save likewise copies m's parameters out to a
// host buffer first (d2h): nothing here dereferences backend memory.
int hl_ckpt_load(const char *path, hl_model *m, char *err, size_t errlen);

#endif
