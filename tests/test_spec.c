// test_spec.c: spec and sweep parsing: defaults, --set, canonical hash,
// sweep expansion, error messages (incl. the tests/specs/bad fixtures) and
// SHA-256 test vectors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness/spec.h"
#include "tests/test.h"

// Bad spec fixtures: file in tests/specs/bad, the JSON path the message must
// name ("" when none), and a fragment of what is wrong. tests/test_bad_specs.sh
// reads this table too (one entry per line, no quotes inside the strings).
static const struct { const char *file, *path, *what; } bad_specs[] = {
    {"unknown_key.json", "model.attn.n_head", "unknown key"},
    {"wrong_type_string.json", "model.d_model", "must be an integer (got \"64\")"},
    {"fractional_int.json", "model.n_layers", "must be an integer (got 2.5)"},
    {"zero_d_model.json", "model.d_model", "must be positive (got 0)"},
    {"negative_vocab.json", "model.vocab_size", "must be >= 2 (got -5)"},
    {"kv_heads_not_dividing.json", "model.attn.n_kv_heads", "must divide n_heads (got 3 for 4)"},
    {"d_model_not_divisible.json", "model.attn.head_dim", "needs n_heads to divide d_model (got 3 for 100)"},
    {"bad_layer_letter.json", "model.layers", "bad layer letter 'X'"},
    {"empty_layers.json", "model.layers", "must not be empty"},
    {"mamba2_not_supported.json", "model.layers", "not supported yet"},
    {"too_many_layers.json", "model.n_layers", "must be in [1, 256] (got 300)"},
    {"global_out_of_range.json", "model.attn.global_layers[1]", "out of range [0, 4) (got 5)"},
    {"global_duplicate.json", "model.attn.global_layers[1]", "duplicate layer (got 0)"},
    {"window_without_attention.json", "model.attn.window", "no layer has attention"},
    {"kv_share_not_consecutive.json", "model.attn.kv_share[0]", "consecutive layers"},
    {"kv_share_names_ssm.json", "model.attn.kv_share[0][1]", "is an S layer"},
    {"kv_share_out_of_range.json", "model.attn.kv_share[0][1]", "out of range [0, 3) (got 3)"},
    {"kv_share_overlap.json", "model.attn.kv_share[1][0]", "already in group 0"},
    {"kv_share_mixes_kinds.json", "model.attn.kv_share[0]", "mixes A and H"},
    {"kv_share_short_group.json", "model.attn.kv_share[0]", "at least 2 layers (got [1])"},
    {"hybrid_v_head_dim.json", "model.attn.v_head_dim", "n_heads * v_head_dim == d_inner"},
    {"odd_head_dim.json", "model.attn.head_dim", "must be even for RoPE (got 15)"},
    {"mqar_odd_seq_len.json", "train.task.seq_len", "must be even"},
    {"mqar_vocab_too_small.json", "train.task.vocab_size", "must be > seq_len (got 64 for seq_len 64)"},
    {"mqar_too_many_pairs.json", "train.task.num_kv_pairs", "(got 20 for seq_len 64)"},
    {"unknown_task.json", "train.task.name", "unknown task"},
    {"invalid_json.json", "", "invalid JSON at line 4"},
    {"eval_not_array.json", "eval", "must be an array of objects"},
    {"measure_not_positive.json", "measure.batch[1]", "must be a positive int (got 0)"},
    {"measure_not_array.json", "measure.context", "must be an array of integers (got 512)"},
    {"lr_zero.json", "train.lr", "must be > 0 (got 0)"},
    {"steps_negative.json", "train.steps", "must be >= 0 (got -1)"},
    {"batch_size_zero.json", "train.batch_size", "must be positive (got 0)"},
    {"schedule_unknown.json", "train.schedule", "(got \"step\")"},
    {"ffn_moe_not_supported.json", "model.ffn.type", "not supported yet"},
    {"duplicate_key.json", "name", "duplicate key"},
    {"top_level_array.json", "(top level)", "must be a JSON object"},
    {"eval_unknown_key.json", "eval[0].seq_lenn", "unknown key"},
    {"bool_wrong_type.json", "model.tie_embeddings", "must be true or false (got 1)"},
    {"min_lr_above_lr.json", "train.min_lr", "must be in [0, 0.001]"},
    {"task_vocab_above_model.json", "eval[0].vocab_size", "must be <= model.vocab_size"},
};
#define N_BAD (int)(sizeof bad_specs / sizeof bad_specs[0])

