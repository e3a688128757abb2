// op_table.h: how a backend builds its hl_ops table (kernels-internal).
//
// A backend implements each op as `void PREFIX_op(const args *)` on valid
// arguments; HL_OP_TABLE(PREFIX, table, "name") generates, for every op of
// HL_OP_LIST, a wrapper that first runs the shared argument check
// hl_validate_op (kernels/validate.c: one set of rules for every backend, so
// the same call fails the same way everywhere) and only then the
// implementation, and the const hl_ops `table` holding the wrappers.
// The checks read ids and targets (embed, xent) on the host: they are for
// backends whose memory is host memory (cpu_ref, cpu). A device backend
// runs the same rules, the range checks inside its kernels.
#ifndef HYLAB_OP_TABLE_H
#define HYLAB_OP_TABLE_H
#include "kernels/kernels.h"

// HL_OK, or HL_EBADINPUT with hl_op_error() set (rules: kernels.h, "OP STATUS").
#define HL_VALIDATE_DECL(p, op, T) int hl_validate_##op(const T *a);
HL_OP_LIST(HL_VALIDATE_DECL, _)
#undef HL_VALIDATE_DECL

#define HL_OP_WRAPPER_(prefix, op, T)                                          \
    static int prefix##_checked_##op(const T *a) {                             \
        int rc = hl_validate_##op(a);                                          \
        if (rc) return rc;                                                     \
        prefix##_##op(a);                                                      \
        return HL_OK;                                                          \
    }

#define HL_OP_TABLE(prefix, table, name_)                                      \
    HL_OP_LIST(HL_OP_WRAPPER_, prefix)                                         \
    const hl_ops table = { .name = name_,                                      \
        HL_OP_LIST(HL_OP_ENTRY_, prefix) };

#define HL_OP_ENTRY_(prefix, op, T) .op = prefix##_checked_##op,

#endif
