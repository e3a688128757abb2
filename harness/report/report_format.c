// report_format.c: number formats of report table columns.
//   (none)   integers as is, other numbers with 4 significant digits
//   "pct"    value x 100 with one decimal (0.953 -> 95.3)
//   "si"     3 significant digits with a K/M/G/T suffix (1234567 -> 1.23M)
//   "int"    rounded, with thousands separators (12345.6 -> 12,346)
//   printf   one conversion %[-+ 0#][width][.prec](d|i|f|F|e|E|g|G), with
//            literal text around it ("%%" for a percent sign)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/report/report.h"

// Parses a printf format; *conv gets the conversion letter.
static int parse_printf(const char *f, char *conv, char *why, size_t len) {
    int n = 0;
    for (const char *s = f; *s; s++) {
        if (*s != '%') continue;
        if (s[1] == '%') { s++; continue; }
        s++;
        while (*s && strchr("-+ 0#", *s)) s++;
        int w = 0;
        while (*s >= '0' && *s <= '9') { s++; if (++w > 2) break; }
        if (*s == '.') { s++; int p = 0; while (*s >= '0' && *s <= '9') { s++; if (++p > 2) break; } }
        if (!*s || !strchr("difFeEgG", *s)) {
            snprintf(why, len, "'%s': expected one conversion %%[flags][width][.precision] of d, i, f, e or g", f);
            return -1;
        }
        *conv = *s;
        n++;
    }
    if (n != 1) {
        snprintf(why, len, "'%s': must be pct, si, int or a printf format with exactly one conversion "
                 "(e.g. \"%%.3f\")", f);
        return -1;
    }
    return 0;
}

int hl_report_check_format(const char *format, char *why, size_t len) {
    if (!strcmp(format, "pct") || !strcmp(format, "si") || !strcmp(format, "int")) return 0;
    char conv;
    return parse_printf(format, &conv, why, len);
}

static void fmt_si(double v, char *buf, size_t len) {
    static const char sfx[] = " KMGTP";
    double a = fabs(v);
    int k = 0;
    while (a >= 999.5 && k < 5) { a /= 1000; v /= 1000; k++; }
    int prec = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
    if (k == 0 && v == floor(v)) prec = 0;
    if (k == 0) snprintf(buf, len, "%.*f", prec, v);
    else snprintf(buf, len, "%.*f%c", prec, v, sfx[k]);
}

static void fmt_int(double v, char *buf, size_t len) {
    char digits[64];
    // halves round away from zero (as sqlite's printf and most readers expect)
    if (fabs(v) < 9e18) snprintf(digits, sizeof digits, "%lld", (long long)llround(v));
    else snprintf(digits, sizeof digits, "%.0f", v);
    const char *d = digits;
    size_t o = 0;
    if (*d == '-') { if (o + 1 < len) buf[o++] = '-'; d++; }
    size_t nd = strlen(d);
    for (size_t i = 0; i < nd && o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = 0;
}

// Formats with a validated printf format (integer conversions get a long long).
static void fmt_printf(double v, const char *f, char *buf, size_t len) {
    char conv = 'f', why[8];
    if (parse_printf(f, &conv, why, sizeof why)) { snprintf(buf, len, "%g", v); return; }
    if (conv == 'd' || conv == 'i') {
        char f2[64];
        const char *pc = f;
        // insert "ll" before the conversion letter (the only d/i after a lone %)
        for (const char *s = f; *s; s++) {
            if (*s != '%') continue;
            if (s[1] == '%') { s++; continue; }
            pc = s + 1;
            while (*pc && !strchr("di", *pc)) pc++;
            break;
        }
        int pre = (int)(pc - f);
        snprintf(f2, sizeof f2, "%.*sll%s", pre, f, pc);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, len, f2, (long long)llround(v));
    } else {
        snprintf(buf, len, f, v);
#pragma GCC diagnostic pop
    }
}

void hl_report_format_num(double v, int is_int, const char *format, char *buf, size_t len) {
    if (isnan(v)) { snprintf(buf, len, "nan"); return; }
    if (isinf(v)) { snprintf(buf, len, v > 0 ? "inf" : "-inf"); return; }
    if (!format) {
        if (is_int) snprintf(buf, len, "%lld", (long long)v);
        else snprintf(buf, len, "%.4g", v);
    } else if (!strcmp(format, "pct")) snprintf(buf, len, "%.1f", v * 100.0);
    else if (!strcmp(format, "si")) fmt_si(v, buf, len);
    else if (!strcmp(format, "int")) fmt_int(v, buf, len);
    else fmt_printf(v, format, buf, len);
    if (!strcmp(buf, "-0.0") || !strcmp(buf, "-0.00") || !strcmp(buf, "-0.000") || !strcmp(buf, "-0"))
        memmove(buf, buf + 1, strlen(buf));
}
