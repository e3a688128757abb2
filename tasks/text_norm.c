// text_norm.c: SQuAD v1.1 answer normalisation, exact match, F1 and the
// case-insensitive `contains` (tasks/text_norm.h has the rules).
//
// Text is handled as an array of code points: valid UTF-8 sequences decode
// to their code point, every byte of an invalid sequence to -(byte) (kept,
// written back as the same byte; neither letter nor white space).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/text_norm.h"

// Decodes s into a malloc'd code point array (*n entries). NULL: memory.
static int32_t *decode_utf8(const char *s, size_t *n) {
    size_t len = strlen(s);
    int32_t *cp = malloc((len + 1) * sizeof *cp);
    if (!cp) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        int need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        uint32_t v = need == 0 ? c : need == 1 ? c & 0x1F : need == 2 ? c & 0x0F : c & 0x07;
        int ok = need >= 0 && i + (size_t)need < len;
        for (int j = 1; ok && j <= need; j++) {
            if ((u[i + j] & 0xC0) != 0x80) ok = 0;
            else v = (v << 6) | (u[i + j] & 0x3F);
        }
        // overlong forms, surrogates and values past U+10FFFF are invalid
        if (ok && ((need == 1 && v < 0x80) || (need == 2 && v < 0x800) || (need == 3 && v < 0x10000) ||
                   (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF))
            ok = 0;
        if (!ok) { cp[k++] = -(int32_t)c; i++; continue; }
        cp[k++] = (int32_t)v;
        i += (size_t)need + 1;
    }
    *n = k;
    return cp;
}

