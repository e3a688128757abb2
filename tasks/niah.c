// niah.c: the "niah" evaluation family, RULER's needle in a haystack
// (../shared/PAPERS.md 5.3), and its generator (tasks/niah.h has the exact
// definition of an item).
//
// Family niah/1. Items: every (length, depth) cell of the config's grid,
// `samples` each, in the order length, depth, sample (item i = (li *
// n_depths + di) * samples + s). Every item is built and fitted when the
// task opens, so a length too small for the template is reported before
// anything runs. Request: the prompt, greedy, max_new_tokens (default 128),
// no stop string unless the config gives one. Metric string_match_all =
// mean over items of 100 * (references found in the generation, ignoring
// case) / references, reported first over all items scored (params: needle,
// haystack, value_kind, lengths, depths, samples) and then per (length,
// depth) cell (params: length, depth, needle, haystack, value_kind,
// samples, max_gap = the largest fit gap of the cell's items).
// Samples: prompt_tail / prompt_bytes / prompt_tokens, generation, answers,
// string_match_all, length, depth, sample, gap.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "core/json_util.h"
#include "core/rng.h"
#include "tasks/eval.h"
#include "tasks/eval_gen.h"
#include "tasks/niah.h"
#include "tasks/text_norm.h"
#include "text/datadir.h"

extern const hl_eval_family hl_eval_niah;

static const char *const NOISE[] = {
    "The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ",
    "There and back again. ",
};
#define N_NOISE 5

// Key words (keys are "adjective-noun", as RULER's wonderwords keys).
static const char *const ADJ[] = {
    "ablaze", "absurd", "adorable", "agreeable", "alert", "ancient", "brave", "breezy", "bright",
    "calm", "careful", "cheerful", "clever", "cloudy", "curious", "dapper", "eager", "elegant",
    "fancy", "fearless", "gentle", "gifted", "glossy", "grumpy", "handsome", "helpful", "humble",
    "jolly", "lively", "lucky", "mighty", "nimble", "quiet", "rapid", "shiny", "silent", "sleepy",
    "smooth", "spicy", "sturdy", "swift", "tender", "tidy", "vivid", "wise", "witty", "zany", "zealous",
};
static const char *const NOUN[] = {
    "anchor", "apple", "badger", "banjo", "beacon", "breakfast", "canyon", "castle", "cherry",
    "comet", "cricket", "dolphin", "dragon", "eagle", "falcon", "forest", "garden", "glacier",
    "harbor", "helmet", "island", "jacket", "kettle", "lantern", "meadow", "mirror", "needle",
    "orchard", "otter", "pepper", "pigeon", "planet", "quartz", "rabbit", "river", "saddle",
    "spider", "squirrel", "teapot", "thunder", "tulip", "umbrella", "valley", "violin", "walrus",
    "whistle", "window", "zebra",
};
#define N_ADJ ((int)(sizeof ADJ / sizeof ADJ[0]))
#define N_NOUN ((int)(sizeof NOUN / sizeof NOUN[0]))

struct hl_niah {
    hl_eval_config cfg;          // with defaults filled
    const hl_tokenizer *tok;
    char *corpus;                // NULL: noise
    size_t *unit;                // (n_src + 1) sentence starts in corpus
    int n_src;                   // corpus sentences
    int n_needles, multivalue, all_queried;
};

const hl_eval_config *hl_niah_config(const hl_niah *g) { return &g->cfg; }

