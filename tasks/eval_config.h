// eval_config.h: one evaluation task invocation (a TASK argument of `hylab
// eval`, or an entry of a spec's "eval" list whose "task" is an evaluation
// preset or FORMAT:PATH), its config section, presets and groups.
//
// A TASK is one of
//   a preset name        hellaswag, piqa, arc_easy, arc_challenge, winogrande,
//                        boolq, openbookqa, lambada_openai, squad, kv_pairs_*,
//                        niah_single, niah_multikey, niah_multivalue,
//                        niah_multiquery (tasks/eval_registry.c's table);
//   a group name         commonsense (its members + their average), recall, ...;
//   FORMAT:PATH          multiple_choice:x.jsonl, schema:x.jsonl,
//                        language_modeling:x.jsonl, generation:x.jsonl
//                        (PATH relative to the data directory, or absolute);
//   a JSON object        {"task": NAME_OR_FORMAT:PATH, KEY: VALUE, ...} with
//                        the keys of the section below (spec eval entries
//                        are such objects).
#ifndef HYLAB_EVAL_CONFIG_H
#define HYLAB_EVAL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "core/config.h"

#define HL_EVAL_MAX_GRID 48      // lengths or depths of a niah grid
#define HL_EVAL_MAX_TASKS 64     // tasks after expanding groups

typedef struct {
    char task[64];           // the preset or group name, or the FORMAT of FORMAT:PATH
    char family[32];         // the family that runs it (filled from the preset / format)
    char path[1024];         // data file (relative to the data directory, or absolute)
    long limit;              // first N items (0: all)
    int max_length;          // context in tokens; 0: the model's (spec train.task.seq_len)
    int skip_truncated;      // 1: items cut to max_length are skipped (and counted)
    char metric[32];         // headline metric (preset's; "" = the family's first)
    char target_delimiter[8];// between context and choice / continuation (default " ")
    // generation
    int max_new_tokens;      // default 48 (recall), 128 (niah)
    char stop[8];            // default "\n"
    int chunk_tokens;        // squad: document chunk before the cue (default 1920)
    // niah (RULER)
    char needle[16];         // "single", "multikey", "multivalue", "multiquery"
    char haystack[1024];     // "noise" or a corpus path (data directory relative)
    char value_kind[16];     // "numbers" (7 digits) or "uuids"
    int n_lengths; int lengths[HL_EVAL_MAX_GRID];   // target prompt+answer lengths in tokens
    int n_depths;  int depths[HL_EVAL_MAX_GRID];    // needle depth, percent of the haystack
    int samples;             // per (length, depth) cell
    uint64_t seed;
} hl_eval_config;

// The section of an eval task object (core/config.h): "task" and the keys
// above; a key a family does not use is an error naming it.
const hl_cfg_section *hl_eval_section(void);

// Whether name is an eval preset, group or FORMAT:PATH (spec.c routes an
// eval entry by its "task" with this).
int hl_eval_task_known(const char *name);

// Expands one TASK argument (see the top) into configs out[0..*n) (a group
// gives its members). source names the argument in messages. HL_EBADINPUT
// "TASK: unknown task 'x' (known: ...)" / "TASK: limit: must be >= 0".
int hl_eval_parse_arg(const char *arg, const char *source, hl_eval_config *out, int max, int *n,
                      char *err, size_t errlen);

// Groups: name -> members and the metric averaged. A group's average is
// reported as task = group name, metric "<metric>_avg" over its members'
// headline metrics.
typedef struct {
    const char *name;            // "commonsense"
    const char *const *members;  // NULL-terminated preset names
} hl_eval_group;
extern const hl_eval_group hl_eval_groups[];   // terminated by a NULL name

#endif