// Encodes cp[0..n) to a malloc'd NUL-terminated string. NULL: memory.
static char *encode_utf8(const int32_t *cp, size_t n) {
    char *out = malloc(n * 4 + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = cp[i];
        if (c < 0) out[k++] = (char)(unsigned char)(-c);
        else if (c < 0x80) out[k++] = (char)c;
        else if (c < 0x800) { out[k++] = (char)(0xC0 | (c >> 6)); out[k++] = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) {
            out[k++] = (char)(0xE0 | (c >> 12)); out[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[k++] = (char)(0xF0 | (c >> 18)); out[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[k++] = (char)(0x80 | ((c >> 6) & 0x3F)); out[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[k] = 0;
    return out;
}

// The one-letter lower case of c in the blocks text_norm.h names; c otherwise.
static int32_t lower_cp(int32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;   // no one-letter pair
        if (c == 0x178) return 0xFF;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c % 2 ? c + 1 : c;
        return c % 2 ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) return c % 2 ? c : c + 1;
    if (c == 0x4C0) return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE) return c % 2 ? c + 1 : c;
    return c;
}

// Python's str.isspace() for the purposes of str.split().
static int is_space(int32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

// Python's string.punctuation (ASCII only).
static int is_punct(int32_t c) {
    return c > 0 && c < 0x80 && c != ' ' && c > 0x20 && c < 0x7F &&
           !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

// \w of Python's re for str patterns, approximated as text_norm.h says.
static int is_word(int32_t c) {
    if (c < 0) return 0;
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (is_space(c)) return 0;
    if (c >= 0xA1 && c <= 0xBF)
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || c == 0xBC ||
               c == 0xBD || c == 0xBE;
    if (c == 0xD7 || c == 0xF7 || c < 0xA0) return 0;
    if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F)) return 0;
    return 1;
}

char *hl_text_lower(const char *s) {
    size_t n;
    int32_t *cp = decode_utf8(s, &n);
    if (!cp) return NULL;
    for (size_t i = 0; i < n; i++) cp[i] = lower_cp(cp[i]);
    char *out = encode_utf8(cp, n);
    free(cp);
    return out;
}

char *hl_squad_normalize(const char *s) {
    size_t n;
    int32_t *cp = decode_utf8(s, &n);
    if (!cp) return NULL;
    // lower, then drop punctuation
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = lower_cp(cp[i]);
        if (!is_punct(c)) cp[k++] = c;
    }
    n = k;
    // articles standing as whole words become a space
    for (size_t i = 0; i < n;) {
        if (!is_word(cp[i])) { i++; continue; }
        size_t j = i;
        while (j < n && is_word(cp[j])) j++;
        size_t w = j - i;
        int art = (w == 1 && cp[i] == 'a') || (w == 2 && cp[i] == 'a' && cp[i + 1] == 'n') ||
                  (w == 3 && cp[i] == 't' && cp[i + 1] == 'h' && cp[i + 2] == 'e');
        if (art) {
            cp[i] = ' ';
            memmove(cp + i + 1, cp + j, (n - j) * sizeof *cp);
            n -= w - 1;
            j = i + 1;
        }
        i = j;
    }
    // split on white space, join with single spaces
    k = 0;
    for (size_t i = 0; i < n;) {
        if (is_space(cp[i])) { i++; continue; }
        if (k) cp[k++] = ' ';
        while (i < n && !is_space(cp[i])) cp[k++] = cp[i++];
    }
    char *out = encode_utf8(cp, k);
    free(cp);
    return out;
}

double hl_squad_exact(const char *pred, const char *gold) {
    char *a = hl_squad_normalize(pred), *b = hl_squad_normalize(gold);
    double r = a && b ? (strcmp(a, b) == 0) : -1;
    free(a); free(b);
    return r;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Splits normalised text (single spaces) in place into sorted words.
static char **words_of(char *s, int *n) {
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ' ';
    char **w = malloc((size_t)cap * sizeof *w);
    if (!w) return NULL;
    *n = 0;
    for (char *p = s; *p;) {
        w[(*n)++] = p;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = 0;
        p = sp + 1;
    }
    qsort(w, (size_t)*n, sizeof *w, cmp_str);
    return w;
}

double hl_squad_f1(const char *pred, const char *gold) {
    char *a = hl_squad_normalize(pred), *b = hl_squad_normalize(gold);
    int na = 0, nb = 0;
    char **wa = a ? words_of(a, &na) : NULL, **wb = b ? words_of(b, &nb) : NULL;
    double r = -1;
    if (wa && wb) {
        int common = 0;
        for (int i = 0, j = 0; i < na && j < nb;) {   // multiset intersection of sorted lists
            int c = strcmp(wa[i], wb[j]);
            if (c == 0) { common++; i++; j++; }
            else if (c < 0) i++;
            else j++;
        }
        if (common == 0) r = 0;
        else {
            double p = (double)common / na, rc = (double)common / nb;
            r = 2 * p * rc / (p + rc);
        }
    }
    free(wa); free(wb); free(a); free(b);
    return r;
}

// The maximum of score(pred, gold) over the golds (0 for none; -1: memory).
static double max_over(double (*score)(const char *, const char *), const char *pred, const char *const *golds, int n) {
    double best = 0;
    for (int i = 0; i < n; i++) {
        double v = score(pred, golds[i]);
        if (v < 0) return -1;
        if (v > best) best = v;
    }
    return best;
}

double hl_squad_exact_max(const char *pred, const char *const *golds, int n) {
    return max_over(hl_squad_exact, pred, golds, n);
}

double hl_squad_f1_max(const char *pred, const char *const *golds, int n) {
    return max_over(hl_squad_f1, pred, golds, n);
}

int hl_contains_nocase(const char *hay, const char *needle) {
    char *h = hl_text_lower(hay), *n = hl_text_lower(needle);
    int r = h && n ? strstr(h, n) != NULL : -1;
    free(h); free(n);
    return r;
}

static double contains_d(const char *hay, const char *needle) { return hl_contains_nocase(hay, needle); }

double hl_contains_max(const char *pred, const char *const *golds, int n) {
    return max_over(contains_d, pred, golds, n);
}

char *hl_utf8_sanitize(const char *s) {
    size_t n = strlen(s), k = 0;
    char *out = malloc(3 * n + 1);   // each bad byte at most 3 bytes of U+FFFD
    if (!out) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        int need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (need == 0) { out[k++] = (char)c; i++; continue; }
        size_t j = 1;   // continuation bytes that still make a valid prefix
        if (need > 0) {
            unsigned lo = 0x80, hi = 0xBF;   // the second byte's range (Unicode table 3-7)
            if (c == 0xE0) lo = 0xA0;
            else if (c == 0xED) hi = 0x9F;
            else if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F;
            while ((int)j <= need && i + j < n) {
                unsigned b = u[i + j];
                if (j == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
                j++;
            }
            if ((int)j == need + 1) { memcpy(out + k, s + i, j); k += j; i += j; continue; }
        }
        memcpy(out + k, "\xEF\xBF\xBD", 3);   // U+FFFD for the maximal subpart s[i..i+j)
        k += 3;
        i += j;
    }
    out[k] = 0;
    return out;
}

void hl_mean_sem(const double *x, long n, double *mean, double *sem) {
    double s = 0;
    for (long i = 0; i < n; i++) s += x[i];
    double m = n > 0 ? s / (double)n : NAN;
    double ss = 0;
    for (long i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sem = n >= 2 ? sqrt(ss / (double)(n - 1)) / sqrt((double)n) : NAN;
}
