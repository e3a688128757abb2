// test_spec.c: spec and sweep parsing: defaults, --set, canonical hash,
// sweep expansion, error messages (incl. the tests/specs/bad fixtures) and
// SHA-256 test vectors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness/spec.h"
#include "tests/test.h"

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

// The bad spec fixtures: tests/specs/bad/CASES.tsv (FILE, JSON path or "-",
// message fragment; tab-separated; '#' comments), shared with
// tests/test_bad_specs.sh.
static void test_bad_fixtures(void) {
    FILE *cases = fopen("tests/specs/bad/CASES.tsv", "r");
    if (!hl_check(cases != NULL, "bad_spec_cases_file", "cannot open tests/specs/bad/CASES.tsv")) return;
    char line[1024], path[512], expect[1024], name[300];
    int n = 0;
    while (fgets(line, sizeof line, cases)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || !line[0]) continue;
        char *file = strtok(line, "\t"), *json_path = strtok(NULL, "\t"), *what = strtok(NULL, "");
        snprintf(name, sizeof name, "bad_spec_%s", file);
        if (!hl_check(file && json_path && what, name, "malformed CASES.tsv line")) continue;
        n++;
        hl_spec s;
        snprintf(path, sizeof path, "tests/specs/bad/%s", file);
        int rc = hl_spec_load_file(path, NULL, 0, &s, err, sizeof err);
        hl_spec_free(&s);
        if (strcmp(json_path, "-")) snprintf(expect, sizeof expect, "%s: %s: ", path, json_path);
        else snprintf(expect, sizeof expect, "%s: ", path);
        hl_check(rc == HL_EBADINPUT && strncmp(err, expect, strlen(expect)) == 0 && strstr(err, what),
                 name, "rc %d, message '%s', expected '%s...%s'", rc, err, expect, what);
    }
    fclose(cases);
    hl_spec s;
    int rc = hl_spec_load_file("tests/specs/bad/no_such_file.json", NULL, 0, &s, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && !strcmp(err, "tests/specs/bad/no_such_file.json: cannot open: No such file or directory"),
             "bad_spec_missing_file", "%s", err);
    hl_check(n >= 60, "at_least_60_bad_specs", "%d", n);
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

// Sweep files that must fail: file name, text, message fragment, check name.
static const struct { const char *file, *text, *want, *name; } sweep_errors[] = {
    {"dup.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
     "dup.json: variants[1].name: duplicate variant name", "sweep_duplicate_names"},
    {"sweep.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"b\",\"set\":{\"model.foo\":1}}]}",
     "sweep.json: variants[1].set.model.foo: unknown key", "sweep_unknown_dotted_key"},
    {"type.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\",\"set\":{\"model.d_model\":\"big\"}}]}",
     "variants[0].set.model.d_model: must be an integer (got \"big\")", "sweep_wrong_type"},
    {"gk.json", "{\"base\":\"base.json\",\"grid\":{\"train.sed\":[1]}}",
     "gk.json: grid.train.sed: unknown key", "sweep_grid_unknown_key"},
    {"ge.json", "{\"base\":\"base.json\",\"grid\":{\"train.seed\":[]}}",
     "grid.train.seed: must be a non-empty array", "sweep_empty_grid_values"},
    {"gt.json", "{\"base\":\"base.json\",\"grid\":{\"train.seed\":[1,\"x\"]}}",
     "grid.train.seed: must be an integer (got \"x\")", "sweep_grid_wrong_type"},
    {"tk.json", "{\"base\":\"base.json\",\"variant\":[]}",
     "tk.json: variant: unknown key", "sweep_unknown_top_level_key"},
    {"sem.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"m\",\"set\":{\"model.layers\":\"S\",\"model.attn.window\":4}}]}",
     "sem.json (variant m): model.attn.window:", "sweep_run_error_names_variant"},
    {"ds.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\",\"set\":{\"train.lr\":0.1,\"train.lr\":0.2}}]}",
     "ds.json: variants[0].set.train.lr: duplicate key", "sweep_duplicate_key_in_set"},
    {"dv.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"b\",\"name\":\"c\"}]}",
     "dv.json: variants[1].name: duplicate key", "sweep_duplicate_key_in_variant"},
    {"dg.json", "{\"base\":\"base.json\",\"grid\":{\"train.seed\":[1],\"train.seed\":[2]}}",
     "dg.json: grid.train.seed: duplicate key", "sweep_duplicate_grid_key"},
    {"db.json", "{\"base\":{\"model\":{\"d_model\":32,\"d_model\":64}}}",
     "db.json: base.model.d_model: duplicate key", "sweep_duplicate_key_in_inline_base"},
    {"mem.json", "{\"base\":\"base.json\",\"variants\":[{\"name\":\"big\",\"set\":{\"model.vocab_size\":1048576,"
                 "\"model.d_model\":65536,\"model.n_layers\":256,\"model.attn.n_heads\":64}}]}",
     "mem.json (variant big): model: training needs ", "sweep_run_must_fit_memory"},
};

