// cmd_tokenize.c: `hylab tokenize --tokenizer NAME [--data-dir D] [--decode]
// FILE|-`: text -> ids (whitespace-separated, one line, on stdout), or with
// --decode ids -> the text's bytes. Tokenizers: text/tokenizer.h.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "text/datadir.h"
#include "text/tokenizer.h"

static const char *usage_text =
    "usage: hylab tokenize --tokenizer NAME [--data-dir D] [--decode] FILE|-\n"
    "  Encodes FILE (- : standard input) and writes its token ids to standard\n"
    "  output, separated by spaces, on one line. --decode reads whitespace-\n"
    "  separated ids instead and writes the bytes of their text.\n"
    "  --tokenizer  byte (256 ids, one per byte) or gpt2 (GPT-2 BPE, read from\n"
    "               the data directory's tokenizers/gpt2/)\n"
    "  --data-dir   the data directory (default: $HYLAB_DATA, then\n"
    "               $XDG_DATA_HOME/hylab or ~/.local/share/hylab)\n"
    "Exit status: 0 ok, 2 bad input (unknown tokenizer, missing or malformed\n"
    "tokenizer file, unreadable FILE, an id that is not an integer in range).\n";

static int bad(const char *fmt, const char *a) {
    fprintf(stderr, "hylab tokenize: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 2;
}

typedef struct { const char *tokenizer, *data_dir, *file; int decode, help; } tok_args;

static int parse(int argc, char **argv, tok_args *a) {
    memset(a, 0, sizeof *a);
    for (int k = 1; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
        else if (!strcmp(o, "--decode")) a->decode = 1;
        else if (!strcmp(o, "--tokenizer") || !strcmp(o, "--data-dir")) {
            if (++k == argc) return bad("%s needs a value", o);
            if (!strcmp(o, "--tokenizer")) a->tokenizer = argv[k];
            else a->data_dir = argv[k];
        } else if (o[0] == '-' && o[1]) return bad("unknown option '%s' (see --help)", o);
        else if (a->file) return bad("give one FILE (extra: '%s')", o);
        else a->file = o;
    }
    if (!a->tokenizer) return bad("%s", "--tokenizer NAME is required (byte or gpt2)");
    if (!a->file) return bad("%s", "no FILE given (- reads standard input)");
    return 0;
}

// Parses the whitespace-separated ids of buf into *ids (range-checked by
// decode). HL_EBADINPUT naming the file and the id's position.
static int parse_ids(const char *file, const char *buf, size_t len, hl_ids *ids, char *err, size_t errlen) {
    size_t p = 0;
    while (p < len) {
        while (p < len && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\n' || buf[p] == '\r')) p++;
        if (p == len) break;
        size_t s = p;
        while (p < len && !(buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\n' || buf[p] == '\r')) p++;
        char word[32];
        size_t n = p - s;
        int ok = n > 0 && n < sizeof word;
        long v = 0;
        if (ok) {
            memcpy(word, buf + s, n); word[n] = 0;
            char *end;
            errno = 0;
            v = strtol(word, &end, 10);
            ok = *end == 0 && errno == 0 && v >= INT32_MIN && v <= INT32_MAX && (word[0] == '-' || (word[0] >= '0' && word[0] <= '9'));
        }
        if (!ok)
            return hl_fail(err, errlen, HL_EBADINPUT, "%s: id %zu ('%.*s') is not an integer", file, ids->n,
                           (int)(n > 20 ? 20 : n), buf + s);
        if (hl_ids_push(ids, (int32_t)v) != HL_OK) return hl_fail(err, errlen, HL_EFAIL, "out of memory");
    }
    return HL_OK;
}

static int write_ids(const hl_ids *ids) {
    // one line; fwrite in blocks (a corpus has millions of ids)
    char buf[1 << 16];
    size_t n = 0;
    for (size_t i = 0; i < ids->n; i++) {
        if (n > sizeof buf - 16) { if (fwrite(buf, 1, n, stdout) != n) return 1; n = 0; }
        n += (size_t)snprintf(buf + n, sizeof buf - n, i ? " %d" : "%d", (int)ids->v[i]);
    }
    buf[n++] = '\n';
    return fwrite(buf, 1, n, stdout) != n;
}

int cmd_tokenize(int argc, char **argv) {
    tok_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    if (a.help) { fputs(usage_text, stdout); return 0; }
    char err[HL_ERR_LEN], dir[HL_DATA_PATH_LEN];
    if (hl_data_dir(a.data_dir, dir, sizeof dir, err, sizeof err) != HL_OK) return bad("%s", err);
    hl_tokenizer *t;
    rc = hl_tokenizer_open(a.tokenizer, dir, &t, err, sizeof err);
    if (rc != HL_OK) return rc == HL_EBADINPUT ? bad("%s", err) : (fprintf(stderr, "hylab tokenize: %s\n", err), 1);
    char *buf = NULL, *text = NULL;
    size_t len = 0, tlen = 0;
    hl_ids ids = {0};
    rc = hl_read_file(a.file, &buf, &len, err, sizeof err);
    if (rc == HL_OK && a.decode) {
        rc = parse_ids(a.file, buf, len, &ids, err, sizeof err);
        if (rc == HL_OK) rc = hl_tokenizer_decode(t, ids.v, ids.n, &text, &tlen, err, sizeof err);
        if (rc == HL_EBADINPUT && ids.n) {   // name the file in the range error
            fprintf(stderr, "hylab tokenize: %s: %s\n", a.file, err);
            free(buf); free(text); hl_ids_free(&ids); hl_tokenizer_free(t);
            return 2;
        }
        if (rc == HL_OK && fwrite(text, 1, tlen, stdout) != tlen) rc = hl_fail(err, sizeof err, HL_EFAIL, "write error");
    } else if (rc == HL_OK) {
        rc = hl_tokenizer_encode(t, buf, len, &ids, err, sizeof err);
        if (rc == HL_OK && write_ids(&ids)) rc = hl_fail(err, sizeof err, HL_EFAIL, "write error");
    }
    if (rc == HL_OK && fflush(stdout)) rc = hl_fail(err, sizeof err, HL_EFAIL, "write error");
    free(buf); free(text); hl_ids_free(&ids);
    hl_tokenizer_free(t);
    if (rc == HL_EBADINPUT) return bad("%s", err);
    if (rc != HL_OK) { fprintf(stderr, "hylab tokenize: %s\n", err); return 1; }
    return 0;
}
