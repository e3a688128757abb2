// json_util.h: JSON helpers for spec and sweep parsing (cJSON based), and the
// spec-internal entry points that harness/sweep.c shares with harness/spec.c.
// Not a public interface: other modules use harness/spec.h.
#ifndef HYLAB_JSON_UTIL_H
#define HYLAB_JSON_UTIL_H

#include <stddef.h>
#include <cJSON.h>
#include "spec.h"

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

// ---------------------------------------------- spec internals (spec.c)
// Splits "--set" text "a.b.c=VALUE": *key is malloc'd, *value is VALUE parsed
// as JSON when it parses, else a JSON string holding VALUE.
int hl_spec_parse_set(const char *arg, const char *source, char **key, cJSON **value,
                      char *err, size_t errlen);

// Checks that `dotted` names a spec key and `value` has its type. `where`
// prefixes paths in messages (e.g. "variants[1].set."; "" for none).
int hl_spec_check_override(const char *dotted, const cJSON *value, const char *source,
                           const char *where, char *err, size_t errlen);

// Checks, then writes a copy of value at dotted path in root (intermediate
// objects created as needed; "eval.0.seq_len" indexes an existing array).
int hl_spec_apply_override(cJSON *root, const char *dotted, const cJSON *value,
                           const char *source, const char *where, char *err, size_t errlen);

// Checks keys and value types of a whole spec tree (no ranges, no defaults).
int hl_spec_check_tree(const cJSON *root, const char *source, char *err, size_t errlen);

// Applies "--set" strings, validates, fills defaults, resolves and hashes a
// spec tree (root is modified). default_name is used when "name" is absent.
int hl_spec_from_tree(cJSON *root, const char *source, const char *default_name,
                      const char *const *sets, int n_sets, hl_spec *out,
                      char *err, size_t errlen);

#endif
