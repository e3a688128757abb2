// tokenizer_internal.h: what a tokenizer implementation provides
// (text/tokenizer.c dispatches through it; one file per tokenizer).
#ifndef HYLAB_TOKENIZER_INTERNAL_H
#define HYLAB_TOKENIZER_INTERNAL_H

#include "text/tokenizer.h"

typedef struct {
    const char *name;
    void (*free)(hl_tokenizer *t);
    int (*encode)(const hl_tokenizer *t, const char *text, size_t len, hl_ids *out,
                  char *err, size_t errlen);
    // bytes of id (caller checked 0 <= id < vocab)
    const char *(*token_bytes)(const hl_tokenizer *t, int32_t id, size_t *n);
} hl_tokenizer_ops;

// Every tokenizer starts with this header (its own struct embeds it first).
struct hl_tokenizer {
    const hl_tokenizer_ops *ops;
    int vocab;
    int32_t eos;
    char hash[65];
};

// text/bpe.c: the GPT-2 byte-level BPE ("gpt2").
int hl_gpt2_open(const char *data_dir, hl_tokenizer **out, char *err, size_t errlen);

#endif