static char err[HL_ERR_LEN];

static int load(const char *text, const char *const *sets, int n_sets, hl_spec *s) {
    return hl_spec_load_text(text, "t.json", sets, n_sets, s, err, sizeof err);
}

// Loads text, returns its hash in out (or "" on error).
static void hash_of(const char *text, const char *const *sets, int n_sets, char out[65]) {
    hl_spec s;
    out[0] = '\0';
    if (load(text, sets, n_sets, &s) == HL_OK) memcpy(out, s.hash, 65);
    hl_spec_free(&s);
}

static void test_sha256(void) {
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65], name[64];
    for (int i = 0; i < 3; i++) {
        hl_sha256_hex(v[i].in, strlen(v[i].in), hex);
        snprintf(name, sizeof name, "sha256_vector_%d", i);
        hl_check(!strcmp(hex, v[i].hex), name, "got %s", hex);
    }
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    hl_sha256_hex(million, 1000000, hex);
    free(million);
    hl_check(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
             "sha256_million_a", "got %s", hex);
}

static void test_defaults(void) {
    hl_spec s;
    int rc = load("{}", NULL, 0, &s);
    if (!hl_check(rc == HL_OK, "defaults_load", "%s", err)) return;
    const hl_model_config *m = &s.model;
    hl_check(!strcmp(s.name, "t"), "default_name_is_basename", "got %s", s.name);
    hl_check(m->vocab_size == 8192 && m->d_model == 128 && m->n_layers == 1 && m->layer[0].kind == 'A',
             "default_model_sizes", "vocab %d d %d n %d", m->vocab_size, m->d_model, m->n_layers);
    hl_check(m->attn.n_heads == 4 && m->attn.n_kv_heads == 4 && m->attn.head_dim == 32 && m->layer[0].v_head_dim == 32,
             "default_attention", "heads %d kv %d hd %d", m->attn.n_heads, m->attn.n_kv_heads, m->attn.head_dim);
    hl_check(m->ssm.dt_rank == 8 && m->ssm.d_state == 16 && m->ssm.expand == 2, "default_dt_rank", "dt_rank %d", m->ssm.dt_rank);
    hl_check(m->ffn.type == HL_FFN_SWIGLU && m->ffn.d_ff == 512, "default_ffn", "d_ff %d", m->ffn.d_ff);
    hl_check(m->tie_embeddings == 1 && m->norm_eps == 1e-5f && m->attn.rope_theta == 10000.0f, "default_norm_rope", "eps %g", m->norm_eps);
    const hl_train_config *t = &s.train;
    hl_check(!strcmp(t->task.name, "mqar") && t->task.seq_len == 64 && t->task.num_kv_pairs == 4 &&
             t->task.num_examples == 100000 && t->task.power_a == 0.01 && t->task.vocab_size == 8192,
             "default_train_task", "%s L %d kv %d", t->task.name, t->task.seq_len, t->task.num_kv_pairs);
    hl_check(t->schedule == HL_SCHED_COSINE && t->beta1 == 0.9 && t->beta2 == 0.999 && t->adam_eps == 1e-8 &&
             t->grad_clip == 1.0 && t->seed == 0 && t->debug_abort_step == 0, "default_optimizer", "");
    hl_check(s.n_eval == 1 && s.eval[0].num_examples == 1000 && s.eval[0].seq_len == 64, "default_eval", "n_eval %d", s.n_eval);
    hl_check(s.measure.n_batch == 1 && s.measure.n_context == 1, "default_measure", "");
    hl_check(strlen(s.hash) == 64 && s.canonical_json && strstr(s.canonical_json, "\"kv_share\":[]"),
             "canonical_has_every_key", "%s", s.canonical_json ? s.canonical_json : "(null)");
    hl_spec_free(&s);
}

