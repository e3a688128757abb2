// tokenizer.c: the tokenizer registry (names -> implementations), the byte
// tokenizer, and what every tokenizer shares (ids arrays, decode).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "text/tokenizer_internal.h"

int hl_ids_push(hl_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return HL_EFAIL;
        a->v = v; a->cap = cap;
    }
    a->v[a->n++] = id;
    return HL_OK;
}

void hl_ids_free(hl_ids *a) {
    free(a->v);
    a->v = NULL; a->n = a->cap = 0;
}

// ---------------------------------------------------------------- byte
typedef struct {
    hl_tokenizer base;
    char bytes[256];
} byte_tok;

static void byte_free(hl_tokenizer *t) { free(t); }

static int byte_encode(const hl_tokenizer *t, const char *text, size_t len, hl_ids *out,
                       char *err, size_t errlen) {
    (void)t;
    for (size_t i = 0; i < len; i++)
        if (hl_ids_push(out, (unsigned char)text[i]) != HL_OK)
            return hl_fail(err, errlen, HL_EFAIL, "byte tokenizer: out of memory");
    return HL_OK;
}

static const char *byte_token(const hl_tokenizer *t, int32_t id, size_t *n) {
    *n = 1;
    return &((const byte_tok *)t)->bytes[id];
}

static const hl_tokenizer_ops byte_ops = { "byte", byte_free, byte_encode, byte_token };

static int byte_open(const char *data_dir, hl_tokenizer **out, char *err, size_t errlen) {
    (void)data_dir;
    byte_tok *b = calloc(1, sizeof *b);
    if (!b) return hl_fail(err, errlen, HL_EFAIL, "byte tokenizer: out of memory");
    b->base.ops = &byte_ops;
    b->base.vocab = 256;
    b->base.eos = -1;
    hl_sha256_hex("byte", 4, b->base.hash);
    for (int i = 0; i < 256; i++) b->bytes[i] = (char)i;
    *out = &b->base;
    return HL_OK;
}

// ---------------------------------------------------------------- registry
static const struct {
    const char *name;
    int (*open)(const char *data_dir, hl_tokenizer **out, char *err, size_t errlen);
} tokenizers[] = {
    {"byte", byte_open},
    {"gpt2", hl_gpt2_open},
};
#define N_TOKENIZERS ((int)(sizeof tokenizers / sizeof tokenizers[0]))

void hl_tokenizer_names(char *out, size_t n) {
    if (n) out[0] = 0;
    for (int i = 0; i < N_TOKENIZERS; i++) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", i == 0 ? "" : i == N_TOKENIZERS - 1 ? " or " : ", ",
                 tokenizers[i].name);
    }
}

int hl_tokenizer_known(const char *name) {
    for (int i = 0; name && i < N_TOKENIZERS; i++)
        if (!strcmp(tokenizers[i].name, name)) return 1;
    return 0;
}

int hl_tokenizer_open(const char *name, const char *data_dir, hl_tokenizer **out,
                      char *err, size_t errlen) {
    *out = NULL;
    for (int i = 0; name && i < N_TOKENIZERS; i++)
        if (!strcmp(tokenizers[i].name, name)) return tokenizers[i].open(data_dir, out, err, errlen);
    char known[128];
    hl_tokenizer_names(known, sizeof known);
    return hl_fail(err, errlen, HL_EBADINPUT, "unknown tokenizer '%s' (known: %s)", name ? name : "", known);
}

void hl_tokenizer_free(hl_tokenizer *t) {
    if (t) t->ops->free(t);
}

const char *hl_tokenizer_name(const hl_tokenizer *t) { return t->ops->name; }
int hl_tokenizer_vocab(const hl_tokenizer *t) { return t->vocab; }
int32_t hl_tokenizer_eos(const hl_tokenizer *t) { return t->eos; }
const char *hl_tokenizer_hash(const hl_tokenizer *t) { return t->hash; }

int hl_tokenizer_encode(const hl_tokenizer *t, const char *text, size_t len, hl_ids *out,
                        char *err, size_t errlen) {
    return t->ops->encode(t, text, len, out, err, errlen);
}

const char *hl_tokenizer_token_bytes(const hl_tokenizer *t, int32_t id, size_t *n) {
    if (id < 0 || id >= t->vocab) { *n = 0; return NULL; }
    return t->ops->token_bytes(t, id, n);
}

int hl_tokenizer_decode(const hl_tokenizer *t, const int32_t *ids, size_t n,
                        char **text, size_t *len, char *err, size_t errlen) {
    size_t have = *text ? *len : 0, cap = have + 64;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab)
            return hl_fail(err, errlen, HL_EBADINPUT, "id %ld at %zu is outside [0, %d)", (long)ids[i], i, t->vocab);
        size_t k;
        t->ops->token_bytes(t, ids[i], &k);
        cap += k;
    }
    char *s = realloc(*text, cap + 1);
    if (!s) return hl_fail(err, errlen, HL_EFAIL, "decode: out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const char *b = t->ops->token_bytes(t, ids[i], &k);
        memcpy(s + have, b, k);
        have += k;
    }
    s[have] = 0;
    *text = s; *len = have;
    return HL_OK;
}
