// registry.c: every task family, one line each in HL_TASK_FAMILIES (a new
// family: its file plus one line here), and the calls of task.h that go
// through a family's table. Tests walk this list.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tasks/task.h"

#define HL_TASK_FAMILIES(X) \
    X(hl_task_mqar)   /* "mqar" mqar.c */ \
    X(hl_task_lm)     /* "lm"   lm.c: language modelling on a corpus */

#define HL_DECLARE_FAMILY(sym) extern const hl_task_family sym;
#define HL_LIST_FAMILY(sym) &sym,
HL_TASK_FAMILIES(HL_DECLARE_FAMILY)

const hl_task_family *const hl_task_families[] = { HL_TASK_FAMILIES(HL_LIST_FAMILY) NULL };

const hl_task_family *hl_task_family_find(const char *name) {
    for (int i = 0; name && hl_task_families[i]; i++)
        if (!strcmp(hl_task_families[i]->name, name)) return hl_task_families[i];
    return NULL;
}

void hl_task_family_names(char *out, size_t n) {
    int total = 0;
    while (hl_task_families[total]) total++;
    if (n) out[0] = 0;
    for (int i = 0; i < total; i++) {
        size_t len = strlen(out);
        const char *sep = i == 0 ? "" : i == total - 1 ? " or " : ", ";
        snprintf(out + len, n - len, "%s%s", sep, hl_task_families[i]->name);
    }
}

int hl_task_open(const hl_task_config *cfg, int vocab, const char *data_dir, uint64_t seed,
                 hl_task **out, char *err, size_t errlen) {
    *out = NULL;
    const hl_task_family *f = hl_task_family_find(cfg->name);
    if (!f) {
        char known[256];
        hl_task_family_names(known, sizeof known);
        return hl_fail(err, errlen, HL_EBADINPUT, "task.name: unknown task family '%s' (known: %s)", cfg->name, known);
    }
    return f->open(cfg, vocab, data_dir, seed, out, err, errlen);
}

long hl_task_eval_examples(const hl_task *t) { return t->family->eval_examples(t); }

int hl_task_fill(hl_task *t, hl_split split, uint64_t first, int rows, hl_task_batch *b,
                 char *err, size_t errlen) {
    if (rows <= 0 || rows > b->max_B || t->cfg.seq_len > b->max_T)
        return hl_fail(err, errlen, HL_EBADINPUT, "%s: a batch of %d rows of %d tokens does not fit %d x %d",
                       t->family->name, rows, t->cfg.seq_len, b->max_B, b->max_T);
    return t->family->fill(t, split, first, rows, b, err, errlen);
}

void hl_task_reset(hl_task *t) { t->family->reset(t); }

int hl_task_score(hl_task *t, const hl_task_batch *b, const float *logits, int V, float batch_loss,
                  char *err, size_t errlen) {
    return t->family->score(t, b, logits, V, batch_loss, err, errlen);
}

void hl_task_report_get(const hl_task *t, hl_task_report *out) {
    memset(out, 0, sizeof *out);
    out->version = t->family->version;
    t->family->report(t, out);
}

void hl_task_close(hl_task *t) {
    if (t) t->family->close(t);
}

// ---------------------------------------------------------------- batches
int hl_task_batch_alloc(hl_task_batch *b, int max_B, int max_T) {
    memset(b, 0, sizeof *b);
    size_t n = (size_t)max_B * max_T;
    b->max_B = max_B; b->max_T = max_T;
    b->inputs = malloc(sizeof(int32_t) * n);
    b->targets = malloc(sizeof(int32_t) * n);
    b->pos = malloc(sizeof(int32_t) * n);
    b->labels = malloc(sizeof(int32_t) * n);
    if (b->inputs && b->targets && b->pos && b->labels) return HL_OK;
    hl_task_batch_free(b);
    return HL_EFAIL;
}

void hl_task_batch_free(hl_task_batch *b) {
    free(b->inputs); free(b->targets); free(b->pos); free(b->labels);
    memset(b, 0, sizeof *b);
}

int hl_labelled_positions(const int32_t *targets, int B, int T, int32_t *pos) {
    int n = 0;
    for (int i = 0; i < B * T; i++)
        if (targets[i] != HL_IGNORE) pos[n++] = i;
    return n;
}
