// bench_tokenizer.c: GPT-2 BPE encode speed, ours (text/bpe.c) against
// Hugging Face tokenizers in the same run, on the shared corpora (run by
// `make bench`). One thread each; each corpus is encoded as one text, best of
// REPS runs (ours starts every run with an empty piece cache; HF keeps its
// BPE cache across runs). HF's figure comes from tests/tokenizer/hf_bench.py
// run by $HYLAB_BENCH_PYTHON (default build/venv-bench/bin/python, made by
// tests/tokenizer/make_venv.sh); without that interpreter the benchmark
// FAILS (exit 1) and says how to make it. Two ways: each corpus as one text
// ("whole"), and each line (newline kept) by its own encode call ("lines",
// like evaluation items: our per-call cache barely helps there). The id
// counts must agree. Prints
// tokens/s of both, the ratio, the threads and the CPU model; target: ours
// at least as fast (ratio >= 1).
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/clock.h"
#include "text/datadir.h"
#include "text/tokenizer.h"

extern char **environ;

enum { REPS = 3 };
static const char *corpora[] = {"corpus/tinyshakespeare.txt", "corpus/kjv.txt", "corpus/wikitext2_valid.txt",
                                 "corpus/wikitext2_test.txt"};
#define N_CORPORA (int)(sizeof corpora / sizeof corpora[0])

