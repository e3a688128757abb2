// test_tokenizer.c: text/tokenizer.h. The byte tokenizer; GPT-2 BPE ids equal
// to Hugging Face tokenizers' on every shared corpus and on hand-written and
// random texts (tests/tokenizer/gpt2_fixtures.txt, made by
// tests/tokenizer/make_fixtures.py; no Python at test time); decode(encode(x))
// == x on all of them and on random byte strings (invalid UTF-8 included);
// malformed and missing tokenizer files. Reads the data directory $HYLAB_DATA
// (the Makefile sets it); without it the gpt2 checks FAIL.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/sha256.h"
#include "core/status.h"
#include "text/datadir.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "tests/test.h"

#define FIXTURES "tests/tokenizer/gpt2_fixtures.txt"

static char tmp[] = "/tmp/hl_tok_XXXXXX";

// decode(encode(text)) == text, and every id in range.
static int round_trips(const hl_tokenizer *t, const char *text, size_t len, const hl_ids *ids) {
    char *back = NULL, err[HL_ERR_LEN];
    size_t blen = 0;
    int ok = hl_tokenizer_decode(t, ids->v, ids->n, &back, &blen, err, sizeof err) == HL_OK && blen == len &&
             !memcmp(back, text, len);
    free(back);
    return ok;
}

// Where two id lists first differ ("" when equal), with the text around it.
static void first_diff(const hl_tokenizer *t, const int32_t *got, size_t ngot, const int32_t *want, size_t nwant,
                       char *out, size_t n) {
    size_t i = 0;
    while (i < ngot && i < nwant && got[i] == want[i]) i++;
    if (i == ngot && i == nwant) { out[0] = 0; return; }
    size_t k = 0;
    const char *b = i < ngot ? hl_tokenizer_token_bytes(t, got[i], &k) : "";
    snprintf(out, n, "first difference at id %zu: got %d ('%.*s'), want %d (of %zu / %zu ids)", i,
             i < ngot ? (int)got[i] : -1, (int)k, b ? b : "", i < nwant ? (int)want[i] : -1, ngot, nwant);
}

static void test_byte(void) {
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *t;
    int rc = hl_tokenizer_open("byte", NULL, &t, err, sizeof err);
    if (!hl_check(rc == HL_OK, "byte_open", "%s", err)) return;
    char want[65];
    hl_sha256_hex("byte", 4, want);
    hl_check(hl_tokenizer_vocab(t) == 256 && hl_tokenizer_eos(t) == -1 && !strcmp(hl_tokenizer_hash(t), want) &&
             !strcmp(hl_tokenizer_name(t), "byte"), "byte_header", "vocab %d eos %d", hl_tokenizer_vocab(t),
             (int)hl_tokenizer_eos(t));
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)(255 - i);
    hl_ids ids = {0};
    rc = hl_tokenizer_encode(t, all, 256, &ids, err, sizeof err);
    int ok = rc == HL_OK && ids.n == 256;
    for (size_t i = 0; ok && i < 256; i++) ok = ids.v[i] == 255 - (int)i;
    hl_check(ok && round_trips(t, all, 256, &ids), "byte_ids_round_trip", "rc %d n %zu", rc, ids.n);
    int32_t badid[2] = {3, 256};
    char *text = NULL;
    size_t len = 0;
    rc = hl_tokenizer_decode(t, badid, 2, &text, &len, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "id 256 at 1 is outside [0, 256)"), "byte_decode_bad_id", "rc %d '%s'",
             rc, err);
    free(text);
    hl_ids_free(&ids);
    hl_tokenizer_free(t);
    rc = hl_tokenizer_open("bpe9", NULL, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "unknown tokenizer 'bpe9' (known: byte or gpt2)") && !t,
             "unknown_tokenizer", "rc %d '%s'", rc, err);
    hl_check(hl_tokenizer_known("gpt2") && hl_tokenizer_known("byte") && !hl_tokenizer_known("gpt3"), "known", "");
}

