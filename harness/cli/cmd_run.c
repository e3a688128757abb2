// cmd_run.c: `hylab run SPEC_OR_SWEEP [options]`: parse the options, load and
// validate everything (exit 2 with nothing written on bad input), then hand
// the expanded sweep to the runner (harness/run/runner.c).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness/cli/commands.h"
#include "harness/run/runner.h"
#include "kernels/kernels.h"
#include "text/datadir.h"

#define MAX_SETS 256

typedef struct {
    const char *path;
    const char *sets[MAX_SETS]; int n_sets;
    hl_runner_opts r;
    int help;
} run_args;

static const char *usage_text =
    "usage: hylab run SPEC_OR_SWEEP [options]\n"
    "  Train and evaluate a spec, or every run of a sweep (variants x grid).\n"
    "  --db FILE             record runs in this SQLite database; each run in its own process;\n"
    "                        rerunning the same sweep skips runs already done, retries the rest\n"
    "  --set KEY=VALUE       override a spec key (dotted path; value parsed as JSON), repeatable\n"
    "  --shard I/N           only runs whose index mod N == I-1 (use one database per shard,\n"
    "                        then 'hylab db merge')\n"
    "  --jobs N              with --db: N runs at once (threads per run: cores / N)\n"
    "  --threads N           threads per run, at most 1024 (default: all cores / jobs)\n"
    "  --force               rerun runs that are already done; their results are replaced\n"
    "                        when the new attempt finishes (kept if it fails or is killed)\n"
    "  --wait SECONDS        with --db: wait at most this long for runs of the sweep that\n"
    "                        another runner on this host is training (default 600)\n"
    "  --backend cpu|cpu_ref kernel backend (default cpu)\n"
    "  --save FILE           one spec: save the final weights (safetensors)\n"
    "  --ckpt-dir DIR        save each run's weights to DIR/<spec_hash>.safetensors\n"
    "  --samples-dir DIR     each evaluation task's per-item records (the samples of 'hylab\n"
    "                        eval') to DIR/<spec_hash>.eval<E>.<task>.jsonl (E: the entry's\n"
    "                        index in the spec's eval list)\n"
    "  --data-dir DIR        where tasks read their data (corpora, evaluation sets, tokenizers);\n"
    "                        default: HYLAB_DATA, then ~/.local/share/hylab ('hylab data fetch')\n"
    "                        (DIR is created, if need be, after every other check)\n"
    "  --help                this text\n"
    "Every run trains in its own process: a crash fails that run only. Two variants or\n"
    "grid points that give the same spec are refused. SIGINT/SIGTERM end the runs in\n"
    "progress and record them as failed (\"interrupted by SIGINT\").\n"
    "Exit status: 0 all runs done, 1 a run failed or diverged (or interrupted), 2 bad input.\n";

static int bad(const char *fmt, const char *a) {
    fprintf(stderr, "hylab run: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n(see 'hylab run --help')\n");
    return 2;
}

// --jobs and --threads: an integer in [1, HL_MAX_THREADS].
static int bad_count(const char *opt, const char *v) {
    char why[128];
    snprintf(why, sizeof why, "%s wants an integer in [1, %d] (got '%s')", opt, HL_MAX_THREADS, v);
    return bad("%s", why);
}

static int parse_int(const char *s, int lo, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > 1 << 20) return -1;
    *out = (int)v;
    return 0;
}

static int parse_shard(const char *s, int *i, int *n) {
    char a[32], b[32];
    const char *slash = strchr(s, '/');
    if (!slash || slash - s >= (long)sizeof a || strlen(slash + 1) >= sizeof b) return -1;
    snprintf(a, sizeof a, "%.*s", (int)(slash - s), s);
    snprintf(b, sizeof b, "%s", slash + 1);
    if (parse_int(a, 1, i) || parse_int(b, 1, n) || *i > *n) return -1;
    return 0;
}

