// cmd_run.c: `hylab run SPEC_OR_SWEEP [options]`: parse the options, load and
// validate everything (exit 2 with nothing written on bad input), then hand
// the expanded sweep to the runner (harness/runner.c).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "commands.h"
#include "runner.h"
#include "../kernels/kernels.h"

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
    "  --force               rerun runs that are already done (replaces their results)\n"
    "  --backend cpu|cpu_ref kernel backend (default cpu)\n"
    "  --save FILE           one spec: save the final weights (safetensors)\n"
    "  --ckpt-dir DIR        save each run's weights to DIR/<spec_hash>.safetensors\n"
    "  --help                this text\n"
    "Exit status: 0 all runs done, 1 a run failed or diverged, 2 bad input.\n";

static int bad(const char *fmt, const char *a) {
    fprintf(stderr, "hylab run: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n(see 'hylab run --help')\n");
    return 2;
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
                                      "--backend", "--save", "--ckpt-dir"};
    int known = 0;
    for (size_t i = 0; i < sizeof with_val / sizeof *with_val; i++) known |= !strcmp(o, with_val[i]);
    if (!known) return bad("unknown option '%s'", o);
    if (!has_val) return bad("%s needs a value", o);
    (*k)++;
    if (!strcmp(o, "--db")) a->r.db_path = v;
    else if (!strcmp(o, "--save")) a->r.save_path = v;
    else if (!strcmp(o, "--ckpt-dir")) a->r.ckpt_dir = v;
    else if (!strcmp(o, "--backend")) a->r.backend = v;
    else if (!strcmp(o, "--set")) {
        if (a->n_sets == MAX_SETS) return bad("too many --set options (max %s)", "256");
        if (!strchr(v, '=')) return bad("--set wants KEY=VALUE (got '%s')", v);
        a->sets[a->n_sets++] = v;
    } else if (!strcmp(o, "--shard")) {
        if (parse_shard(v, &a->r.shard_i, &a->r.shard_n)) return bad("--shard wants I/N with 1 <= I <= N (got '%s')", v);
    } else if (!strcmp(o, "--jobs")) {
        if (parse_int(v, 1, &a->r.jobs)) return bad("--jobs wants a positive integer (got '%s')", v);
    } else if (parse_int(v, 1, &a->r.threads) || a->r.threads > HL_MAX_THREADS) {
        char why[96];
        snprintf(why, sizeof why, "--threads wants an integer in [1, %d] (got '%s')", HL_MAX_THREADS, v);
        return bad("%s", why);
    }
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    a->r.jobs = 1; a->r.shard_i = 1; a->r.shard_n = 1;
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
    if (a->r.backend && !hl_ops_get(a->r.backend)) return bad("unknown or unavailable backend '%s'", a->r.backend);
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

static int check_outputs(const hl_sweep *sw, const run_args *a) {
    if (a->r.save_path && n_in_shard(sw, &a->r) != 1)
        return bad("--save takes one run; this sweep has more: use --ckpt-dir DIR (got %s)", a->r.save_path);
    if (a->r.ckpt_dir && mkdir(a->r.ckpt_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "hylab run: cannot create %s: %s\n", a->r.ckpt_dir, strerror(errno));
        return 1;
    }
    return 0;
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
    rc = check_outputs(&sw, &a);
    if (!rc) rc = hl_runner_run(&sw, &a.r);
    hl_sweep_free(&sw);
    return rc;
}
