// registry.c: every layer type, one line each. Tests walk this list.
#include <stddef.h>
#include "models/layer.h"

extern const hl_layer_type hl_layer_attention;   // 'A' attention.c
extern const hl_layer_type hl_layer_mamba;       // 'S' mamba.c
extern const hl_layer_type hl_layer_hybrid;      // 'H' hybrid.c
extern const hl_layer_type hl_layer_ffn_swiglu;  // "swiglu" ffn_swiglu.c

const hl_layer_type *const hl_layer_types[] = {
    &hl_layer_attention,
    &hl_layer_mamba,
    &hl_layer_hybrid,
    &hl_layer_ffn_swiglu,
    NULL,
};

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
