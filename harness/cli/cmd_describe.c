// cmd_describe.c: `hylab describe SPEC [--context T]... [--dtype-bytes B]
// [--json] [--set k=v]...`: the layer map, parameter counts (total and by
// component), forward FLOPs per token and inference cache bytes at each
// context. Everything is computed from the config alone (no parameter
// allocation), so a 7B spec describes instantly.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "harness/spec.h"
#include "models/layer.h"
#include "models/model.h"

#define MAX_CONTEXTS 64
#define MAX_SETS 64

typedef struct {
    const char *spec_path;
    const char *sets[MAX_SETS]; int n_sets;
    int64_t contexts[MAX_CONTEXTS]; int n_contexts;
    int dtype_bytes;
    int json;
} describe_args;

static void usage(FILE *f) {
    fprintf(f,
        "usage: hylab describe SPEC [--context T]... [--dtype-bytes B] [--json] [--set k=v]...\n"
        "\n"
        "Prints the layer map (kind, global or sliding-window attention, KV sharing,\n"
        "FFN), parameter counts in total and by component, forward FLOPs per token and\n"
        "inference cache bytes (batch 1) at each context.\n"
        "\n"
        "  --context T       context length in input tokens, 1..16777216 (repeatable;\n"
        "                    default: the spec's measure.context)\n"
        "  --dtype-bytes B   bytes per cache entry (default 2: 16-bit caches)\n"
        "  --json            one JSON object: params, params_by_component,\n"
        "                    flops_per_token and cache_bytes (keyed by context), layers\n"
        "  --set k=v         override a spec key (repeatable)\n"
        "\n"
        "FLOPs count 2 per multiply-add of every matmul (lm_head included) plus the\n"
        "attention score/value products over the visible keys (T + meta for global\n"
        "layers, min(T, window) + meta for sliding-window ones) and the Mamba conv and\n"
        "scan; see models/model.c.\n");
}

static int parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

// Returns -1 on success, else the exit status to return.
static int parse_args(int argc, char **argv, describe_args *a) {
    memset(a, 0, sizeof *a);
    a->dtype_bytes = 2;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has_val = i + 1 < argc;
        int64_t v;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 0; }
        if (!strcmp(o, "--json")) { a->json = 1; continue; }
        if (!strcmp(o, "--context") && has_val) {
            if (a->n_contexts == MAX_CONTEXTS || !parse_int64(argv[++i], 1, HL_MAX_CONTEXT, &v)) {
                fprintf(stderr, "hylab describe: --context: expected an integer in [1, %d] (got '%s')\n", HL_MAX_CONTEXT, argv[i]);
                return 2;
            }
            a->contexts[a->n_contexts++] = v;
        } else if (!strcmp(o, "--dtype-bytes") && has_val) {
            if (!parse_int64(argv[++i], 1, 16, &v)) {
                fprintf(stderr, "hylab describe: --dtype-bytes: expected 1..16 (got '%s')\n", argv[i]);
                return 2;
            }
            a->dtype_bytes = (int)v;
        } else if (!strcmp(o, "--set") && has_val) {
            if (a->n_sets == MAX_SETS) { fprintf(stderr, "hylab describe: too many --set\n"); return 2; }
            a->sets[a->n_sets++] = argv[++i];
        } else if (o[0] == '-' || a->spec_path) {
            fprintf(stderr, "hylab describe: unexpected argument '%s'\n", o);
            usage(stderr);
            return 2;
        } else {
            a->spec_path = o;
        }
    }
    if (!a->spec_path) { usage(stderr); return 2; }
    return -1;
}

// ---------------------------------------------------------------- per-layer facts
typedef struct {
    int64_t params[HL_MAX_LAYERS];
    int consumers[HL_MAX_LAYERS];
} layer_facts;

static void gather_layer_facts(const hl_model_config *c, const hl_tensor_info *t, int n, layer_facts *f) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < n; i++) {
        int l;
        if (sscanf(t[i].name, "model.layers.%d.", &l) == 1 && l >= 0 && l < c->n_layers)
            f->params[l] += (int64_t)t[i].numel;
    }
    for (int l = 0; l < c->n_layers; l++)
        if (c->layer[l].kv_source >= 0) f->consumers[c->layer[l].kv_source]++;
}

