// bench_eval.c: evaluation speed against training speed, same model, same
// run. The model is sweeps/specs/lm-tinyshakespeare-base.json's (vocab 50257,
// d_model 64, 4 layers; A, S and H), with random weights (throughput does not
// depend on their values):
//   eval   forward-only log-likelihood scoring of the first ITEMS items of
//          HellaSwag through hl_eval_run (harness/eval/evaluate.h): tokens/s =
//          hl_eval_stats.tokens / .seconds (the input positions run through
//          the model, the model calls only);
//   train  the training step of harness/train/train.c: forward, cross-entropy
//          on every position, backward, gradient norm and clipping, AdamW, at
//          batch 8 x seq_len 256 (the sweep's): tokens/s = B * T / seconds,
//          the best of STEPS steps after one untimed.
// Both print with their ratio; the target is eval >= 2x train (the issue's
// "forward-only scoring runs at least 2x the training tokens/s"). Ids come
// from the byte tokenizer (no tokenizer files needed; the throughput per
// token does not depend on which tokenizer made the ids). Reads HellaSwag
// from the data directory (HYLAB_DATA; the Makefile sets it): missing data
// is a failure.
// Then the two log-likelihood paths (harness/eval/eval_internal.h), same
// run, same items: the first CMP_ITEMS items of hellaswag, piqa and
// arc_easy with the gpt2 tokenizer (max_length 1024, max_B 8 as hylab eval
// picks), each item's pairs through ROWS and through SHARED
// (hl_eval_answer_loglik; the best of two rounds each) on (a) the committed
// tests/lmeval/model.safetensors (d_model 16), (b) the base spec's A and H
// models (d_model 64, random weights), (c) an A model of d_model 256, 4
// layers (random weights): seconds per item, positions run per second
// (each path's own count: SHARED runs the context once) and the ratio
// rows/shared of seconds per item (> 1: shared is faster), with the mean
// pairs, context tokens per item and continuation tokens per pair, and how
// many items AUTO sends to SHARED (its rule in eval_ll.c comes from these
// figures). boolq (one-token continuations) shows where SHARED wins.
// Exit status 1 if a model's ratio is below 2, 2 if something could not run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/clock.h"
#include "harness/eval/eval_internal.h"
#include "harness/eval/evaluate.h"
#include "harness/hf_io.h"
#include "models/checkpoint.h"
#include "harness/spec.h"
#include "harness/train/optim.h"
#include "kernels/kernels.h"
#include "models/losses.h"
#include "models/model.h"
#include "text/datadir.h"

#define ITEMS 40
#define STEPS 4
#define CMP_ITEMS 20
#define CMP_MAX_B 8
#define CMP_LEN 1024

// Best tokens/s over STEPS training steps (after one untimed step).
static double train_tok_s(hl_model *m, const hl_spec *spec, int B, int T) {
    int V = spec->model.vocab_size;
    int32_t *tokens = malloc(sizeof(int32_t) * B * T), *targets = malloc(sizeof(int32_t) * B * T);
    unsigned r = 1;
    for (int i = 0; i < B * T; i++) { r = r * 1103515245u + 12345u; tokens[i] = (int32_t)((r >> 8) % 256); }
    for (int i = 0; i < B * T; i++) targets[i] = (i + 1) % T ? tokens[i + 1] : -1;
    hl_adam_state st = {0};
    if (hl_adam_create(&st, m)) { free(tokens); free(targets); return 0; }
    double best = 1e30;
    for (int s = 0; s <= STEPS; s++) {
        double t0 = hl_now_s(), scale;
        const float *logits;
        float *dlogits, *row_losses, loss;
        hl_model_loss_buffers(m, &dlogits, &row_losses);
        hl_model_zero_grad(m);
        int rc = hl_model_forward(m, tokens, B, T, NULL, B * T, &logits, NULL, 0);
        if (!rc) rc = hl_loss_xent(hl_model_ops(m), logits, targets, B * T, V, -1, row_losses, dlogits, &loss, NULL, NULL, 0);
        if (!rc) rc = hl_model_backward(m, dlogits, NULL, 0);
        double norm = hl_model_grad_norm(m, &st);
        if (!rc) rc = hl_model_clip_grads(m, norm, spec->train.grad_clip, &scale);
        if (!rc) rc = hl_adamw_step(m, &st, &spec->train, spec->train.lr, s + 1);
        if (rc) { best = 1e30; break; }
        double dt = hl_now_s() - t0;
        if (s > 0 && dt < best) best = dt;
    }
    hl_adam_free(&st);
    free(tokens); free(targets);
    return best < 1e30 ? B * T / best : 0;
}