// Cuts corpus text into sentences (niah.h); the starts go to g->unit.
static int split_units(hl_niah *g, size_t len, char *err, size_t errlen) {
    const char *t = g->corpus;
    size_t i = 0, cap = 1024;
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) i++;
    g->unit = malloc(cap * sizeof *g->unit);
    if (!g->unit) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    g->n_src = 0;
    while (i < len) {
        if ((size_t)g->n_src + 2 > cap) {
            cap *= 2;
            size_t *u = realloc(g->unit, cap * sizeof *u);
            if (!u) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
            g->unit = u;
        }
        g->unit[g->n_src++] = i;
        for (; i < len; i++) {
            char c = t[i];
            int ws_next = i + 1 >= len || t[i + 1] == ' ' || t[i + 1] == '\t' || t[i + 1] == '\n' || t[i + 1] == '\r';
            if (c == '\n' || ((c == '.' || c == '!' || c == '?') && ws_next)) {
                i++;
                while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) i++;
                break;
            }
        }
    }
    g->unit[g->n_src] = len;
    return HL_OK;
}

// Sentence k (any k >= 0) of an item whose corpus reading starts at start.
static const char *unit_text(const hl_niah *g, long start, long k, size_t *n) {
    if (!g->corpus) { *n = strlen(NOISE[k % N_NOISE]); return NOISE[k % N_NOISE]; }
    long j = (start + k) % g->n_src;
    *n = g->unit[j + 1] - g->unit[j];
    return g->corpus + g->unit[j];
}

// A growable byte buffer.
typedef struct { char *p; size_t n, cap; int bad; } buf;
static void put(buf *b, const char *s, size_t n) {
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->bad = 1; return; }
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

// What an item draws before its size is known.
typedef struct {
    long start;                                   // corpus start sentence
    char needle[HL_NIAH_MAX_NEEDLES][160];
    double frac[HL_NIAH_MAX_NEEDLES];             // needle 0: depth / 100
    char query[4 * 40];
    int n_answers;
    char answer[HL_NIAH_MAX_NEEDLES][HL_NIAH_VALUE_LEN];
} draw;

static uint64_t item_stream(uint64_t seed, int length, int depth, int sample) {
    uint64_t h = hl_mix64(seed ^ 0x3C6EF372FE94F82Bull);
    h = hl_mix64(h ^ (uint64_t)length);
    h = hl_mix64(h ^ ((uint64_t)depth + 0xA54FF53A5F1D36F1ull));
    return hl_mix64(h ^ (uint64_t)sample);
}

static void make_draw(const hl_niah *g, int length, int depth, int sample, draw *d) {
    uint64_t st = item_stream(g->cfg.seed, length, depth, sample);
    memset(d, 0, sizeof *d);
    d->start = g->corpus ? (long)(hl_splitmix64(&st) % (uint64_t)g->n_src) : 0;
    int uuids = strcmp(g->cfg.value_kind, "uuids") == 0;
    const char *kind = uuids ? "uuids" : "numbers";
    int n_keys = g->multivalue ? 1 : g->n_needles;
    int key[HL_NIAH_MAX_NEEDLES];
    for (int k = 0; k < n_keys; k++) {
        for (;;) {
            key[k] = (int)(hl_splitmix64(&st) % (uint64_t)(N_ADJ * N_NOUN));
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= key[j] == key[k];
            if (!dup) break;
        }
    }
    char value[HL_NIAH_MAX_NEEDLES][HL_NIAH_VALUE_LEN];
    for (int v = 0; v < g->n_needles; v++) {
        for (;;) {
            if (uuids) {
                uint64_t a = hl_splitmix64(&st), b = hl_splitmix64(&st);
                a = (a & ~0xF000ull) | 0x4000ull;                  // version 4
                b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;   // variant 10
                snprintf(value[v], sizeof value[v], "%08llx-%04llx-%04llx-%04llx-%012llx",
                         (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xFFFF),
                         (unsigned long long)(a & 0xFFFF), (unsigned long long)(b >> 48),
                         (unsigned long long)(b & 0xFFFFFFFFFFFFull));
            } else {
                snprintf(value[v], sizeof value[v], "%u", (unsigned)(1000000 + hl_splitmix64(&st) % 9000000));
            }
            int dup = 0;
            for (int j = 0; j < v; j++) dup |= strcmp(value[j], value[v]) == 0;
            if (!dup) break;
        }
    }
    char keytext[HL_NIAH_MAX_NEEDLES][40];
    for (int k = 0; k < n_keys; k++)
        snprintf(keytext[k], sizeof keytext[k], "%s-%s", ADJ[key[k] / N_NOUN], NOUN[key[k] % N_NOUN]);
    for (int j = 0; j < g->n_needles; j++) {
        snprintf(d->needle[j], sizeof d->needle[j], "One of the special magic %s for %.39s is: %.39s.", kind,
                 keytext[g->multivalue ? 0 : j], value[j]);
        d->frac[j] = j == 0 ? depth / 100.0 : (double)(hl_splitmix64(&st) >> 11) * (1.0 / 9007199254740992.0);
    }
    if (g->all_queried) {   // "k1, k2, k3, and k4"
        for (int k = 0; k < n_keys; k++) {
            if (k) strcat(d->query, k == n_keys - 1 ? (n_keys > 2 ? ", and " : " and ") : ", ");
            strcat(d->query, keytext[k]);
        }
    } else {
        strcpy(d->query, keytext[0]);
    }
    d->n_answers = g->multivalue || g->all_queried ? g->n_needles : 1;
    for (int a = 0; a < d->n_answers; a++) strcpy(d->answer[a], value[a]);
}

