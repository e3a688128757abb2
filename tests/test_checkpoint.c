// test_checkpoint.c: safetensors format layer, .npy files, model checkpoints.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/npy.h"
#include "harness/spec.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "models/checkpoint.h"
#include "tests/test.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

// Writes a raw safetensors file: length, header text as given, data bytes.
static void write_raw(const char *path, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    uint64_t len = strlen(header);
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(header, 1, len, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

// ================================================================ npy

static void test_npy(void) {
    float v[6] = {1, -2, 3.5f, 0, 1e-30f, -INFINITY};
    int64_t shape[2] = {2, 3};
    char err[HL_ERR_LEN] = "";
    const char *p = tmp_path("a.npy");
    int rc = hl_npy_write_f32(p, v, 2, shape, err, sizeof err);
    hl_check(rc == HL_OK, "npy_write", "%s", err);
    FILE *f = fopen(p, "rb");
    char head[129] = {0};
    size_t got = f ? fread(head, 1, 128, f) : 0;
    if (f) fclose(f);
    unsigned hlen = (unsigned char)head[8] | (unsigned char)head[9] << 8;
    hl_check(got == 128 && (10 + hlen) % 64 == 0 && head[10 + hlen - 1] == '\n',
             "npy_header_aligned", "header length %u", hlen);
    hl_check(strstr(head + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") == head + 10,
             "npy_header_text", "%s", head + 10);
    hl_check(file_size(p) == 10 + (long)hlen + 24, "npy_size", "%ld", file_size(p));
    float *back = NULL;
    int nd = 0;
    int64_t sh[HL_NPY_MAX_DIMS];
    rc = hl_npy_read_f32(p, &back, &nd, sh, err, sizeof err);
    hl_check(rc == HL_OK && nd == 2 && sh[0] == 2 && sh[1] == 3 && !memcmp(back, v, sizeof v),
             "npy_round_trip", "rc %d nd %d %s", rc, nd, err);
    free(back);
    int64_t s1[1] = {4};
    rc = hl_npy_write_f32(p, v, 1, s1, err, sizeof err);
    rc |= hl_npy_read_f32(p, &back, &nd, sh, err, sizeof err);
    hl_check(rc == HL_OK && nd == 1 && sh[0] == 4 && !memcmp(back, v, 16), "npy_1d", "%s", err);
    free(back);
    hl_check(access(tmp_path("a.npy.tmp"), F_OK) != 0, "npy_no_tmp_left", "a.npy.tmp exists");

    // a shape of 2^62 floats over 16 bytes of data: refused before allocating
    const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }";
    char header[128];
    memset(header, ' ', sizeof header);
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = 118; header[9] = 0;   // 10 + 118 = 128: aligned like numpy's
    memcpy(header + 10, dict, sizeof dict - 1);
    header[127] = '\n';
    f = fopen(p, "wb");
    fwrite(header, 1, sizeof header, f);
    fwrite(v, 1, 16, f);
    fclose(f);
    rc = hl_npy_read_f32(p, &back, &nd, sh, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !back && strstr(err, "the shape is larger than the 16 data bytes"),
             "npy_huge_shape_refused", "rc %d %s", rc, err);
}

// ================================================================ format layer

static float data_a[6] = {1, 2, 3, 4, 5, 6};
static float data_b[4] = {-1, 0.5f, 1e20f, -0.0f};
static float data_s[1] = {42};

static int make_tensors(hl_st_tensor t[4]) {
    memset(t, 0, 4 * sizeof *t);
    strcpy(t[0].name, "model.a.weight"); t[0].ndim = 2; t[0].shape[0] = 2; t[0].shape[1] = 3; t[0].data = data_a;
    strcpy(t[1].name, "model.b"); t[1].ndim = 1; t[1].shape[0] = 4; t[1].data = data_b;
    strcpy(t[2].name, "scalar"); t[2].ndim = 0; t[2].data = data_s;
    strcpy(t[3].name, "empty"); t[3].ndim = 2; t[3].shape[0] = 0; t[3].shape[1] = 5; t[3].data = NULL;
    return 4;
}

static void test_format_round_trip(void) {
    hl_st_tensor t[4];
    int n = make_tensors(t);
    hl_st_meta meta[2] = {{"spec", "{\"name\":\"x \\\" y\",\"k\":[1,2]}"}, {"format", "pt"}};
    char err[HL_ERR_LEN] = "";
    const char *p = tmp_path("rt.safetensors");
    int rc = hl_st_write(p, t, n, meta, 2, err, sizeof err);
    if (!hl_check(rc == HL_OK, "st_write", "%s", err)) return;
    hl_check(access(tmp_path("rt.safetensors.tmp"), F_OK) != 0, "st_no_tmp_left", "tmp file left");
    hl_st_file f;
    rc = hl_st_open(p, &f, err, sizeof err);
    if (!hl_check(rc == HL_OK, "st_open", "%s", err)) return;
    int ok = f.n == 4 && f.data_start % 8 == 0 && f.data_size == (6 + 4 + 1) * 4;
    for (int i = 0; ok && i < 4; i++) {
        ok = !strcmp(f.tensors[i].name, t[i].name) && f.tensors[i].ndim == t[i].ndim &&
             !strcmp(f.tensors[i].dtype, "F32");
        for (int d = 0; ok && d < t[i].ndim; d++) ok = f.tensors[i].shape[d] == t[i].shape[d];
    }
    hl_check(ok, "st_header_fields", "n %d data_start %llu", f.n, (unsigned long long)f.data_start);
    hl_check(f.tensors[0].begin == 0 && f.tensors[1].begin == 24 && f.tensors[2].begin == 40 &&
             f.tensors[3].begin == 44 && f.tensors[3].end == 44, "st_offsets_contiguous", "bad offsets");
    const char *spec = hl_st_meta_get(&f, "spec");
    hl_check(spec && !strcmp(spec, meta[0].value), "st_metadata", "%s", spec ? spec : "(none)");
    float a[6], b[4], s[1];
    rc = hl_st_read(&f, hl_st_find(&f, "model.a.weight"), a, err, sizeof err);
    rc |= hl_st_read(&f, hl_st_find(&f, "model.b"), b, err, sizeof err);
    rc |= hl_st_read(&f, hl_st_find(&f, "scalar"), s, err, sizeof err);
    hl_check(!rc && !memcmp(a, data_a, sizeof a) && !memcmp(b, data_b, sizeof b) && s[0] == 42,
             "st_data_round_trip", "%s", err);
    hl_check(hl_st_find(&f, "nope") == NULL, "st_find_missing", "found a tensor that is not there");
    hl_st_close(&f);
}

static void test_write_errors(void) {
    hl_st_tensor t[4];
    int n = make_tensors(t);
    strcpy(t[1].name, "model.a.weight");
    char err[HL_ERR_LEN] = "";
    const char *p = tmp_path("dup.safetensors");
    int rc = hl_st_write(p, t, n, NULL, 0, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "model.a.weight") && access(p, F_OK) != 0,
             "st_write_duplicate_name", "rc %d: %s", rc, err);
    rc = hl_st_write("/nonexistent-dir/x.safetensors", t, 1, NULL, 0, err, sizeof err);
    hl_check(rc == HL_EFAIL && strstr(err, "/nonexistent-dir/x.safetensors"), "st_write_bad_dir", "rc %d: %s", rc, err);
}

// Expects hl_st_open to fail on path with a message containing want1/want2.
static void expect_open_error(const char *name, const char *path, const char *want1, const char *want2) {
    hl_st_file f;
    char err[HL_ERR_LEN] = "";
    int rc = hl_st_open(path, &f, err, sizeof err);
    if (rc == HL_OK) hl_st_close(&f);
    hl_check(rc != HL_OK && strstr(err, path) && (!want1 || strstr(err, want1)) && (!want2 || strstr(err, want2)),
             name, "rc %d, message: %s", rc, err);
}

static void test_corrupt_files(void) {
    float d[16] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *p = tmp_path("bad.safetensors");
    // sanity: the raw writer produces readable files
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", d, 32);
    hl_st_file f;
    char err[HL_ERR_LEN] = "";
    int rc = hl_st_open(p, &f, err, sizeof err);
    if (hl_check(rc == HL_OK, "st_raw_valid", "%s", err)) hl_st_close(&f);

    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", d, 31);
    expect_open_error("st_truncated_data", p, "'y'", "truncated");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}", d, 32);
    expect_open_error("st_bad_json", p, "JSON", NULL);
    write_raw(p, "[1,2]", NULL, 0);
    expect_open_error("st_header_not_object", p, "object", NULL);
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]}}", d, 28);
    expect_open_error("st_overlap", p, "'y'", "overlaps");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[12,36]}}", d, 36);
    expect_open_error("st_hole", p, "'y'", "unused");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 12);
    expect_open_error("st_trailing_bytes", p, "after the last", NULL);
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_size_mismatch", p, "'x'", "need 12");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}", d, 8);
    expect_open_error("st_offsets_out_of_bounds", p, "'x'", "beyond");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", d, 8);
    expect_open_error("st_offsets_reversed", p, "'x'", "begin after end");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", d, 8);
    expect_open_error("st_offsets_negative", p, "'x'", "data_offsets");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_shape_not_integer", p, "'x'", "shape[0]");
    write_raw(p, "{\"x\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_unknown_dtype", p, "'x'", "dtype");
    write_raw(p, "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_missing_dtype", p, "'x'", "dtype");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_missing_shape", p, "'x'", "shape");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d, 16);
    expect_open_error("st_duplicate_name", p, "'x'", "twice");
    write_raw(p, "{\"__metadata__\":{\"spec\":3},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    expect_open_error("st_metadata_not_string", p, "spec", "not a string");
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} junk", d, 8);
    expect_open_error("st_header_trailing_junk", p, "after the JSON", NULL);

    FILE *fp = fopen(p, "wb");
    fwrite("\x05\0\0", 1, 3, fp);
    fclose(fp);
    expect_open_error("st_too_short", p, "too short", NULL);
    fp = fopen(p, "wb");
    fwrite("\xff\xff\xff\xff\0\0\0\0{}", 1, 10, fp);
    fclose(fp);
    expect_open_error("st_header_length_too_big", p, "header length", NULL);
    expect_open_error("st_missing_file", tmp_path("does-not-exist.safetensors"), "cannot open", NULL);
}