static void test_layer_plan(void) {
    const char *text = "{\"model\":{\"n_layers\":8,\"layers\":\"AHSH\",\"attn\":{\"window\":16,\"global_layers\":[3,0],"
                       "\"kv_share\":[[5,6,7],[0,1]]}}}";
    hl_spec s;
    hl_check(load(text, NULL, 0, &s) == HL_EBADINPUT && strstr(err, "kv_share[0][1]"), "kv_share_rejects_ssm_member", "%s", err);
    hl_spec_free(&s);
    text = "{\"model\":{\"n_layers\":8,\"layers\":\"AAHH\",\"attn\":{\"window\":16,\"global_layers\":[3,0],"
           "\"kv_share\":[[4,5],[0,1]]}}}";
    if (!hl_check(load(text, NULL, 0, &s) == HL_OK, "layer_plan_load", "%s", err)) return;
    const hl_model_config *m = &s.model;
    hl_check(m->layer[5].kind == 'A' && m->layer[7].kind == 'H', "layers_expand_cyclically", "%c %c", m->layer[5].kind, m->layer[7].kind);
    hl_check(m->layer[0].window == 0 && m->layer[3].window == 0 && m->layer[1].window == 16, "window_per_layer", "");
    hl_check(m->layer[1].kv_source == 0 && m->layer[5].kv_source == 4 && m->layer[0].kv_source == -1 && m->layer[2].kv_source == -1,
             "kv_source_from_groups", "");
    hl_check(m->layer[2].v_head_dim == 64 && m->layer[0].v_head_dim == 32, "v_head_dim_resolved", "H %d A %d", m->layer[2].v_head_dim, m->layer[0].v_head_dim);
    hl_check(m->attn.global_layers[0] == 0 && m->attn.global_layers[1] == 3, "global_layers_sorted", "");
    hl_check(strstr(s.canonical_json, "\"kv_share\":[[0,1],[4,5]]") != NULL, "kv_share_canonical_sorted", "%s", s.canonical_json);
    hl_spec_free(&s);
}

static void test_set_values(void) {
    hl_spec s;
    const char *sets[] = {"model.d_model=64", "model.tie_embeddings=false", "measure.batch=[2,4]",
                          "model.ffn={\"type\":\"none\"}", "name=\"quoted\"", "model.layers=AS",
                          "model.attn.window=8", "train.lr=3e-3"};
    int rc = load("{\"model\":{\"n_layers\":4}}", sets, 8, &s);
    if (!hl_check(rc == HL_OK, "set_load", "%s", err)) return;
    hl_check(s.model.d_model == 64, "set_number", "%d", s.model.d_model);
    hl_check(s.model.tie_embeddings == 0, "set_bool", "");
    hl_check(s.measure.n_batch == 2 && s.measure.batch[1] == 4, "set_array", "");
    hl_check(s.model.ffn.type == HL_FFN_NONE && s.model.ffn.d_ff == 0, "set_object", "");
    hl_check(!strcmp(s.name, "quoted"), "set_quoted_string", "%s", s.name);
    hl_check(!strcmp(s.model.layers_pattern, "AS") && s.model.layer[3].kind == 'S', "set_plain_string", "%s", s.model.layers_pattern);
    hl_check(s.model.attn.window == 8 && s.model.layer[0].window == 8, "set_creates_intermediate_objects", "");
    hl_check(s.train.lr == 3e-3, "set_float", "%g", s.train.lr);
    hl_spec_free(&s);

    const char *null_set[] = {"model.d_model=null"};
    rc = load("{\"model\":{\"d_model\":64}}", null_set, 1, &s);
    hl_check(rc == HL_OK && s.model.d_model == 128, "set_null_restores_default", "%s", err);
    hl_spec_free(&s);
    const char *eval_set[] = {"eval.0.seq_len=128"};
    rc = load("{\"eval\":[{\"task\":\"mqar\"}]}", eval_set, 1, &s);
    hl_check(rc == HL_OK && s.eval[0].seq_len == 128, "set_array_index", "%s", err);
    hl_spec_free(&s);

    const char *bad_key[] = {"model.foo=1"};
    rc = load("{}", bad_key, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "t.json: --set model.foo: unknown key"), "set_unknown_key", "%s", err);
    const char *bad_type[] = {"model.d_model=abc"};
    rc = load("{}", bad_type, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "model.d_model: must be an integer (got \"abc\")"), "set_wrong_type", "%s", err);
    const char *no_eq[] = {"model.d_model"};
    rc = load("{}", no_eq, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "expected KEY=VALUE"), "set_needs_equals", "%s", err);
    const char *bad_index[] = {"eval.3.seq_len=8"};
    rc = load("{}", bad_index, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "--set eval.3"), "set_missing_array_entry", "%s", err);
}

