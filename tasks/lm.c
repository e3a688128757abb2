// lm.c: language-model training on a text corpus (family "lm", version "lm/1").
//
//   train.task = {"name": "lm", "corpus": "corpus/tinyshakespeare.txt",
//                 "tokenizer": "gpt2", "seq_len": 512}
//
// The corpus (relative to the data directory, or absolute: text/datadir.h's
// hl_data_dir and hl_data_path) is tokenised whole into one stream of n ids (the tokenizer's encode of the
// file's bytes; no document separators). Split: the last
// floor(n * val_fraction) ids (val_fraction default 0.1) are the validation
// part, the first n_train = n - n_val the training part; both must hold at
// least seq_len + 1 ids.
//   Training example `index` (taken mod num_examples): a window of seq_len+1
//   ids of the training part starting at hash(seed, index) mod
//   (n_train - seq_len): inputs = window[0..L), targets = window[1..L]. A
//   pure function of (config, seed, index); windows never cross into the
//   validation part.
//   Evaluation example k: the k-th consecutive window of the validation part,
//   start n_train + k*L, inputs = ids[start..start+L), targets shifted by one
//   (stride L: every validation id after the first is predicted exactly once
//   over all (n_val - 1) / L windows). The evaluation walks min(num_examples,
//   that many) windows. Every position is scored.
// Metrics (from the harness's mean cross-entropy of each batch):
//   loss           mean nats per scored token (n = tokens)
//   perplexity     exp(loss)
//   bits_per_byte  total nats / ln 2 / total UTF-8 bytes of the scored target
//                  tokens (hl_tokenizer_token_bytes; n = bytes). With the
//                  byte tokenizer every token is one byte: bpb = loss / ln 2.
//
// The tokenised corpus is cached on disk once, in $HYLAB_CACHE, else
// $XDG_CACHE_HOME/hylab, else ~/.cache/hylab, as
// tokens-<sha256(corpus sha256 "\n" tokenizer hash)>.bin: a header (struct
// cache_header: magic, version, tokenizer name and hash, corpus sha256 and
// size, id count) then the ids (int32, host byte order). It is written to a
// temporary name in the same folder and renamed (concurrent runs never see
// half a file); a cache whose header, size or ids do not match the source is
// rebuilt. The corpus is read and hashed on every open (the check).
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/rng.h"
#include "core/sha256.h"
#include "tasks/task.h"
#include "text/datadir.h"
#include "text/tokenizer.h"

extern const hl_task_family hl_task_lm;

#define CACHE_MAGIC "HYLABTOK"
#define CACHE_VERSION 1u
#define MAX_CORPUS_BYTES ((size_t)1 << 32)   // 4 GiB: ids index with size_t, windows with long

// The cache file's header (host byte order; the cache is local to a machine).
typedef struct {
    char magic[8];            // CACHE_MAGIC
    uint32_t version;         // CACHE_VERSION
    uint32_t tok_vocab;
    char tok_name[32];
    char tok_hash[65];        // hex + NUL
    char corpus_sha[65];
    char pad[6];
    uint64_t corpus_bytes;
    uint64_t n_ids;
} cache_header;

typedef struct {
    hl_task base;
    uint64_t seed;
    int32_t *ids;             // (n) the tokenised corpus
    size_t n, n_train;        // ids[0..n_train): training part; [n_train..n): validation
    long n_windows;           // validation windows: (n_val - 1) / seq_len
    int *tok_len;             // (tokenizer vocab) bytes of each id
    int tok_vocab;
    char corpus_shown[HL_TASK_PATH_LEN];
    // scores since the last reset
    double nats;
    long tokens, bytes, windows;
} lm_task;

