// db_internal.h: shared by db/*.c only.
#ifndef HYLAB_DB_INTERNAL_H
#define HYLAB_DB_INTERNAL_H
#include "db/db.h"

struct hl_db {
    sqlite3 *h;
    char path[4096];
    char uri[3 * 4096 + 32];     // the "file:" URI it was opened with (hl_db_attach reuses it)
    int readonly;                // opened with HL_DB_READONLY
};

int hl_db_fail(sqlite3 *h, const char *what, char *err, size_t errlen);
int hl_db_prep(hl_db *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen);
int hl_db_step_done(hl_db *db, sqlite3_stmt *st, char *err, size_t errlen);
void hl_db_rollback(hl_db *db);
void hl_db_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);
void hl_db_bind_real_or_null(sqlite3_stmt *st, int i, double v);
int hl_db_pid_alive(int pid);
// Delete a run's metrics and measurements (its result, but for the curves).
int hl_db_delete_results(hl_db *db, long long run_id, char *err, size_t errlen);
// Delete a run's curve points of every attempt but keep_attempt (-1: all).
int hl_db_drop_points(hl_db *db, long long run_id, int keep_attempt, char *err, size_t errlen);
// End attempt `attempt` of a run with status/error and fail_step (the step
// at which it failed or diverged; -1: NULL, none or unknown) if it is running
// under pid; *changed = 1 if it was (0: someone else owns it now).
int hl_db_end_attempt(hl_db *db, long long run_id, int attempt, int pid, const char *status,
                      const char *error, int fail_step, int *changed, char *err, size_t errlen);

#endif