static void test_hash(void) {
    char a[65], b[65], c[65], d[65], e[65];
    hash_of("{\"model\":{\"d_model\":64,\"n_layers\":2},\"train\":{\"lr\":0.001}}", NULL, 0, a);
    hash_of("{\"train\":{\"lr\":1e-3},\"model\":{\"n_layers\":2,\"d_model\":64}}", NULL, 0, b);
    hash_of("{\"name\":\"t\",\"model\":{\"d_model\":64,\"n_layers\":2,\"attn\":{\"n_heads\":4,\"head_dim\":16,\"n_kv_heads\":4},"
            "\"ssm\":{\"dt_rank\":4},\"ffn\":{\"type\":\"swiglu\",\"d_ff\":256},\"norm_eps\":0.00001},"
            "\"train\":{\"lr\":0.001,\"task\":{\"vocab_size\":8192,\"num_examples\":100000},\"seed\":0},"
            "\"eval\":[{\"task\":\"mqar\",\"num_examples\":1000}]}", NULL, 0, c);
    hash_of("{\"model\":{\"d_model\":64,\"n_layers\":2},\"train\":{\"lr\":0.002}}", NULL, 0, d);
    const char *sets[] = {"train.lr=0.002"};
    hash_of("{\"model\":{\"d_model\":64,\"n_layers\":2},\"train\":{\"lr\":0.001}}", sets, 1, e);
    hl_check(a[0] && !strcmp(a, b), "hash_ignores_key_order_and_number_spelling", "%s vs %s", a, b);
    hl_check(c[0] && !strcmp(a, c), "hash_ignores_explicit_defaults", "%s vs %s (%s)", a, c, err);
    hl_check(d[0] && strcmp(a, d), "hash_changes_with_value", "");
    hl_check(e[0] && !strcmp(d, e), "hash_includes_set_overrides", "");

    // the canonical text loads back to itself (checkpoints carry it)
    hl_spec s, t;
    if (load("{\"model\":{\"layers\":\"AAH\",\"n_layers\":4,\"attn\":{\"kv_share\":[[0,1]]}}}", NULL, 0, &s) == HL_OK &&
        load(s.canonical_json, NULL, 0, &t) == HL_OK) {
        hl_check(!strcmp(s.canonical_json, t.canonical_json) && !strcmp(s.hash, t.hash), "canonical_round_trip", "%s", t.canonical_json);
        hl_spec_free(&t);
    } else hl_check(0, "canonical_round_trip", "%s", err);
    hl_spec_free(&s);
}

static void test_bad_fixtures(void) {
    char path[256], expect[600], name[128];
    for (int i = 0; i < N_BAD; i++) {
        hl_spec s;
        snprintf(path, sizeof path, "tests/specs/bad/%s", bad_specs[i].file);
        int rc = hl_spec_load_file(path, NULL, 0, &s, err, sizeof err);
        hl_spec_free(&s);
        if (bad_specs[i].path[0]) snprintf(expect, sizeof expect, "%s: %s: ", path, bad_specs[i].path);
        else snprintf(expect, sizeof expect, "%s: ", path);
        snprintf(name, sizeof name, "bad_spec_%s", bad_specs[i].file);
        hl_check(rc == HL_EBADINPUT && strncmp(err, expect, strlen(expect)) == 0 && strstr(err, bad_specs[i].what),
                 name, "rc %d, message '%s', expected '%s...%s'", rc, err, expect, bad_specs[i].what);
    }
    hl_spec s;
    int rc = hl_spec_load_file("tests/specs/bad/no_such_file.json", NULL, 0, &s, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !strcmp(err, "tests/specs/bad/no_such_file.json: cannot open: No such file or directory"),
             "bad_spec_missing_file", "%s", err);
    hl_check(N_BAD >= 25, "at_least_25_bad_specs", "%d", N_BAD);
}