// Checks the header with Python's json module (when python3 is there).
static void test_python_reads_header(void) {
    if (system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) {
        hl_skip("st_python_json", "python3 not available");
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,struct,sys\n"
             "b=open(sys.argv[1],\"rb\").read(); n=struct.unpack(\"<Q\",b[:8])[0]; h=json.loads(b[8:8+n])\n"
             "assert n %% 8 == 0\n"
             "assert h[\"model.a.weight\"]==dict(dtype=\"F32\",shape=[2,3],data_offsets=[0,24]), h\n"
             "assert h[\"scalar\"][\"shape\"]==[]\n"
             "assert json.loads(h[\"__metadata__\"][\"spec\"])[\"k\"]==[1,2]\n"
             "assert struct.unpack(\"<6f\",b[8+n:8+n+24])==(1,2,3,4,5,6)' %s",
             tmp_path("rt.safetensors"));
    hl_check(system(cmd) == 0, "st_python_json", "python3 could not read the header");
}

// ================================================================ model layer

// A small hybrid: attention (GQA), hybrid heads, Mamba, a KV-sharing pair
// (layer 4 reads layer 3's K/V), 2 meta tokens, a sliding window with layer
// 0 global, SwiGLU FFNs.
static const char *hybrid_spec(int tied) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"name\":\"ckpt-test\",\"model\":{\"vocab_size\":48,\"d_model\":32,\"n_layers\":5,"
             "\"layers\":\"AHSAA\",\"attn\":{\"n_heads\":4,\"n_kv_heads\":2,\"head_dim\":8,"
             "\"window\":4,\"global_layers\":[0],\"kv_share\":[[3,4]]},"
             "\"ssm\":{\"d_state\":4,\"d_conv\":4,\"expand\":2},\"meta_tokens\":2,"
             "\"ffn\":{\"type\":\"swiglu\",\"d_ff\":48},\"tie_embeddings\":%s},"
             "\"train\":{\"task\":{\"name\":\"mqar\",\"seq_len\":16,\"num_kv_pairs\":2},\"steps\":10}}",
             tied ? "true" : "false");
    return buf;
}

