// registry.c: every layer type, one line each in HL_LAYER_TYPES (a new type:
// its file plus one line here). Tests walk this list.
#include <stdio.h>
#include <string.h>
#include "models/layer.h"

#define HL_LAYER_TYPES(X) \
    X(hl_layer_attention)   /* 'A' attention.c */ \
    X(hl_layer_mamba)       /* 'S' mamba.c */ \
    X(hl_layer_hybrid)      /* 'H' hybrid.c */ \
    X(hl_layer_mamba2)      /* 'M' mamba2.c */ \
    X(hl_layer_conba)       /* 'C' conba.c (hylab interpretation of MixCon's Conba) */ \
    X(hl_layer_ffn_swiglu)  /* "swiglu" ffn_swiglu.c */ \
    X(hl_layer_ffn_moe)     /* "moe" ffn_moe.c */

#define HL_DECLARE_TYPE(sym) extern const hl_layer_type sym;
#define HL_LIST_TYPE(sym) &sym,
HL_LAYER_TYPES(HL_DECLARE_TYPE)

const hl_layer_type *const hl_layer_types[] = { HL_LAYER_TYPES(HL_LIST_TYPE) NULL };

int hl_layer_type_count(void) {
    int n = 0;
    while (hl_layer_types[n]) n++;
    return n;
}

const hl_layer_type *hl_mixer_type(char letter) {
    for (int i = 0; hl_layer_types[i]; i++)
        if (hl_layer_types[i]->part == HL_PART_MIXER && hl_layer_types[i]->letter == letter)
            return hl_layer_types[i];
    return NULL;
}

// FFN types by spec enum; "none" has no entry (no FFN, no FFN norm).
const hl_layer_type *hl_ffn_layer_type(hl_ffn_type t) {
    for (int i = 0; t != HL_FFN_NONE && hl_layer_types[i]; i++)
        if (hl_layer_types[i]->part == HL_PART_FFN && hl_layer_types[i]->ffn == t) return hl_layer_types[i];
    return NULL;
}

int hl_ffn_supported(hl_ffn_type t) { return t == HL_FFN_NONE || hl_ffn_layer_type(t) != NULL; }

int hl_ffn_from_name(const char *name, hl_ffn_type *out) {
    if (!strcmp(name, "none")) { *out = HL_FFN_NONE; return 0; }
    if (!strcmp(name, "moe")) { *out = HL_FFN_MOE; return 0; }
    for (int i = 0; hl_layer_types[i]; i++)
        if (hl_layer_types[i]->part == HL_PART_FFN && !strcmp(hl_layer_types[i]->name, name)) {
            *out = hl_layer_types[i]->ffn;
            return 0;
        }
    return -1;
}

const char *hl_ffn_name(hl_ffn_type t) {
    const hl_layer_type *f = hl_ffn_layer_type(t);
    return f ? f->name : t == HL_FFN_MOE ? "moe" : "none";
}

void hl_ffn_names(char *out, size_t n, int quoted) {
    int total = 1, k = 0;
    for (int i = 0; hl_layer_types[i]; i++) total += hl_layer_types[i]->part == HL_PART_FFN;
    if (n) out[0] = 0;
    for (int i = 0; i <= hl_layer_type_count(); i++) {
        const char *name = hl_layer_types[i] ? hl_layer_types[i]->name : "none";   // "none" last
        if (hl_layer_types[i] && hl_layer_types[i]->part != HL_PART_FFN) continue;
        size_t len = strlen(out);
        const char *sep = k == 0 ? "" : !quoted ? ", " : k == total - 1 ? " or " : ", ";
        snprintf(out + len, n - len, quoted ? "%s\"%s\"" : "%s%s", sep, name);
        k++;
    }
}

hl_ffn_type hl_ffn_of_layer(const hl_model_config *cfg, int layer) {
    if (cfg->ffn.n_pattern > 0) return cfg->ffn.pattern[layer % cfg->ffn.n_pattern];
    const hl_moe_config *m = &cfg->ffn.moe;
    if (cfg->ffn.type == HL_FFN_MOE && m->every > 1 && layer % m->every != m->offset) return HL_FFN_SWIGLU;
    return cfg->ffn.type;
}

unsigned hl_layer_caps(const hl_model_config *cfg, int layer) {
    const hl_layer_type *t = hl_mixer_type(cfg->layer[layer].kind);
    return t ? t->caps : 0u;
}

void hl_mixer_letters(char *out, size_t n) {
    int total = 0, k = 0;
    for (int i = 0; hl_layer_types[i]; i++) total += hl_layer_types[i]->part == HL_PART_MIXER;
    if (n) out[0] = 0;
    for (int i = 0; hl_layer_types[i]; i++) {
        if (hl_layer_types[i]->part != HL_PART_MIXER) continue;
        size_t len = strlen(out);
        const char *sep = k == 0 ? "" : k == total - 1 ? " or " : ", ";
        snprintf(out + len, n - len, "%s%c", sep, hl_layer_types[i]->letter);
        k++;
    }
}
