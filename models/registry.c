// registry.c: every layer type, one line each in HL_LAYER_TYPES (a new type:
// its file plus one line here). Tests walk this list.
#include <stdio.h>
#include <string.h>
#include "models/layer.h"

#define HL_LAYER_TYPES(X) \
    X(hl_layer_attention)   /* 'A' attention.c */ \
    X(hl_layer_mamba)       /* 'S' mamba.c */ \
    X(hl_layer_hybrid)      /* 'H' hybrid.c */ \
    X(hl_layer_ffn_swiglu)  /* "swiglu" ffn_swiglu.c */

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
    return t == HL_FFN_SWIGLU ? &hl_layer_ffn_swiglu : NULL;
}

int hl_ffn_supported(hl_ffn_type t) { return t == HL_FFN_NONE || t == HL_FFN_SWIGLU; }

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
