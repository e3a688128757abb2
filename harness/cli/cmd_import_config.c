// cmd_import_config.c: `hylab import-config CONFIG.json [--name N]`: a
// Hugging Face config.json (llama, mistral, mixtral, mamba, mamba2, jamba,
// hymba) as a hylab spec on stdout (models/hf_config.h has the mapping).
// The spec is checked by the spec parser before anything is printed: bad
// input exits 2 with "FILE: FIELD: what is wrong" on stderr and nothing on
// stdout.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_util.h"
#include "harness/cli/commands.h"
#include "harness/spec.h"
#include "models/hf_config.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: hylab import-config CONFIG.json [--name N]\n"
        "\n"
        "Writes the hylab spec (JSON, stdout) of a Hugging Face config.json of model_type\n"
        "%s. Every field is mapped, required to hold the\n"
        "one value hylab computes, or known to be irrelevant to the computed function\n"
        "(models/hf_config.c lists which and why); any other field is an error naming it.\n"
        "Pipe into a file and run `hylab describe FILE` for its parameter counts.\n"
        "\n"
        "  --name N   the spec's name (default: the file name without .json)\n",
        hl_hf_config_families());
}

int cmd_import_config(int argc, char **argv) {
    const char *path = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--name") && i + 1 < argc) { name = argv[++i]; continue; }
        if (argv[i][0] == '-' || path) {
            fprintf(stderr, "hylab import-config: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        path = argv[i];
    }
    if (!path) { usage(stderr); return 2; }
    char err[HL_ERR_LEN];
    char *text = NULL;
    if (hl_json_read_file(path, &text, err, sizeof err)) {
        fprintf(stderr, "hylab import-config: %s\n", err);
        return 2;
    }
    cJSON *spec = NULL;
    int rc = hl_hf_config_to_spec(text, path, name, &spec, err, sizeof err);
    free(text);
    if (rc) {
        fprintf(stderr, "hylab import-config: %s\n", err);
        return 2;
    }
    char *out = cJSON_Print(spec);
    cJSON_Delete(spec);
    hl_spec parsed;
    char src[HL_ERR_LEN];
    snprintf(src, sizeof src, "%s (imported)", path);
    if (!out || hl_spec_load_text(out, src, NULL, 0, &parsed, err, sizeof err)) {
        fprintf(stderr, "hylab import-config: %s\n", out ? err : "out of memory");
        free(out);
        return 2;
    }
    hl_spec_free(&parsed);
    printf("%s\n", out);
    free(out);
    return fflush(stdout) ? 1 : 0;
}
