// eval_registry.c: the evaluation families, presets and groups (tasks/eval.h,
// tasks/eval_config.h).
#include <stdlib.h>
#include <string.h>
#include "tasks/eval.h"

extern const hl_eval_family hl_eval_multiple_choice, hl_eval_schema, hl_eval_language_modeling;

const hl_eval_family *const hl_eval_families[] = {
    &hl_eval_multiple_choice, &hl_eval_schema, &hl_eval_language_modeling,
    NULL,
};

// Data files are the shared sets (data directory relative; text/datadir.h's
// manifest lists them). Headline metrics as the Hymba / Mamba papers
// report them: acc_norm for HellaSwag, ARC-Challenge and OpenBookQA.
const hl_eval_preset hl_eval_presets[] = {
    {"hellaswag", "multiple_choice", "eval/hellaswag.jsonl", "acc_norm", NULL, NULL},
    {"piqa", "multiple_choice", "eval/piqa.jsonl", "acc", NULL, NULL},
    {"arc_easy", "multiple_choice", "eval/arc_easy.jsonl", "acc", NULL, NULL},
    {"arc_challenge", "multiple_choice", "eval/arc_challenge.jsonl", "acc_norm", NULL, NULL},
    {"winogrande", "schema", "eval/winogrande.jsonl", "acc", NULL, NULL},
    {"boolq", "multiple_choice", "eval/boolq.jsonl", "acc", NULL, NULL},
    {"openbookqa", "multiple_choice", "eval/openbookqa.jsonl", "acc_norm", NULL, NULL},
    {"lambada_openai", "language_modeling", "eval/lambada_openai.jsonl", "acc", NULL, NULL},
    {"squad", "squad", "recall/squad_v1.1_part_a.json", "contains", NULL, NULL},
#define KV(pos, len) {"kv_pairs_" #pos "_" #len, "generation", "longctx/kv_pairs_" #pos "_len_" #len ".jsonl", \
                      "contains", NULL, NULL}
    KV(beginning, 2048), KV(middle, 2048), KV(end, 2048),
    KV(beginning, 4096), KV(middle, 4096), KV(end, 4096),
#undef KV
    {"niah_single", "niah", NULL, "string_match_all", "single", "noise"},
    {"niah_multikey", "niah", NULL, "string_match_all", "multikey", "noise"},
    {"niah_multivalue", "niah", NULL, "string_match_all", "multivalue", "noise"},
    {"niah_multiquery", "niah", NULL, "string_match_all", "multiquery", "noise"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const char *const COMMONSENSE[] = {"arc_easy", "arc_challenge", "piqa", "winogrande", "hellaswag", NULL};
static const char *const LM_EVAL8[] = {"hellaswag", "piqa", "arc_easy", "arc_challenge", "winogrande",
                                       "boolq", "openbookqa", "lambada_openai", NULL};
static const char *const RECALL[] = {"squad", "kv_pairs_beginning_2048", "kv_pairs_middle_2048",
                                     "kv_pairs_end_2048", NULL};
static const char *const LONGCTX[] = {"niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery",
                                      "kv_pairs_beginning_4096", "kv_pairs_middle_4096", "kv_pairs_end_4096", NULL};

const hl_eval_group hl_eval_groups[] = {
    {"commonsense", COMMONSENSE},
    {"lm_eval8", LM_EVAL8},
    {"recall", RECALL},
    {"longctx", LONGCTX},
    {NULL, NULL},
};

const hl_eval_family *hl_eval_family_find(const char *name) {
    for (int i = 0; hl_eval_families[i]; i++)
        if (!strcmp(hl_eval_families[i]->name, name)) return hl_eval_families[i];
    return NULL;
}

int hl_eval_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                 hl_eval_task **out, char *err, size_t errlen) {
    *out = NULL;
    const hl_eval_family *f = hl_eval_family_find(cfg->family);
    if (!f) return hl_fail(err, errlen, HL_EBADINPUT, "%s: unknown evaluation family '%s'", cfg->task, cfg->family);
    return f->open(cfg, tok, data_dir, out, err, errlen);
}

void hl_eval_close(hl_eval_task *t) {
    if (t) t->family->close(t);
}
