// runner.c: sweep hashing, sharding, thread budget and the in-process runner
// (no database). The database runner is in runner_db.c.
#include "runner.h"
#include "runner_internal.h"
#include "results.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hl_runner_in_shard(int i, int shard_i, int shard_n) {
    if (shard_n <= 1) return 1;
    return i % shard_n == shard_i - 1;
}

void hl_runner_sweep_hash(const hl_sweep *sw, const char *const *sets, int n_sets, char out[65]) {
    size_t len = strlen(sw->source_json) + 1;
    for (int i = 0; i < n_sets; i++) len += strlen(sets[i]) + 1;
    char *buf = malloc(len + 1);
    if (!buf) { hl_sha256_hex(sw->source_json, strlen(sw->source_json), out); return; }
    size_t off = 0;
    // source, then each override, each followed by a NUL: unambiguous
    memcpy(buf, sw->source_json, strlen(sw->source_json) + 1);
    off = strlen(sw->source_json) + 1;
    for (int i = 0; i < n_sets; i++) {
        size_t k = strlen(sets[i]) + 1;
        memcpy(buf + off, sets[i], k);
        off += k;
    }
    hl_sha256_hex(buf, off, out);
    free(buf);
}

int hl_runner_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int hl_runner_threads(const hl_runner_opts *o) {
    if (o->threads > 0) return o->threads;
    if (o->jobs <= 1) return 0;
    int t = hl_runner_cores() / o->jobs;
    return t < 1 ? 1 : t;
}

const char *hl_runner_status_name(hl_run_status s) {
    return s == HL_RUN_DONE ? "done" : s == HL_RUN_DIVERGED ? "diverged" : "failed";
}

// Checkpoint file for run r: --save (single run) or DIR/<hash>.safetensors.
const char *hl_runner_save_path(const hl_runner_opts *o, const hl_sweep_run *r, char *buf, size_t n) {
    if (o->save_path) return o->save_path;
    if (!o->ckpt_dir) return NULL;
    snprintf(buf, n, "%s/%s.safetensors", o->ckpt_dir, r->spec.hash);
    return buf;
}

void hl_runner_tally_print(const hl_runner_tally *t) {
    fprintf(stderr, "hylab run: %d runs: %d done, %d failed, %d diverged, %d skipped (already finished)",
            t->total, t->done, t->failed, t->diverged, t->skipped);
    if (t->elsewhere) fprintf(stderr, ", %d still running elsewhere", t->elsewhere);
    fputc('\n', stderr);
}

int hl_runner_exit_status(const hl_runner_tally *t) {
    return (t->failed || t->diverged || t->errors) ? 1 : 0;
}

// ---------------------------------------------------------------- in-process
static void run_one_inproc(const hl_sweep_run *r, const hl_runner_opts *o, int k, int n,
                           hl_runner_tally *t) {
    char path[4096];
    char label[2 * HL_NAME_LEN];
    snprintf(label, sizeof label, "%s %s", r->variant, r->grid_json);
    hl_run_opts opts = {hl_runner_threads(o), o->backend, hl_runner_save_path(o, r, path, sizeof path),
                        1, label};
    hl_sink sink = hl_stdout_sink();
    hl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    fprintf(stderr, "hylab run: [%d/%d] %s %s started\n", k, n, r->variant, r->grid_json);
    hl_run_status st = hl_train_run(&r->spec, &opts, &sink, &sum);
    hl_print_summary_json(stdout, &r->spec, &sum);
    fflush(stdout);
    fprintf(stderr, "hylab run: [%d/%d] %-8s %s %s %.12s  %.1f s%s%s\n", k, n,
            hl_runner_status_name(st), r->variant, r->grid_json, r->spec.hash, sum.wall_s,
            st == HL_RUN_DONE ? "" : "  ", st == HL_RUN_DONE ? "" : sum.error);
    if (st == HL_RUN_DONE) t->done++;
    else if (st == HL_RUN_DIVERGED) t->diverged++;
    else t->failed++;
}

static int run_inproc(const hl_sweep *sw, const hl_runner_opts *o) {
    hl_runner_tally t = {0};
    for (int i = 0; i < sw->n_runs; i++) t.total += hl_runner_in_shard(i, o->shard_i, o->shard_n);
    int k = 0;
    for (int i = 0; i < sw->n_runs; i++)
        if (hl_runner_in_shard(i, o->shard_i, o->shard_n))
            run_one_inproc(&sw->runs[i], o, ++k, t.total, &t);
    hl_runner_tally_print(&t);
    return hl_runner_exit_status(&t);
}

int hl_runner_run(const hl_sweep *sw, const hl_runner_opts *o) {
    if (o->db_path) return hl_runner_run_db(sw, o);
    return run_inproc(sw, o);
}
