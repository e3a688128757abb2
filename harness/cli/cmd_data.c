// cmd_data.c: `hylab data list|verify|fetch`: the data directory against the
// manifest (text/datadir.h, text/manifest.c). fetch runs the `curl` program
// through posix_spawnp with an argument vector (never a shell), into
// PATH.part, checks size + SHA-256, then renames it to PATH.
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "harness/cli/commands.h"
#include "text/datadir.h"

extern char **environ;

static const char *usage_text =
    "usage: hylab data list   [--data-dir D] [--json]\n"
    "       hylab data verify [--data-dir D]\n"
    "       hylab data fetch  [--data-dir D] [--mirror URL] [PATH...]\n"
    "  The data directory holds the evaluation sets, corpora and tokenizer files;\n"
    "  it is --data-dir, else $HYLAB_DATA, else $XDG_DATA_HOME/hylab (default\n"
    "  ~/.local/share/hylab). The manifest in hylab names every file with its\n"
    "  download URL, size, SHA-256 and the tasks that need it.\n"
    "  list    each file: path, size, state (present, missing, wrong size), needed by.\n"
    "  verify  size and SHA-256 of every file; exit 1 listing the missing and bad ones.\n"
    "  fetch   downloads the missing or bad files (all, or the PATHs given) with\n"
    "          curl into PATH.part, checks size and SHA-256, then renames it.\n"
    "          --mirror BASE downloads BASE/PATH instead of the canonical URL (a\n"
    "          file:// mirror works). Files the manifest marks as converted (the\n"
    "          shared copy is a conversion of its source) need a mirror.\n"
    "Exit status: 0 ok, 1 a file is missing or bad (verify) or could not be\n"
    "fetched, 2 bad input (unknown option or PATH).\n";