static void test_unicode(void) {
    hl_check(hl_unicode_class('a') == HL_UC_LETTER && hl_unicode_class(0x4E2D) == HL_UC_LETTER &&
             hl_unicode_class('7') == HL_UC_NUMBER && hl_unicode_class(0x2167) == HL_UC_NUMBER &&
             hl_unicode_class(0x3000) == HL_UC_SPACE && hl_unicode_class(0x85) == HL_UC_SPACE &&
             hl_unicode_class(0x1C) == HL_UC_OTHER && hl_unicode_class(0x200B) == HL_UC_OTHER &&
             hl_unicode_class(0x1F600) == HL_UC_OTHER && hl_unicode_class(0x0301) == HL_UC_OTHER,
             "unicode_classes", "");
    uint32_t cp;
    const unsigned char over[] = {0xC0, 0xAF}, sur[] = {0xED, 0xA0, 0x80}, big[] = {0xF4, 0x90, 0x80, 0x80},
                        cut[] = {0xE2, 0x82}, euro[] = {0xE2, 0x82, 0xAC};
    int ok = hl_utf8_next(over, 2, &cp) == 1 && cp == HL_UC_BAD_BYTE;
    ok = ok && hl_utf8_next(sur, 3, &cp) == 1 && cp == HL_UC_BAD_BYTE;
    ok = ok && hl_utf8_next(big, 4, &cp) == 1 && cp == HL_UC_BAD_BYTE;
    ok = ok && hl_utf8_next(cut, 2, &cp) == 1 && cp == HL_UC_BAD_BYTE;
    ok = ok && hl_utf8_next(euro, 3, &cp) == 3 && cp == 0x20AC;
    hl_check(ok, "utf8_strict", "");
}

static unsigned char *unhex(const char *h, size_t *n) {
    size_t len = strcmp(h, "-") ? strlen(h) / 2 : 0;
    unsigned char *b = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *n = len;
    return b;
}

// Every case of the fixture file: ids equal, round trip.
static void test_fixtures(const hl_tokenizer *t, const char *data) {
    FILE *f = fopen(FIXTURES, "r");
    if (!hl_check(f != NULL, "fixtures_open", "cannot open %s (run from the repository root)", FIXTURES)) return;
    size_t cap = 1 << 20;
    char *line = malloc(cap), err[HL_ERR_LEN];
    int n_files = 0, n_texts = 0, bad_texts = 0, bad_rt = 0;
    char first_bad[600] = "";
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[0] == '#') continue;
        char *save, *kind = strtok_r(line, " \n", &save);
        if (!kind) continue;
        if (!strcmp(kind, "file")) {
            const char *rel = strtok_r(NULL, " \n", &save);
            size_t count = strtoull(strtok_r(NULL, " \n", &save), NULL, 10);
            const char *sha = strtok_r(NULL, " \n", &save);
            size_t k = strtoull(strtok_r(NULL, " \n", &save), NULL, 10);
            int32_t *head = malloc(k * sizeof *head);
            for (size_t i = 0; i < k; i++) head[i] = (int32_t)strtol(strtok_r(NULL, " \n", &save), NULL, 10);
            char path[HL_DATA_PATH_LEN], name[200], *text = NULL;
            size_t len = 0;
            snprintf(name, sizeof name, "read %s", rel);
            if (!hl_check(hl_data_path(data, rel, "test_tokenizer", path, sizeof path, err, sizeof err) == HL_OK &&
                          hl_read_file(path, &text, &len, err, sizeof err) == HL_OK, name, "%s", err)) {
                free(head);
                continue;
            }
            snprintf(name, sizeof name, "gpt2_equals_hf %s", rel);
            hl_ids ids = {0};
            int rc = hl_tokenizer_encode(t, text, len, &ids, err, sizeof err);
            char hex[65], diff[400];
            hl_sha256_hex(ids.v, ids.n * sizeof *ids.v, hex);   // little-endian host (x86, arm)
            first_diff(t, ids.v, ids.n < k ? ids.n : k, head, k, diff, sizeof diff);
            hl_check(rc == HL_OK && ids.n == count && !strcmp(hex, sha) && !diff[0], name,
                     "%zu ids (want %zu), sha %s (want %s); %s", ids.n, count, hex, sha,
                     diff[0] ? diff : "first 2000 equal; the difference is later");
            snprintf(name, sizeof name, "gpt2_round_trip %s", rel);
            hl_check(round_trips(t, text, len, &ids), name, "decode(encode(text)) != text");
            n_files++;
            hl_ids_free(&ids);
            free(head);
            free(text);
        } else if (!strcmp(kind, "text")) {
            size_t len;
            unsigned char *text = unhex(strtok_r(NULL, " \n", &save), &len);
            size_t k = strtoull(strtok_r(NULL, " \n", &save), NULL, 10);
            int32_t *want = malloc((k + 1) * sizeof *want);
            for (size_t i = 0; i < k; i++) want[i] = (int32_t)strtol(strtok_r(NULL, " \n", &save), NULL, 10);
            hl_ids ids = {0};
            int rc = hl_tokenizer_encode(t, (const char *)text, len, &ids, err, sizeof err);
            char diff[400];
            first_diff(t, ids.v, ids.n, want, k, diff, sizeof diff);
            if (rc != HL_OK || diff[0]) {
                if (!bad_texts++) snprintf(first_bad, sizeof first_bad, "text '%.60s': %s", text, diff);
            }
            if (!round_trips(t, (const char *)text, len, &ids)) bad_rt++;
            n_texts++;
            hl_ids_free(&ids);
            free(want);
            free(text);
        }
    }
    fclose(f);
    free(line);
    hl_check(n_files >= 4 && n_texts >= 30, "fixtures_count", "%d files, %d texts", n_files, n_texts);
    hl_check(bad_texts == 0, "gpt2_equals_hf texts", "%d of %d texts differ; first: %s", bad_texts, n_texts, first_bad);
    hl_check(bad_rt == 0, "gpt2_round_trip texts", "%d of %d texts do not round-trip", bad_rt, n_texts);
}

