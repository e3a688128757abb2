// hf.h: Hugging Face checkpoint layouts <-> hylab models (DESIGN.md
// "Checkpoints"). Two families:
//   llama / mistral  LlamaForCausalLM / MistralForCausalLM: every layer 'A'
//                    with a SwiGLU FFN; tensor names are hylab's own.
//   mamba            MambaForCausalLM: every layer 'S', no FFN; names
//                    backbone.embeddings / backbone.layers.{i}.norm /
//                    backbone.layers.{i}.mixer.* / backbone.norm_f <->
//                    model.embed_tokens / model.layers.{i}.input_layernorm /
//                    model.layers.{i}.mamba.* / model.norm.
// An HF directory holds config.json and either model.safetensors or shards
// named by model.safetensors.index.json ({"weight_map": {tensor: file}});
// tensors may be F32, F16 or BF16 and are converted to f32 exactly.
//
// Semantics that make the mapping exact (checked by tests/test_golden.c
// against transformers): RoPE rotate_half with inv_freq theta^(-2i/hd),
// scores / sqrt(head_dim), RMSNorm x * rsqrt(mean(x^2) + eps) * w, SwiGLU
// down(silu(gate) * up), Mistral's sliding_window W = hylab's window W (the
// query at p sees keys p - W < k <= p), Mamba-1 as state-spaces/mamba.
//
// Errors: HL_EBADINPUT with a message naming the file and the config field
// or tensor ("DIR/config.json: rope_scaling: not supported (got {...})"),
// HL_EFAIL for I/O and memory failures.
#ifndef HYLAB_HF_H
#define HYLAB_HF_H

#include <stddef.h>
#include "models/model.h"

// HL_HF_MIXTRAL: MixtralForCausalLM (models/hf.c, the MoE part): Mistral
// blocks with a moe FFN on every layer (router softmax_topk_renorm); the
// router is block_sparse_moe.gate.weight, hylab's stacked (E, F, d) expert
// tensors are E tensors block_sparse_moe.experts.{e}.w1/w3/w2.weight each.
typedef enum { HL_HF_LLAMA = 0, HL_HF_MISTRAL = 1, HL_HF_MAMBA = 2, HL_HF_MIXTRAL = 3,
               HL_HF_MAMBA2 = 4 } hl_hf_family;

// Reads DIR/config.json and writes a hylab spec for it into *spec_json
// (malloc'd JSON text, not yet validated or canonical: the caller runs it
// through the spec parser) and the family into *family. Every key of the
// config must be one the importer knows: a value hylab cannot express
// (rope_scaling, attention_bias true, hidden_act other than silu, Mamba
// use_bias true...) or an unknown key is an error naming it.
int hl_hf_spec_from_config(const char *dir, char **spec_json, hl_hf_family *family,
                           char *err, size_t errlen);

// The config.json key that sets a spec path ("model.attn.n_kv_heads" ->
// "num_key_value_heads") in a family, or NULL.
const char *hl_hf_config_field(hl_hf_family family, const char *spec_path);

// The HF name of a hylab tensor name in a family (out holds at least 128).
void hl_hf_tensor_name(hl_hf_family family, const char *hylab_name, char *out, size_t outlen);

// Loads every parameter of m from DIR's safetensors (single file or shards
// through the index). Each model tensor must be present once with the
// model's shape, dtype F32/F16/BF16, every value finite; a tensor the model
// does not have is an error, except a tied lm_head.weight equal to the
// embedding. May leave m partly loaded on error.
int hl_hf_load_weights(const char *dir, hl_hf_family family, hl_model *m, char *err, size_t errlen);

// Which family m exports as: HL_OK and *family, or HL_EBADINPUT naming the
// spec key that has no Hugging Face equivalent (model.layers for a hybrid
// pattern, model.meta_tokens, model.attn.kv_share, model.attn.global_layers,
// model.attn.v_head_dim, model.ffn.type).
int hl_hf_export_family(const hl_model_config *cfg, hl_hf_family *family, char *err, size_t errlen);

// Writes m as an HF directory: DIR/config.json (architectures, model_type,
// torch_dtype float32) and DIR/model.safetensors (F32, HF names). DIR must
// not exist or be empty; it is created if missing. On error the files
// written so far (and DIR, if created here) are removed.
int hl_hf_export(hl_model *m, const char *dir, char *err, size_t errlen);

#endif