// The haystack of N sentences with d's needles, into b.
static void build_haystack(const hl_niah *g, const draw *d, long N, buf *b) {
    // byte offsets of the sentence boundaries 0..N (without needles)
    size_t *off = malloc(((size_t)N + 1) * sizeof *off);
    if (!off) { b->bad = 1; return; }
    off[0] = 0;
    for (long k = 0; k < N; k++) { size_t n; unit_text(g, d->start, k, &n); off[k + 1] = off[k] + n; }
    long at[HL_NIAH_MAX_NEEDLES];
    for (int j = 0; j < g->n_needles; j++) {   // the boundary nearest frac * length, the earlier on a tie
        double t = d->frac[j] * (double)off[N];
        long lo = 0, hi = N;                   // the first boundary with off >= t
        while (lo < hi) { long mid = (lo + hi) / 2; if ((double)off[mid] >= t) hi = mid; else lo = mid + 1; }
        if (lo > 0 && t - (double)off[lo - 1] <= (double)off[lo] - t) lo--;
        at[j] = lo;
    }
    free(off);
    for (long k = 0; k <= N; k++) {
        for (int j = 0; j < g->n_needles; j++)
            if (at[j] == k) { puts_(b, d->needle[j]); put(b, " ", 1); }
        if (k < N) { size_t n; const char *s = unit_text(g, d->start, k, &n); put(b, s, n); }
    }
    while (!b->bad && b->n > 0 && (b->p[b->n - 1] == ' ' || b->p[b->n - 1] == '\n' || b->p[b->n - 1] == '\t' ||
                                   b->p[b->n - 1] == '\r'))
        b->p[--b->n] = 0;
}

// The prompt around haystack h.
static void build_prompt(const hl_niah *g, const draw *d, const char *h, buf *b) {
    const char *v = strcmp(g->cfg.value_kind, "uuids") == 0 ? "uuids" : "numbers";
    char head[256], tail[512];
    snprintf(head, sizeof head,
             "Some special magic %s are hidden within the following text. Make sure to memorize it. "
             "I will quiz you about the %s afterwards.\n", v, v);
    snprintf(tail, sizeof tail,
             "\nWhat are all the special magic %s for %s mentioned in the provided text? The special "
             "magic %s for %s mentioned in the provided text are", v, d->query, v, d->query);
    puts_(b, head);
    puts_(b, h);
    puts_(b, tail);
}

