// niah.h: the RULER needle-in-a-haystack generator behind the "niah"
// evaluation family (tasks/niah.c; ../shared/PAPERS.md 5.3). Exposed so that
// tests can check the haystacks it builds.
//
// An item is the cell (length L, depth D) and a sample index s; it is a pure
// function of (config, seed, L, D, s) (its own RNG stream) and of the
// tokenizer (which decides how many haystack sentences fit).
//   haystack  sentences: "noise" cycles RULER's five noise sentences ("The
//             grass is green. " ... "There and back again. "); a corpus file
//             (cfg->haystack, data directory relative) is cut into sentences
//             (a sentence ends after . ! or ? followed by white space, or at
//             a newline; it keeps its trailing white space, so consecutive
//             sentences are the corpus text as it is) and read from a seeded
//             start sentence on, wrapping around. The haystack is N
//             sentences with the needles inserted between sentences, its
//             trailing white space removed.
//   needles   "One of the special magic {numbers|uuids} for {key} is:
//             {value}. " with keys "adjective-noun" from built-in word
//             lists and values 7-digit numbers (1000000..9999999) or UUIDs
//             (version 4 form), distinct within an item. Variants (RULER's
//             niah_single_*, niah_multikey_1, niah_multivalue,
//             niah_multiquery): single 1 needle, queried; multikey 4 needles
//             with different keys, the first queried; multivalue 4 needles of
//             one key, all its values asked; multiquery 4 needles with
//             different keys, all queried (query "k1, k2, k3, and k4").
//   depth     needle 0 goes to the sentence boundary whose character offset
//             in the haystack without needles is nearest D% of its length
//             (ties: the earlier); needles 1.. go to boundaries at seeded
//             uniform fractions of it. Needles at one boundary keep their
//             order.
//   prompt    RULER's template:
//             "Some special magic {V} are hidden within the following text.
//             Make sure to memorize it. I will quiz you about the {V}
//             afterwards.\n{haystack}\nWhat are all the special magic {V}
//             for {query} mentioned in the provided text? The special magic
//             {V} for {query} mentioned in the provided text are"
//             with V = numbers or uuids.
//   fit       N is the largest sentence count with prompt tokens + max_new
//             <= L (binary search; N + 1 sentences were tried and did not
//             fit); gap = L - max_new - prompt tokens (>= 0).
//   answers   the queried needles' values; string_match_all = the fraction
//             of them found in the generation ignoring case, x100.
#ifndef HYLAB_NIAH_H
#define HYLAB_NIAH_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"
#include "tasks/eval_config.h"
#include "text/tokenizer.h"

#define HL_NIAH_MAX_NEEDLES 4
#define HL_NIAH_VALUE_LEN 40      // a UUID is 36 characters

typedef struct hl_niah hl_niah;

typedef struct {
    int length, depth, sample;          // the cell and the sample index
    int n_units;                        // haystack sentences
    char *haystack;                     // the haystack with its needles (malloc'd)
    char *prompt;                       // the whole prompt text (malloc'd)
    int32_t *ids; int n_ids;            // the prompt's tokens (malloc'd)
    int gap;                            // length - max_new - n_ids (>= 0)
    int n_needles;
    char needle[HL_NIAH_MAX_NEEDLES][160];          // needle sentences as inserted (trailing space cut)
    int n_answers;
    char answer[HL_NIAH_MAX_NEEDLES][HL_NIAH_VALUE_LEN];   // the values to find
} hl_niah_item;

// Checks cfg's niah settings and reads the haystack source. Defaults: needle
// "single", haystack "noise", value_kind "numbers", lengths {cfg->max_length}
// (an error when that is 0 too), depths {0, 25, 50, 75, 100}, samples 4,
// max_new_tokens 128. With cfg->max_length > 0 (the harness's context) a
// length above it is an error (its haystack would be cut). HL_EBADINPUT naming the setting ("TASK: depths[1]: 120
// is outside [0, 100]", "TASK: lengths[0]: 40 tokens cannot hold the prompt
// template and 128 new tokens (needs at least 95)") or the corpus file
// (missing: text/datadir.h's message; empty).
int hl_niah_open(const hl_eval_config *cfg, const hl_tokenizer *tok, const char *data_dir,
                 hl_niah **out, char *err, size_t errlen);
void hl_niah_free(hl_niah *g);   // NULL ok

// The settings in effect (after defaults).
const hl_eval_config *hl_niah_config(const hl_niah *g);

// Builds item (length, depth, sample) into *it (hl_niah_item_free releases).
// n_units < 0: fitted (see the top); otherwise exactly n_units sentences
// (gap may then be negative). HL_EBADINPUT when even an empty haystack does
// not fit; HL_EFAIL for memory.
int hl_niah_make(hl_niah *g, int length, int depth, int sample, int n_units, hl_niah_item *it,
                 char *err, size_t errlen);
void hl_niah_item_free(hl_niah_item *it);

#endif