static const int32_t fwd_tokens[9] = {3, 17, 0, 47, 5, 5, 22, 9, 31};

typedef struct {
    hl_spec spec;
    hl_model *m;
} built;

// Makes every parameter matter for the logits: the default init (small
// residual branches, unit norms) would let a wrong mixer hide behind the
// embedding path in reference comparisons. Linear and embedding weights x10,
// norm weights and D uniform in [0.5, 1.5].
static void spread_weights(hl_model *m, uint64_t seed) {
    float *p = hl_model_params(m);
    uint64_t s = seed * 2654435761u + 1;
    for (int i = 0; i < hl_model_num_tensors(m); i++) {
        const hl_tensor_info *t = hl_model_tensor(m, i);
        int is_norm = strstr(t->name, "norm") != NULL || strstr(t->name, "mamba.D") != NULL;
        int is_matrix = strstr(t->name, "_proj.weight") || strstr(t->name, "embed_tokens") ||
                        strstr(t->name, "memory_tokens") || strstr(t->name, "lm_head");
        for (size_t j = 0; j < t->numel; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(s >> 11) / 9007199254740992.0;
            if (is_norm) p[t->offset + j] = (float)(0.5 + u);
            else if (is_matrix) p[t->offset + j] *= 10.0f;
        }
    }
}

