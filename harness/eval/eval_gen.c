// eval_gen.c: greedy generation for the HL_EVAL_GENERATE requests of the
// evaluation families (harness/eval/eval_internal.h), through the model's
// cached decoding state (models/decode.h).
//
// One state of batch 1 sized for max_length positions is kept across items
// (recreated when the model or max_length changes). Per item: the prompt
// is cut from the left to max_length - max_new tokens; prefill; then each
// new token is the argmax of the logits over the model's whole vocabulary
// (ties to the lowest id), its bytes (text/tokenizer.h; an id past the
// tokenizer's vocabulary decodes to nothing) appended to the text, and
// generation stops when the text contains the stop string (the text is cut
// where it starts), after max_new tokens, or at the tokenizer's eos (not
// part of the text: lm-evaluation-harness stops at the eos text too).
#include <stdlib.h>
#include <string.h>
#include "harness/eval/eval_internal.h"
#include "models/decode.h"

struct hl_eval_gen {
    hl_model *m;
    int max_len;
    hl_infer *s;
};

void hl_eval_gen_free(hl_eval_gen *g) {
    if (!g) return;
    hl_infer_free(g->s);
    free(g);
}

// The first id among the largest of x[0..n).
static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int hl_eval_answer_generate(hl_eval_gen **gp, hl_model *m, const hl_tokenizer *tok,
                            const hl_eval_item *it, int max_length, char **text,
                            int *truncated, long *tokens, char *err, size_t errlen) {
    *text = NULL;
    *truncated = 0;
    if (it->kind != HL_EVAL_GENERATE)
        return hl_fail(err, errlen, HL_EBADINPUT, "generation: the item is not a generation request");
    if (it->max_new < 1)
        return hl_fail(err, errlen, HL_EBADINPUT, "generation: max_new_tokens must be >= 1 (got %d)", it->max_new);
    if (max_length - it->max_new < 1)
        return hl_fail(err, errlen, HL_EBADINPUT,
                       "generation: max_new_tokens %d leaves no room for the prompt in max_length %d",
                       it->max_new, max_length);
    if (it->n_prompt < 1) return hl_fail(err, errlen, HL_EBADINPUT, "generation: empty prompt");
    hl_eval_gen *g = *gp;
    if (g && (g->m != m || g->max_len != max_length)) { hl_eval_gen_free(g); g = *gp = NULL; }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
        g->s = hl_infer_create(m, 1, max_length, err, errlen);
        if (!g->s) { free(g); return HL_EBADINPUT; }
        g->m = m;
        g->max_len = max_length;
        *gp = g;
    }
    const int32_t *prompt = it->prompt;
    int n = it->n_prompt, budget = max_length - it->max_new;
    if (n > budget) { prompt += n - budget; n = budget; *truncated = 1; }
    int V = hl_model_cfg(m)->vocab_size;
    int32_t eos = hl_tokenizer_eos(tok);
    const char *stop = it->stop && it->stop[0] ? it->stop : NULL;
    size_t stop_len = stop ? strlen(stop) : 0;
    const float *logits;
    int rc = hl_infer_prefill(g->s, prompt, 1, n, NULL, &logits, err, errlen);
    if (rc) return rc;
    *tokens += n;
    size_t len = 0, cap = 64;
    char *out = malloc(cap);
    if (!out) return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory");
    out[0] = 0;
    for (int step = 0; step < it->max_new; step++) {
        int32_t next = argmax(logits, V);
        if (next == eos) break;
        size_t nb = 0;
        const char *b = hl_tokenizer_token_bytes(tok, next, &nb);
        if (!b) nb = 0;
        if (len + nb + 1 > cap) {
            while (len + nb + 1 > cap) cap *= 2;
            char *o = realloc(out, cap);
            if (!o) { free(out); return hl_fail(err, errlen, HL_EFAIL, "generation: out of memory"); }
            out = o;
        }
        memcpy(out + len, b, nb);
        size_t from = len + 1 > stop_len ? len + 1 - stop_len : 0;   // a new match ends in the new bytes
        len += nb;
        out[len] = 0;
        if (stop) {
            char *hit = memmem(out + from, len - from, stop, stop_len);
            if (hit) { *hit = 0; break; }
        }
        if (step + 1 == it->max_new) break;
        rc = hl_infer_step(g->s, &next, &logits, err, errlen);
        if (rc) { free(out); return rc; }
        *tokens += 1;
    }
    *text = out;
    return HL_OK;
}
