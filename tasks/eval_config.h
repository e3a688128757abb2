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
    char task[64];           // the preset name, or for FORMAT:PATH "FORMAT:BASENAME" (cut
                             // to fit): the task named in metrics and samples
    char family[32];         // the family that runs it (filled from the preset / format)
    char path[1024];         // data file (relative to the data directory, or absolute)
    int from_format;         // 1: given as FORMAT:PATH (no preset)
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
// above; a key a family does not use is an error naming it (a key that the
// family does not use must hold its default). Defaults of 0 / "" stand for
// the preset's or family's value, filled in by the section's finish:
// metric (the preset's headline, else the family's first metric),
// max_new_tokens (48; niah 128), stop ("\n"; niah none), chunk_tokens
// (1920), needle / haystack (the preset's). The section's env is unused
// (NULL). A group name is refused here (hl_eval_parse_arg expands groups).
const hl_cfg_section *hl_eval_section(void);

// Whether name is an eval preset, group or FORMAT:PATH (spec.c routes an
// eval entry by its "task" with this).
int hl_eval_task_known(const char *name);

// Expands one TASK argument (see the top) into configs out[0..*n) (a group
// gives its members). source names the argument in messages. HL_EBADINPUT
// "TASK: unknown task 'x' (known: ...)" / "TASK: limit: must be >= 0".
int hl_eval_parse_arg(const char *arg, const char *source, hl_eval_config *out, int max, int *n,
                      char *err, size_t errlen);

// Groups: name -> members. `hylab eval` reports a group's average as task
// = the group name, metric "avg": the mean of its members' headline metrics
// (each member's cfg.metric; params_json names the members and metrics).
typedef struct {
    const char *name;            // "commonsense"
    const char *const *members;  // NULL-terminated preset names
} hl_eval_group;
extern const hl_eval_group hl_eval_groups[];   // terminated by a NULL name
const hl_eval_group *hl_eval_group_find(const char *name);   // NULL: not a group

// Presets (tasks/eval_registry.c): a name for a family + data file +
// settings. Fields NULL / 0 take the family's defaults.
typedef struct {
    const char *name;            // "hellaswag"
    const char *family;          // "multiple_choice"
    const char *path;            // "eval/hellaswag.jsonl" (data directory relative)
    const char *metric;          // headline metric ("acc_norm")
    const char *needle;          // niah: "single", ...
    const char *haystack;        // niah: "noise" or a corpus path
} hl_eval_preset;
extern const hl_eval_preset hl_eval_presets[];   // terminated by a NULL name
const hl_eval_preset *hl_eval_preset_find(const char *name);   // NULL: not a preset

// The known preset and group names, comma-separated (messages).
void hl_eval_task_names(char *out, size_t n);

// The TASK text of a config: the preset name, or FORMAT:PATH (the canonical
// "task" of an eval entry). out gets at most n bytes.
void hl_eval_task_text(const hl_eval_config *cfg, char *out, size_t n);

#endif
