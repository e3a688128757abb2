// config.h: configuration sections. A section is a table of rows, one row per
// JSON key of an object in a spec (model.attn, model.ssm, train.task, ...).
// The module that owns a C struct owns the section that fills it, and ONE row
// drives all four things done with a key:
//   schema check   hl_cfg_check: an unknown key, a repeated key or a value of
//                  the wrong kind is an error naming the JSON path;
//   defaults       hl_cfg_read: a missing key takes the row's default (dflt,
//                  dflt_text, or dflt_fn for a derived default such as
//                  head_dim = d_model / n_heads), or the value of a `base`
//                  object (eval entries inherit the training task's values);
//   range check    hl_cfg_read: [min, max], the message naming the limit
//                  ("must be at most 65536 (got 1000000)");
//   canonical out  hl_cfg_write: the value as JSON (floats as the shortest
//                  decimal that reads back as the float); a row flagged
//                  HL_CFG_OMIT_DEFAULT (a key added after v1) is left out
//                  while it holds its default, so old specs keep their hash.
// Keys whose value needs code (a layer pattern, kv_share groups) give the
// row read/write hooks; the kind still drives the schema check. Checks across
// keys belong to the owner: the section's `finish` hook (after every row is
// read) or the module's own check hook.
//
// Errors read "SOURCE: json.path: what is wrong (got X)" (HL_EBADINPUT).
// core/ includes nothing else of hylab but core/.
#ifndef HYLAB_CONFIG_H
#define HYLAB_CONFIG_H

#include <stddef.h>
#include <cJSON.h>
#include "core/status.h"

#define HL_CFG_PATH_LEN 256

typedef enum {
    HL_CFG_INT,          // int at offset; JSON integer
    HL_CFG_LONG,         // long at offset; JSON integer
    HL_CFG_U64,          // uint64_t at offset; JSON integer (>= 0 by its range)
    HL_CFG_DOUBLE,       // double at offset; JSON number
    HL_CFG_FLOAT,        // float at offset; JSON number, written as its shortest decimal
    HL_CFG_BOOL,         // int (0/1) at offset; JSON true/false
    HL_CFG_STRING,       // char[capacity] at offset; JSON string
    HL_CFG_INT_LIST,     // int[capacity] at offset, count (int) at count_offset; JSON [int, ...]
    HL_CFG_INT_GROUPS,   // JSON [[int, ...], ...]; read and write hooks required
    HL_CFG_STRING_LIST,  // JSON [string, ...]; read and write hooks required (HL_CFG_OMIT_DEFAULT:
                         // the write hook returns NULL to leave the key out)
    HL_CFG_SECTION,      // a nested object: section (or section_fn()) filling the struct at offset
    HL_CFG_SECTION_LIST  // JSON [object, ...] of section; read by a read hook or by the owner, written by a write hook
} hl_cfg_kind;

// Row flags.
#define HL_CFG_MIN_EXCLUSIVE 1u  // numbers: value > min ("must be > 0")
#define HL_CFG_MAX_EXCLUSIVE 2u  // numbers: value < max ("must be in [0, 1)")
#define HL_CFG_OMIT_DEFAULT  4u  // canonical output leaves the key out while it holds its default
#define HL_CFG_NO_RANGE      8u  // numbers: no range check (the owner checks)

// Where errors go; `env` is what the owner's hooks need from outside the
// struct (e.g. the model's vocab_size for a task), NULL when nothing.
typedef struct {
    const char *source;  // the file (or "--set") named first in messages
    char *err;
    size_t errlen;
    const void *env;
} hl_cfg_ctx;

struct hl_cfg_section;

