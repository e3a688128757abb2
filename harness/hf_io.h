// hf_io.h: Hugging Face import and export at the level of files (what
// `hylab import` / `hylab export` and tests/test_golden.c call): an HF
// directory's config.json becomes a spec run through hylab's spec parser
// (validated, canonical, hashed), its safetensors the model's weights
// (models/hf.h has the mapping). Errors as models/hf.h: HL_EBADINPUT with
// the file and the config field, spec key or tensor; HL_EFAIL for I/O.
#ifndef HYLAB_HF_IO_H
#define HYLAB_HF_IO_H

#include <stddef.h>
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/hf.h"

// The spec in a hylab checkpoint's metadata, parsed and validated; the
// source in messages is "CKPT (metadata spec)". hl_spec_free it.
int hl_ckpt_spec(const char *ckpt, hl_spec *spec, char *err, size_t errlen);

// Opens the HF directory dir: *spec from config.json (source
// "DIR/config.json"), *m built on backend be for batches up to (max_B, max_T) with
// the directory's weights, *family its layout. On error nothing is left
// allocated (*m NULL, *spec freed).
int hl_hf_open(const char *dir, const hl_backend *be, int max_B, int max_T, hl_spec *spec,
               hl_model **m, hl_hf_family *family, char *err, size_t errlen);

// HF directory -> hylab checkpoint out (canonical spec in its metadata;
// written atomically, nothing written on error).
int hl_hf_import(const char *dir, const char *out, char *err, size_t errlen);

// hylab checkpoint -> HF directory (hl_hf_export's contract).
int hl_hf_export_ckpt(const char *ckpt, const char *dir, char *err, size_t errlen);

#endif