// Tokens of the prompt with N sentences (-1: memory).
static long prompt_tokens(const hl_niah *g, const draw *d, long N, buf *hay, buf *pr, hl_ids *ids,
                          char *err, size_t errlen) {
    hay->n = 0; pr->n = 0; ids->n = 0;
    build_haystack(g, d, N, hay);
    if (hay->bad) return -1;
    build_prompt(g, d, hay->p ? hay->p : "", pr);
    if (pr->bad) return -1;
    if (hl_tokenizer_encode(g->tok, pr->p, pr->n, ids, err, errlen)) return -1;
    return (long)ids->n;
}

void hl_niah_item_free(hl_niah_item *it) {
    if (!it) return;
    free(it->haystack); free(it->prompt); free(it->ids);
    memset(it, 0, sizeof *it);
}

int hl_niah_make(hl_niah *g, int length, int depth, int sample, int n_units, hl_niah_item *it,
                 char *err, size_t errlen) {
    memset(it, 0, sizeof *it);
    if (err && errlen) err[0] = 0;
    draw d;
    make_draw(g, length, depth, sample, &d);
    buf hay = {0}, pr = {0};
    hl_ids ids = {0};
    int rc = HL_OK;
    long budget = (long)length - g->cfg.max_new_tokens;   // prompt tokens allowed
    long N = n_units;
    if (n_units < 0) {
        long t0 = prompt_tokens(g, &d, 0, &hay, &pr, &ids, err, errlen);
        if (t0 < 0) { rc = HL_EFAIL; goto done; }
        if (t0 > budget) {
            rc = hl_fail(err, errlen, HL_EBADINPUT,
                         "%s: lengths: %d tokens cannot hold the prompt template and %d new tokens "
                         "(needs at least %ld)", g->cfg.task, length, g->cfg.max_new_tokens,
                         t0 + g->cfg.max_new_tokens);
            goto done;
        }
        // invariant: lo sentences fit, hi do not (hi probed, or grown until it does not)
        long lo = 0, hi = budget - t0 + 1;
        for (;;) {
            long t = prompt_tokens(g, &d, hi, &hay, &pr, &ids, err, errlen);
            if (t < 0) { rc = HL_EFAIL; goto done; }
            if (t > budget) break;
            if (hi > (1L << 30)) {   // every sentence adds tokens: unreachable with a real tokenizer
                rc = hl_fail(err, errlen, HL_EFAIL, "%s: the haystack does not grow in tokens", g->cfg.task);
                goto done;
            }
            lo = hi; hi *= 2;
        }
        while (hi - lo > 1) {
            long mid = lo + (hi - lo) / 2;
            long t = prompt_tokens(g, &d, mid, &hay, &pr, &ids, err, errlen);
            if (t < 0) { rc = HL_EFAIL; goto done; }
            if (t <= budget) lo = mid; else hi = mid;
        }
        N = lo;
    }
    if (prompt_tokens(g, &d, N, &hay, &pr, &ids, err, errlen) < 0) { rc = HL_EFAIL; goto done; }
    it->length = length; it->depth = depth; it->sample = sample;
    it->n_units = (int)N;
    it->haystack = hay.p ? hay.p : calloc(1, 1);
    it->prompt = pr.p;
    it->ids = ids.v; it->n_ids = (int)ids.n;
    hay.p = NULL; pr.p = NULL; ids.v = NULL;
    it->gap = (int)(budget - it->n_ids);
    it->n_needles = g->n_needles;
    for (int j = 0; j < g->n_needles; j++) strcpy(it->needle[j], d.needle[j]);
    it->n_answers = d.n_answers;
    for (int a = 0; a < d.n_answers; a++) strcpy(it->answer[a], d.answer[a]);
    if (!it->haystack) rc = HL_EFAIL;
done:
    free(hay.p); free(pr.p); hl_ids_free(&ids);
    if (rc == HL_EFAIL && err && !err[0]) hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    if (rc) hl_niah_item_free(it);
    return rc;
}

void hl_niah_free(hl_niah *g) {
    if (!g) return;
    free(g->corpus); free(g->unit); free(g);
}