static void cpu_model(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(out, n, "%s", c + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
}

// Runs python hf_bench.py DATA REPS corpora... with stdout to out_path;
// returns its exit status (-1: could not start).
static int run_hf(const char *python, const char *data, const char *out_path) {
    char reps[16];
    snprintf(reps, sizeof reps, "%d", REPS);
    char *argv[4 + N_CORPORA + 1];
    int k = 0;
    argv[k++] = (char *)python;
    argv[k++] = "tests/tokenizer/hf_bench.py";
    argv[k++] = (char *)data;
    argv[k++] = reps;
    for (int i = 0; i < N_CORPORA; i++) argv[k++] = (char *)corpora[i];
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void) {
    const char *data = getenv("HYLAB_DATA");
    const char *python = getenv("HYLAB_BENCH_PYTHON");
    if (!python || !*python) python = "build/venv-bench/bin/python";
    if (!data || !*data) {
        fprintf(stderr, "bench_tokenizer: FAIL: HYLAB_DATA is not set (the Makefile sets it to ../shared/data)\n");
        return 1;
    }
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "bench_tokenizer: FAIL: no Python with Hugging Face tokenizers at %s (HYLAB_BENCH_PYTHON);"
                " create it with: sh tests/tokenizer/make_venv.sh\n", python);
        return 1;
    }
    char err[HL_ERR_LEN], cpu[256];
    hl_tokenizer *t;
    if (hl_tokenizer_open("gpt2", data, &t, err, sizeof err) != HL_OK) {
        fprintf(stderr, "bench_tokenizer: FAIL: %s\n", err);
        return 1;
    }
    cpu_model(cpu, sizeof cpu);
    printf("bench_tokenizer: GPT-2 BPE encode, one thread each, best of %d runs per corpus (one text per corpus)\n"
           "  cpu: %s\n", REPS, cpu);
    double ours_s[2][N_CORPORA];   // [whole, lines][corpus]
    size_t ours_n[2][N_CORPORA], bytes[N_CORPORA];
    for (int i = 0; i < N_CORPORA; i++) {
        char path[HL_DATA_PATH_LEN], *text;
        if (hl_data_path(data, corpora[i], "bench_tokenizer", path, sizeof path, err, sizeof err) != HL_OK ||
            hl_read_file(path, &text, &bytes[i], err, sizeof err) != HL_OK) {
            fprintf(stderr, "bench_tokenizer: FAIL: %s\n", err);
            return 1;
        }
        for (int mode = 0; mode < 2; mode++) {
            ours_s[mode][i] = 1e30;
            for (int r = 0; r < REPS; r++) {
                hl_ids ids = {0};
                int rc = HL_OK;
                double t0 = hl_now_s();
                if (mode == 0) rc = hl_tokenizer_encode(t, text, bytes[i], &ids, err, sizeof err);
                for (size_t p = 0; mode == 1 && rc == HL_OK && p < bytes[i];) {
                    const char *nl = memchr(text + p, '\n', bytes[i] - p);
                    size_t e = nl ? (size_t)(nl - text) + 1 : bytes[i];
                    rc = hl_tokenizer_encode(t, text + p, e - p, &ids, err, sizeof err);
                    p = e;
                }
                double dt = hl_now_s() - t0;
                if (rc != HL_OK) { fprintf(stderr, "bench_tokenizer: FAIL: %s\n", err); return 1; }
                if (dt < ours_s[mode][i]) ours_s[mode][i] = dt;
                ours_n[mode][i] = ids.n;
                hl_ids_free(&ids);
            }
        }
        free(text);
    }
    hl_tokenizer_free(t);
    char out_path[] = "/tmp/hl_bench_tok_XXXXXX";
    int fd = mkstemp(out_path);
    if (fd < 0) { perror("bench_tokenizer: mkstemp"); return 1; }
    close(fd);
    int rc = run_hf(python, data, out_path);
    FILE *f = fopen(out_path, "r");
    double hf_s[2][N_CORPORA];
    size_t hf_n[2][N_CORPORA];
    int got = 0;
    char line[1024], version[64] = "?";
    while (f && fgets(line, sizeof line, f)) {
        char kind[16], p[512];
        size_t n;
        double sec;
        if (sscanf(line, "version %63s", version) == 1) continue;
        if (sscanf(line, "%15s %511s %zu %lf", kind, p, &n, &sec) != 4) continue;
        int mode = !strcmp(kind, "lines");
        for (int i = 0; i < N_CORPORA; i++)
            if (!strcmp(p, corpora[i])) { hf_n[mode][i] = n; hf_s[mode][i] = sec; got |= 1 << (i + mode * N_CORPORA); }
    }
    if (f) fclose(f);
    remove(out_path);
    if (rc != 0 || got != (1 << 2 * N_CORPORA) - 1) {
        fprintf(stderr, "bench_tokenizer: FAIL: %s tests/tokenizer/hf_bench.py exited with status %d (is `tokenizers`"
                " installed? sh tests/tokenizer/make_venv.sh)\n", python, rc);
        return 1;
    }
    printf("  hf: tokenizers %s through %s\n", version, python);
    int agree = 1, met = 1;
    for (int mode = 0; mode < 2; mode++) {
        printf("  %-5s %-28s %9s %9s %12s %12s %7s\n", mode ? "lines" : "whole", "corpus", "bytes", "tokens",
               "ours tok/s", "hf tok/s", "ratio");
        double so = 0, sh = 0;
        size_t tn = 0;
        for (int i = 0; i < N_CORPORA; i++) {
            size_t on = ours_n[mode][i], hn = hf_n[mode][i];
            agree &= on == hn;
            printf("  %-5s %-28s %9zu %9zu %12.0f %12.0f %6.2fx%s\n", "", corpora[i], bytes[i], on,
                   on / ours_s[mode][i], hn / hf_s[mode][i], hf_s[mode][i] / ours_s[mode][i],
                   on == hn ? "" : "  (TOKEN COUNTS DIFFER)");
            so += ours_s[mode][i]; sh += hf_s[mode][i]; tn += on;
        }
        printf("  %-5s %-28s %9s %9zu %12.0f %12.0f %6.2fx\n", "", "all", "", tn, tn / so, tn / sh, sh / so);
        met &= sh / so >= 1.0;
        printf("bench_tokenizer: %s: threads 1 (ours) / 1 (hf); ours/hf speed %.2fx; target >= 1x: %s\n",
               mode ? "one call per line" : "one call per corpus", sh / so, sh / so >= 1.0 ? "met" : "NOT MET");
    }
    if (!agree) {
        fprintf(stderr, "bench_tokenizer: FAIL: token counts differ from Hugging Face's\n");
        return 1;
    }
    return 0;
}