// ---------------------------------------------------------------- paths
// The cache folder (created, with its parent): $HYLAB_CACHE, else
// $XDG_CACHE_HOME/hylab, else ~/.cache/hylab.
static int cache_dir(char *out, size_t n, char *err, size_t errlen) {
    const char *env = getenv("HYLAB_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int len;
    if (env && env[0]) len = snprintf(out, n, "%s", env);
    else if (xdg && xdg[0]) len = snprintf(out, n, "%s/hylab", xdg);
    else if (home && home[0]) len = snprintf(out, n, "%s/.cache/hylab", home);
    else return hl_fail(err, errlen, HL_EBADINPUT, "lm: no cache folder: set HYLAB_CACHE (or XDG_CACHE_HOME or HOME)");
    if (len < 0 || (size_t)len + 80 >= n)   // room for "/tokens-<64 hex>.bin"
        return hl_fail(err, errlen, HL_EBADINPUT, "lm: the cache folder's path is too long (%d bytes; set HYLAB_CACHE)", len);
    for (char *p = out + 1; ; p++) {   // mkdir -p
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            int ok = mkdir(out, 0777) == 0 || errno == EEXIST;
            *p = c;
            if (!ok) return hl_fail(err, errlen, HL_EFAIL, "lm: cannot create the cache folder %s: %s (set HYLAB_CACHE)",
                                    out, strerror(errno));
            if (!c) break;
        }
    }
    return HL_OK;
}

// ---------------------------------------------------------------- the corpus
static int read_corpus(const char *path, char **text, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return hl_fail(err, errlen, HL_EBADINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > MAX_CORPUS_BYTES) {
        fclose(f);
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: larger than %zu bytes", path, MAX_CORPUS_BYTES);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) { fclose(f); return hl_fail(err, errlen, HL_EFAIL, "%s: out of memory reading it", path); }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f) || got != n;
    fclose(f);
    if (bad) { free(buf); return hl_fail(err, errlen, HL_EBADINPUT, "%s: read failed", path); }
    buf[n] = 0;
    if (n == 0) { free(buf); return hl_fail(err, errlen, HL_EBADINPUT, "%s: empty corpus", path); }
    *text = buf; *len = n;
    return HL_OK;
}

static void header_of(cache_header *h, const hl_tokenizer *tok, const char *corpus_sha, size_t bytes, size_t n_ids) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CACHE_MAGIC, 8);
    h->version = CACHE_VERSION;
    h->tok_vocab = (uint32_t)hl_tokenizer_vocab(tok);
    snprintf(h->tok_name, sizeof h->tok_name, "%s", hl_tokenizer_name(tok));
    snprintf(h->tok_hash, sizeof h->tok_hash, "%s", hl_tokenizer_hash(tok));
    snprintf(h->corpus_sha, sizeof h->corpus_sha, "%s", corpus_sha);
    h->corpus_bytes = bytes;
    h->n_ids = n_ids;
}

// Reads the cache at path when its header matches `want` (except n_ids),
// its size is the header's count of ids and every id is in the vocabulary.
// Returns 1 with *ids, *n filled; 0 when absent or not matching.
static int cache_load(const char *path, const cache_header *want, int32_t **ids, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    cache_header h;
    struct stat st;
    int ok = fread(&h, sizeof h, 1, f) == 1 && fstat(fileno(f), &st) == 0;
    ok = ok && !memcmp(h.magic, want->magic, 8) && h.version == want->version && h.tok_vocab == want->tok_vocab &&
         !strncmp(h.tok_name, want->tok_name, sizeof h.tok_name) && !strncmp(h.tok_hash, want->tok_hash, sizeof h.tok_hash) &&
         !strncmp(h.corpus_sha, want->corpus_sha, sizeof h.corpus_sha) && h.corpus_bytes == want->corpus_bytes &&
         h.n_ids > 0 && h.n_ids <= MAX_CORPUS_BYTES * 4 &&
         (uint64_t)st.st_size == sizeof h + h.n_ids * sizeof(int32_t);
    int32_t *v = ok ? malloc(h.n_ids * sizeof *v) : NULL;
    ok = v && fread(v, sizeof *v, h.n_ids, f) == h.n_ids;
    for (uint64_t i = 0; ok && i < h.n_ids; i++) ok = v[i] >= 0 && (uint32_t)v[i] < h.tok_vocab;
    fclose(f);
    if (!ok) { free(v); return 0; }
    *ids = v; *n = h.n_ids;
    return 1;
}