// Random byte strings (seeded), biased towards UTF-8 lead/continuation bytes,
// spaces and apostrophes, round-trip.
static void test_random_bytes(const hl_tokenizer *t, const char *what) {
    hl_rng r = hl_rng_for(9, "tokenizer");
    static const unsigned char pick[] = {' ', ' ', '\n', '\t', '\'', 's', 'a', '1', 0xC3, 0xA9, 0xE2, 0x80,
                                         0x99, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0, 0xC0, 0xFF, 0x85, 0xE3};
    int bad = 0;
    char err[HL_ERR_LEN];
    for (int k = 0; k < 400; k++) {
        size_t len = hl_rng_u64(&r) % 300;
        unsigned char buf[300];
        for (size_t i = 0; i < len; i++) {
            uint64_t v = hl_rng_u64(&r);
            buf[i] = v % 3 ? pick[(v >> 8) % sizeof pick] : (unsigned char)(v >> 16);
        }
        hl_ids ids = {0};
        if (hl_tokenizer_encode(t, (const char *)buf, len, &ids, err, sizeof err) != HL_OK ||
            !round_trips(t, (const char *)buf, len, &ids))
            bad++;
        hl_ids_free(&ids);
    }
    char name[64];
    snprintf(name, sizeof name, "%s_round_trip_random_bytes", what);
    hl_check(bad == 0, name, "%d of 400 random byte strings do not round-trip", bad);
}