// ------------------------------------------------------------ sweeps
static char dir[64];

static void write_file(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static int load_sweep(const char *name, const char *text, const char *const *sets, int n_sets, hl_sweep *sw) {
    char path[256];
    write_file(name, text);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return hl_sweep_load_file(path, sets, n_sets, sw, err, sizeof err);
}

static void test_sweeps(void) {
    snprintf(dir, sizeof dir, "/tmp/hylab_test_spec_XXXXXX");
    if (!mkdtemp(dir)) { hl_skip("sweeps", "cannot create a temporary directory"); return; }
    write_file("base.json", "{\"name\":\"tiny\",\"model\":{\"d_model\":64,\"n_layers\":2}}");
    hl_sweep sw;
    char *found;

    int rc = load_sweep("plain.json", "{\"name\":\"p\",\"model\":{\"d_model\":64}}", NULL, 0, &sw);
    hl_check(rc == HL_OK && !sw.is_sweep && sw.n_runs == 1 && !strcmp(sw.runs[0].variant, "p") &&
             !strcmp(sw.runs[0].grid_json, "{}") && sw.runs[0].spec.model.d_model == 64, "sweep_plain_spec_is_one_run", "%s", err);
    hl_sweep_free(&sw);

    rc = load_sweep("empty.json", "{\"name\":\"e\",\"base\":\"base.json\",\"grid\":{}}", NULL, 0, &sw);
    hl_check(rc == HL_OK && sw.is_sweep && sw.n_runs == 1 && !strcmp(sw.runs[0].variant, "e") &&
             !strcmp(sw.runs[0].spec.name, "tiny") && !strcmp(sw.runs[0].grid_json, "{}"), "sweep_empty_grid", "%s", err);
    hl_sweep_free(&sw);

    rc = load_sweep("v.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"attn\",\"set\":{\"model.layers\":\"A\"}},"
                               "{\"name\":\"mamba\",\"set\":{\"model.layers\":\"S\"}}]}", NULL, 0, &sw);
    hl_check(rc == HL_OK && sw.n_runs == 2 && !strcmp(sw.name, "v") && !strcmp(sw.runs[1].variant, "mamba") &&
             sw.runs[1].spec.model.layer[0].kind == 'S' && strcmp(sw.runs[0].spec.hash, sw.runs[1].spec.hash),
             "sweep_variants_only", "%s", err);
    hl_check(rc == HL_OK && sw.source_json && !strncmp(sw.source_json, "{\"base\":", 8), "sweep_source_json_canonical", "%s",
             sw.source_json ? sw.source_json : "(null)");
    hl_sweep_free(&sw);

    rc = load_sweep("g.json", "{\"name\":\"g\",\"base\":{\"model\":{\"d_model\":32}},\"grid\":{\"train.seed\":[0,1,2]}}", NULL, 0, &sw);
    hl_check(rc == HL_OK && sw.n_runs == 3 && !strcmp(sw.runs[2].grid_json, "{\"train.seed\":2}") && sw.runs[2].spec.train.seed == 2 &&
             sw.runs[0].spec.model.d_model == 32 && !strcmp(sw.runs[0].spec.name, "g"), "sweep_grid_only_inline_base", "%s", err);
    hl_sweep_free(&sw);

    const char *sets[] = {"train.steps=7"};
    rc = load_sweep("vg.json", "{\"name\":\"vg\",\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"b\",\"set\":{\"train.lr\":0.01}}],"
                                "\"grid\":{\"train.seed\":[5,6,7],\"model.d_model\":[32,64]}}", sets, 1, &sw);
    int ok = rc == HL_OK && sw.n_runs == 12;
    ok = ok && !strcmp(sw.runs[0].variant, "a") && !strcmp(sw.runs[0].grid_json, "{\"model.d_model\":32,\"train.seed\":5}");
    ok = ok && !strcmp(sw.runs[1].grid_json, "{\"model.d_model\":32,\"train.seed\":6}");
    ok = ok && !strcmp(sw.runs[3].grid_json, "{\"model.d_model\":64,\"train.seed\":5}");
    ok = ok && !strcmp(sw.runs[6].variant, "b") && sw.runs[6].spec.train.lr == 0.01 && sw.runs[5].spec.train.lr == 1e-3;
    ok = ok && sw.runs[11].spec.model.d_model == 64 && sw.runs[11].spec.train.seed == 7 && sw.runs[11].spec.train.steps == 7;
    hl_check(ok, "sweep_variants_x_grid_count_and_order", "rc %d n %d %s", rc, sw.n_runs, err);
    int distinct = rc == HL_OK;
    for (int i = 0; distinct && i < sw.n_runs; i++)
        for (int j = 0; j < i; j++) distinct &= strcmp(sw.runs[i].spec.hash, sw.runs[j].spec.hash) != 0;
    hl_check(distinct, "sweep_runs_have_distinct_hashes", "");
    hl_sweep_free(&sw);

    rc = load_sweep("dup.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "dup.json: variants[1].name: duplicate variant name"), "sweep_duplicate_names", "%s", err);
    rc = load_sweep("sweep.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"b\",\"set\":{\"model.foo\":1}}]}", NULL, 0, &sw);
    found = strstr(err, "sweep.json: variants[1].set.model.foo: unknown key");
    hl_check(rc == HL_EBADINPUT && found, "sweep_unknown_dotted_key", "%s", err);
    rc = load_sweep("type.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\",\"set\":{\"model.d_model\":\"big\"}}]}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "variants[0].set.model.d_model: must be an integer (got \"big\")"), "sweep_wrong_type", "%s", err);
    rc = load_sweep("gk.json", "{\"base\":\"base.json\",\"grid\":{\"train.sed\":[1]}}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "gk.json: grid.train.sed: unknown key"), "sweep_grid_unknown_key", "%s", err);
    rc = load_sweep("ge.json", "{\"base\":\"base.json\",\"grid\":{\"train.seed\":[]}}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "grid.train.seed: must be a non-empty array"), "sweep_empty_grid_values", "%s", err);
    rc = load_sweep("gt.json", "{\"base\":\"base.json\",\"grid\":{\"train.seed\":[1,\"x\"]}}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "grid.train.seed: must be an integer (got \"x\")"), "sweep_grid_wrong_type", "%s", err);
    rc = load_sweep("bp.json", "{\"base\":\"nope.json\"}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "bp.json: base: ") && strstr(err, "nope.json: cannot open"), "sweep_bad_base_path", "%s", err);
    rc = load_sweep("tk.json", "{\"base\":\"base.json\",\"variant\":[]}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "tk.json: variant: unknown key"), "sweep_unknown_top_level_key", "%s", err);
    rc = load_sweep("sem.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"m\",\"set\":{\"model.layers\":\"S\",\"model.attn.window\":4}}]}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "sem.json (variant m): model.attn.window:"), "sweep_run_error_names_variant", "%s", err);
    const char *bad_set[] = {"model.nope=1"};
    rc = load_sweep("cli.json", "{\"base\":\"base.json\"}", bad_set, 1, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "--set model.nope: unknown key"), "sweep_cli_set_unknown_key", "%s", err);

    const char *names[] = {"base.json", "plain.json", "empty.json", "v.json", "g.json", "vg.json", "dup.json", "sweep.json",
                           "type.json", "gk.json", "ge.json", "gt.json", "bp.json", "tk.json", "sem.json", "cli.json"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) { snprintf(path, sizeof path, "%s/%s", dir, names[i]); unlink(path); }
    rmdir(dir);
}

static void test_mqar_tiny(void) {
    hl_spec s;
    int rc = hl_spec_load_file("sweeps/specs/mqar-tiny.json", NULL, 0, &s, err, sizeof err);
    hl_check(rc == HL_OK && s.model.n_layers == 2 && s.model.d_model == 64 && s.model.ffn.type == HL_FFN_NONE &&
             s.train.task.seq_len == 64 && s.train.task.num_kv_pairs == 4, "mqar_tiny_spec_loads", "%s", err);
    hl_spec_free(&s);
}

int main(void) {
    test_sha256();
    test_defaults();
    test_layer_plan();
    test_set_values();
    test_hash();
    test_bad_fixtures();
    test_sweeps();
    test_mqar_tiny();
    return hl_test_done();
}