// Both paths over the first CMP_ITEMS items of each task on model m: one
// printed line per task. HL_OK or the failing status (err).
static int compare_paths(const char *label, hl_model *m, const hl_tokenizer *tok, const char *data_dir, char *err,
                         size_t errlen) {
    const char *tasks[] = {"hellaswag", "piqa", "arc_easy", "boolq"};
    for (int k = 0; k < 4; k++) {
        hl_eval_config c;
        int n;
        int rc = hl_eval_parse_arg(tasks[k], "bench_eval", &c, 1, &n, err, errlen);
        c.max_length = CMP_LEN;
        hl_eval_task *t = NULL;
        if (!rc) rc = hl_eval_open(&c, tok, data_dir, &t, err, errlen);
        if (rc) return rc;
        long items = t->family->n_items(t) < CMP_ITEMS ? t->family->n_items(t) : CMP_ITEMS;
        double best[2] = {1e30, 1e30}, pairs = 0, ctx = 0, cont = 0;
        long pos[2] = {0, 0}, auto_items = 0;
        hl_eval_ll_state *st = NULL;
        hl_eval_ll out[16];
        for (int round = 0; round < 2 && !rc; round++)
            for (int p = 0; p < 2 && !rc; p++) {
                double sec = 0;
                pos[p] = 0;
                for (long i = 0; i < items && !rc; i++) {
                    hl_eval_item it;
                    rc = t->family->item(t, i, &it, err, errlen);
                    if (rc) break;
                    if (it.n_req > 16) { rc = hl_fail(err, errlen, HL_EFAIL, "item %ld has %d pairs", i, it.n_req); break; }
                    if (round == 0 && p == 0) {
                        pairs += it.n_req;
                        ctx += it.req[0].n_ctx;
                        for (int j = 0; j < it.n_req; j++) cont += it.req[j].n_cont;
                        auto_items += hl_eval_ll_auto_shared(m, &it, CMP_LEN);
                    }
                    int tr;
                    hl_eval_ll_path used;
                    double t0 = hl_now_s();
                    rc = hl_eval_answer_loglik(&st, m, &it, CMP_LEN, p ? HL_EVAL_LL_SHARED : HL_EVAL_LL_ROWS, out, &tr,
                                               &pos[p], &used, err, errlen);
                    sec += hl_now_s() - t0;
                    if (!rc && used != (p ? HL_EVAL_LL_SHARED : HL_EVAL_LL_ROWS))
                        rc = hl_fail(err, errlen, HL_EFAIL, "%s item %ld: not on the %s path", tasks[k], i,
                                     hl_eval_ll_path_name(p ? HL_EVAL_LL_SHARED : HL_EVAL_LL_ROWS));
                }
                if (sec < best[p]) best[p] = sec;
            }
        hl_eval_ll_free(st);
        hl_eval_close(t);
        if (rc) return rc;
        printf("%-10s %-10s %5.2f %6.1f %6.1f %3ld/%-3ld %9.4f %9.0f %9.4f %9.0f %7.2fx\n", label, tasks[k], pairs / items,
               ctx / items, cont / pairs, auto_items, items, best[0] / items, pos[0] / best[0], best[1] / items,
               pos[1] / best[1], best[0] / best[1]);
    }
    return HL_OK;
}

// The path comparison on the four models. HL_OK or the failing status.
static int compare_all(const char *data_dir, char *err, size_t errlen) {
    hl_tokenizer *tok;
    int rc = hl_tokenizer_open("gpt2", data_dir, &tok, err, errlen);
    if (rc) return rc;
    printf("\nbench_eval: log-likelihood paths, same items (first %d; gpt2 ids, max_length %d, max_B %d), %d threads,\n"
           "best of 2 rounds; positions/s counts each path's own positions (shared: the context once)\n",
           CMP_ITEMS, CMP_LEN, CMP_MAX_B, hl_blas_threads());
    printf("%-10s %-10s %5s %6s %6s %7s %9s %9s %9s %9s %8s\n", "model", "task", "pairs", "ctx", "cont", "auto",
           "rows s/it", "rows p/s", "shrd s/it", "shrd p/s", "speedup");
    const hl_backend *be = hl_backend_get("cpu");
    hl_spec spec;
    rc = hl_ckpt_spec("tests/lmeval/model.safetensors", &spec, err, errlen);
    if (!rc) {
        hl_model *m = hl_model_create(&spec.model, be, CMP_MAX_B, CMP_LEN, err, errlen);
        rc = m ? hl_ckpt_load("tests/lmeval/model.safetensors", m, err, errlen) : HL_EFAIL;
        if (!rc) rc = compare_paths("lmeval16", m, tok, data_dir, err, errlen);
        hl_model_free(m);
        hl_spec_free(&spec);
    }
    static const char *const sets[3][6] = {
        {"model.layers=A", "eval=[]"},
        {"model.layers=H", "eval=[]"},
        {"model.layers=A", "eval=[]", "model.d_model=256", "model.attn.n_heads=8", "model.attn.head_dim=32",
         "model.ffn.d_ff=768"}};
    static const int n_sets[3] = {2, 2, 6};
    static const char *const labels[3] = {"A64", "H64", "A256"};
    for (int k = 0; k < 3 && !rc; k++) {
        rc = hl_spec_load_file("sweeps/specs/lm-tinyshakespeare-base.json", sets[k], n_sets[k], &spec, err, errlen);
        if (rc) break;
        hl_model *m = hl_model_create(&spec.model, be, CMP_MAX_B, CMP_LEN, err, errlen);
        rc = m ? hl_model_init(m, 0) : HL_EFAIL;
        if (!rc) rc = compare_paths(labels[k], m, tok, data_dir, err, errlen);
        hl_model_free(m);
        hl_spec_free(&spec);
    }
    hl_tokenizer_free(tok);
    return rc;
}

