// datadir.h: where hylab finds its data (evaluation sets, corpora,
// tokenizers) and what that data must be (the manifest, text/manifest.c).
//
// The data directory is, in order: the --data-dir option, the HYLAB_DATA
// environment variable, then $XDG_DATA_HOME/hylab (default
// ~/.local/share/hylab). Development and CI point it at the checkout's
// ../shared/data (the Makefile's HYLAB_DATA). Data files are never copied
// into the repository; `hylab data fetch` downloads them for users with a
// network and `hylab data verify` checks them against the manifest.
#ifndef HYLAB_DATADIR_H
#define HYLAB_DATADIR_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

#define HL_DATA_PATH_LEN 1024

// Resolves the data directory: option (NULL or "" when not given), then
// HYLAB_DATA, then the default. Writes it to out (no check that it exists).
// HL_EBADINPUT when the result does not fit.
int hl_data_dir(const char *option, char *out, size_t n, char *err, size_t errlen);

// One file of the manifest: its path relative to the data directory, where
// to download it, its size and SHA-256, and the tasks (presets, tokenizers,
// corpora) that read it.
typedef struct {
    const char *path;      // "eval/hellaswag.jsonl"
    const char *url;       // canonical download (https://...)
    int64_t size;          // bytes
    const char *sha256;    // hex
    const char *needed_by; // "hellaswag, commonsense"
    const char *note;      // provenance, licence; starts with HL_DATA_CONVERTED when
                           // the file is a conversion of url (fetch cannot make it)
} hl_data_entry;

#define HL_DATA_CONVERTED "converted: "

extern const hl_data_entry hl_data_manifest[];   // terminated by a NULL path
const hl_data_entry *hl_data_find(const char *rel_path);   // NULL: not in the manifest

// The path of data file `rel` (relative to data_dir; an absolute rel is
// taken as is) in out, checked to be a readable regular file. On a missing
// file: HL_EBADINPUT with "FILE: missing (needed by TASK; run `hylab data
// fetch --data-dir DIR`, or give --data-dir / HYLAB_DATA)".
int hl_data_path(const char *data_dir, const char *rel, const char *task,
                 char *out, size_t n, char *err, size_t errlen);

// The state of manifest file e at path: HL_DATA_GOOD, HL_DATA_MISSING (no
// readable regular file), HL_DATA_WRONG_SIZE, or (full: the SHA-256 is
// computed too) HL_DATA_WRONG_SHA. *size gets the file's size (-1 missing),
// sha (65 bytes, may be NULL) its SHA-256 hex when full ("" otherwise).
enum { HL_DATA_GOOD, HL_DATA_MISSING, HL_DATA_WRONG_SIZE, HL_DATA_WRONG_SHA };
int hl_data_check(const char *path, const hl_data_entry *e, int full, int64_t *size, char *sha);

// Reads the whole file `path` ("-": standard input) into a malloc'd buffer
// *out (NUL-terminated; *len bytes, the NUL not counted). HL_EBADINPUT
// "PATH: cannot open (reason)" / "PATH: read error"; HL_EFAIL out of memory.
int hl_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);

#endif