static void test_gpt2_basics(const hl_tokenizer *t, const char *data) {
    char enc[HL_DATA_PATH_LEN], bpe[HL_DATA_PATH_LEN], err[HL_ERR_LEN];
    char *a = NULL, *b = NULL, want[65];
    size_t na = 0, nb = 0;
    if (hl_data_path(data, "tokenizers/gpt2/encoder.json", NULL, enc, sizeof enc, err, sizeof err) == HL_OK &&
        hl_data_path(data, "tokenizers/gpt2/vocab.bpe", NULL, bpe, sizeof bpe, err, sizeof err) == HL_OK &&
        hl_read_file(enc, &a, &na, err, sizeof err) == HL_OK && hl_read_file(bpe, &b, &nb, err, sizeof err) == HL_OK) {
        a = realloc(a, na + nb);
        memcpy(a + na, b, nb);
        hl_sha256_hex(a, na + nb, want);
    } else snprintf(want, sizeof want, "(unreadable)");
    free(a); free(b);
    // sha256 of OpenAI's encoder.json then vocab.bpe (the manifest's files)
    hl_check(!strcmp(hl_tokenizer_hash(t), want) &&
             !strcmp(want, "00f404d36600411e497efb3df08d3b4e094f0820e2595afcb7cbd0c4353d4fcb"), "gpt2_hash", "%s vs %s",
             hl_tokenizer_hash(t), want);
    hl_check(hl_tokenizer_vocab(t) == 50257 && hl_tokenizer_eos(t) == 50256 && !strcmp(hl_tokenizer_name(t), "gpt2"),
             "gpt2_header", "vocab %d eos %d", hl_tokenizer_vocab(t), (int)hl_tokenizer_eos(t));
    size_t k;
    const char *eos = hl_tokenizer_token_bytes(t, 50256, &k);
    const char *sp = hl_tokenizer_token_bytes(t, 220, &k);   // "Ġ" -> " "
    hl_check(eos && sp && k == 1 && sp[0] == ' ' && !hl_tokenizer_token_bytes(t, 50257, &k) &&
             !hl_tokenizer_token_bytes(t, -1, &k), "gpt2_token_bytes", "");
    int32_t ids[3] = {15496, 70000, 995};
    char *text = NULL;
    size_t len = 0;
    int rc = hl_tokenizer_decode(t, ids, 3, &text, &len, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "id 70000 at 1 is outside [0, 50257)"), "gpt2_decode_bad_id",
             "rc %d '%s'", rc, err);
    rc = hl_tokenizer_decode(t, ids, 1, &text, &len, err, sizeof err);
    int ok = rc == HL_OK && len == 5 && !memcmp(text, "Hello", 5);
    rc = hl_tokenizer_decode(t, ids + 2, 1, &text, &len, err, sizeof err);   // appends to the earlier result
    hl_check(ok && rc == HL_OK && len == 11 && !strcmp(text, "Hello world"), "gpt2_decode_appends", "'%s'", text);
    free(text);
    hl_ids e = {0};
    rc = hl_tokenizer_encode(t, "<|endoftext|>", 13, &e, err, sizeof err);
    ok = rc == HL_OK && e.n > 1;
    for (size_t i = 0; ok && i < e.n; i++) ok = e.v[i] != 50256;
    hl_check(ok, "gpt2_eos_text_is_text", "n %zu", e.n);
    hl_ids_free(&e);
}

static void write_file(const char *rel, const char *text, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(text, 1, len, f); fclose(f); }
}

// A data dir holding this encoder.json / vocab.bpe must be refused with want.
static void bad_files(const char *name, const char *enc, size_t nenc, const char *bpe, size_t nbpe, const char *want) {
    write_file("tokenizers/gpt2/encoder.json", enc, nenc);
    write_file("tokenizers/gpt2/vocab.bpe", bpe, nbpe);
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *t = NULL;
    int rc = hl_tokenizer_open("gpt2", tmp, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, want), name, "rc %d, '%s' (want '%s')", rc, err, want);
    hl_tokenizer_free(t);
}