static int build(built *b, const char *spec_text, uint64_t seed, char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    if (hl_spec_load_text(spec_text, "test-spec", NULL, 0, &b->spec, err, errlen) != HL_OK) return 0;
    b->m = hl_model_create(&b->spec.model, hl_backend_get("cpu_ref"), 1, 9, err, errlen);
    if (!b->m) return 0;
    hl_model_init(b->m, seed);
    spread_weights(b->m, seed);
    return 1;
}

static void unbuild(built *b) {
    if (b->m) hl_model_free(b->m);
    hl_spec_free(&b->spec);
}

// Logits of fwd_tokens, copied (malloc'd).
static float *logits_of(built *b) {
    const float *lg = NULL;
    hl_model_forward(b->m, fwd_tokens, 1, 9, NULL, 9, &lg, NULL, 0);
    size_t n = (size_t)9 * b->spec.model.vocab_size;
    float *copy = malloc(n * sizeof *copy);
    memcpy(copy, lg, n * sizeof *copy);
    return copy;
}

static int has_tensor(hl_model *m, const char *name) {
    for (int i = 0; i < hl_model_num_tensors(m); i++)
        if (!strcmp(hl_model_tensor(m, i)->name, name)) return 1;
    return 0;
}

static void check_names(hl_model *m, int tied, const char *tag) {
    static const char *const present[] = {
        "model.embed_tokens.weight", "model.memory_tokens", "model.norm.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.self_attn.q_proj.weight", "model.layers.1.mamba.in_proj.weight",
        "model.layers.1.hybrid.attn_norm.weight", "model.layers.1.hybrid.ssm_norm.weight",
        "model.layers.1.hybrid.out_proj.weight",
        "model.layers.2.mamba.in_proj.weight", "model.layers.2.mamba.conv1d.weight",
        "model.layers.2.mamba.conv1d.bias", "model.layers.2.mamba.x_proj.weight",
        "model.layers.2.mamba.dt_proj.weight", "model.layers.2.mamba.dt_proj.bias",
        "model.layers.2.mamba.A_log", "model.layers.2.mamba.D", "model.layers.2.mamba.out_proj.weight",
        "model.layers.3.self_attn.k_proj.weight", "model.layers.4.self_attn.q_proj.weight",
    };
    static const char *const absent[] = {
        "model.layers.4.self_attn.k_proj.weight", "model.layers.4.self_attn.v_proj.weight",
        "model.layers.1.self_attn.o_proj.weight", "model.layers.1.mamba.out_proj.weight",
    };
    char name[128], missing[2048] = "";
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!has_tensor(m, present[i])) snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " -%s", present[i]);
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (has_tensor(m, absent[i])) snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " +%s", absent[i]);
    if (has_tensor(m, "lm_head.weight") != !tied) strcat(missing, tied ? " +lm_head.weight" : " -lm_head.weight");
    snprintf(name, sizeof name, "ckpt_tensor_names_%s", tag);
    hl_check(!missing[0], name, "wrong tensor set:%s", missing);
}