static int bad(const char *fmt, const char *a) {
    fprintf(stderr, "hylab data: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 2;
}

typedef struct {
    const char *sub, *data_dir, *mirror;
    int json, help;
    const char **paths;   // [n_paths]
    int n_paths;
} data_args;

static int parse(int argc, char **argv, data_args *a) {
    memset(a, 0, sizeof *a);
    a->paths = calloc((size_t)argc + 1, sizeof *a->paths);
    if (!a->paths) return bad("%s", "out of memory");
    for (int k = 1; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
        else if (!strcmp(o, "--json")) a->json = 1;
        else if (!strcmp(o, "--data-dir") || !strcmp(o, "--mirror")) {
            if (++k == argc) return bad("%s needs a value", o);
            if (!strcmp(o, "--data-dir")) a->data_dir = argv[k];
            else a->mirror = argv[k];
        } else if (o[0] == '-' && o[1]) return bad("unknown option '%s' (see --help)", o);
        else if (!a->sub) a->sub = o;
        else a->paths[a->n_paths++] = o;
    }
    if (!a->sub) return bad("%s", "give a subcommand: list, verify or fetch (see --help)");
    if (strcmp(a->sub, "list") && strcmp(a->sub, "verify") && strcmp(a->sub, "fetch"))
        return bad("unknown subcommand '%s' (list, verify or fetch)", a->sub);
    if (a->json && strcmp(a->sub, "list")) return bad("%s", "--json goes with list");
    if (a->mirror && strcmp(a->sub, "fetch")) return bad("%s", "--mirror goes with fetch");
    if (a->n_paths && strcmp(a->sub, "fetch")) return bad("unexpected argument '%s' (PATHs go with fetch)", a->paths[0]);
    for (int i = 0; i < a->n_paths; i++)
        if (!hl_data_find(a->paths[i])) return bad("'%s' is not in the manifest (see `hylab data list`)", a->paths[i]);
    return 0;
}

// path = dir/rel; 0, or -1 when it does not fit (the file then reads as missing).
static int join(char *path, size_t n, const char *dir, const char *rel) {
    int k = snprintf(path, n, "%s/%s", dir, rel);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static const char *state_name(int st) {
    return st == HL_DATA_GOOD ? "present" : st == HL_DATA_MISSING ? "missing"
         : st == HL_DATA_WRONG_SIZE ? "wrong size" : "wrong sha256";
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int data_list(const char *dir, int json) {
    if (json) printf("[");
    else printf("data directory: %s\n%-44s %10s  %-12s %s\n", dir, "path", "size", "state", "needed by");
    for (const hl_data_entry *e = hl_data_manifest; e->path; e++) {
        char path[HL_DATA_PATH_LEN];
        int64_t size = -1;
        int st = join(path, sizeof path, dir, e->path) ? HL_DATA_MISSING : hl_data_check(path, e, 0, &size, NULL);
        if (json) {
            printf("%s\n {\"path\": ", e == hl_data_manifest ? "" : ",");
            json_str(e->path);
            printf(", \"size\": %lld, \"state\": \"%s\", \"needed_by\": ", (long long)e->size, state_name(st));
            json_str(e->needed_by);
            printf(", \"url\": ");
            json_str(e->url);
            printf(", \"sha256\": \"%s\", \"note\": ", e->sha256);
            json_str(e->note);
            printf("}");
        } else {
            printf("%-44s %10lld  %-12s %s\n", e->path, (long long)e->size, state_name(st), e->needed_by);
        }
    }
    if (json) printf("\n]\n");
    return 0;
}

static int data_verify(const char *dir) {
    int n = 0, n_bad = 0;
    for (const hl_data_entry *e = hl_data_manifest; e->path; e++, n++) {
        char path[HL_DATA_PATH_LEN], sha[65] = "";
        int64_t size = -1;
        int st = join(path, sizeof path, dir, e->path) ? HL_DATA_MISSING : hl_data_check(path, e, 1, &size, sha);
        if (st == HL_DATA_GOOD) { printf("ok      %s\n", e->path); continue; }
        n_bad++;
        if (st == HL_DATA_MISSING) printf("MISSING %s (needed by %s)\n", e->path, e->needed_by);
        else if (st == HL_DATA_WRONG_SIZE)
            printf("BAD     %s: %lld bytes, the manifest says %lld\n", e->path, (long long)size, (long long)e->size);
        else printf("BAD     %s: sha256 %s, the manifest says %s\n", e->path, sha, e->sha256);
    }
    if (n_bad) {
        printf("%d of %d files missing or bad in %s; run `hylab data fetch --data-dir %s`\n", n_bad, n, dir, dir);
        return 1;
    }
    printf("all %d files present and good in %s\n", n, dir);
    return 0;
}

// mkdir -p of the directory part of path.
static int make_parents(const char *path) {
    char p[HL_DATA_PATH_LEN];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return 0;
}

// Runs curl to download url into out; returns curl's exit status (-1: could not run).
static int run_curl(const char *url, const char *out) {
    char *argv[] = {"curl", "--fail", "--silent", "--show-error", "--location", "--retry", "2",
                    "--output", (char *)out, "--", (char *)url, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "curl", NULL, NULL, argv, environ) != 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Fetches one entry; 0 ok, 1 failed (message printed).
static int fetch_one(const char *dir, const hl_data_entry *e, const char *mirror) {
    char path[HL_DATA_PATH_LEN], part[HL_DATA_PATH_LEN + 8], url[2 * HL_DATA_PATH_LEN], sha[65];
    int k = join(path, sizeof path, dir, e->path) ? -1 : snprintf(part, sizeof part, "%s.part", path);
    if (k < 0 || (size_t)k >= sizeof part) {
        fprintf(stderr, "hylab data fetch: %s/%s: path too long\n", dir, e->path);
        return 1;
    }
    int64_t size;
    if (hl_data_check(path, e, 1, &size, sha) == HL_DATA_GOOD) { printf("ok      %s (already present)\n", e->path); return 0; }
    int converted = !strncmp(e->note, HL_DATA_CONVERTED, strlen(HL_DATA_CONVERTED));
    if (converted && !mirror) {
        fprintf(stderr, "hylab data fetch: %s: cannot download: the file is %s (source %s); make it from "
                "there, or fetch it from a copy with --mirror BASE\n", e->path, e->note, e->url);
        return 1;
    }
    if (mirror) {
        size_t m = strlen(mirror);
        snprintf(url, sizeof url, "%s%s%s", mirror, m && mirror[m - 1] == '/' ? "" : "/", e->path);
    } else snprintf(url, sizeof url, "%s", e->url);
    if (make_parents(path) != 0) {
        fprintf(stderr, "hylab data fetch: %s: cannot create its directory (%s)\n", path, strerror(errno));
        return 1;
    }
    printf("fetch   %s <- %s\n", e->path, url);
    fflush(stdout);
    int rc = run_curl(url, part);
    if (rc != 0) {
        remove(part);
        if (rc < 0) fprintf(stderr, "hylab data fetch: cannot run curl (install curl, or copy the files by hand)\n");
        else fprintf(stderr, "hylab data fetch: %s: curl exited with status %d for %s\n", e->path, rc, url);
        return 1;
    }
    int st = hl_data_check(part, e, 1, &size, sha);
    if (st != HL_DATA_GOOD) {
        remove(part);
        if (st == HL_DATA_WRONG_SIZE)
            fprintf(stderr, "hylab data fetch: %s: downloaded %lld bytes, the manifest says %lld (from %s)\n",
                    e->path, (long long)size, (long long)e->size, url);
        else fprintf(stderr, "hylab data fetch: %s: downloaded sha256 %s, the manifest says %s (from %s)\n", e->path,
                     sha, e->sha256, url);
        return 1;
    }
    if (rename(part, path) != 0) {
        fprintf(stderr, "hylab data fetch: %s: cannot rename %s (%s)\n", e->path, part, strerror(errno));
        remove(part);
        return 1;
    }
    printf("ok      %s\n", e->path);
    return 0;
}

static int data_fetch(const char *dir, const data_args *a) {
    int failed = 0;
    if (a->n_paths)
        for (int i = 0; i < a->n_paths; i++) failed += fetch_one(dir, hl_data_find(a->paths[i]), a->mirror);
    else
        for (const hl_data_entry *e = hl_data_manifest; e->path; e++) failed += fetch_one(dir, e, a->mirror);
    if (failed) fprintf(stderr, "hylab data fetch: %d file(s) not fetched\n", failed);
    return failed ? 1 : 0;
}

int cmd_data(int argc, char **argv) {
    data_args a;
    int rc = parse(argc, argv, &a);
    if (!rc && a.help) fputs(usage_text, stdout);
    if (rc || a.help) { free(a.paths); return rc; }
    char err[HL_ERR_LEN], dir[HL_DATA_PATH_LEN];
    if (hl_data_dir(a.data_dir, dir, sizeof dir, err, sizeof err) != HL_OK) { free(a.paths); return bad("%s", err); }
    if (!strcmp(a.sub, "list")) rc = data_list(dir, a.json);
    else if (!strcmp(a.sub, "verify")) rc = data_verify(dir);
    else rc = data_fetch(dir, &a);
    free(a.paths);
    return rc;
}
