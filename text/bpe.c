// bpe.c: GPT-2 byte-level BPE ("gpt2", text/tokenizer.h), read from a data
// directory's tokenizers/gpt2/encoder.json + vocab.bpe.
//
// Encoding is three steps, each equal to Hugging Face tokenizers' GPT-2
// (ByteLevel pre-tokenizer, add_prefix_space=false, use_regex=true; BPE model):
//   1. pre-tokenisation: the regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      implemented by hand over code points (next_piece below); classes from
//      text/unicode_tables.c; an invalid UTF-8 byte is one "other" code point;
//   2. each piece's bytes start as the single-byte tokens (the byte-to-unicode
//      map of encoder.json's keys, inverted at load time so ids map to raw
//      bytes directly);
//   3. merges: HF's Word::merge_all: a min-heap of (rank, position) over
//      adjacent pairs; pop the lowest rank (leftmost on ties), skip stale
//      entries, merge, push the two new neighbour pairs.
// A cache (per encode call, so the tokenizer stays read-only and shareable)
// maps piece bytes -> ids; scratch arrays are reused across pieces.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "text/datadir.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"

#define GPT2_EOS 50256
#define BPE_ALPHABET 324        // code points of the byte-to-unicode map are < 324

typedef struct { uint64_t key; int32_t rank, id; } pair_slot;   // key 0: empty

typedef struct {
    hl_tokenizer base;
    int32_t byte_id[256];        // id of the one-byte token of each byte
    char *tok_bytes;             // [sum of token lengths] raw bytes of every token
    size_t *tok_off;             // [vocab] offset of id's bytes in tok_bytes
    uint32_t *tok_len;           // [vocab] length of id's bytes
    pair_slot *pairs;            // [pair_mask + 1] (left id, right id) -> (rank, merged id)
    size_t pair_mask;
} gpt2_tok;

// ---------------------------------------------------------------- byte map
// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
// other 68 bytes to 256, 257, ... in byte order. u2b is the inverse (-1: none).
static void byte_map(uint32_t b2u[256], int u2b[BPE_ALPHABET]) {
    for (int i = 0; i < BPE_ALPHABET; i++) u2b[i] = -1;
    uint32_t extra = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        b2u[b] = printable ? (uint32_t)b : extra++;
        u2b[b2u[b]] = b;
    }
}

// ---------------------------------------------------------------- hashing
static uint64_t fnv1a(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ull; }
    return h;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)b; }

static const pair_slot *pair_find(const gpt2_tok *g, int32_t a, int32_t b) {
    uint64_t key = pair_key(a, b);
    for (size_t i = mix64(key) & g->pair_mask;; i = (i + 1) & g->pair_mask) {
        if (g->pairs[i].key == key) return &g->pairs[i];
        if (!g->pairs[i].key) return NULL;
    }
}

// A string -> id table used while loading (token bytes -> id).
typedef struct { const char *s; uint32_t n; int32_t id; } str_slot;
typedef struct { str_slot *v; size_t mask; } str_map;

static str_slot *str_lookup(const str_map *m, const char *s, size_t n) {
    for (size_t i = fnv1a(s, n) & m->mask;; i = (i + 1) & m->mask) {
        str_slot *e = &m->v[i];
        if (!e->s || (e->n == n && !memcmp(e->s, s, n))) return e;
    }
}

// ---------------------------------------------------------------- files
// The 1-based line of buf[pos]; positions asked for only grow (the parser
// moves forward), so the count resumes from the last call (cursor *lc).
typedef struct { size_t pos; int line; } line_cursor;
static int line_at(line_cursor *lc, const char *buf, size_t pos) {
    if (pos < lc->pos) *lc = (line_cursor){0, 1};
    for (; lc->pos < pos; lc->pos++) lc->line += buf[lc->pos] == '\n';
    return lc->line;
}

