// json_util.h: reading input text files with a size limit, and JSON helpers
// (cJSON based) whose errors name the file and the JSON path. Used by every
// folder that reads JSON (spec and sweep parsing, reports, Hugging Face
// config.json).
#ifndef HYLAB_JSON_UTIL_H
#define HYLAB_JSON_UTIL_H

#include <stddef.h>
#include <cJSON.h>
#include <stdio.h>
#include "core/status.h"

// Input files (spec, sweep and report JSON, token lists) are read whole, up to
// this many bytes: a larger file, a device like /dev/zero or an endless pipe
// is refused instead of filling memory.
#define HL_MAX_INPUT_BYTES ((size_t)16 << 20)   // 16 MiB

// Reads at most max_bytes of a text file into a malloc'd NUL-terminated
// string (*len, if not NULL, gets its length). Errors (HL_EBADINPUT, naming
// the file): cannot open or read, more than max_bytes ("PATH: larger than the
// limit of 16777216 bytes (16 MiB) for input files"), a NUL byte ("PATH: NUL
// byte at offset 17 (not a text file)"). The stream form reads fp (e.g.
// stdin) and names it `name` in messages.
int hl_read_text_file(const char *path, size_t max_bytes, char **text, size_t *len,
                      char *err, size_t errlen);
int hl_read_text_stream(FILE *fp, const char *name, size_t max_bytes, char **text, size_t *len,
                        char *err, size_t errlen);

// Reads a whole JSON file (spec, sweep, report) into a malloc'd string:
// hl_read_text_file with the HL_MAX_INPUT_BYTES limit.
// Errors: "PATH: cannot open: No such file or directory".
int hl_json_read_file(const char *path, char **text, char *err, size_t errlen);

// Parses text strictly (one value, nothing after it). Errors name the line
// and column: "SOURCE: invalid JSON at line 3, column 7"; then refuses, with
// the JSON path, a number out of range (hl_json_check_numbers) and a key
// repeated in an object (hl_json_check_duplicates). *root is NULL on error.
int hl_json_parse(const char *text, const char *source, cJSON **root, char *err, size_t errlen);

// The first member of obj whose key repeats an earlier member's (document
// order), or NULL. O(n log n) in the object's size.
const cJSON *hl_json_find_duplicate(const cJSON *obj);

// A repeated key anywhere in the tree is an error naming its path:
// "SOURCE: variants[1].set.train.lr: duplicate key".
int hl_json_check_duplicates(const cJSON *root, const char *source, char *err, size_t errlen);

// root parsed from text: a number literal of text that a double cannot hold
// (1e400 overflows to inf, 1e-400 underflows to 0) is an error naming the
// literal as written and its path below `where` (the path of root: "" for a
// file, "--set train.lr" for a --set value):
// "SOURCE: train.lr: number out of range for a double (got 1e400)".
int hl_json_check_numbers(const char *text, const cJSON *root, const char *source, const char *where,
                          char *err, size_t errlen);

// Sorts object keys recursively (byte order); arrays keep their order.
void hl_json_sort_keys(cJSON *item);

// Canonical text of a value: a sorted copy printed compactly, every number
// exactly (it reads back as the same double). malloc'd.
char *hl_json_canonical(const cJSON *item);

// The value printed compactly and shortened for messages ("got X").
void hl_json_brief(const cJSON *item, char *buf, size_t buflen);

// File name without directories and without a ".json" ending.
void hl_json_basename(const char *path, char *out, size_t outlen);

#endif
