// init_from_attention.h: a student built from a trained all-attention teacher
// (The Mamba in the Llama, PAPERS.md sections 3 and 5.6; issue 11 part 2).
//
// The student has the teacher's vocabulary, width, layer count, FFNs, norms
// and embedding; some attention layers ('A') are replaced by Mamba-2 layers
// ('M'). Each student tensor is either
//   copied   bit-identical from the teacher tensor of the same name and shape
//            (embedding, final norm, lm_head, every block's norms and FFN,
//            the kept attention layers, meta tokens);
//   mapped   from the replaced layer's attention (Mamba-2 in_proj rows and
//            out_proj, below);
//   fresh    hl_model_init(student, seed)'s value (the z and dt rows of
//            in_proj, conv1d, dt_bias, A_log, D, the gated norm).
// Mapping of a replaced layer (teacher: H query heads, Hkv KV heads, head dim
// hd, rep = H / Hkv; student Mamba-2: expand 1 so d_inner = d = H*hd, headdim
// P = hd (one SSM head per attention head), ngroups G = H (one B/C group per
// head), d_state N = hd, which is MambaInLlama's choice):
//   in_proj rows [di, 2di)          x  <- repeat_kv(v_proj):  row h*hd + i <- v_proj row (h/rep)*hd + i
//   in_proj rows [2di, 2di+GN)      B  <- repeat_kv(k_proj):  row h*hd + n <- k_proj row (h/rep)*hd + n
//   in_proj rows [2di+GN, 2di+2GN)  C  <- q_proj (same layout, H*hd rows)
//   out_proj (d, di)                   <- o_proj (d, H*hd)
// repeat_kv is Hugging Face's order: query head h reads KV head h / rep.
// So the SSM's per-head y_t = sum_s C_t . B_s x_s (decay aside) is linear
// attention with q, k, v in place of softmax attention (RoPE is dropped).
// MambaInLlama keeps x and B at Hkv*hd rows and repeats the activations; hylab's
// Mamba-2 has no such d_xb, so the rows are repeated in the weights (the same
// function of the input; rep times the parameters for x and B).
#ifndef HYLAB_INIT_FROM_ATTENTION_H
#define HYLAB_INIT_FROM_ATTENTION_H

#include <stddef.h>
#include <stdint.h>
#include "models/model.h"

// How many student tensors were copied, mapped (in_proj and out_proj of a
// replaced layer: 2 per layer) and left fresh.
typedef struct { int copied, mapped, fresh; } hl_afa_counts;

// Fills every parameter of student from teacher as above. Both models are
// built (any backends; values move through host buffers with d2h/h2d).
// Layer l of the student must be the teacher's mixer kind, or 'M' where the
// teacher's is an attention layer with its own K/V. Checks, each an
// HL_EBADINPUT naming the key: model.vocab_size, model.d_model,
// model.n_layers and model.tie_embeddings equal; model.layers (a
// replacement other than attention -> Mamba-2, or a KV-sharing teacher
// layer); for a replaced layer model.attn.v_head_dim (must equal head_dim),
// model.attn.head_dim (n_heads * head_dim must equal d_model),
// model.ssm.expand (1), model.ssm.headdim (head_dim), model.ssm.d_state
// (head_dim), model.ssm.ngroups (n_heads); every other student tensor must
// exist in the teacher with its shape (else the message names the tensor).
// On any error the student is left unchanged. HL_EFAIL when host buffers
// cannot be allocated. counts may be NULL.
int hl_init_from_attention(hl_model *student, hl_model *teacher, uint64_t seed,
                           hl_afa_counts *counts, char *err, size_t errlen);

#endif
