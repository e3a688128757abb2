// backend.c: op-table lookup by name.
#include <string.h>
#include "kernels/kernels.h"

const hl_ops *hl_ops_get(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "cpu_ref") == 0) return &hl_ops_cpu_ref;
    if (strcmp(name, "cpu") == 0) return &hl_ops_cpu;
    return NULL;
}