// Save, read back the spec, load into a fresh model: same params, same logits.
static void test_model_round_trip(int tied) {
    const char *tag = tied ? "tied" : "untied";
    char err[HL_ERR_LEN] = "", name[96];
    built a, b;
    snprintf(name, sizeof name, "ckpt_build_%s", tag);
    if (!hl_check(build(&a, hybrid_spec(tied), 1, err, sizeof err), name, "%s", err)) { unbuild(&a); return; }
    check_names(a.m, tied, tag);
    const char *p = tmp_path(tied ? "tied.safetensors" : "untied.safetensors");
    int rc = hl_ckpt_save(p, a.m, a.spec.canonical_json, err, sizeof err);
    snprintf(name, sizeof name, "ckpt_save_%s", tag);
    hl_check(rc == HL_OK, name, "%s", err);
    char *spec = NULL;
    rc = hl_ckpt_read_spec(p, &spec, err, sizeof err);
    snprintf(name, sizeof name, "ckpt_spec_round_trip_%s", tag);
    hl_check(rc == HL_OK && spec && !strcmp(spec, a.spec.canonical_json), name, "%s", rc ? err : spec);
    snprintf(name, sizeof name, "ckpt_build_from_metadata_%s", tag);
    if (!hl_check(spec && build(&b, spec, 2, err, sizeof err) && !strcmp(b.spec.hash, a.spec.hash), name, "%s", err)) {
        free(spec); unbuild(&a); unbuild(&b); return;
    }
    free(spec);
    size_t bytes = hl_model_numel(a.m) * sizeof(float);
    snprintf(name, sizeof name, "ckpt_fresh_model_differs_%s", tag);
    hl_check(memcmp(hl_model_params(a.m), hl_model_params(b.m), bytes) != 0, name, "seeds 1 and 2 gave equal params");
    rc = hl_ckpt_load(p, b.m, err, sizeof err);
    snprintf(name, sizeof name, "ckpt_load_%s", tag);
    hl_check(rc == HL_OK, name, "%s", err);
    snprintf(name, sizeof name, "ckpt_params_identical_%s", tag);
    hl_check(!memcmp(hl_model_params(a.m), hl_model_params(b.m), bytes), name, "params differ after load");
    float *la = logits_of(&a), *lb = logits_of(&b);
    size_t lbytes = (size_t)9 * a.spec.model.vocab_size * sizeof(float);
    int finite = 1;
    for (size_t i = 0; i < lbytes / sizeof(float); i++) finite &= isfinite(la[i]) != 0;
    snprintf(name, sizeof name, "ckpt_logits_bit_identical_%s", tag);
    hl_check(finite && !memcmp(la, lb, lbytes), name, "logits differ (finite %d)", finite);
    free(la); free(lb);
    unbuild(&a); unbuild(&b);
}

// Copies src to dst, optionally truncated by cut bytes.
static void copy_file(const char *src, const char *dst, long cut) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    long n = file_size(src) - cut;
    for (long i = 0; i < n; i++) fputc(fgetc(in), out);
    fclose(in); fclose(out);
}

// Replaces the first occurrence of `from` in the file by `to` (same length).
static void patch_file(const char *path, const char *from, const char *to) {
    long n = file_size(path);
    char *buf = malloc((size_t)n + 1);
    FILE *f = fopen(path, "rb");
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    buf[n] = 0;
    char *at = memmem(buf, (size_t)n, from, strlen(from));
    if (at) memcpy(at, to, strlen(to));
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
    free(buf);
}

// Loading must fail naming the file and `what`, leaving the params untouched.
static void expect_load_error(const char *name, hl_model *m, const char *path, const char *what) {
    size_t bytes = hl_model_numel(m) * sizeof(float);
    float *before = malloc(bytes);
    memcpy(before, hl_model_params(m), bytes);
    char err[HL_ERR_LEN] = "";
    int rc = hl_ckpt_load(path, m, err, sizeof err);
    int untouched = !memcmp(before, hl_model_params(m), bytes);
    hl_check(rc != HL_OK && strstr(err, path) && strstr(err, what) && untouched, name,
             "rc %d untouched %d: %s", rc, untouched, err);
    free(before);
}