static void test_bad_files(const char *data) {
    char err[HL_ERR_LEN] = "", path[600];
    hl_tokenizer *t = NULL;
    int rc = hl_tokenizer_open("gpt2", tmp, &t, err, sizeof err);
    char want[700];
    snprintf(want, sizeof want, "%s/tokenizers/gpt2/encoder.json: missing (needed by the gpt2 tokenizer; run `hylab data fetch --data-dir %s tokenizers/gpt2/encoder.json`", tmp, tmp);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, want), "gpt2_missing_files", "rc %d '%s'", rc, err);
    snprintf(path, sizeof path, "%s/tokenizers", tmp);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tokenizers/gpt2", tmp);
    mkdir(path, 0755);
    char real[HL_DATA_PATH_LEN], *enc = NULL, *bpe = NULL;
    size_t nenc = 0, nbpe = 0;
    if (!hl_check(hl_data_path(data, "tokenizers/gpt2/encoder.json", NULL, real, sizeof real, err, sizeof err) == HL_OK &&
                  hl_read_file(real, &enc, &nenc, err, sizeof err) == HL_OK &&
                  hl_data_path(data, "tokenizers/gpt2/vocab.bpe", NULL, real, sizeof real, err, sizeof err) == HL_OK &&
                  hl_read_file(real, &bpe, &nbpe, err, sizeof err) == HL_OK, "read_real_files", "%s", err))
        return;
    write_file("tokenizers/gpt2/encoder.json", enc, nenc);
    rc = hl_tokenizer_open("gpt2", tmp, &t, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !t && strstr(err, "vocab.bpe: missing"), "gpt2_missing_vocab", "rc %d '%s'", rc, err);
    // the real files copied: opens, same hash
    write_file("tokenizers/gpt2/vocab.bpe", bpe, nbpe);
    rc = hl_tokenizer_open("gpt2", tmp, &t, err, sizeof err);
    hl_check(rc == HL_OK && !strcmp(hl_tokenizer_hash(t), "00f404d36600411e497efb3df08d3b4e094f0820e2595afcb7cbd0c4353d4fcb"),
             "gpt2_copy_opens", "rc %d '%s'", rc, err);
    hl_tokenizer_free(t);
    const char *v3 = "#version: 0.2\n\xc4\xa0 t\n\xc4\xa0 t h\n";
    bad_files("bad_merge_three_symbols", enc, nenc, v3, strlen(v3), "vocab.bpe: line 3: not BPE: a merge must be two symbols");
    const char *v1 = "#version: 0.2\n\xc4\xa0 t\nt\n";
    bad_files("bad_merge_one_symbol", enc, nenc, v1, strlen(v1), "vocab.bpe: line 3: not BPE");
    const char *vs = "#version: 0.2\n\xc4\xa0 t\nzzq qzz\n";
    bad_files("bad_merge_unknown_symbol", enc, nenc, vs, strlen(vs), "vocab.bpe: line 3: not BPE: merge symbol \"zzq\" is not in the encoder");
    const char *vr = "#version: 0.2\n\xc4\xa0 t\nq \xc4\xa0\n";
    bad_files("bad_merge_result", enc, nenc, vr, strlen(vr), "vocab.bpe: line 3: not BPE: the result of merge 1 is not in the encoder");
    const char *ve = "#version: 0.2\n";
    bad_files("bad_no_merges", enc, nenc, ve, strlen(ve), "vocab.bpe: line 1: not BPE: no merges");
    const char *e1 = "[1, 2]";
    bad_files("bad_encoder_array", e1, strlen(e1), bpe, nbpe, "encoder.json: line 1: not BPE: encoder.json must be a JSON object");
    const char *e2 = "{\n\"a\": 0,\n\"b\": \"x\"\n}";
    bad_files("bad_encoder_string_id", e2, strlen(e2), bpe, nbpe, "encoder.json: line 3: not BPE: the id of token \"b\" is not an integer");
    const char *e3 = "{\n\"a\": 0,\n\"b\": 1.5}";
    bad_files("bad_encoder_float_id", e3, strlen(e3), bpe, nbpe, "encoder.json: line 3: not BPE");
    const char *e4 = "{\"a\": 0, \"b\": 7}";
    bad_files("bad_encoder_id_range", e4, strlen(e4), bpe, nbpe, "encoder.json: line 1: not BPE: id 7 is out of range");
    const char *e5 = "{\"a\": 0, \"b\": 1";
    bad_files("bad_encoder_truncated", e5, strlen(e5), bpe, nbpe, "encoder.json: line 1: not BPE: expected ',' or '}'");
    const char *e6 = "{\"a\": 0, \"b\": 1}";   // well-formed, but no token for most bytes
    bad_files("bad_encoder_no_bytes", e6, strlen(e6), bpe, nbpe, "encoder.json: not BPE: no token for byte 0x00");
    const char *e7 = "{\"a b\": 0}";   // a space is not in the byte-level alphabet (it is Ġ)
    bad_files("bad_encoder_alphabet", e7, strlen(e7), bpe, nbpe, "encoder.json: line 1: not BPE: token \"a b\"");
    bad_files("bad_encoder_empty_file", "", 0, bpe, nbpe, "encoder.json: line 1: not BPE");
    free(enc);
    free(bpe);
}

int main(void) {
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_byte();
    test_unicode();
    const char *data = getenv("HYLAB_DATA");
    char err[HL_ERR_LEN] = "";
    hl_tokenizer *t = NULL;
    if (hl_check(data && *data, "HYLAB_DATA", "HYLAB_DATA is not set (the Makefile sets it to ../shared/data)") &&
        hl_check(hl_tokenizer_open("gpt2", data, &t, err, sizeof err) == HL_OK, "gpt2_open", "%s", err)) {
        test_gpt2_basics(t, data);
        test_fixtures(t, data);
        test_random_bytes(t, "gpt2");
        test_bad_files(data);
    }
    hl_tokenizer_free(t);
    hl_tokenizer *b = NULL;
    if (hl_tokenizer_open("byte", NULL, &b, err, sizeof err) == HL_OK) test_random_bytes(b, "byte");
    hl_tokenizer_free(b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) {}
    return hl_test_done();
}