// Appends code point cp as UTF-8 to d (room for 4 bytes); returns bytes written.
static int put_utf8(char *d, uint32_t cp) {
    if (cp < 0x80) { d[0] = (char)cp; return 1; }
    if (cp < 0x800) { d[0] = (char)(0xC0 | cp >> 6); d[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12); d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18); d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); d[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

// Maps a byte-level symbol (UTF-8 of byte-to-unicode code points) in place
// to its raw bytes; returns the raw length, or -1 if a code point is not in
// the byte-level alphabet.
static long unmap_symbol(char *s, size_t n, const int u2b[BPE_ALPHABET]) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        i += (size_t)hl_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (cp >= BPE_ALPHABET || u2b[cp] < 0) return -1;
        s[o++] = (char)u2b[cp];
    }
    return (long)o;
}

typedef struct { size_t off; uint32_t len; int32_t id; int line; } enc_entry;

// Parses encoder.json (an object of string -> integer id) into g's token
// table and the bytes -> id map *m. Every key is a byte-level symbol.
static int parse_encoder(gpt2_tok *g, const char *path, char *buf, size_t len, const int u2b[BPE_ALPHABET],
                         str_map *m, char *err, size_t errlen) {
    enc_entry *ents = NULL;
    size_t nent = 0, capent = 0, p = 0;
    char *keys = malloc(len + 1);   // decoded keys (never longer than their JSON form)
    size_t kn = 0;
    int rc = HL_OK;
    line_cursor lc = {0, 1};
#define WS() while (p < len && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\n' || buf[p] == '\r')) p++
#define BAD(...) do { rc = hl_fail(err, errlen, HL_EBADINPUT, __VA_ARGS__); goto done; } while (0)
    if (!keys) BAD("%s: out of memory", path);
    WS();
    if (p >= len || buf[p] != '{')
        BAD("%s: line %d: not BPE: encoder.json must be a JSON object of token -> id", path, line_at(&lc, buf, p));
    p++;
    WS();
    if (p < len && buf[p] == '}') BAD("%s: line %d: not BPE: the encoder is empty", path, line_at(&lc, buf, p));
    for (;;) {
        WS();
        if (p >= len || buf[p] != '"')
            BAD("%s: line %d: not BPE: expected a quoted token at byte %zu", path, line_at(&lc, buf, p), p);
        size_t kstart = kn, kline = (size_t)line_at(&lc, buf, p);
        p++;
        for (;;) {
            if (p >= len) BAD("%s: line %zu: not BPE: unterminated string", path, kline);
            unsigned char c = (unsigned char)buf[p];
            if (c == '"') { p++; break; }
            if (c < 0x20) BAD("%s: line %d: not BPE: control character in a string", path, line_at(&lc, buf, p));
            if (c != '\\') { keys[kn++] = (char)c; p++; continue; }
            if (p + 1 >= len) BAD("%s: line %d: not BPE: unterminated escape", path, line_at(&lc, buf, p));
            char e = buf[p + 1];
            p += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) { keys[kn++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]; continue; }
            if (e != 'u') BAD("%s: line %d: not BPE: bad escape \\%c", path, line_at(&lc, buf, p), e);
            uint32_t cp = 0;
            for (int pass = 0; pass < 2; pass++) {
                uint32_t u = 0;
                for (int k = 0; k < 4; k++, p++) {
                    char h = p < len ? buf[p] : 0;
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) BAD("%s: line %d: not BPE: bad \\u escape", path, line_at(&lc, buf, p));
                    u = u * 16 + (uint32_t)d;
                }
                if (pass == 0 && u >= 0xD800 && u <= 0xDBFF && p + 1 < len && buf[p] == '\\' && buf[p + 1] == 'u') {
                    cp = u; p += 2; continue;
                }
                if (pass == 1) {
                    if (u < 0xDC00 || u > 0xDFFF) BAD("%s: line %d: not BPE: bad surrogate pair", path, line_at(&lc, buf, p));
                    u = 0x10000 + ((cp - 0xD800) << 10) + (u - 0xDC00);
                }
                cp = u;
                break;
            }
            kn += (size_t)put_utf8(keys + kn, cp);
        }
        WS();
        if (p >= len || buf[p] != ':') BAD("%s: line %d: not BPE: expected ':' after a token", path, line_at(&lc, buf, p));
        p++;
        WS();
        size_t vstart = p;
        long long v = 0;
        int neg = p < len && buf[p] == '-';
        if (neg) p++;
        while (p < len && buf[p] >= '0' && buf[p] <= '9' && v < 100000000) v = v * 10 + (buf[p++] - '0');
        if (p == vstart + (size_t)neg || (p < len && (buf[p] == '.' || buf[p] == 'e' || buf[p] == 'E' ||
                                                      (buf[p] >= '0' && buf[p] <= '9'))))
            BAD("%s: line %d: not BPE: the id of token \"%.*s\" is not an integer in [0, 1e8)", path,
                line_at(&lc, buf, vstart), (int)(kn - kstart), keys + kstart);
        if (neg) BAD("%s: line %d: not BPE: negative id %lld", path, line_at(&lc, buf, vstart), -v);
        long raw = unmap_symbol(keys + kstart, kn - kstart, u2b);
        if (raw <= 0)
            BAD("%s: line %zu: not BPE: token \"%.*s\" is empty or has a character outside the byte-level alphabet",
                path, kline, (int)(kn - kstart), keys + kstart);
        kn = kstart + (size_t)raw;
        if (nent == capent) {
            capent = capent ? capent * 2 : 65536;
            enc_entry *ne = realloc(ents, capent * sizeof *ne);
            if (!ne) BAD("%s: out of memory", path);
            ents = ne;
        }
        ents[nent++] = (enc_entry){kstart, (uint32_t)raw, (int32_t)v, (int)kline};
        WS();
        if (p < len && buf[p] == ',') { p++; continue; }
        if (p < len && buf[p] == '}') { p++; break; }
        BAD("%s: line %d: not BPE: expected ',' or '}'", path, line_at(&lc, buf, p));
    }
    WS();
    if (p != len) BAD("%s: line %d: not BPE: text after the encoder object", path, line_at(&lc, buf, p));
    // Ids must be exactly 0..nent-1; tokens distinct.
    g->base.vocab = (int)nent;
    g->tok_off = calloc(nent, sizeof *g->tok_off);
    g->tok_len = calloc(nent, sizeof *g->tok_len);
    uint8_t *seen = calloc(nent, 1);
    size_t cap = 1;
    while (cap < 2 * nent) cap *= 2;
    m->v = calloc(cap, sizeof *m->v);
    m->mask = cap - 1;
    g->tok_bytes = keys;
    keys = NULL;
    if (!g->tok_off || !g->tok_len || !seen || !m->v) { free(seen); BAD("%s: out of memory", path); }
    for (size_t i = 0; i < nent; i++) {
        enc_entry *e = &ents[i];
        if (e->id >= (int32_t)nent || seen[e->id]) {
            free(seen);
            BAD("%s: line %d: not BPE: id %d is %s (ids must be 0..%zu, each once)", path, e->line, (int)e->id,
                e->id >= (int32_t)nent ? "out of range" : "repeated", nent - 1);
        }
        seen[e->id] = 1;
        g->tok_off[e->id] = e->off;
        g->tok_len[e->id] = e->len;
        str_slot *s = str_lookup(m, g->tok_bytes + e->off, e->len);
        if (s->s) {
            free(seen);
            BAD("%s: line %d: not BPE: token of id %d repeats id %d", path, e->line, (int)e->id, (int)s->id);
        }
        *s = (str_slot){g->tok_bytes + e->off, e->len, e->id};
    }
    free(seen);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        str_slot *s = str_lookup(m, &c, 1);
        if (!s->s) BAD("%s: not BPE: no token for byte 0x%02x", path, b);
        g->byte_id[b] = s->id;
    }
