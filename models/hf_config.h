// hf_config.h: a Hugging Face config.json -> a hylab spec (`hylab
// import-config`), for the families llama, mistral, mixtral, mamba, mamba2,
// jamba and hymba. Only the architecture is read: no weights (models/hf.h
// loads checkpoints of llama, mistral and mamba).
//
// Every field of the config is accounted for by its family's table in
// hf_config.c: mapped to a spec key, required to hold the one value hylab
// computes (attention_bias false, rms_norm true, ...), or listed as
// irrelevant to the computed function with the reason (metadata, token ids,
// initialisation, kernels, precision, runtime switches). A field in none of
// these is an error naming it; nothing is dropped silently.
//
// Semantics of the mappings that are not a plain copy (sources: the
// transformers modeling files of each family, and Hymba's modeling_hymba.py):
//   mixtral  every layer a mixture of experts, router softmax_topk_renorm
//   jamba    attention at layers i % attn_layer_period == attn_layer_offset,
//            Mamba elsewhere; MoE at i % expert_layer_period ==
//            expert_layer_offset (router softmax_topk, no renormalisation),
//            SwiGLU elsewhere; attention without positional encoding; the
//            Mamba inner RMSNorms on dt, B and C (JambaMambaMixer always has
//            them; the legacy field mamba_inner_layernorms may say so)
//   hymba    every layer 'H'; sliding_window W becomes hylab's window W + 1
//            (models/attention.c: Hymba's window W shows W + 1 keys);
//            rope_type "ntk" is static NTK scaling, i.e. plain RoPE with
//            base theta * (2 * max_position_embeddings /
//            orig_max_position_embeddings - 1) ^ (hd / (hd - 2))
//   mamba2   layer 'M'; num_heads must be expand * hidden_size / head_dim
// Python's json writes inf as the bare word Infinity (Mamba-2's
// time_step_limit): bare Infinity, -Infinity and NaN outside strings are
// read as the strings "Infinity", "-Infinity", "NaN"; transformers 5 writes
// {"__float__": "Infinity"}, also read as +inf there.
#ifndef HYLAB_HF_CONFIG_H
#define HYLAB_HF_CONFIG_H

#include <stddef.h>
#include <cJSON.h>

// Reads the config.json text (source names it in messages) into *spec, a
// new cJSON object {"name": name, "model": {...}} (name NULL: the file's
// base name without ".json"; for config.json its directory's name). Returns HL_OK, or HL_EBADINPUT with err =
// "SOURCE: FIELD: what is wrong (got X)" (malformed JSON, no or an unknown
// model_type, a field hylab does not model, a value it cannot express) and
// *spec NULL. The spec is not yet validated: the caller runs it through the
// spec parser (harness/spec.h).
int hl_hf_config_to_spec(const char *text, const char *source, const char *name, cJSON **spec,
                         char *err, size_t errlen);

// The model_type values hl_hf_config_to_spec reads, comma separated.
const char *hl_hf_config_families(void);

#endif
