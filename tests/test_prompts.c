// test_prompts.c: harness/prompts.h: token files and JSON-lines batches,
// good and bad (every error names the file and the 1-based line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "harness/prompts.h"
#include "tests/test.h"

static char dir[] = "/tmp/hl_prompts_XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

// A bad batch file is refused with a message containing want.
static void bad_batch(const char *name, const char *text, const char *want) {
    char err[HL_ERR_LEN] = "";
    hl_prompts p;
    int rc = hl_prompts_read_jsonl(write_file("b.jsonl", text), 48, &p, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, want) && p.n == 0 && !p.p, name, "rc %d, err '%s' (want '%s')", rc,
             err, want);
}

static void bad_tokens(const char *name, const char *text, const char *want) {
    char err[HL_ERR_LEN] = "";
    hl_prompts p;
    int rc = hl_prompts_read_tokens(write_file("t.txt", text), 48, &p, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, want) && p.n == 0, name, "rc %d, err '%s' (want '%s')", rc, err, want);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char err[HL_ERR_LEN] = "";
    {
        hl_prompts p;
        int rc = hl_prompts_read_jsonl(write_file("ok.jsonl", "{\"tokens\": [1, 2, 3]}\n\n  \n{\"tokens\":[47]}\n"
                                                              "{\"tokens\": [0, 5]}"),
                                       48, &p, err, sizeof err);
        int good = rc == HL_OK && p.n == 3 && p.p[0].n == 3 && p.p[0].ids[2] == 3 && p.p[0].line == 1 &&
                   p.p[1].n == 1 && p.p[1].ids[0] == 47 && p.p[1].line == 4 && p.p[2].n == 2 && p.p[2].line == 5;
        hl_check(good, "batch_reads_lines", "rc %d (%s), n %d", rc, err, p.n);
        hl_prompts_free(&p);
    }
    {
        hl_prompts p;
        int rc = hl_prompts_read_tokens(write_file("ok.txt", "\n\n 3 4\n5\n"), 48, &p, err, sizeof err);
        hl_check(rc == HL_OK && p.n == 1 && p.p[0].n == 3 && p.p[0].ids[2] == 5 && p.p[0].line == 3,
                 "token_file_one_prompt", "rc %d (%s)", rc, err);
        hl_prompts_free(&p);
    }
    bad_tokens("tokens_out_of_range_line", "1 2\n3 48\n", "t.txt: line 2: token 3: id 48 out of range [0, 48)");
    bad_tokens("tokens_negative", "1 -1", "line 1: token 1: id -1 out of range");
    bad_tokens("tokens_not_integer", "1\n\n2x", "line 3: token 1 ('2x'): not an integer");
    bad_tokens("tokens_empty", " \n ", "t.txt: no tokens");
    bad_batch("batch_out_of_range", "{\"tokens\": [1]}\n{\"tokens\": [1, 48]}\n",
              "b.jsonl:2: tokens[1]: id 48 out of range [0, 48)");
    bad_batch("batch_negative", "{\"tokens\": [-3]}", "b.jsonl:1: tokens[0]: id -3 out of range");
    bad_batch("batch_empty_prompt", "{\"tokens\": [1]}\n\n{\"tokens\": []}", "b.jsonl:3: tokens: empty prompt");
    bad_batch("batch_not_json", "{\"tokens\": [1]}\n{\"tokens\": [1,}\n", "b.jsonl:2: invalid JSON");
    bad_batch("batch_trailing", "{\"tokens\": [1]} {\"tokens\": [2]}\n", "b.jsonl:1: invalid JSON");
    bad_batch("batch_missing_tokens", "{}", "b.jsonl:1: tokens: missing");
    bad_batch("batch_unknown_key", "{\"tokens\": [1], \"max\": 3}", "b.jsonl:1: max: unknown key");
    bad_batch("batch_duplicate_key", "{\"tokens\": [1], \"tokens\": [2]}", "b.jsonl:1: tokens: duplicate key");
    bad_batch("batch_tokens_not_array", "{\"tokens\": \"1 2\"}", "b.jsonl:1: tokens: expected an array");
    bad_batch("batch_token_not_integer", "{\"tokens\": [1, 2.5]}", "b.jsonl:1: tokens[1]: expected an integer");
    bad_batch("batch_token_string", "{\"tokens\": [\"1\"]}", "b.jsonl:1: tokens[0]: expected an integer");
    bad_batch("batch_not_object", "[1, 2]", "b.jsonl:1: expected an object");
    bad_batch("batch_prompt_needs_tokenizer", "{\"tokens\": [1]}\n{\"prompt\": \"hello\"}", "b.jsonl:2: prompt: text prompts need a tokenizer");
    bad_batch("batch_no_prompts", "\n \n", "b.jsonl: no prompts");
    bad_batch("batch_huge_number", "{\"tokens\": [1e400]}", "b.jsonl:1");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return hl_test_done();
}
