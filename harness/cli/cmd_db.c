// cmd_db.c: `hylab db merge OUT.db IN.db...`: merge shard databases into OUT
// (created if missing) without duplicating runs (db/db_merge.c).
#include <stdio.h>
#include <string.h>
#include "harness/cli/commands.h"
#include "db/db.h"

static const char *usage_text =
    "usage: hylab db merge OUT.db IN.db...\n"
    "  Merges results databases (e.g. the shards of 'hylab run --shard I/N') into\n"
    "  OUT.db, created if missing. Runs are matched by sweep hash + spec hash and\n"
    "  never duplicated: a done run replaces a failed/queued/running one.\n"
    "  Every input is checked first: if one is missing or not a hylab database,\n"
    "  nothing is written (OUT is neither created nor changed). Inputs are read\n"
    "  only (one of an older schema version is migrated forward first).\n"
    "Exit status: 0 ok, 1 a merge failed (that input left unmerged), 2 bad input.\n";

// Every input is checked (without writing to it) before OUT is opened or
// created, so a bad input leaves no OUT behind and OUT unchanged.
static int merge(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "hylab db merge: want OUT.db IN.db...\n%s", usage_text); return 2; }
    char err[1024];
    for (int i = 3; i < argc; i++) {
        int rc = hl_db_merge_check(argv[2], argv[i], err, sizeof err);
        if (rc) { fprintf(stderr, "hylab db merge: %s\n", err); return rc == HL_EBADINPUT ? 2 : 1; }
    }
    hl_db *out;
    int rc = hl_db_open(argv[2], HL_DB_CREATE, &out, err, sizeof err);
    if (rc) { fprintf(stderr, "hylab db merge: %s\n", err); return rc == HL_EBADINPUT ? 2 : 1; }
    int status = 0;
    for (int i = 3; i < argc; i++) {
        hl_db_merge_stats st;
        rc = hl_db_merge(out, argv[i], &st, err, sizeof err);
        if (rc) {
            fprintf(stderr, "hylab db merge: %s: %s\n", argv[i], err);
            status = rc == HL_EBADINPUT && status == 0 ? 2 : 1;
            continue;
        }
        fprintf(stderr, "hylab db merge: %s: %d runs added, %d replaced, %d kept; %d sweeps added\n",
                argv[i], st.runs_added, st.runs_replaced, st.runs_kept, st.sweeps_added);
    }
    hl_db_close(out);
    return status;
}

int cmd_db(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "merge")) {
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help")) { fputs(usage_text, stdout); return 0; }
        return merge(argc, argv);
    }
    fprintf(stderr, "hylab db: unknown subcommand '%s'\n%s", argv[1], usage_text);
    return 2;
}