// Writes the cache (a temporary file in its folder, then renamed).
static int cache_store(const char *path, const char *dir, cache_header *h, const int32_t *ids, size_t n,
                       char *err, size_t errlen) {
    char tmp[HL_DATA_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s/.tokens-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) return hl_fail(err, errlen, HL_EFAIL, "lm: cannot write in the cache folder %s: %s (set HYLAB_CACHE)",
                               dir, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    h->n_ids = n;
    int ok = f && fwrite(h, sizeof *h, 1, f) == 1 && fwrite(ids, sizeof *ids, n, f) == n;
    ok = (f ? fclose(f) == 0 : (close(fd), 0)) && ok;
    if (ok) ok = chmod(tmp, 0644) == 0 && rename(tmp, path) == 0;
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return hl_fail(err, errlen, HL_EFAIL, "lm: cannot write the token cache %s: %s", path, strerror(e));
    }
    return HL_OK;
}

// The ids of the corpus at path: from the cache, or tokenised and cached.
static int corpus_ids(const char *path, const hl_tokenizer *tok, int32_t **ids, size_t *n, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    int rc = read_corpus(path, &text, &len, err, errlen);
    if (rc) return rc;
    char sha[65], key_text[160], key[65], dir[HL_DATA_PATH_LEN], file[HL_DATA_PATH_LEN + 96];
    hl_sha256_hex(text, len, sha);
    snprintf(key_text, sizeof key_text, "%s\n%s", sha, hl_tokenizer_hash(tok));
    hl_sha256_hex(key_text, strlen(key_text), key);
    cache_header want;
    header_of(&want, tok, sha, len, 0);
    if ((rc = cache_dir(dir, sizeof dir, err, errlen)) != HL_OK) { free(text); return rc; }
    snprintf(file, sizeof file, "%s/tokens-%s.bin", dir, key);
    if (cache_load(file, &want, ids, n)) { free(text); return HL_OK; }
    hl_ids out = {0};
    rc = hl_tokenizer_encode(tok, text, len, &out, err, errlen);
    free(text);
    if (!rc) rc = cache_store(file, dir, &want, out.v, out.n, err, errlen);
    if (rc) { hl_ids_free(&out); return rc; }
    *ids = out.v; *n = out.n;
    return HL_OK;
}

// ---------------------------------------------------------------- the family
static int lm_check(const hl_task_config *cfg, char *why, size_t whylen) {
    char known[128];
    if (!cfg->tokenizer[0] || !hl_tokenizer_known(cfg->tokenizer)) {
        hl_tokenizer_names(known, sizeof known);
        return hl_fail(why, whylen, HL_EBADINPUT, "tokenizer: lm needs a tokenizer (%s; got \"%s\")", known, cfg->tokenizer);
    }
    if (!cfg->corpus[0]) return hl_fail(why, whylen, HL_EBADINPUT, "corpus: lm needs a corpus file (got \"\")");
    if (!(cfg->val_fraction > 0 && cfg->val_fraction < 1))
        return hl_fail(why, whylen, HL_EBADINPUT, "val_fraction: must be in (0, 1) (got %g)", cfg->val_fraction);
    return HL_OK;
}

static void lm_close(hl_task *tk) {
    lm_task *t = (lm_task *)tk;
    if (!t) return;
    free(t->ids); free(t->tok_len); free(t);
}