done:
#undef WS
#undef BAD
    free(keys);
    free(ents);
    return rc;
}

// Parses vocab.bpe (an optional "#version" line, then one merge "A B" per
// line, rank = its index) into g's pair table.
static int parse_merges(gpt2_tok *g, const char *path, char *buf, size_t len, const int u2b[BPE_ALPHABET],
                        const str_map *m, char *err, size_t errlen) {
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += buf[i] == '\n';
    size_t cap = 1;
    while (cap < 2 * nlines) cap *= 2;
    g->pairs = calloc(cap, sizeof *g->pairs);
    g->pair_mask = cap - 1;
    if (!g->pairs) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    char *joined = malloc(len + 1);
    if (!joined) return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory", path);
    int rank = 0, line = 0, rc = HL_OK;
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && buf[e] != '\n') e++;
        size_t next = e + 1, n = e - p;
        line++;
        if (n && buf[p + n - 1] == '\r') n--;
        char *s = buf + p;
        p = next;
        if (line == 1 && n >= 8 && !memcmp(s, "#version", 8)) continue;
        char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: not BPE: a merge must be two symbols separated by one space, got \"%.*s\"",
                         path, line, (int)(n > 60 ? 60 : n), s);
            break;
        }
        size_t na = (size_t)(sp - s), nb = n - na - 1;
        char *a = s, *b = sp + 1;
        long ra = unmap_symbol(a, na, u2b), rb = unmap_symbol(b, nb, u2b);
        const str_slot *sa = ra > 0 ? str_lookup(m, a, (size_t)ra) : NULL;
        const str_slot *sb = rb > 0 ? str_lookup(m, b, (size_t)rb) : NULL;
        if (!sa || !sa->s || !sb || !sb->s) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: not BPE: merge symbol \"%.*s\" is not in the encoder",
                         path, line, (int)(!sa || !sa->s ? na : nb), !sa || !sa->s ? a : b);
            break;
        }
        memcpy(joined, a, (size_t)ra);
        memcpy(joined + ra, b, (size_t)rb);
        const str_slot *sj = str_lookup(m, joined, (size_t)(ra + rb));
        if (!sj->s) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: not BPE: the result of merge %d is not in the encoder",
                         path, line, rank);
            break;
        }
        uint64_t key = pair_key(sa->id, sb->id);
        size_t i = mix64(key) & g->pair_mask;
        while (g->pairs[i].key && g->pairs[i].key != key) i = (i + 1) & g->pair_mask;
        g->pairs[i] = (pair_slot){key, rank, sj->id};   // a repeated pair keeps its last rank (as HF does)
        rank++;
    }
    if (rc == HL_OK && rank == 0) rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: line %d: not BPE: no merges", path, line);
    free(joined);
    return rc;
}