static void test_sweeps(void) {
    snprintf(dir, sizeof dir, "/tmp/hylab_test_spec_XXXXXX");
    if (!mkdtemp(dir)) { hl_skip("sweeps", "cannot create a temporary directory"); return; }
    write_file("base.json", "{\"name\":\"tiny\",\"model\":{\"d_model\":64,\"n_layers\":2}}");
    hl_sweep sw;

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

    for (size_t i = 0; i < sizeof sweep_errors / sizeof sweep_errors[0]; i++) {
        rc = load_sweep(sweep_errors[i].file, sweep_errors[i].text, NULL, 0, &sw);
        hl_check(rc == HL_EBADINPUT && strstr(err, sweep_errors[i].want), sweep_errors[i].name, "%s", err);
    }
    rc = load_sweep("bp.json", "{\"base\":\"nope.json\"}", NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "bp.json: base: ") && strstr(err, "nope.json: cannot open"), "sweep_bad_base_path", "%s", err);
    const char *bad_set[] = {"model.nope=1"};
    rc = load_sweep("cli.json", "{\"base\":\"base.json\"}", bad_set, 1, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "--set model.nope: unknown key"), "sweep_cli_set_unknown_key", "%s", err);

    // 2 variants x 100 x 100 grid points: refused before expanding
    char big[4096];
    int used = snprintf(big, sizeof big, "{\"base\":\"base.json\",\"variants\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
                                         "\"grid\":{\"train.seed\":[0");
    for (int i = 1; i < 100; i++) used += snprintf(big + used, sizeof big - (size_t)used, ",%d", i);
    used += snprintf(big + used, sizeof big - (size_t)used, "],\"train.steps\":[0");
    for (int i = 1; i < 100; i++) used += snprintf(big + used, sizeof big - (size_t)used, ",%d", i);
    snprintf(big + used, sizeof big - (size_t)used, "]}}");
    rc = load_sweep("many.json", big, NULL, 0, &sw);
    hl_check(rc == HL_EBADINPUT && strstr(err, "many.json: grid: expands to 20000 runs (2 variants x 10000 grid points); a sweep has at most 10000"),
             "sweep_run_count_capped", "rc %d %s", rc, err);

    const char *names[] = {"base.json", "plain.json", "empty.json", "v.json", "g.json", "vg.json", "dup.json", "sweep.json",
                           "type.json", "gk.json", "ge.json", "gt.json", "bp.json", "tk.json", "sem.json", "cli.json",
                           "ds.json", "dv.json", "dg.json", "db.json", "many.json", "mem.json"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) { snprintf(path, sizeof path, "%s/%s", dir, names[i]); unlink(path); }
    rmdir(dir);
}

