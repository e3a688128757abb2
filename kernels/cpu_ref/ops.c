// cpu_ref/ops.c: the cpu_ref op table (argument checks, then the naive ops).
#include "kernels/cpu_ref/cpu_ref.h"
#include "kernels/op_table.h"

HL_OP_TABLE(hl_ref, hl_ops_cpu_ref, "cpu_ref")
