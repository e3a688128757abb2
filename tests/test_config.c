// test_config.c: the config-section mechanism of core/config.h on a demo
// table: defaults (plain, derived, inherited from a base), ranges with the
// limit in the message, unknown keys, wrong types, repeated keys, canonical
// text, rows omitted at their default, identical sections.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/config.h"
#include "core/json_util.h"
#include "tests/test.h"

typedef struct { int a; } demo_sub;
typedef struct {
    int n; long big; uint64_t seed; double lr, beta; float eps; int flag;
    char name[8]; int list[3]; int n_list; int derived; int added;
    demo_sub sub;
} demo;

static int dflt_derived(const void *obj, const void *env, double *out, char *why, size_t whylen) {
    const demo *d = obj;
    (void)env;
    if (d->n == 7) return hl_fail(why, whylen, HL_EBADINPUT, "no default for n = 7");
    *out = 2.0 * d->n;
    return HL_OK;
}

static const hl_cfg_key sub_keys[] = {
    {.name = "a", .kind = HL_CFG_INT, .offset = offsetof(demo_sub, a), .dflt = 7, .min = 0, .max = 100},
    {.name = NULL}};
static const hl_cfg_section sub_section = {.name = "sub", .keys = sub_keys};

#define DEMO_KEYS(n_max) \
    {.name = "n", .kind = HL_CFG_INT, .offset = offsetof(demo, n), .dflt = 4, .min = 1, .max = n_max}, \
    {.name = "big", .kind = HL_CFG_LONG, .offset = offsetof(demo, big), .dflt = 100, .min = 2, .max = 1e12}, \
    {.name = "seed", .kind = HL_CFG_U64, .offset = offsetof(demo, seed), .dflt = 0, .min = 0, .max = 9007199254740992.0}, \
    {.name = "lr", .kind = HL_CFG_DOUBLE, .offset = offsetof(demo, lr), .dflt = 0.1, .min = 0, .max = INFINITY, \
     .flags = HL_CFG_MIN_EXCLUSIVE}, \
    {.name = "beta", .kind = HL_CFG_DOUBLE, .offset = offsetof(demo, beta), .dflt = 0.9, .min = 0, .max = 1, \
     .flags = HL_CFG_MAX_EXCLUSIVE}, \
    {.name = "eps", .kind = HL_CFG_FLOAT, .offset = offsetof(demo, eps), .dflt = 1e-5, .min = 1e-12, .max = 1}, \
    {.name = "flag", .kind = HL_CFG_BOOL, .offset = offsetof(demo, flag), .dflt = 1}, \
    {.name = "name", .kind = HL_CFG_STRING, .offset = offsetof(demo, name), .capacity = 8, .dflt_text = "abc"}, \
    {.name = "list", .kind = HL_CFG_INT_LIST, .offset = offsetof(demo, list), .count_offset = offsetof(demo, n_list), \
     .capacity = 3, .min = 0, .max = 9}, \
    {.name = "derived", .kind = HL_CFG_INT, .offset = offsetof(demo, derived), .dflt_fn = dflt_derived, .min = 0, .max = 1000}, \
    {.name = "added", .kind = HL_CFG_INT, .offset = offsetof(demo, added), .dflt = 0, .min = 0, .max = 5, \
     .flags = HL_CFG_OMIT_DEFAULT}, \
    {.name = "sub", .kind = HL_CFG_SECTION, .offset = offsetof(demo, sub), .section = &sub_section}, \
    {.name = NULL}
static const hl_cfg_key demo_keys[] = {DEMO_KEYS(10)};
static const hl_cfg_key demo_keys_copy[] = {DEMO_KEYS(10)};
static const hl_cfg_key demo_keys_other[] = {DEMO_KEYS(11)};
static const hl_cfg_section demo_section = {.name = "demo", .keys = demo_keys};
static const hl_cfg_section demo_copy = {.name = "demo", .keys = demo_keys_copy};
static const hl_cfg_section demo_other = {.name = "demo", .keys = demo_keys_other};
static const hl_cfg_section demo_renamed = {.name = "demo2", .keys = demo_keys_copy};

static char err[HL_ERR_LEN];

// Checks (schema) then reads text; *out filled. HL_OK or the error in err.
static int load(const char *text, demo *out, const demo *base) {
    hl_cfg_ctx c = {"T", err, sizeof err, NULL};
    cJSON *v = cJSON_Parse(text);
    memset(out, 0, sizeof *out);
    err[0] = 0;
    if (!v) { snprintf(err, sizeof err, "test: bad JSON %s", text); return HL_EFAIL; }
    int rc = hl_cfg_check(&c, v, &demo_section, "demo");
    if (rc == HL_OK) rc = hl_cfg_read(&c, &demo_section, v, "demo", out, base);
    cJSON_Delete(v);
    return rc;
}

static char *canonical(const demo *d) {
    cJSON *t = hl_cfg_write(&demo_section, d);
    char *s = t ? hl_json_canonical(t) : NULL;
    cJSON_Delete(t);
    return s;
}

