// unicode.c: code-point classes (binary search over the generated ranges,
// a table for ASCII) and the strict UTF-8 decoder of text/unicode.h.
#include "text/unicode.h"

int hl_unicode_class(uint32_t cp) {
    int lo = 0, hi = hl_unicode_nranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < hl_unicode_ranges[mid].lo) hi = mid - 1;
        else if (cp > hl_unicode_ranges[mid].hi) lo = mid + 1;
        else return hl_unicode_ranges[mid].cls;
    }
    return HL_UC_OTHER;
}

int hl_utf8_next(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = HL_UC_BAD_BYTE; return 1; }
    if ((size_t)n > len) { *cp = HL_UC_BAD_BYTE; return 1; }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = HL_UC_BAD_BYTE; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { *cp = HL_UC_BAD_BYTE; return 1; }
    *cp = v;
    return n;
}