static int lm_open(const hl_task_config *cfg, int vocab, const char *data_dir, uint64_t seed,
                   hl_task **out, char *err, size_t errlen) {
    *out = NULL;
    char why[HL_ERR_LEN / 2], dir[HL_DATA_PATH_LEN], path[HL_DATA_PATH_LEN + HL_TASK_PATH_LEN];
    if (lm_check(cfg, why, sizeof why)) return hl_fail(err, errlen, HL_EBADINPUT, "%s", why);
    int L = cfg->seq_len;
    if (L < 1) return hl_fail(err, errlen, HL_EBADINPUT, "seq_len: must be >= 1 (got %d)", L);
    int rc = hl_data_dir(data_dir, dir, sizeof dir, err, errlen);
    if (!rc) rc = hl_data_path(dir, cfg->corpus, "lm", path, sizeof path, err, errlen);
    if (rc) return rc;
    hl_tokenizer *tok;
    if ((rc = hl_tokenizer_open(cfg->tokenizer, dir, &tok, err, errlen)) != HL_OK) return rc;
    int tv = hl_tokenizer_vocab(tok);
    if (vocab < tv) {
        hl_tokenizer_free(tok);
        return hl_fail(err, errlen, HL_EBADINPUT,
                       "vocab_size: the model's vocabulary (%d) is smaller than tokenizer %s's (%d)", vocab, cfg->tokenizer, tv);
    }
    lm_task *t = calloc(1, sizeof *t);
    if (t) t->tok_len = malloc(sizeof(int) * (size_t)tv);
    if (!t || !t->tok_len) { free(t); hl_tokenizer_free(tok); return hl_fail(err, errlen, HL_EFAIL, "lm: out of memory"); }
    t->base.family = &hl_task_lm;
    t->base.cfg = *cfg;
    t->base.vocab = vocab;
    t->seed = seed;
    t->tok_vocab = tv;
    for (int i = 0; i < tv; i++) { size_t k; hl_tokenizer_token_bytes(tok, i, &k); t->tok_len[i] = (int)k; }
    snprintf(t->corpus_shown, sizeof t->corpus_shown, "%s", cfg->corpus);
    rc = corpus_ids(path, tok, &t->ids, &t->n, err, errlen);
    hl_tokenizer_free(tok);
    if (rc) { lm_close(&t->base); return rc; }
    size_t n_val = (size_t)floor((double)t->n * cfg->val_fraction);
    t->n_train = t->n - n_val;
    if (t->n_train < (size_t)L + 1 || n_val < (size_t)L + 1) {
        rc = hl_fail(err, errlen, HL_EBADINPUT,
                     "%s: %zu tokens (%s) split into %zu training and %zu validation tokens (val_fraction %g); "
                     "each part needs at least seq_len + 1 = %d", path, t->n, cfg->tokenizer, t->n_train, n_val,
                     cfg->val_fraction, L + 1);
        lm_close(&t->base);
        return rc;
    }
    t->n_windows = (long)((n_val - 1) / (size_t)L);
    *out = &t->base;
    return HL_OK;
}

static long lm_eval_examples(const hl_task *tk) {
    const lm_task *t = (const lm_task *)tk;
    return tk->cfg.num_examples < t->n_windows ? tk->cfg.num_examples : t->n_windows;
}

// The start of training example `index`'s window: hash of (seed, index).
static size_t train_start(const lm_task *t, uint64_t index) {
    uint64_t h = hl_mix64(t->seed ^ 0x4C4D5452414E4Eull);   // "LMTRANN"
    h = hl_mix64(h ^ index);
    return (size_t)(h % (uint64_t)(t->n_train - (size_t)t->base.cfg.seq_len));
}

static int lm_fill(hl_task *tk, hl_split split, uint64_t first, int rows, hl_task_batch *b,
                   char *err, size_t errlen) {
    const lm_task *t = (const lm_task *)tk;
    size_t L = (size_t)tk->cfg.seq_len;
    long n_eval = lm_eval_examples(tk);
    b->B = rows;
    b->T = (int)L;
    for (int r = 0; r < rows; r++) {
        size_t start;
        if (split == HL_SPLIT_TRAIN) {
            start = train_start(t, (first + (uint64_t)r) % (uint64_t)tk->cfg.num_examples);
        } else {
            uint64_t k = first + (uint64_t)r;
            if (k >= (uint64_t)n_eval)
                return hl_fail(err, errlen, HL_EBADINPUT, "lm: validation window %llu of %ld", (unsigned long long)k, n_eval);
            start = t->n_train + (size_t)k * L;
        }
        memcpy(b->inputs + (size_t)r * L, t->ids + start, L * sizeof(int32_t));
        memcpy(b->targets + (size_t)r * L, t->ids + start + 1, L * sizeof(int32_t));
    }
    b->n_out = hl_labelled_positions(b->targets, rows, b->T, b->pos);
    for (int i = 0; i < b->n_out; i++) b->labels[i] = b->targets[b->pos[i]];
    return HL_OK;
}

static void lm_reset(hl_task *tk) {
    lm_task *t = (lm_task *)tk;
    t->nats = 0;
    t->tokens = t->bytes = t->windows = 0;
}