// One option at argv[*k]; returns 0, or the exit status for bad input.
static int parse_opt(int argc, char **argv, int *k, run_args *a) {
    const char *o = argv[*k];
    int has_val = *k + 1 < argc;
    const char *v = has_val ? argv[*k + 1] : NULL;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) { a->help = 1; return 0; }
    if (!strcmp(o, "--force")) { a->r.force = 1; return 0; }
    static const char *with_val[] = {"--db", "--set", "--shard", "--jobs", "--threads",
                                      "--backend", "--save", "--ckpt-dir", "--wait", "--data-dir", "--samples-dir"};
    int known = 0;
    for (size_t i = 0; i < sizeof with_val / sizeof *with_val; i++) known |= !strcmp(o, with_val[i]);
    if (!known) return bad("unknown option '%s'", o);
    if (!has_val) return bad("%s needs a value", o);
    (*k)++;
    if (!strcmp(o, "--db")) a->r.db_path = v;
    else if (!strcmp(o, "--save")) a->r.save_path = v;
    else if (!strcmp(o, "--ckpt-dir")) a->r.ckpt_dir = v;
    else if (!strcmp(o, "--data-dir")) a->r.data_dir = v;
    else if (!strcmp(o, "--samples-dir")) a->r.samples_dir = v;
    else if (!strcmp(o, "--backend")) a->r.backend = v;
    else if (!strcmp(o, "--set")) {
        if (a->n_sets == MAX_SETS) return bad("too many --set options (max %s)", "256");
        if (!strchr(v, '=')) return bad("--set wants KEY=VALUE (got '%s')", v);
        a->sets[a->n_sets++] = v;
    } else if (!strcmp(o, "--shard")) {
        if (parse_shard(v, &a->r.shard_i, &a->r.shard_n)) return bad("--shard wants I/N with 1 <= I <= N (got '%s')", v);
    } else if (!strcmp(o, "--jobs")) {
        if (parse_int(v, 1, &a->r.jobs) || a->r.jobs > HL_MAX_THREADS) return bad_count("--jobs", v);
    } else if (!strcmp(o, "--wait")) {
        if (parse_int(v, 0, &a->r.wait_s)) return bad("--wait wants seconds, 0 to 1048576 (got '%s')", v);
    } else if (parse_int(v, 1, &a->r.threads) || a->r.threads > HL_MAX_THREADS) {
        return bad_count("--threads", v);
    }
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    a->r.jobs = 1; a->r.shard_i = 1; a->r.shard_n = 1; a->r.wait_s = 600;
    for (int k = 1; k < argc; k++) {
        if (argv[k][0] == '-' && argv[k][1]) {
            int rc = parse_opt(argc, argv, &k, a);
            if (rc || a->help) return rc;
        } else if (a->path) {
            return bad("more than one spec or sweep given ('%s')", argv[k]);
        } else {
            a->path = argv[k];
        }
    }
    if (!a->path) return bad("%s", "no spec or sweep file given");
    char msg[512];
    if (a->r.backend && !hl_backend_lookup(a->r.backend, msg, sizeof msg)) return bad("%s", msg);
    if (a->r.save_path && a->r.ckpt_dir) return bad("%s", "--save and --ckpt-dir exclude each other");
    if (a->r.jobs > 1 && !a->r.db_path) return bad("%s", "--jobs needs --db (runs go to separate processes)");
    a->r.sets = a->sets; a->r.n_sets = a->n_sets;
    return 0;
}

static int n_in_shard(const hl_sweep *sw, const hl_runner_opts *o) {
    int n = 0;
    for (int i = 0; i < sw->n_runs; i++) n += hl_runner_in_shard(i, o->shard_i, o->shard_n);
    return n;
}

// Two runs with one spec (hash) would be one database row: refuse them.
static int cmp_run_hash(const void *a, const void *b) {
    return strcmp((*(const hl_sweep_run *const *)a)->spec.hash, (*(const hl_sweep_run *const *)b)->spec.hash);
}