// The model's FFN in the header: model.ffn.type, or "per layer" with a pattern.
static const char *ffn_name(const hl_model_config *c) {
    return c->ffn.n_pattern > 0 ? "per layer" : hl_ffn_name(c->ffn.type);
}

// A layer without K/V (its mixer's capabilities, models/layer.h) shows "-" / "none".
static int has_kv(const hl_layer_plan *p) {
    const hl_layer_type *t = hl_mixer_type(p->kind);
    return t && (t->caps & HL_CAP_KV);
}

static void attn_text(const hl_layer_plan *p, char *buf, size_t n) {
    if (!has_kv(p)) snprintf(buf, n, "-");
    else if (p->window > 0) snprintf(buf, n, "SWA(%d)", p->window);
    else snprintf(buf, n, "global");
}

static void kv_text(const hl_layer_plan *p, int consumers, char *buf, size_t n) {
    if (!has_kv(p)) snprintf(buf, n, "-");
    else if (p->kv_source >= 0) snprintf(buf, n, "consumer of %d", p->kv_source);
    else if (consumers > 0) snprintf(buf, n, "producer (%d)", consumers);
    else snprintf(buf, n, "own");
}

static const char *kv_role(const hl_layer_plan *p, int consumers) {
    if (!has_kv(p)) return "none";
    if (p->kv_source >= 0) return "consumer";
    return consumers > 0 ? "producer" : "own";
}

// 1234567 -> "1,234,567"
static const char *commas(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%llu", v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
    size_t len = strlen(raw), j = 0;
    if (v < 0 && j + 1 < n) buf[j++] = '-';
    for (size_t i = 0; i < len && j + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = raw[i];
    }
    buf[j] = 0;
    return buf;
}

// ---------------------------------------------------------------- output
static void print_text(const hl_spec *s, const describe_args *a, const hl_model_counts *k,
                       const layer_facts *f) {
    const hl_model_config *c = &s->model;
    char b1[48], b2[48];
    printf("%s: %d layers (pattern \"%s\"), d_model %d, vocab %d, %d meta tokens, ffn %s",
           s->name, c->n_layers, c->layers_pattern, c->d_model, c->vocab_size, c->meta_tokens, ffn_name(c));
    if (c->ffn.d_ff > 0) printf(" (d_ff %d)", c->ffn.d_ff);
    if (c->ffn.moe.n_experts > 0)
        printf(" (moe: %d experts, top %d, expert d_ff %d, %s, every %d from %d)", c->ffn.moe.n_experts, c->ffn.moe.top_k,
               c->ffn.moe.d_ff, c->ffn.moe.router == HL_MOE_SOFTMAX_TOPK_RENORM ? "softmax_topk_renorm" : "softmax_topk",
               c->ffn.moe.every, c->ffn.moe.offset);
    printf(", %s embeddings\n\nlayer map:\n", c->tie_embeddings ? "tied" : "untied");
    printf("  %5s  %-4s  %-10s  %-16s  %-7s  %15s\n", "layer", "kind", "attention", "kv", "ffn", "params");
    for (int l = 0; l < c->n_layers; l++) {
        const hl_layer_plan *p = &c->layer[l];
        char at[32], kv[32];
        attn_text(p, at, sizeof at);
        kv_text(p, f->consumers[l], kv, sizeof kv);
        printf("  %5d  %-4c  %-10s  %-16s  %-7s  %15s\n", l, p->kind, at, kv, hl_ffn_name(p->ffn),
               commas(f->params[l], b1, sizeof b1));
    }
    printf("\nparameters: %s\n", commas(k->params, b1, sizeof b1));
    if (k->active_params != k->params)
        printf("active parameters per token: %s\n", commas(k->active_params, b1, sizeof b1));
    for (int i = 0; i < 8; i++)
        if (k->by_component[i])
            printf("  %-12s %15s\n", hl_component_names[i], commas(k->by_component[i], b1, sizeof b1));
    printf("\nforward FLOPs per token:\n");
    for (int i = 0; i < a->n_contexts; i++) {
        hl_model_counts kc = hl_model_count(c, a->contexts[i]);
        printf("  context %10lld: %12.4g  (%s)\n", (long long)a->contexts[i], kc.flops_per_token,
               commas((int64_t)(kc.flops_per_token + 0.5), b1, sizeof b1));
    }
    printf("\ninference cache, batch 1, %d-byte entries:\n", a->dtype_bytes);
    for (int i = 0; i < a->n_contexts; i++) {
        int64_t bytes = hl_model_cache_bytes(c, a->contexts[i], a->dtype_bytes);
        snprintf(b2, sizeof b2, "%.2f MiB", (double)bytes / (1024.0 * 1024.0));
        printf("  context %10lld: %22s bytes  (%s)\n", (long long)a->contexts[i],
               commas(bytes, b1, sizeof b1), b2);
    }
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}

