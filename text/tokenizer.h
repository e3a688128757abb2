// tokenizer.h: text <-> token ids. Two tokenizers, chosen by name:
//   "gpt2"  GPT-2 byte-level BPE (50,257 ids) read from a data directory's
//           tokenizers/gpt2/encoder.json + vocab.bpe (OpenAI's files): the
//           GPT-2 pre-tokenisation regex
//             's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//           over Unicode code points, each piece's UTF-8 bytes mapped through
//           the byte-to-unicode table, then merges applied lowest rank first.
//           ids equal Hugging Face `tokenizers`' GPT-2 (tests/test_tokenizer.c).
//           Letter/number/space classes: Unicode 14.0.0 (text/unicode.h).
//           eos = "<|endoftext|>" = 50256 (never produced by encode: the
//           text "<|endoftext|>" is encoded as ordinary characters).
//   "byte"  one id per UTF-8 byte (256 ids), no file; eos = none (-1).
// Contract: decode(encode(text)) == text for any byte string (gpt2: any
// valid UTF-8; invalid UTF-8 is encoded byte by byte through the byte map
// and still round-trips). encode never fails on valid input and is a pure
// function of (tokenizer, text). A tokenizer is read-only after open and may
// be shared by threads.
#ifndef HYLAB_TOKENIZER_H
#define HYLAB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

#define HL_TOKENIZER_NAME_LEN 32

typedef struct hl_tokenizer hl_tokenizer;

// A growable id array (hl_ids_free releases; zero-initialised is empty).
typedef struct { int32_t *v; size_t n, cap; } hl_ids;
int hl_ids_push(hl_ids *a, int32_t id);   // HL_OK or HL_EFAIL (out of memory)
void hl_ids_free(hl_ids *a);

// The known tokenizer names as "byte or gpt2" (messages), and whether name is one.
void hl_tokenizer_names(char *out, size_t n);
int hl_tokenizer_known(const char *name);

// Opens tokenizer `name`. data_dir: the data directory (text/datadir.h; only
// "gpt2" reads files). HL_EBADINPUT naming the file for a missing or
// malformed file (not BPE: "FILE: line N: ..."), or an unknown name.
int hl_tokenizer_open(const char *name, const char *data_dir, hl_tokenizer **out,
                      char *err, size_t errlen);
void hl_tokenizer_free(hl_tokenizer *t);   // NULL ok

const char *hl_tokenizer_name(const hl_tokenizer *t);
int hl_tokenizer_vocab(const hl_tokenizer *t);      // ids are in [0, vocab)
int32_t hl_tokenizer_eos(const hl_tokenizer *t);    // -1: none
// SHA-256 hex of what defines the ids (gpt2: of encoder.json then vocab.bpe;
// byte: of the name): keys caches of tokenised corpora.
const char *hl_tokenizer_hash(const hl_tokenizer *t);

// Appends the ids of text[0..len) to *out. HL_OK, or HL_EFAIL when memory
// runs out.
int hl_tokenizer_encode(const hl_tokenizer *t, const char *text, size_t len, hl_ids *out,
                        char *err, size_t errlen);
// The bytes of id (not NUL-terminated; *n bytes), NULL for an id outside
// [0, vocab). gpt2: the token's bytes after the unicode-to-byte map.
const char *hl_tokenizer_token_bytes(const hl_tokenizer *t, int32_t id, size_t *n);
// Appends the text of ids to a malloc'd NUL-terminated buffer *text
// (*text NULL or earlier result; *len its length, updated). HL_EBADINPUT
// for an id outside [0, vocab) ("id 70000 at 3 is outside [0, 50257)").
int hl_tokenizer_decode(const hl_tokenizer *t, const int32_t *ids, size_t n,
                        char **text, size_t *len, char *err, size_t errlen);

#endif