static void test_model_load_errors(void) {
    char err[HL_ERR_LEN] = "";
    built tied, untied, other;
    int ok = build(&tied, hybrid_spec(1), 3, err, sizeof err) && build(&untied, hybrid_spec(0), 3, err, sizeof err);
    char spec[1100];
    snprintf(spec, sizeof spec, "%s", hybrid_spec(0));
    char *dff = strstr(spec, "\"d_ff\":48");
    if (dff) memcpy(dff, "\"d_ff\":40", 9);
    ok = ok && build(&other, spec, 3, err, sizeof err);
    if (!hl_check(ok, "ckpt_error_models", "%s", err)) return;
    const char *pt = tmp_path("e-tied.safetensors"), *pu = tmp_path("e-untied.safetensors");
    const char *po = tmp_path("e-other.safetensors"), *px = tmp_path("e-broken.safetensors");
    ok = hl_ckpt_save(pt, tied.m, tied.spec.canonical_json, err, sizeof err) == HL_OK &&
         hl_ckpt_save(pu, untied.m, untied.spec.canonical_json, err, sizeof err) == HL_OK &&
         hl_ckpt_save(po, other.m, other.spec.canonical_json, err, sizeof err) == HL_OK;
    if (hl_check(ok, "ckpt_error_files", "%s", err)) {
        expect_load_error("ckpt_missing_tensor", untied.m, pt, "'lm_head.weight' missing");
        expect_load_error("ckpt_extra_tensor", tied.m, pu, "unexpected tensor 'lm_head.weight'");
        expect_load_error("ckpt_wrong_shape", untied.m, po, "model.layers.0.mlp.gate_proj.weight");
        copy_file(pu, px, 4);
        const char *first = hl_model_tensor(untied.m, 0)->name;
        const char *last = hl_model_tensor(untied.m, hl_model_num_tensors(untied.m) - 1)->name;
        expect_load_error("ckpt_truncated", untied.m, px, last);
        copy_file(pu, px, 0);
        patch_file(px, "\"F32\"", "\"I32\"");
        expect_load_error("ckpt_wrong_dtype", untied.m, px, "dtype I32");
        copy_file(pu, px, 0);
        patch_file(px, "{\"__metadata__\"", "[\"__metadata__\"");
        expect_load_error("ckpt_bad_header_json", untied.m, px, "JSON");
        copy_file(pu, px, 0);
        patch_file(px, "\"data_offsets\":[0,", "\"data_offsets\":[4,");
        expect_load_error("ckpt_bad_offsets", untied.m, px, first);
        char *s = NULL;
        int rc = hl_ckpt_read_spec(tmp_path("rt.safetensors"), &s, err, sizeof err);
        hl_check(rc == HL_OK && s && !strcmp(s, "{\"name\":\"x \\\" y\",\"k\":[1,2]}"), "ckpt_read_spec_raw",
                 "rc %d: %s", rc, rc ? err : s);
        free(s);
        float d[2] = {0, 0};
        write_raw(px, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
        rc = hl_ckpt_read_spec(px, &s, err, sizeof err);
        hl_check(rc == HL_EBADINPUT && !s && strstr(err, "no spec"), "ckpt_read_spec_missing", "rc %d: %s", rc, err);
    }
    unbuild(&tied); unbuild(&untied); unbuild(&other);
}

// Writes to dst the checkpoint src with its header padded by `pad` spaces.
static void pad_header(const char *src, const char *dst, size_t pad) {
    FILE *in = fopen(src, "rb");
    unsigned char b[8];
    if (!in || fread(b, 1, 8, in) != 8) { if (in) fclose(in); return; }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    FILE *out = fopen(dst, "wb");
    uint64_t m = n + pad;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(m >> (8 * i));
    fwrite(b, 1, 8, out);
    for (uint64_t i = 0; i < n; i++) fputc(fgetc(in), out);
    for (size_t i = 0; i < pad; i++) fputc(' ', out);
    for (int c; (c = fgetc(in)) != EOF; ) fputc(c, out);
    fclose(in); fclose(out);
}

// Overwrites float `index` of the data region (after the header) with v.
static void poke_float(const char *path, size_t index, float v) {
    FILE *f = fopen(path, "r+b");
    unsigned char b[8];
    if (!f || fread(b, 1, 8, f) != 8) { if (f) fclose(f); return; }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    fseek(f, (long)(8 + n + index * sizeof v), SEEK_SET);
    fwrite(&v, sizeof v, 1, f);
    fclose(f);
}

// Limits of hylab checkpoints: header size, JSON values, finite weights.
static void test_checkpoint_limits(void) {
    char err[HL_ERR_LEN] = "";
    built a;
    if (!hl_check(build(&a, hybrid_spec(0), 3, err, sizeof err), "ckpt_limits_model", "%s", err)) { unbuild(&a); return; }
    const char *p = tmp_path("l.safetensors"), *px = tmp_path("l-bad.safetensors");
    if (!hl_check(hl_ckpt_save(p, a.m, a.spec.canonical_json, err, sizeof err) == HL_OK, "ckpt_limits_save", "%s", err)) {
        unbuild(&a); return;
    }
    const hl_tensor_info *first = hl_model_tensor(a.m, 0), *last = hl_model_tensor(a.m, hl_model_num_tensors(a.m) - 1);
    char want[300];
    copy_file(p, px, 0);
    poke_float(px, 5, NAN);
    int rc = hl_ckpt_load(px, a.m, err, sizeof err);
    snprintf(want, sizeof want, "tensor '%s': element 5 is NaN", first->name);
    hl_check(rc == HL_EBADINPUT && strstr(err, px) && strstr(err, want), "ckpt_nan_weight_refused", "rc %d %s", rc, err);
    copy_file(p, px, 0);
    poke_float(px, last->offset + last->numel - 1, -INFINITY);
    rc = hl_ckpt_load(px, a.m, err, sizeof err);
    snprintf(want, sizeof want, "tensor '%s': element %zu is infinite", last->name, last->numel - 1);
    hl_check(rc == HL_EBADINPUT && strstr(err, want), "ckpt_inf_weight_refused", "rc %d %s", rc, err);

    // a header padded past HL_CKPT_MAX_HEADER: any safetensors reader takes
    // it, hylab's checkpoint readers refuse it before parsing
    pad_header(p, px, HL_CKPT_MAX_HEADER);
    hl_st_file f;
    rc = hl_st_open(px, &f, err, sizeof err);
    if (hl_check(rc == HL_OK, "st_padded_header_is_valid_safetensors", "%s", err)) hl_st_close(&f);
    char *spec = NULL;
    rc = hl_ckpt_read_spec(px, &spec, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !spec && strstr(err, "is over the limit of 4194304 bytes"), "ckpt_header_size_limit",
             "rc %d %s", rc, err);
    rc = hl_ckpt_load(px, a.m, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "is over the limit of 4194304 bytes"), "ckpt_load_header_size_limit",
             "rc %d %s", rc, err);

    // 200,001 JSON values in 400 KB: refused before cJSON builds them
    size_t n = 200000, len = 0;
    char *h = malloc(2 * n + 64);
    len += (size_t)sprintf(h, "{\"__metadata__\":{\"spec\":\"x\"},\"a\":[0");
    for (size_t i = 1; i < n; i++) { h[len++] = ','; h[len++] = '0'; }
    strcpy(h + len, "]}");
    write_raw(px, h, NULL, 0);
    free(h);
    rc = hl_ckpt_read_spec(px, &spec, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "JSON values, over the limit of 131136"), "ckpt_header_value_limit",
             "rc %d %s", rc, err);
    unbuild(&a);
}

// For tests/test_forward.sh: writes the hybrid test checkpoint to path.
static int write_test_checkpoint(const char *path, int tied) {
    char err[HL_ERR_LEN] = "";
    built b;
    int ok = build(&b, hybrid_spec(tied), 7, err, sizeof err) &&
             hl_ckpt_save(path, b.m, b.spec.canonical_json, err, sizeof err) == HL_OK;
    if (!ok) fprintf(stderr, "test_checkpoint: %s\n", err);
    unbuild(&b);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-ckpt")) return write_test_checkpoint(argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "--write-ckpt-tied")) return write_test_checkpoint(argv[2], 1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hylab-test-ckpt-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_npy();
    test_format_round_trip();
    test_write_errors();
    test_corrupt_files();
    test_python_reads_header();
    test_model_round_trip(0);
    test_model_round_trip(1);
    test_model_load_errors();
    test_checkpoint_limits();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return hl_test_done();
}