int main(int argc, char **argv) {
    (void)argc;
    hl_blas_preinit(argv);
    hl_blas_init(0);
    char err[HL_ERR_LEN], data_dir[HL_DATA_PATH_LEN];
    if (hl_data_dir(NULL, data_dir, sizeof data_dir, err, sizeof err)) { fprintf(stderr, "bench_eval: %s\n", err); return 2; }
    hl_tokenizer *tok;
    if (hl_tokenizer_open("byte", data_dir, &tok, err, sizeof err)) { fprintf(stderr, "bench_eval: %s\n", err); return 2; }
    hl_eval_config cfg;
    int n = 0;
    char arg[128];
    snprintf(arg, sizeof arg, "{\"task\": \"hellaswag\", \"limit\": %d, \"max_length\": 1024}", ITEMS);
    if (hl_eval_parse_arg(arg, "bench_eval", &cfg, 1, &n, err, sizeof err)) { fprintf(stderr, "bench_eval: %s\n", err); return 2; }
    printf("bench_eval: BLAS core %s, %d threads; eval: hellaswag, %d items (byte ids, max_length 1024); "
           "train: batch 8 x 256, forward + backward + AdamW\n", hl_blas_core(), hl_blas_threads(), ITEMS);
    printf("%-8s %10s %14s %14s %8s\n", "layers", "params", "eval tok/s", "train tok/s", "ratio");
    const char *kinds[] = {"A", "S", "H"};
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        char set_layers[32];
        snprintf(set_layers, sizeof set_layers, "model.layers=%s", kinds[k]);
        const char *sets[] = {set_layers, "eval=[]"};
        hl_spec spec;
        if (hl_spec_load_file("sweeps/specs/lm-tinyshakespeare-base.json", sets, 2, &spec, err, sizeof err)) {
            fprintf(stderr, "bench_eval: %s\n", err);
            return 2;
        }
        int B = spec.train.batch_size, T = spec.train.task.seq_len;
        hl_model *m = hl_model_create(&spec.model, hl_backend_get("cpu"), B, 1024, err, sizeof err);
        if (!m || hl_model_init(m, 0)) { fprintf(stderr, "bench_eval: %s\n", m ? "init failed" : err); return 2; }
        hl_eval_report rep;
        hl_eval_stats st;
        if (hl_eval_run(m, tok, &cfg, data_dir, T, NULL, &rep, &st, err, sizeof err)) {
            fprintf(stderr, "bench_eval: %s\n", err);
            return 2;
        }
        hl_eval_report_free(&rep);
        double eval = st.seconds > 0 ? st.tokens / st.seconds : 0, train = train_tok_s(m, &spec, B, T);
        if (train <= 0) { fprintf(stderr, "bench_eval: the training step failed\n"); return 2; }
        printf("%-8s %10lld %14.0f %14.0f %7.2fx\n", kinds[k], (long long)hl_model_numel(m), eval, train, eval / train);
        if (eval < 2 * train) ok = 0;
        hl_model_free(m);
        hl_spec_free(&spec);
    }
    hl_tokenizer_free(tok);
    printf("bench_eval: eval >= 2x training tokens/s for every model: %s\n", ok ? "yes" : "NO");
    if (compare_all(data_dir, err, sizeof err)) { fprintf(stderr, "bench_eval: %s\n", err); return 2; }
    return ok ? 0 : 1;
}