static int check_unique_specs(const hl_sweep *sw, const char *path) {
    if (sw->n_runs < 2) return 0;
    const hl_sweep_run **v = malloc((size_t)sw->n_runs * sizeof *v);
    if (!v) { fprintf(stderr, "hylab run: out of memory\n"); return 1; }
    for (int i = 0; i < sw->n_runs; i++) v[i] = &sw->runs[i];
    qsort(v, (size_t)sw->n_runs, sizeof *v, cmp_run_hash);
    int rc = 0;
    for (int i = 1; i < sw->n_runs && !rc; i++) {
        if (strcmp(v[i - 1]->spec.hash, v[i]->spec.hash)) continue;
        const hl_sweep_run *x = v[i - 1] < v[i] ? v[i - 1] : v[i], *y = v[i - 1] < v[i] ? v[i] : v[i - 1];
        fprintf(stderr, "hylab run: %s: variant '%s' %s and variant '%s' %s give the same spec (hash %.12s):"
                " they would be one run; make them differ or drop one\n",
                path, x->variant, x->grid_json, y->variant, y->grid_json, x->spec.hash);
        rc = 2;
    }
    free(v);
    return rc;
}

// Output paths are checked before anything is written (nothing is created
// here): OPT PATH, a file to write (--db, --save) or a directory (--ckpt-dir).
static int bad_path(const char *opt, const char *path, const char *what, const char *detail) {
    char m[4200];
    snprintf(m, sizeof m, "%s %s: %s%s", opt, path, what, detail ? detail : "");
    return bad("%s", m);
}

// The directory that will hold PATH must exist and be writable.
static int check_parent(const char *opt, const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return bad_path(opt, path, "no such directory: ", dir);
    if (access(dir, W_OK | X_OK) != 0) return bad_path(opt, path, "directory not writable: ", dir);
    return 0;
}

static int check_path(const char *opt, const char *path, int want_dir) {
    struct stat st;
    if (!path) return 0;
    if (!path[0]) return bad_path(opt, "''", "empty path", NULL);
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) return bad_path(opt, path, strerror(errno), NULL);
    } else if (want_dir && !S_ISDIR(st.st_mode)) {
        return bad_path(opt, path, "exists and is not a directory", NULL);
    } else if (!want_dir && S_ISDIR(st.st_mode)) {
        return bad_path(opt, path, "is a directory (a file name is wanted)", NULL);
    } else if (!want_dir && !S_ISREG(st.st_mode)) {
        return bad_path(opt, path, "not a regular file", NULL);
    } else if (access(path, want_dir ? W_OK | X_OK : W_OK) != 0) {
        return bad_path(opt, path, "not writable", NULL);
    }
    return want_dir && stat(path, &st) == 0 ? 0 : check_parent(opt, path);
}

static int check_outputs(const hl_sweep *sw, const run_args *a) {
    if (a->r.save_path && n_in_shard(sw, &a->r) != 1)
        return bad("--save takes one run; this sweep has more: use --ckpt-dir DIR (got %s)", a->r.save_path);
    int rc = check_path("--db", a->r.db_path, 0);
    if (!rc) rc = check_path("--save", a->r.save_path, 0);
    if (!rc) rc = check_path("--ckpt-dir", a->r.ckpt_dir, 1);
    if (!rc) rc = check_path("--samples-dir", a->r.samples_dir, 1);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc || a.help) {
        if (a.help) fputs(usage_text, stdout);
        return rc;
    }
    hl_sweep sw;
    char err[HL_ERR_LEN];
    if (hl_sweep_load_file(a.path, a.sets, a.n_sets, &sw, err, sizeof err) != HL_OK) {
        fprintf(stderr, "hylab run: %s\n", err);
        return 2;
    }
    rc = check_unique_specs(&sw, a.path);
    if (!rc) rc = check_outputs(&sw, &a);
    char data_dir[HL_DATA_PATH_LEN];
    if (!rc && hl_data_dir(a.r.data_dir, data_dir, sizeof data_dir, err, sizeof err) != HL_OK) {
        fprintf(stderr, "hylab run: --data-dir: %s\n", err);
        rc = 2;
    }
    a.r.data_dir = data_dir;   // resolved: --data-dir, HYLAB_DATA, then the default
    if (!rc && hl_runner_check_tasks(&sw, &a.r, err, sizeof err) != HL_OK) {
        fprintf(stderr, "hylab run: %s: %s\n", a.path, err);
        rc = 2;
    }
    if (!rc) rc = hl_runner_run(&sw, &a.r);
    hl_sweep_free(&sw);
    return rc;
}