static void test_defaults_and_canonical(void) {
    demo d;
    int rc = load("{}", &d, NULL);
    hl_check(rc == HL_OK && d.n == 4 && d.big == 100 && d.lr == 0.1 && d.eps == 1e-5f && d.flag == 1 &&
             !strcmp(d.name, "abc") && d.n_list == 0 && d.derived == 8 && d.added == 0 && d.sub.a == 7,
             "defaults", "rc %d %s", rc, err);
    char *s = canonical(&d);
    const char *want = "{\"beta\":0.9,\"big\":100,\"derived\":8,\"eps\":1e-05,\"flag\":true,\"list\":[],\"lr\":0.1,"
                       "\"n\":4,\"name\":\"abc\",\"seed\":0,\"sub\":{\"a\":7}}";
    hl_check(s && !strcmp(s, want), "canonical_text_defaults_new_key_omitted", "got %s", s ? s : "(null)");
    free(s);
    rc = load("{\"n\":5,\"added\":3,\"list\":[1,9],\"flag\":false,\"name\":\"xy\",\"eps\":1e-6,\"seed\":12}", &d, NULL);
    s = rc == HL_OK ? canonical(&d) : NULL;
    const char *want2 = "{\"added\":3,\"beta\":0.9,\"big\":100,\"derived\":10,\"eps\":1e-06,\"flag\":false,\"list\":[1,9],"
                        "\"lr\":0.1,\"n\":5,\"name\":\"xy\",\"seed\":12,\"sub\":{\"a\":7}}";
    hl_check(s && !strcmp(s, want2), "canonical_text_values_new_key_written", "got %s (%s)", s ? s : "(null)", err);
    free(s);
    // an explicit default reads the same as a missing key
    demo e;
    rc = load("{\"n\":4,\"derived\":8,\"added\":0,\"sub\":{\"a\":7}}", &e, NULL);
    char *a = canonical(&e), *b = NULL;
    load("{}", &d, NULL);
    b = canonical(&d);
    hl_check(rc == HL_OK && a && b && !strcmp(a, b), "explicit_default_same_text", "%s vs %s", a, b);
    free(a); free(b);
}

static void test_base(void) {
    demo base, d;
    load("{\"n\":9,\"name\":\"q\",\"list\":[3],\"sub\":{\"a\":1}}", &base, NULL);
    int rc = load("{\"big\":5}", &d, &base);
    hl_check(rc == HL_OK && d.n == 9 && d.big == 5 && !strcmp(d.name, "q") && d.n_list == 1 && d.list[0] == 3 &&
             d.sub.a == 1 && d.derived == 18, "missing_keys_from_base", "rc %d n %d name %s a %d (%s)", rc, d.n, d.name, d.sub.a, err);
}

static void test_errors(void) {
    static const struct { const char *text, *msg; } cases[] = {
        {"{\"n\":0}", "T: demo.n: must be positive (got 0)"},
        {"{\"n\":11}", "T: demo.n: must be at most 10 (got 11)"},
        {"{\"big\":1}", "T: demo.big: must be >= 2 (got 1)"},
        {"{\"seed\":-1}", "T: demo.seed: must be >= 0 (got -1)"},
        {"{\"lr\":0}", "T: demo.lr: must be > 0 (got 0)"},
        {"{\"beta\":1}", "T: demo.beta: must be in [0, 1) (got 1)"},
        {"{\"eps\":0}", "T: demo.eps: must be in [1e-12, 1] (got 0)"},
        {"{\"list\":[1,10]}", "T: demo.list[1]: must be at most 9 (got 10)"},
        {"{\"list\":[1,2,3,4]}", "T: demo.list: at most 3 entries (got 4)"},
        {"{\"name\":\"too long!\"}", "T: demo.name: longer than 7 characters"},
        {"{\"added\":6}", "T: demo.added: must be at most 5 (got 6)"},
        {"{\"n\":7}", "T: demo.derived: no default for n = 7"},
        {"{\"sub\":{\"a\":101}}", "T: demo.sub.a: must be at most 100 (got 101)"},
        {"{\"zz\":1}", "T: demo.zz: unknown key"},
        {"{\"sub\":{\"b\":1}}", "T: demo.sub.b: unknown key"},
        {"{\"n\":\"4\"}", "T: demo.n: must be an integer (got \"4\")"},
        {"{\"n\":4.5}", "T: demo.n: must be an integer (got 4.5)"},
        {"{\"lr\":true}", "T: demo.lr: must be a number (got true)"},
        {"{\"flag\":1}", "T: demo.flag: must be true or false (got 1)"},
        {"{\"name\":3}", "T: demo.name: must be a string (got 3)"},
        {"{\"list\":3}", "T: demo.list: must be an array of integers (got 3)"},
        {"{\"list\":[1,\"x\"]}", "T: demo.list[1]: must be an integer (got \"x\")"},
        {"{\"sub\":[]}", "T: demo.sub: must be an object (got [])"},
        {"{\"n\":4,\"n\":5}", "T: demo.n: duplicate key"},
        {"[]", "T: demo: must be an object (got [])"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        demo d;
        char name[64];
        int rc = load(cases[i].text, &d, NULL);
        snprintf(name, sizeof name, "error_%zu", i);
        hl_check(rc == HL_EBADINPUT && !strcmp(err, cases[i].msg), name, "%s: rc %d, got '%s', want '%s'",
                 cases[i].text, rc, err, cases[i].msg);
    }
}

static void test_same_section(void) {
    hl_check(hl_cfg_same_section(&demo_section, &demo_copy), "same_rows_same_section", "");
    hl_check(!hl_cfg_same_section(&demo_section, &demo_other), "other_range_other_section", "");
    hl_check(!hl_cfg_same_section(&demo_section, &demo_renamed), "other_name_other_section", "");
    hl_check(hl_cfg_find(&demo_section, "derived", 7) == &demo_keys[9] && !hl_cfg_find(&demo_section, "deriv", 5),
             "find_row", "");
}

int main(void) {
    test_defaults_and_canonical();
    test_base();
    test_errors();
    test_same_section();
    return hl_test_done();
}
