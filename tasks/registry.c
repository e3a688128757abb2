// registry.c: every task family, one line each in HL_TASK_FAMILIES (a new
// family: its file plus one line here).
#include <stdio.h>
#include <string.h>
#include "tasks/task_config.h"

#define HL_TASK_FAMILIES(X) \
    X(hl_task_family_mqar)   /* "mqar" mqar.c */

#define HL_DECLARE_FAMILY(sym) extern const hl_task_family sym;
#define HL_LIST_FAMILY(sym) &sym,
HL_TASK_FAMILIES(HL_DECLARE_FAMILY)

const hl_task_family *const hl_task_families[] = { HL_TASK_FAMILIES(HL_LIST_FAMILY) NULL };

const hl_task_family *hl_task_family_find(const char *name) {
    for (int i = 0; hl_task_families[i]; i++)
        if (!strcmp(hl_task_families[i]->name, name)) return hl_task_families[i];
    return NULL;
}

void hl_task_family_names(char *out, size_t n) {
    if (n) out[0] = 0;
    for (int i = 0; hl_task_families[i]; i++) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", i ? ", " : "", hl_task_families[i]->name);
    }
}