static void print_json(const hl_spec *s, const describe_args *a, const hl_model_counts *k,
                       const layer_facts *f) {
    const hl_model_config *c = &s->model;
    printf("{\"name\":");
    print_json_string(s->name);
    printf(",\"spec_hash\":\"%s\",\"dtype_bytes\":%d,\"params\":%lld,\"active_params\":%lld,\"params_by_component\":{",
           s->hash, a->dtype_bytes, (long long)k->params, (long long)k->active_params);
    for (int i = 0; i < 8; i++)
        printf("%s\"%s\":%lld", i ? "," : "", hl_component_names[i], (long long)k->by_component[i]);
    printf("},\"flops_per_token\":{");
    for (int i = 0; i < a->n_contexts; i++)
        printf("%s\"%lld\":%.17g", i ? "," : "", (long long)a->contexts[i],
               hl_model_count(c, a->contexts[i]).flops_per_token);
    printf("},\"cache_bytes\":{");
    for (int i = 0; i < a->n_contexts; i++)
        printf("%s\"%lld\":%lld", i ? "," : "", (long long)a->contexts[i],
               (long long)hl_model_cache_bytes(c, a->contexts[i], a->dtype_bytes));
    printf("},\"layers\":[");
    for (int l = 0; l < c->n_layers; l++) {
        const hl_layer_plan *p = &c->layer[l];
        printf("%s{\"index\":%d,\"kind\":\"%c\",\"window\":%d,\"kv\":\"%s\",\"kv_source\":%d,"
               "\"ffn\":\"%s\",\"params\":%lld}", l ? "," : "", l, p->kind, p->window,
               kv_role(p, f->consumers[l]), p->kv_source, hl_ffn_name(p->ffn), (long long)f->params[l]);
    }
    printf("]}\n");
}

int cmd_describe(int argc, char **argv) {
    describe_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    hl_spec spec;
    char err[HL_ERR_LEN];
    if (hl_spec_load_file(a.spec_path, a.sets, a.n_sets, &spec, err, sizeof err) != HL_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (hl_model_check(&spec.model, err, sizeof err) != HL_OK) {
        fprintf(stderr, "%s: %s\n", a.spec_path, err);
        hl_spec_free(&spec);
        return 2;
    }
    if (a.n_contexts == 0) {
        for (int i = 0; i < spec.measure.n_context && i < MAX_CONTEXTS; i++)
            a.contexts[a.n_contexts++] = spec.measure.context[i];
        if (a.n_contexts == 0) a.contexts[a.n_contexts++] = 2048;
    }
    hl_tensor_info *tensors;
    int n = hl_model_tensors(&spec.model, &tensors);
    if (n < 0) {
        fprintf(stderr, "hylab describe: out of memory listing tensors\n");
        hl_spec_free(&spec);
        return 1;
    }
    layer_facts facts;
    gather_layer_facts(&spec.model, tensors, n, &facts);
    free(tensors);
    hl_model_counts k = hl_model_count(&spec.model, a.contexts[0]);
    if (a.json) print_json(&spec, &a, &k, &facts);
    else print_text(&spec, &a, &k, &facts);
    hl_spec_free(&spec);
    return 0;
}