// ---------------------------------------------------------------- encode
// Class of the code point at text[p] (its byte length in *n).
static const uint8_t *ascii_class(void) {
    static uint8_t t[128];
    static int ready;
    if (!ready) {   // benign race: every thread writes the same values
        for (int c = 0; c < 128; c++) t[c] = (uint8_t)hl_unicode_class((uint32_t)c);
        ready = 1;
    }
    return t;
}

static inline int class_at(const unsigned char *s, size_t len, size_t p, int *n, const uint8_t *ascii) {
    if (s[p] < 0x80) { *n = 1; return ascii[s[p]]; }
    uint32_t cp;
    *n = hl_utf8_next(s + p, len - p, &cp);
    return cp == HL_UC_BAD_BYTE ? HL_UC_OTHER : hl_unicode_class(cp);
}

// The end of the run of class cls starting at p.
static size_t run_end(const unsigned char *s, size_t len, size_t p, int cls, const uint8_t *ascii) {
    while (p < len) {
        int n;
        if (class_at(s, len, p, &n, ascii) != cls) break;
        p += (size_t)n;
    }
    return p;
}

// The end of the pre-tokenisation piece starting at p (< len): the first
// alternative of the GPT-2 regex that matches at p.
static size_t next_piece(const unsigned char *s, size_t len, size_t p, const uint8_t *ascii) {
    if (s[p] == '\'' && p + 1 < len) {
        unsigned char a = s[p + 1], b = p + 2 < len ? s[p + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return p + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return p + 3;
    }
    int n, cls = class_at(s, len, p, &n, ascii);
    if (s[p] == ' ' && p + 1 < len) {
        int n1, c1 = class_at(s, len, p + 1, &n1, ascii);
        if (c1 != HL_UC_SPACE) return run_end(s, len, p + 1 + (size_t)n1, c1, ascii);
    }
    if (cls != HL_UC_SPACE) return run_end(s, len, p + (size_t)n, cls, ascii);
    // \s+(?!\S) then \s+: a whitespace run followed by a non-space leaves its
    // last code point for the next piece (unless the run is that one code point).
    size_t last = p, q = p + (size_t)n;
    while (q < len) {
        int k;
        if (class_at(s, len, q, &k, ascii) != HL_UC_SPACE) break;
        last = q;
        q += (size_t)k;
    }
    return q == len || last == p ? q : last;
}

typedef struct { int32_t rank, pos, id; } heap_ent;

typedef struct {
    // scratch for one piece, [cap] each
    int32_t *sym, *prev, *next;
    heap_ent *heap;              // [3 * cap]
    size_t cap;
    // cache: piece bytes -> ids
    struct cache_slot { uint64_t h; size_t key_off, ids_off; uint32_t key_len, n_ids; } *slots;
    size_t mask, used;
    char *keys; size_t keys_n, keys_cap;
    int32_t *ids; size_t ids_n, ids_cap;
} bpe_work;

#define CACHE_MAX_PIECE 128   // longer pieces are not cached

static void work_free(bpe_work *w) {
    free(w->sym); free(w->prev); free(w->next); free(w->heap);
    free(w->slots); free(w->keys); free(w->ids);
}

static int work_reserve(bpe_work *w, size_t n) {
    if (n <= w->cap) return HL_OK;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *a = realloc(w->sym, cap * sizeof *a); if (!a) return HL_EFAIL; w->sym = a;
    a = realloc(w->prev, cap * sizeof *a); if (!a) return HL_EFAIL; w->prev = a;
    a = realloc(w->next, cap * sizeof *a); if (!a) return HL_EFAIL; w->next = a;
    heap_ent *h = realloc(w->heap, 3 * cap * sizeof *h); if (!h) return HL_EFAIL; w->heap = h;
    w->cap = cap;
    return HL_OK;
}

static inline int heap_less(heap_ent a, heap_ent b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!heap_less(e, h[up])) break;
        h[i] = h[up];
        i = up;
    }
    h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
    heap_ent top = h[0], e = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], e)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = e;
    return top;
}