typedef struct hl_cfg_key {
    const char *name;
    hl_cfg_kind kind;
    size_t offset;           // of the value in the owning struct (unused with a read hook)
    size_t count_offset;     // HL_CFG_INT_LIST: of its int count
    int capacity;            // HL_CFG_STRING: buffer bytes; HL_CFG_INT_LIST: most entries
    double dflt;             // numbers and bools: the value of a missing key
    const char *dflt_text;   // HL_CFG_STRING: the value of a missing key
    // Derived default (NULL: dflt). obj is the owning struct, its earlier rows
    // already read. HL_OK, or an error with *why = "what is wrong" (the path
    // of the key is put in front).
    int (*dflt_fn)(const void *obj, const void *env, double *out, char *why, size_t whylen);
    double min, max;         // numbers: the range (inclusive unless flagged); ints also for lists' entries
    unsigned flags;          // HL_CFG_*
    const struct hl_cfg_section *section;              // HL_CFG_SECTION(_LIST): the nested section
    const struct hl_cfg_section *(*section_fn)(void);  // ... or built at run time (registries)
    // Optional hooks replacing the default reading and writing: read gets
    // the value (NULL when absent) and the key's path; write returns the
    // canonical value (NULL with HL_CFG_OMIT_DEFAULT: left out).
    int (*read)(const hl_cfg_ctx *c, const cJSON *v, const char *path, void *obj);
    cJSON *(*write)(const void *obj);
} hl_cfg_key;

typedef struct hl_cfg_section {
    const char *name;        // the key it sits under ("attn"; "" for a top level)
    const hl_cfg_key *keys;  // terminated by a row with name NULL
    // After every row is read: resolution and checks across keys; errors via
    // hl_cfg_fail with paths below `path`. NULL: nothing.
    int (*finish)(const hl_cfg_ctx *c, const char *path, void *obj);
} hl_cfg_section;

// "SOURCE: PATH: fmt..." into c->err; returns HL_EBADINPUT. An empty path
// prints "(top level)".
__attribute__((format(printf, 3, 4)))
int hl_cfg_fail(const hl_cfg_ctx *c, const char *path, const char *fmt, ...);

// "parent.key" ("key" when parent is empty) and "parent[i]", cut at HL_CFG_PATH_LEN.
void hl_cfg_join(char *out, const char *parent, const char *key);
void hl_cfg_index(char *out, const char *parent, int i);

// The row named name[0..len) of sec, or NULL.
const hl_cfg_key *hl_cfg_find(const hl_cfg_section *sec, const char *name, size_t len);
// The nested section of a SECTION(_LIST) row.
const hl_cfg_section *hl_cfg_child(const hl_cfg_key *k);

// Schema check of obj against sec (recursively): an object, no repeated
// key, every key a row, every value of its row's kind.
int hl_cfg_check(const hl_cfg_ctx *c, const cJSON *obj, const hl_cfg_section *sec, const char *path);
// Schema check of one value against one row.
int hl_cfg_check_value(const hl_cfg_ctx *c, const cJSON *v, const hl_cfg_key *k, const char *path);

// Reads obj (already checked; NULL = every key missing) into the struct at
// out: row by row in table order, defaults, ranges, then sec->finish. With
// base non-NULL a missing key of a plain kind copies base's value instead of
// the default. A nested SECTION row reads its section into the struct at
// out + offset (offset 0: the nested rows' offsets are relative to out).
int hl_cfg_read(const hl_cfg_ctx *c, const hl_cfg_section *sec, const cJSON *obj, const char *path,
                void *out, const void *base);

// One row's plain reading (its read hook not called): value v (NULL: the
// default, or base's value), range check, stored into out. For read hooks
// that add to the plain reading.
int hl_cfg_read_key(const hl_cfg_ctx *c, const hl_cfg_key *k, const cJSON *v, const char *path,
                    void *out, const void *base);

// The canonical object of the struct at obj (every row, except defaults of
// HL_CFG_OMIT_DEFAULT rows). NULL when out of memory.
cJSON *hl_cfg_write(const hl_cfg_section *sec, const void *obj);

// The double that prints as the shortest decimal reading back as f
// (1e-5f -> 1e-05, not its exact binary value).
double hl_cfg_float_decimal(float f);

// Whether two sections have the same name and the same rows (names, kinds,
// offsets, capacities, defaults, ranges, flags, nested sections; which hooks
// are set, not which functions): a
// section re-declared by a copy of a module is then the same section.
int hl_cfg_same_section(const hl_cfg_section *a, const hl_cfg_section *b);

#endif