int hl_niah_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                 hl_niah **out, char *err, size_t errlen) {
    *out = NULL;
    hl_niah *g = calloc(1, sizeof *g);
    if (!g) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    g->cfg = *cfg;
    g->tok = tok;
    hl_eval_config *c = &g->cfg;
    const char *T = c->task[0] ? c->task : "niah";
    int rc = HL_OK;
    if (!c->needle[0]) strcpy(c->needle, "single");
    if (!c->haystack[0]) strcpy(c->haystack, "noise");
    if (!c->value_kind[0]) strcpy(c->value_kind, "numbers");
    if (c->max_new_tokens == 0) c->max_new_tokens = 128;
    if (c->samples == 0) c->samples = 4;
    if (c->n_depths == 0) {
        static const int dflt[] = {0, 25, 50, 75, 100};
        c->n_depths = 5;
        memcpy(c->depths, dflt, sizeof dflt);
    }
    if (c->n_lengths == 0) {
        if (c->max_length <= 0) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: lengths: none given and no max_length to default to", T);
            goto fail;
        }
        c->n_lengths = 1;
        c->lengths[0] = c->max_length;
    }
    if (!strcmp(c->needle, "single")) g->n_needles = 1;
    else if (!strcmp(c->needle, "multikey")) g->n_needles = 4;
    else if (!strcmp(c->needle, "multivalue")) { g->n_needles = 4; g->multivalue = 1; }
    else if (!strcmp(c->needle, "multiquery")) { g->n_needles = 4; g->all_queried = 1; }
    else {
        rc = hl_fail(err, errlen, HL_EBADINPUT,
                     "%s: needle: unknown variant '%s' (known: single, multikey, multivalue, multiquery)", T, c->needle);
        goto fail;
    }
    if (strcmp(c->value_kind, "numbers") && strcmp(c->value_kind, "uuids")) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: value_kind: unknown '%s' (known: numbers, uuids)", T, c->value_kind);
        goto fail;
    }
    if (c->max_new_tokens < 1) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: max_new_tokens: must be >= 1 (got %d)", T, c->max_new_tokens);
        goto fail;
    }
    if (c->samples < 1) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: samples: must be >= 1 (got %d)", T, c->samples);
        goto fail;
    }
    if (c->n_lengths < 0 || c->n_lengths > HL_EVAL_MAX_GRID || c->n_depths < 0 || c->n_depths > HL_EVAL_MAX_GRID) {
        rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: lengths / depths: at most %d each", T, HL_EVAL_MAX_GRID);
        goto fail;
    }
    for (int i = 0; i < c->n_depths; i++)
        if (c->depths[i] < 0 || c->depths[i] > 100) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: depths[%d]: %d is outside [0, 100]", T, i, c->depths[i]);
            goto fail;
        }
    for (int i = 0; i < c->n_lengths; i++) {
        if (c->lengths[i] < 1) {
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: lengths[%d]: must be >= 1 (got %d)", T, i, c->lengths[i]);
            goto fail;
        }
        if (c->max_length > 0 && c->lengths[i] > c->max_length) {
            rc = hl_fail(err, errlen, HL_EBADINPUT,
                         "%s: lengths[%d]: %d is more than max_length %d (the haystack would be cut from the left)",
                         T, i, c->lengths[i], c->max_length);
            goto fail;
        }
    }
    if (strcmp(c->haystack, "noise")) {
        char path[HL_DATA_PATH_LEN];
        size_t len;
        rc = hl_data_path(data_dir, c->haystack, T, path, sizeof path, err, errlen);
        if (!rc) rc = hl_read_text_file(path, (size_t)64 << 20, &g->corpus, &len, err, errlen);
        if (!rc) rc = split_units(g, len, err, errlen);
        if (!rc && g->n_src == 0)
            rc = hl_fail(err, errlen, HL_EBADINPUT, "%s: empty haystack corpus (no text)", path);
        if (rc) goto fail;
    }
    *out = g;
    return HL_OK;