static void push_pair(const gpt2_tok *g, bpe_work *w, size_t *nh, int32_t pos) {
    const pair_slot *ps = pair_find(g, w->sym[pos], w->sym[w->next[pos]]);
    if (ps) heap_push(w->heap, nh, (heap_ent){ps->rank, pos, ps->id});
}

// BPE of piece s[0..n): appends its ids to out.
static int bpe_piece(const gpt2_tok *g, bpe_work *w, const unsigned char *s, size_t n, hl_ids *out) {
    if (n == 1) return hl_ids_push(out, g->byte_id[s[0]]);
    if (work_reserve(w, n) != HL_OK) return HL_EFAIL;
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        w->sym[i] = g->byte_id[s[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) push_pair(g, w, &nh, (int32_t)i);
    while (nh) {
        heap_ent top = heap_pop(w->heap, &nh);
        int32_t pos = top.pos;
        if (w->sym[pos] < 0) continue;             // merged into its left neighbour
        int32_t nx = w->next[pos];
        if (nx < 0) continue;
        const pair_slot *ps = pair_find(g, w->sym[pos], w->sym[nx]);
        if (!ps || ps->id != top.id) continue;     // stale entry
        w->sym[pos] = top.id;
        w->sym[nx] = -1;
        w->next[pos] = w->next[nx];
        if (w->next[pos] >= 0) w->prev[w->next[pos]] = pos;
        if (w->prev[pos] >= 0) push_pair(g, w, &nh, w->prev[pos]);
        if (w->next[pos] >= 0) push_pair(g, w, &nh, pos);
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if (hl_ids_push(out, w->sym[i]) != HL_OK) return HL_EFAIL;
    return HL_OK;
}

static int cache_grow(bpe_work *w) {
    size_t cap = w->mask ? (w->mask + 1) * 2 : 4096;
    struct cache_slot *ns = calloc(cap, sizeof *ns);
    if (!ns) return HL_EFAIL;
    for (size_t i = 0; w->mask && i <= w->mask; i++) {
        if (!w->slots[i].key_len) continue;
        size_t j = w->slots[i].h & (cap - 1);
        while (ns[j].key_len) j = (j + 1) & (cap - 1);
        ns[j] = w->slots[i];
    }
    free(w->slots);
    w->slots = ns;
    w->mask = cap - 1;
    return HL_OK;
}

// ids of piece s[0..n) through the cache.
static int encode_piece(const gpt2_tok *g, bpe_work *w, const unsigned char *s, size_t n, hl_ids *out) {
    if (n == 1 || n > CACHE_MAX_PIECE) return bpe_piece(g, w, s, n, out);
    if ((w->used + 1) * 2 > (w->mask ? w->mask + 1 : 0) && cache_grow(w) != HL_OK) return HL_EFAIL;
    uint64_t h = fnv1a(s, n);
    size_t i = h & w->mask;
    for (; w->slots[i].key_len; i = (i + 1) & w->mask) {
        struct cache_slot *c = &w->slots[i];
        if (c->h == h && c->key_len == n && !memcmp(w->keys + c->key_off, s, n)) {
            for (uint32_t k = 0; k < c->n_ids; k++)
                if (hl_ids_push(out, w->ids[c->ids_off + k]) != HL_OK) return HL_EFAIL;
            return HL_OK;
        }
    }
    size_t before = out->n;
    if (bpe_piece(g, w, s, n, out) != HL_OK) return HL_EFAIL;
    size_t k = out->n - before;
    if (w->keys_n + n > w->keys_cap) {
        size_t cap = w->keys_cap ? w->keys_cap * 2 : 65536;
        while (cap < w->keys_n + n) cap *= 2;
        char *nk = realloc(w->keys, cap);
        if (!nk) return HL_EFAIL;
        w->keys = nk; w->keys_cap = cap;
    }
    if (w->ids_n + k > w->ids_cap) {
        size_t cap = w->ids_cap ? w->ids_cap * 2 : 16384;
        while (cap < w->ids_n + k) cap *= 2;
        int32_t *ni = realloc(w->ids, cap * sizeof *ni);
        if (!ni) return HL_EFAIL;
        w->ids = ni; w->ids_cap = cap;
    }
    memcpy(w->keys + w->keys_n, s, n);
    memcpy(w->ids + w->ids_n, out->v + before, k * sizeof *w->ids);
    w->slots[i] = (struct cache_slot){h, w->keys_n, w->ids_n, (uint32_t)n, (uint32_t)k};
    w->keys_n += n; w->ids_n += k; w->used++;
    return HL_OK;
}

static int gpt2_encode(const hl_tokenizer *t, const char *text, size_t len, hl_ids *out,
                       char *err, size_t errlen) {
    const gpt2_tok *g = (const gpt2_tok *)t;
    const unsigned char *s = (const unsigned char *)text;
    const uint8_t *ascii = ascii_class();
    bpe_work w = {0};
    int rc = HL_OK;
    for (size_t p = 0; p < len;) {
        size_t e = next_piece(s, len, p, ascii);
        if (encode_piece(g, &w, s + p, e - p, out) != HL_OK) {
            rc = hl_fail(err, errlen, HL_EFAIL, "gpt2 tokenizer: out of memory");
            break;
        }
        p = e;
    }
    work_free(&w);
    return rc;
}

// ---------------------------------------------------------------- open
static const char *gpt2_token(const hl_tokenizer *t, int32_t id, size_t *n) {
    const gpt2_tok *g = (const gpt2_tok *)t;
    *n = g->tok_len[id];
    return g->tok_bytes + g->tok_off[id];
}

static void gpt2_free(hl_tokenizer *t) {
    gpt2_tok *g = (gpt2_tok *)t;
    free(g->tok_bytes); free(g->tok_off); free(g->tok_len); free(g->pairs);
    free(g);
}

static const hl_tokenizer_ops gpt2_ops = { "gpt2", gpt2_free, gpt2_encode, gpt2_token };

int hl_gpt2_open(const char *data_dir, hl_tokenizer **out, char *err, size_t errlen) {
    *out = NULL;
    char enc_path[HL_DATA_PATH_LEN], bpe_path[HL_DATA_PATH_LEN];
    int rc = hl_data_path(data_dir, "tokenizers/gpt2/encoder.json", "the gpt2 tokenizer", enc_path, sizeof enc_path, err, errlen);
    if (rc == HL_OK) rc = hl_data_path(data_dir, "tokenizers/gpt2/vocab.bpe", "the gpt2 tokenizer", bpe_path, sizeof bpe_path, err, errlen);
    if (rc != HL_OK) return rc;
    char *eb = NULL, *bb = NULL, *both = NULL;
    size_t en = 0, bn = 0;
    str_map m = {0};
    gpt2_tok *g = calloc(1, sizeof *g);
    if (!g) return hl_fail(err, errlen, HL_EFAIL, "gpt2 tokenizer: out of memory");
    g->base.ops = &gpt2_ops;
    g->base.eos = -1;
    rc = hl_read_file(enc_path, &eb, &en, err, errlen);
    if (rc == HL_OK) rc = hl_read_file(bpe_path, &bb, &bn, err, errlen);
    if (rc == HL_OK) {   // the hash is of the files as read, before parsing rewrites bb in place
        both = malloc(en + bn + 1);
        if (!both) rc = hl_fail(err, errlen, HL_EFAIL, "gpt2 tokenizer: out of memory");
        else {
            memcpy(both, eb, en);
            memcpy(both + en, bb, bn);
            hl_sha256_hex(both, en + bn, g->base.hash);
        }
    }
    uint32_t b2u[256];
    int u2b[BPE_ALPHABET];
    byte_map(b2u, u2b);
    if (rc == HL_OK) rc = parse_encoder(g, enc_path, eb, en, u2b, &m, err, errlen);
    if (rc == HL_OK) rc = parse_merges(g, bpe_path, bb, bn, u2b, &m, err, errlen);
    if (rc == HL_OK) {
        size_t n;
        const char *eos = g->base.vocab > GPT2_EOS ? gpt2_token(&g->base, GPT2_EOS, &n) : NULL;
        if (eos && n == 13 && !memcmp(eos, "<|endoftext|>", 13)) g->base.eos = GPT2_EOS;
    }
    free(eb); free(bb); free(both); free(m.v);
    if (rc != HL_OK) { gpt2_free(&g->base); return rc; }
    *out = &g->base;
    return HL_OK;
}