// Limits: numbers as written, canonical doubles, bounded reads, training memory.
static void test_limits(void) {
    char a[65], b[65];
    hash_of("{\"train\":{\"lr\":0.1}}", NULL, 0, a);
    hash_of("{\"train\":{\"lr\":0.10000000000000002}}", NULL, 0, b);
    hl_check(a[0] && b[0] && strcmp(a, b), "hash_tells_doubles_one_ulp_apart", "both %s", a);
    hl_spec s, t;
    if (load("{\"train\":{\"lr\":0.10000000000000002}}", NULL, 0, &s) == HL_OK) {
        int rc = load(s.canonical_json, NULL, 0, &t);
        hl_check(rc == HL_OK && t.train.lr == s.train.lr && strstr(s.canonical_json, "\"lr\":0.10000000000000002"),
                 "canonical_double_round_trips_exactly", "%s", s.canonical_json);
        hl_spec_free(&t);
    } else hl_check(0, "canonical_double_round_trips_exactly", "%s", err);
    hl_spec_free(&s);

    const char *inf_set[] = {"train.lr=1e400"};
    int rc = load("{}", inf_set, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "t.json: --set train.lr: number out of range for a double (got 1e400)"),
             "set_number_out_of_range_named_as_written", "%s", err);
    const char *obj_set[] = {"model.ffn={\"type\":\"swiglu\",\"d_ff\":-1e999}"};
    rc = load("{}", obj_set, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "--set model.ffn.d_ff: number out of range for a double (got -1e999)"),
             "set_object_number_out_of_range_path", "%s", err);
    rc = load("{\"eval\":[{\"num_examples\":5},{\"power_a\":\"1e999\",\"num_examples\":1e999}]}", NULL, 0, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "t.json: eval[1].num_examples: number out of range for a double (got 1e999)"),
             "number_out_of_range_path_skips_strings", "%s", err);

    rc = hl_spec_load_file("/dev/zero", NULL, 0, &s, err, sizeof err);
    hl_check(rc == HL_EBADINPUT && strstr(err, "/dev/zero: larger than the limit of 16777216 bytes"),
             "spec_read_is_bounded", "rc %d %s", rc, err);

    // describe-sized (loads) but far beyond any machine's memory to train
    const char *huge = "{\"model\":{\"vocab_size\":1048576,\"d_model\":65536,\"n_layers\":256,"
                       "\"attn\":{\"n_heads\":64},\"ffn\":{\"d_ff\":1048576}}}";
    rc = load(huge, NULL, 0, &s);
    if (hl_check(rc == HL_OK, "huge_model_within_limits_loads", "%s", err)) {
        rc = hl_spec_check_train_memory(&s, "t.json", err, sizeof err);
        hl_check(rc == HL_EBADINPUT && strstr(err, "t.json: model: training needs ") && strstr(err, "this machine has "),
                 "huge_model_training_memory_refused", "rc %d %s", rc, err);
    }
    hl_spec_free(&s);
    rc = load("{\"model\":{\"d_model\":64}}", NULL, 0, &s);
    hl_check(rc == HL_OK && hl_spec_check_train_memory(&s, "t.json", err, sizeof err) == HL_OK,
             "small_model_training_memory_ok", "%s", err);
    hl_spec_free(&s);
}

static void test_mqar_tiny(void) {
    hl_spec s;
    int rc = hl_spec_load_file("sweeps/specs/mqar-tiny.json", NULL, 0, &s, err, sizeof err);
    hl_check(rc == HL_OK && s.model.n_layers == 2 && s.model.d_model == 64 && s.model.ffn.type == HL_FFN_NONE &&
             s.train.task.seq_len == 64 && s.train.task.num_kv_pairs == 4, "mqar_tiny_spec_loads", "%s", err);
    hl_spec_free(&s);
}

// The hashes of the shipped specs, as before the config sections moved into
// the modules (core/config.h): a change of canonical output shows here.
static void test_pinned_hashes(void) {
    static const struct { const char *file, *hash; } pins[] = {
        {"sweeps/specs/bench-8x256.json", "ea10257453e5d270176f2d0c4ee2131d00f1afd233bacb3e246940d7ab1c898c"},
        {"sweeps/specs/hymba-1.5b.json", "1268ca2c547b31d420563a6a0654bbc379073ee18544687088d91b67cd05efb3"},   // + model.ssm.inner_norms (issue 10)
        {"sweeps/specs/jamba-v0.1-dense.json", "9bde1d9a3a7bd97ee8428046bc9cefca4ea55bcefb149d36727ccc4799ec6eb0"},
        {"sweeps/specs/llama2-7b.json", "d7d05acec2a65f201d12332a2fcbc69b0ae77c5d80711b9a82e12bcee40a5ee2"},
        {"sweeps/specs/mqar-256.json", "906684aa268a36884c4204a54ec46675482ee466c6796fb2badc04bd52618545"},
        {"sweeps/specs/mqar-tiny.json", "dca0942d84c3258670f74e86f82fb465db2c5bc3c0a544b1a37d7c82243f0591"},
        {"sweeps/specs/quickstart-base.json", "4260d7433d94c826f6841d619b0bfb76cf62ea0cd186bc09cedefb98bffd1b9e"},
    };
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        hl_spec s;
        char name[96];
        int rc = hl_spec_load_file(pins[i].file, NULL, 0, &s, err, sizeof err);
        snprintf(name, sizeof name, "pinned_hash_%s", strrchr(pins[i].file, '/') + 1);
        hl_check(rc == HL_OK && !strcmp(s.hash, pins[i].hash), name, "%s", rc == HL_OK ? s.hash : err);
        hl_spec_free(&s);
    }
}

