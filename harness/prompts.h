// prompts.h: reading prompts (token ids) for `hylab forward` and `hylab
// generate`. Two formats:
//   token file: whitespace-separated integer ids (one sequence), as
//     `hylab forward --tokens` reads;
//   batch file: JSON lines, one prompt per line: {"tokens": [ids...]}
//     ({"prompt": "text"} is recognised and refused: it needs a tokenizer,
//     which hylab does not have yet). Lines holding only whitespace are
//     skipped; every other line is one strict JSON object (hl_json_parse:
//     duplicate keys refused) with exactly one of those keys.
// Every id must be in [0, vocab) and a prompt must not be empty. Files are
// read whole up to HL_MAX_INPUT_BYTES; '-' is standard input. Errors are
// HL_EBADINPUT with a message naming the file and the 1-based line:
// "toks.txt: line 2: token 5: id 99 out of range [0, 48)",
// "b.jsonl:3: tokens[1]: id 99 out of range [0, 48)" (HL_EFAIL: memory).
#ifndef HYLAB_PROMPTS_H
#define HYLAB_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t *ids;
    int n;        // >= 1
    int line;     // 1-based line of the file it came from (token file: its first id's line)
} hl_prompt;

typedef struct {
    hl_prompt *p;
    int n;
} hl_prompts;

// One sequence of ids from a token file into *ids (malloc'd) and *n >= 1.
int hl_read_token_ids(const char *path, int vocab, int32_t **ids, int *n, char *err, size_t errlen);

// A token file as one prompt, or a batch file as one prompt per line, into
// *out (free with hl_prompts_free; empty on error). A batch file without a
// prompt is an error ("no prompts").
int hl_prompts_read_tokens(const char *path, int vocab, hl_prompts *out, char *err, size_t errlen);
int hl_prompts_read_jsonl(const char *path, int vocab, hl_prompts *out, char *err, size_t errlen);
void hl_prompts_free(hl_prompts *p);

#endif
