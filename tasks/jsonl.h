// jsonl.h: a JSON Lines reader for evaluation data. One JSON value per line
// (cJSON), empty lines (only whitespace) skipped, a line that is not valid
// JSON an error. Every message names the file and the line:
//   "eval/x.jsonl: line 12: not valid JSON (near ...)".
// Typed field accessors give messages in the same form, so a family reports
// "FILE: line N: key \"gold\": expected an integer" without formatting it.
#ifndef HYLAB_JSONL_H
#define HYLAB_JSONL_H

#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

typedef struct cJSON cJSON;

typedef struct {
    FILE *f;
    char path[1024];   // as given to hl_jsonl_open (named in messages)
    long line;         // line number of the value last returned (1-based)
    char *buf; size_t cap;
} hl_jsonl;

// Opens path for reading. HL_EBADINPUT "PATH: cannot open: why".
int hl_jsonl_open(hl_jsonl *r, const char *path, char *err, size_t errlen);
// The next value: *out (caller cJSON_Deletes) and r->line its line; *out
// NULL at the end of the file. HL_EBADINPUT for a line that is not valid
// JSON or (want_object) not a JSON object; HL_EFAIL for a read error or
// memory.
int hl_jsonl_next(hl_jsonl *r, int want_object, cJSON **out, char *err, size_t errlen);
void hl_jsonl_close(hl_jsonl *r);   // zeroed or closed r ok

// Field accessors on object o read at r->line. Each returns HL_OK, or
// HL_EBADINPUT "PATH: line N: key \"K\": what" (missing, wrong kind).
// String: *s points into o (valid while o lives).
int hl_jsonl_string(const hl_jsonl *r, const cJSON *o, const char *key, const char **s,
                    char *err, size_t errlen);
// Integer (a JSON number with no fractional part, within int).
int hl_jsonl_int(const hl_jsonl *r, const cJSON *o, const char *key, int *v, char *err, size_t errlen);
// Array of strings: *arr the array, *n its length (>= min_n).
int hl_jsonl_strings(const hl_jsonl *r, const cJSON *o, const char *key, int min_n,
                     const cJSON **arr, int *n, char *err, size_t errlen);

// An error at the reader's current line: "PATH: line N: fmt...".
__attribute__((format(printf, 4, 5)))
int hl_jsonl_fail(const hl_jsonl *r, char *err, size_t errlen, const char *fmt, ...);

#endif