fail:
    hl_niah_free(g);
    return rc;
}

// ---------------------------------------------------------------- the family

typedef struct {
    hl_eval_task base;
    hl_niah *g;
    long n;
    hl_niah_item *items;      // (n)
    double *score;            // (n) string_match_all, NAN until scored
} niah_task;

static int niah_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                     hl_eval_task **out, char *err, size_t errlen) {
    *out = NULL;
    niah_task *t = calloc(1, sizeof *t);
    if (!t) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    int rc = hl_niah_open(cfg, tok, data_dir, &t->g, err, errlen);
    if (rc) { free(t); return rc; }
    const hl_eval_config *c = hl_niah_config(t->g);
    t->base.family = &hl_eval_niah;
    t->base.cfg = *c;
    t->base.tok = tok;
    t->n = (long)c->n_lengths * c->n_depths * c->samples;
    t->items = calloc((size_t)t->n, sizeof *t->items);
    t->score = malloc((size_t)t->n * sizeof *t->score);
    if (!t->items || !t->score) { rc = hl_fail(err, errlen, HL_EFAIL, "niah: out of memory"); goto fail; }
    for (long i = 0; i < t->n; i++) {
        int s = (int)(i % c->samples), di = (int)(i / c->samples % c->n_depths);
        int li = (int)(i / c->samples / c->n_depths);
        t->score[i] = NAN;
        rc = hl_niah_make(t->g, c->lengths[li], c->depths[di], s, -1, &t->items[i], err, errlen);
        if (rc) goto fail;
    }
    *out = &t->base;
    return HL_OK;
fail:
    for (long i = 0; t->items && i < t->n; i++) hl_niah_item_free(&t->items[i]);
    free(t->items); free(t->score);
    hl_niah_free(t->g);
    free(t);
    return rc;
}

static long niah_n_items(const hl_eval_task *t) { return ((const niah_task *)t)->n; }

static int niah_item(hl_eval_task *base, long i, hl_eval_item *out, char *err, size_t errlen) {
    niah_task *t = (niah_task *)base;
    if (i < 0 || i >= t->n) return hl_fail(err, errlen, HL_EBADINPUT, "niah: item %ld outside [0, %ld)", i, t->n);
    hl_ids ids = {.v = t->items[i].ids, .n = (size_t)t->items[i].n_ids};
    hl_gen_request(out, &ids, &base->cfg);
    return HL_OK;
}

static int niah_score(hl_eval_task *base, long i, const hl_eval_item *item, const hl_eval_answer *a,
                      cJSON *sample, char *err, size_t errlen) {
    (void)item;
    niah_task *t = (niah_task *)base;
    const hl_niah_item *it = &t->items[i];
    const char *gen = a->text ? a->text : "";
    int found = 0;
    for (int k = 0; k < it->n_answers; k++) {
        int c = hl_contains_nocase(gen, it->answer[k]);
        if (c < 0) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
        found += c;
    }
    t->score[i] = 100.0 * found / it->n_answers;
    if (!sample) return HL_OK;
    cJSON *ans = cJSON_AddArrayToObject(sample, "answers");
    for (int k = 0; ans && k < it->n_answers; k++) cJSON_AddItemToArray(ans, cJSON_CreateString(it->answer[k]));
    if (!ans || hl_gen_sample_prompt(sample, it->prompt, it->n_ids, err, errlen) ||
        hl_gen_sample_text(sample, "generation", gen) ||
        !cJSON_AddNumberToObject(sample, "string_match_all", t->score[i]) ||
        !cJSON_AddNumberToObject(sample, "length", it->length) || !cJSON_AddNumberToObject(sample, "depth", it->depth) ||
        !cJSON_AddNumberToObject(sample, "sample", it->sample) || !cJSON_AddNumberToObject(sample, "gap", it->gap))
        return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    return HL_OK;
}

