// spec_internal.h: the spec-internal entry points that harness/sweep.c shares
// with harness/spec.c. Not a public interface: other modules use
// harness/spec.h.
#ifndef HYLAB_SPEC_INTERNAL_H
#define HYLAB_SPEC_INTERNAL_H

#include <cJSON.h>
#include "core/json_util.h"
#include "harness/spec.h"

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
