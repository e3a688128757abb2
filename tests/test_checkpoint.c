// test_checkpoint.c: safetensors format layer, .npy files, model checkpoints.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/npy.h"
#include "harness/spec.h"
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

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hylab-test-ckpt-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_npy();
    test_format_round_trip();
    test_write_errors();
    test_corrupt_files();
    test_python_reads_header();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return hl_test_done();
}