// The batch's total nats = its mean cross-entropy x its labelled positions.
static int lm_score(hl_task *tk, const hl_task_batch *b, const float *logits, int V, float batch_loss,
                    char *err, size_t errlen) {
    (void)logits;
    lm_task *t = (lm_task *)tk;
    if (V <= 0 || b->n_out < 0 || !isfinite(batch_loss))
        return hl_fail(err, errlen, HL_EBADINPUT, "lm: scoring %d positions of width %d, batch loss %g", b->n_out, V,
                       (double)batch_loss);
    long bytes = 0;
    for (int i = 0; i < b->n_out; i++) {
        int32_t y = b->labels[i];
        if (y < 0 || y >= t->tok_vocab)
            return hl_fail(err, errlen, HL_EBADINPUT, "lm: label %d outside the tokenizer's [0, %d)", y, t->tok_vocab);
        bytes += t->tok_len[y];
    }
    t->nats += (double)batch_loss * b->n_out;
    t->tokens += b->n_out;
    t->bytes += bytes;
    t->windows += b->B;
    return HL_OK;
}

// s as a JSON string body (quotes and backslashes escaped, controls dropped).
static void json_escape(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; *s && k + 3 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20) continue;
        if (c == '"' || c == '\\') out[k++] = '\\';
        out[k++] = (char)c;
    }
    out[k] = 0;
}

static void lm_report(const hl_task *tk, hl_task_report *out) {
    const lm_task *t = (const lm_task *)tk;
    double loss = t->tokens ? t->nats / t->tokens : NAN;
    hl_task_metric m0 = {"loss", loss, t->tokens, NAN};
    hl_task_metric m1 = {"perplexity", exp(loss), t->tokens, NAN};
    hl_task_metric m2 = {"bits_per_byte", t->bytes ? t->nats / log(2.0) / (double)t->bytes : NAN, t->bytes, NAN};
    out->metric[0] = m0; out->metric[1] = m1; out->metric[2] = m2;
    out->n_metrics = 3;
    char corpus[120];
    const char *base = strrchr(t->corpus_shown, '/');
    // the path, or its base name when the path does not fit the parameters
    json_escape(strlen(t->corpus_shown) < 100 || !base ? t->corpus_shown : base + 1, corpus, sizeof corpus);
    int k = snprintf(out->params_json, sizeof out->params_json,
                     "{\"corpus\":\"%s\",\"tokenizer\":\"%s\",\"seq_len\":%d,\"val_fraction\":%g,\"windows\":%ld}",
                     corpus, tk->cfg.tokenizer, tk->cfg.seq_len, tk->cfg.val_fraction, t->windows);
    if (k < 0 || (size_t)k >= sizeof out->params_json)   // cannot happen: corpus is cut to 160 bytes
        snprintf(out->params_json, sizeof out->params_json, "{}");
}

// ---------------------------------------------------------------- configuration
// lm's keys in train.task and eval entries (with the generic name, seq_len,
// vocab_size, num_examples, tokenizer of tasks/task_config.c); left out of
// the canonical spec at their defaults, so specs of other families keep
// their hashes:
//   corpus        "" (required by lm): the corpus file, relative to the data
//                 directory or absolute
//   val_fraction  0.1, in (0, 1): the held-out tail of the token stream
// lm also requires a tokenizer (train.task.tokenizer). The model's vocabulary
// must hold the tokenizer's (checked at open: `hylab run` opens every task
// before it writes anything).
static const hl_cfg_key lm_keys[] = {
    {.name = "corpus", .kind = HL_CFG_STRING, .offset = offsetof(hl_task_config, corpus),
     .capacity = HL_TASK_PATH_LEN, .dflt_text = "", .flags = HL_CFG_OMIT_DEFAULT},
    {.name = "val_fraction", .kind = HL_CFG_DOUBLE, .offset = offsetof(hl_task_config, val_fraction),
     .dflt = 0.1, .min = 0, .max = 1, .flags = HL_CFG_MIN_EXCLUSIVE | HL_CFG_MAX_EXCLUSIVE | HL_CFG_OMIT_DEFAULT},
    {.name = NULL}};
static const hl_cfg_section lm_section = {.name = "lm", .keys = lm_keys};

const hl_task_family hl_task_lm = {
    .name = "lm", .version = "lm/1", .section = &lm_section, .check = lm_check,
    .open = lm_open, .eval_examples = lm_eval_examples, .fill = lm_fill,
    .reset = lm_reset, .score = lm_score, .report = lm_report, .close = lm_close,
};
