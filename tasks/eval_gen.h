// eval_gen.h: what the generation families (tasks/eval_gen.c "generation",
// tasks/eval_squad.c "squad", tasks/niah.c "niah") share: the per-item
// scores of a generation against its gold answers (tasks/text_norm.h) and
// the prompt fields of a sample record.
#ifndef HYLAB_EVAL_GEN_H
#define HYLAB_EVAL_GEN_H

#include <stddef.h>
#include "tasks/eval.h"

// Per-item scores, indexed by item; an item not scored holds NAN.
typedef struct {
    long n;               // items
    double *contains;     // (n) 0 or 1
    double *exact;        // (n) 0 or 1
    double *f1;           // (n) in [0, 1]
} hl_gen_scores;

// Allocates n items, all NAN. HL_OK or HL_EFAIL (memory).
int hl_gen_scores_init(hl_gen_scores *s, long n, char *err, size_t errlen);
void hl_gen_scores_free(hl_gen_scores *s);

// Scores item i's generation against golds[0..n_gold) (contains, exact_match,
// f1: each the maximum over the golds, scored on the generation's bytes as
// they are) and, when sample is not NULL, adds "generation", "answers"
// (ill-formed UTF-8 shown as U+FFFD), "contains", "exact_match", "f1" and
// the prompt's fields (hl_gen_sample_prompt). HL_EFAIL (memory).
int hl_gen_score(hl_gen_scores *s, long i, const char *generation, const char *const *golds,
                 int n_gold, const char *prompt, int n_prompt_tokens, cJSON *sample, char *err, size_t errlen);

// Fills a generation request for the prompt ids with cfg's max_new_tokens
// and stop (cfg->stop "": none).
void hl_gen_request(hl_eval_item *out, const hl_ids *ids, const hl_eval_config *cfg);

// Adds contains, exact_match and f1 (in that order: contains is the
// headline) over the items scored to r, each with params_json (NULL: "{}").
// Means of 0/1 and F1 in [0, 1]; sem: the standard error of the mean (NAN
// below 2 items). No item scored: nothing added.
int hl_gen_report(const hl_gen_scores *s, const char *params_json, hl_eval_report *r, char *err, size_t errlen);

// Adds text to a sample under key, ill-formed UTF-8 replaced by U+FFFD
// (tasks/text_norm.h hl_utf8_sanitize). HL_OK or HL_EFAIL (memory).
int hl_gen_sample_text(cJSON *sample, const char *key, const char *text);

// Adds the prompt to a sample: "prompt_tail" (its last <= 200 bytes, cut
// at a UTF-8 character boundary), "prompt_bytes" and "prompt_tokens".
// HL_EFAIL (memory).
int hl_gen_sample_prompt(cJSON *sample, const char *prompt, int n_tokens, char *err, size_t errlen);

// s as a JSON string literal (quoted, escaped) in out; a literal longer
// than n - 1 bytes becomes "(too long)". HL_OK or HL_EFAIL (memory).
int hl_gen_json_string(const char *s, char *out, size_t n);

#endif
