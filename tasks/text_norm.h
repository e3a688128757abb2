// text_norm.h: scoring generated answers against gold answers as the
// recall and long-context protocols do (../shared/PAPERS.md 5.2, 5.3).
//
//   SQuAD v1.1's official normalisation (evaluate-v1.1.py normalize_answer):
//     lower case, remove every ASCII punctuation character (Python's
//     string.punctuation), replace the articles a / an / the standing as
//     whole words (regex \b(a|an|the)\b) by a space, then split on white
//     space and join with single spaces.
//   exact_match  normalised prediction == normalised gold (1 or 0).
//   f1           token F1 of the normalised texts split on white space:
//                common = multiset intersection; 0 when nothing is common
//                (also when either side is empty: v1.1, not v2's rule);
//                else 2PR/(P+R), P = common/len(pred), R = common/len(gold).
//   contains     1 when the gold text occurs in the prediction ignoring
//                case (Based's `contains`: re.search(re.escape(gold),
//                prediction, re.IGNORECASE)); RULER's string match is the
//                same test.
//   Each *_max form takes the maximum over the gold answers (0 for none).
//
// Unicode, relative to Python's str: lower case is ASCII, Latin-1,
// Latin Extended-A, Greek and Cyrillic (every capital with a one-letter
// lower case in those blocks; other scripts unchanged); white space is
// Python's str.split() set (ASCII space, \t \n \v \f \r, \x1c-\x1f, U+0085,
// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000);
// a "word" character for \b is an ASCII letter, digit or '_', or any
// non-ASCII code point outside the Latin-1 punctuation/symbol block
// (U+00A1-U+00BF except ª ² ³ µ ¹ º ¼ ½ ¾, and × ÷), the general punctuation
// block U+2000-U+206F and the CJK symbols block U+3000-U+303F. Invalid UTF-8
// bytes are kept as they are (not letters, not white space).
#ifndef HYLAB_TEXT_NORM_H
#define HYLAB_TEXT_NORM_H

#include <stddef.h>

// The SQuAD normalisation of s as a malloc'd string (NULL: out of memory).
char *hl_squad_normalize(const char *s);

// exact_match and f1 of one (prediction, gold) pair, and their maxima over
// n gold answers (n = 0: 0). Return -1 when memory runs out.
double hl_squad_exact(const char *pred, const char *gold);
double hl_squad_f1(const char *pred, const char *gold);
double hl_squad_exact_max(const char *pred, const char *const *golds, int n);
double hl_squad_f1_max(const char *pred, const char *const *golds, int n);

// 1 when needle occurs in hay ignoring case (the lower case above), else 0;
// an empty needle occurs everywhere. -1: out of memory.
int hl_contains_nocase(const char *hay, const char *needle);
// The maximum of hl_contains_nocase over n gold answers (n = 0: 0).
double hl_contains_max(const char *pred, const char *const *golds, int n);

// The lower case of s (same rules) as a malloc'd string (NULL: out of memory).
char *hl_text_lower(const char *s);

// s with every ill-formed UTF-8 subsequence replaced by U+FFFD, one per
// maximal subpart (Unicode's recommended practice, as Python's
// bytes.decode("utf-8", "replace")), as a malloc'd string (NULL: memory):
// sample records hold valid UTF-8 JSON whatever bytes a model generated.
char *hl_utf8_sanitize(const char *s);

// Mean and standard error of the mean (sample standard deviation, n - 1,
// over sqrt(n): lm-evaluation-harness's mean_stderr) of x[0..n); *sem is
// NAN for n < 2, *mean NAN for n = 0.
void hl_mean_sem(const double *x, long n, double *mean, double *sem);

#endif