// model.ffn.pattern: the FFN per layer, cyclic; [] is the default and is
// left out of the canonical form (older specs keep their hash).
static void test_ffn_pattern(void) {
    const char *base = "{\"model\":{\"layers\":\"AS\",\"n_layers\":5,\"d_model\":32}}";
    hl_spec s, t;
    const char *pat[] = {"model.ffn.pattern=[\"swiglu\",\"none\"]"};
    int rc = load(base, pat, 1, &s);
    hl_check(rc == HL_OK && s.model.ffn.n_pattern == 2 && s.model.layer[0].ffn == HL_FFN_SWIGLU &&
             s.model.layer[1].ffn == HL_FFN_NONE && s.model.layer[4].ffn == HL_FFN_SWIGLU && s.model.ffn.d_ff == 128,
             "ffn_pattern_per_layer", "rc %d %s", rc, err);
    hl_check(rc == HL_OK && strstr(s.canonical_json, "\"pattern\":[\"swiglu\",\"none\"]"), "ffn_pattern_canonical",
             "%s", rc == HL_OK ? s.canonical_json : err);
    if (rc == HL_OK && load(s.canonical_json, NULL, 0, &t) == HL_OK) {
        hl_check(!strcmp(s.hash, t.hash) && t.model.layer[3].ffn == HL_FFN_NONE, "ffn_pattern_round_trip", "%s", t.canonical_json);
        hl_spec_free(&t);
    } else hl_check(0, "ffn_pattern_round_trip", "%s", err);
    char plain[65], empty[65];
    hash_of(base, NULL, 0, plain);
    const char *none[] = {"model.ffn.pattern=[]"};
    hash_of(base, none, 1, empty);
    hl_check(plain[0] && !strcmp(plain, empty) && strcmp(plain, s.hash), "ffn_pattern_empty_is_default", "%s %s", plain, empty);
    hl_spec_free(&s);
    rc = load(base, none, 1, &s);
    hl_check(rc == HL_OK && !strstr(s.canonical_json, "pattern") && s.model.layer[1].ffn == HL_FFN_SWIGLU,
             "ffn_pattern_empty_omitted", "%s", rc == HL_OK ? s.canonical_json : err);
    hl_spec_free(&s);
    // d_ff applies when some layer has swiglu, whatever the type
    const char *nones[] = {"model.ffn.pattern=[\"none\"]", "model.ffn.d_ff=7"};
    rc = load(base, nones, 2, &s);
    hl_check(rc == HL_OK && s.model.ffn.d_ff == 0 && s.model.layer[0].ffn == HL_FFN_NONE, "ffn_pattern_all_none_no_d_ff", "%s", err);
    hl_spec_free(&s);
    const char *typed[] = {"model.ffn.type=none", "model.ffn.pattern=[\"none\",\"swiglu\"]"};
    rc = load(base, typed, 2, &s);
    hl_check(rc == HL_OK && s.model.ffn.d_ff == 128 && s.model.layer[1].ffn == HL_FFN_SWIGLU, "ffn_pattern_over_type", "%s", err);
    hl_spec_free(&s);
    static const struct { const char *set, *msg; } bad[] = {
        {"model.ffn.pattern=[\"swiglu\",\"moe2\"]", "t.json: model.ffn.pattern[1]: unknown FFN \"moe2\" (known: swiglu, moe, none)"},
        {"model.ffn.pattern=[\"moe\",\"mamba\"]", "t.json: model.ffn.pattern[1]: unknown FFN \"mamba\" (known: swiglu, moe, none)"},
        {"model.ffn.pattern=[3]", "t.json: --set model.ffn.pattern[0]: must be a string (got 3)"},
        {"model.ffn.pattern=\"swiglu\"", "t.json: --set model.ffn.pattern: must be an array of strings (got \"swiglu\")"},
    };
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "ffn_pattern_error_%d", i);
        rc = load(base, &bad[i].set, 1, &s);
        hl_check(rc == HL_EBADINPUT && strstr(err, bad[i].msg) == err, name, "rc %d: %s", rc, err);
        hl_spec_free(&s);
    }
    char big[2400] = "model.ffn.pattern=[";
    for (int i = 0; i < 257; i++) strcat(big, i ? ",\"none\"" : "\"none\"");
    strcat(big, "]");
    const char *bigp = big;
    rc = load(base, &bigp, 1, &s);
    hl_check(rc == HL_EBADINPUT && strstr(err, "model.ffn.pattern: at most 256 entries (got 257)"), "ffn_pattern_too_long", "%s", err);
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
    test_limits();
    test_pinned_hashes();
    test_ffn_pattern();
    return hl_test_done();
}