// Mean and sem of the scored items among [i0, i1) with step 1.
static void cell_stats(const niah_task *t, long i0, long i1, double *mean, double *sem, long *n, int *max_gap) {
    double *x = malloc((size_t)(i1 - i0 + 1) * sizeof *x);
    *n = 0; *max_gap = 0;
    for (long i = i0; x && i < i1; i++)
        if (!isnan(t->score[i])) {
            x[(*n)++] = t->score[i];
            if (t->items[i].gap > *max_gap) *max_gap = t->items[i].gap;
        }
    if (x) hl_mean_sem(x, *n, mean, sem);
    else { *mean = NAN; *sem = NAN; *n = 0; }
    free(x);
}

static void ints_json(char *out, size_t n, const int *v, int k) {
    size_t u = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < k && u < n; i++) u += (size_t)snprintf(out + u, n - u, "%s%d", i ? "," : "", v[i]);
    if (u < n) snprintf(out + u, n - u, "]");
}

static int niah_report(const hl_eval_task *base, hl_eval_report *r, char *err, size_t errlen) {
    const niah_task *t = (const niah_task *)base;
    const hl_eval_config *c = &base->cfg;
    char hay[200], lens[400], deps[200], params[512];
    if (hl_gen_json_string(c->haystack, hay, sizeof hay)) return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    ints_json(lens, sizeof lens, c->lengths, c->n_lengths);
    ints_json(deps, sizeof deps, c->depths, c->n_depths);
    double mean, sem; long n; int gap;
    cell_stats(t, 0, t->n, &mean, &sem, &n, &gap);
    if (n == 0) return HL_OK;
    char big[1024];
    int w = snprintf(big, sizeof big,
                     "{\"needle\":\"%s\",\"haystack\":%s,\"value_kind\":\"%s\",\"lengths\":%s,\"depths\":%s,\"samples\":%d}",
                     c->needle, hay, c->value_kind, lens, deps, c->samples);
    if (w < 0 || (size_t)w >= sizeof params)   // a long grid: its sizes instead of its values
        snprintf(big, sizeof big,
                 "{\"needle\":\"%s\",\"haystack\":%s,\"value_kind\":\"%s\",\"n_lengths\":%d,\"n_depths\":%d,\"samples\":%d}",
                 c->needle, hay, c->value_kind, c->n_lengths, c->n_depths, c->samples);
    if (hl_eval_report_add(r, "string_match_all", mean, n, sem, big))
        return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
    for (int li = 0; li < c->n_lengths; li++)
        for (int di = 0; di < c->n_depths; di++) {
            long i0 = ((long)li * c->n_depths + di) * c->samples;
            cell_stats(t, i0, i0 + c->samples, &mean, &sem, &n, &gap);
            if (n == 0) continue;
            snprintf(params, sizeof params,
                     "{\"length\":%d,\"depth\":%d,\"needle\":\"%s\",\"haystack\":%s,\"value_kind\":\"%s\","
                     "\"samples\":%d,\"max_gap\":%d}",
                     c->lengths[li], c->depths[di], c->needle, hay, c->value_kind, c->samples, gap);
            if (hl_eval_report_add(r, "string_match_all", mean, n, sem, params))
                return hl_fail(err, errlen, HL_EFAIL, "niah: out of memory");
        }
    return HL_OK;
}

static void niah_close(hl_eval_task *base) {
    niah_task *t = (niah_task *)base;
    if (!t) return;
    for (long i = 0; i < t->n; i++) hl_niah_item_free(&t->items[i]);
    free(t->items); free(t->score);
    hl_niah_free(t->g);
    free(t);
}

const hl_eval_family hl_eval_niah = {
    .name = "niah", .version = "niah/1",
    .open = niah_open, .n_items = niah_n_items, .item = niah_item, .score = niah_score,
    .report = niah_report, .close = niah_close,
};
