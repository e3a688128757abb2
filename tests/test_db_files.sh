#!/bin/sh
# test_db_files.sh: what the commands that read a results database (query,
# check, report, db merge) do with files that are not one, and with one they
# cannot write. A rejected input must be left byte for byte as it was (no
# WAL switch, no schema written into an empty file), `db merge` must not
# leave an OUT behind when an input is bad, and a database in a directory
# the user cannot write must still be readable.
# Databases come from db/schema.sql and tests/fixtures/report_fixture.sql
# through the sqlite3 CLI. The read-only directory is made real for root by
# running hylab as the user nobody (setpriv); without root, by chmod.
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'chmod -R u+w "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { fail db_files_setup "no sqlite3 CLI (make deps)"; finish; }

good=$dir/good.db
cat db/schema.sql tests/fixtures/report_fixture.sql | sqlite3 "$good"
n_runs=$(sqlite3 "$good" "SELECT count(*) FROM runs")
sqlite3 "$dir/foreign.db" "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES ('mine')"
cp "$good" "$dir/newer.db"
sqlite3 "$dir/newer.db" "PRAGMA user_version = 99"
sqlite3 "$dir/other_version.db" "PRAGMA user_version = 7; CREATE TABLE t(a)"
: > "$dir/empty.db"
printf 'hello, not a database at all\n' > "$dir/text.db"
cat > "$dir/report.json" <<'EOF'
{"tables": [{"name": "t", "sql": "SELECT variant FROM runs ORDER BY id", "columns": [{"name": "variant"}]}]}
EOF

# state FILE: its bytes, and which of FILE-wal, FILE-shm, FILE-journal exist
state() { cksum < "$1"; for x in wal shm journal; do [ -e "$1-$x" ] && echo "$x"; done; }

# ---------------------------------------------------------------- rejected inputs are not written to
# rejected WHAT FILE EXPECTED_MESSAGE: every reading command refuses FILE with
# exit 2 and the message, and FILE stays as it was.
refused() { [ $rc = 2 ] && [ "$before" = "$after" ] && grep -qF -- "$want" "$dir/err"; }
rejected() {
  what=$1 f=$2 want=$3
  before=$(state "$f")
  for cmd in query check_new check_baseline merge_in report; do
    case $cmd in
      query)          "$HYLAB" query --db "$f" "SELECT 1" ;;
      check_new)      "$HYLAB" check --db "$f" --baseline "$good" ;;
      check_baseline) "$HYLAB" check --db "$good" --baseline "$f" ;;
      merge_in)       "$HYLAB" db merge "$dir/out_$what.db" "$f" ;;
      report)         "$HYLAB" report --db "$f" "$dir/report.json" --out "$dir/rep_$what" ;;
    esac >"$dir/out" 2>"$dir/err"; rc=$?
    after=$(state "$f")
    MSG="exit $rc, file changed: $([ "$before" = "$after" ] && echo no || echo "YES ($before -> $after)"): $(cat "$dir/err")"
    check "${cmd}_refuses_${what}_unchanged" refused
  done
  MSG="made: $(ls -d "$dir/out_$what.db" "$dir/rep_$what" 2>/dev/null)"
  check "nothing_written_for_${what}" [ ! -e "$dir/out_$what.db" -a ! -e "$dir/rep_$what" ]
}
rejected foreign "$dir/foreign.db" "foreign.db: not a hylab database (no table 'sweeps')"
rejected newer "$dir/newer.db" "newer.db: database schema version 99 is newer than this hylab"
rejected other_version "$dir/other_version.db" "other_version.db: not a hylab database"
rejected empty "$dir/empty.db" "empty.db: not a hylab database (an empty file)"
rejected text "$dir/text.db" "text.db: not a hylab database (not an SQLite file)"
# hylab run --db (which creates a missing database) refuses them the same way
for what in foreign newer text; do
  before=$(state "$dir/$what.db")
  "$HYLAB" run tests/specs/runner/sweep.json --db "$dir/$what.db" --threads 1 >"$dir/out" 2>"$dir/err"; rc=$?
  after=$(state "$dir/$what.db") want="$what.db: "
  MSG="exit $rc, file changed: $([ "$before" = "$after" ] && echo no || echo YES): $(tail -n 2 "$dir/err")"
  check "run_refuses_${what}_unchanged" refused
done
"$HYLAB" db merge "$dir/no/such/dir/out.db" "$good" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check merge_out_in_missing_directory_exit2 [ $rc = 2 ]
check empty_file_still_empty [ ! -s "$dir/empty.db" ]
check foreign_not_switched_to_wal [ "$(sqlite3 "$dir/foreign.db" "PRAGMA journal_mode")" = delete ]

# ---------------------------------------------------------------- db merge checks every input first
"$HYLAB" db merge "$dir/merged.db" "$good" "$dir/foreign.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc, OUT made: $(ls "$dir/merged.db" 2>/dev/null): $(cat "$dir/err")"
check merge_bad_second_input_no_out [ $rc = 2 -a ! -e "$dir/merged.db" ]
"$HYLAB" db merge "$dir/merged.db" "$good" "$dir/missing.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc, OUT made: $(ls "$dir/merged.db" 2>/dev/null): $(cat "$dir/err")"
check merge_missing_input_no_out [ $rc = 2 -a ! -e "$dir/merged.db" ]
"$HYLAB" db merge "$dir/merged.db" "$good" 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check merge_good_input [ $rc = 0 -a "$(sqlite3 "$dir/merged.db" "SELECT count(*) FROM runs")" = "$n_runs" ]
before=$(state "$dir/merged.db")
"$HYLAB" db merge "$dir/merged.db" "$good" "$dir/empty.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc, OUT changed: $([ "$before" = "$(state "$dir/merged.db")" ] && echo no || echo YES): $(cat "$dir/err")"
check merge_bad_input_out_unchanged [ $rc = 2 -a "$before" = "$(state "$dir/merged.db")" ]
"$HYLAB" db merge "$dir/merged.db" "$dir/merged.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check merge_into_itself_exit2 sh -c "[ $rc = 2 ] && grep -q 'into itself' '$dir/err'"
before=$(state "$good")
"$HYLAB" db merge "$dir/merged2.db" "$good" 2>/dev/null; rc=$?
MSG="exit $rc, input changed: $([ "$before" = "$(state "$good")" ] && echo no || echo YES)"
check merge_input_only_read [ $rc = 0 -a "$before" = "$(state "$good")" ]

# ---------------------------------------------------------------- a database in a directory we cannot write
# ro/ holds a WAL database (made by db merge) and its report file; then ro/
# is made read-only for the user that runs hylab; outputs go to w/.
ro=$dir/ro w=$dir/w
mkdir "$ro" "$w"
chmod 777 "$w"
"$HYLAB" db merge "$ro/r.db" "$good" 2>/dev/null
cp "$dir/report.json" "$ro/report.json"
# and a copy taken while a writer had changes in its -wal only (no -shm)
"$HYLAB" db merge "$dir/live.db" "$good" 2>/dev/null
printf "PRAGMA wal_autocheckpoint = 0;\nUPDATE runs SET variant = 'changed' WHERE id = 1;\n.system cp %s %s %s/\n" \
  "$dir/live.db" "$dir/live.db-wal" "$ro" | sqlite3 "$dir/live.db" >/dev/null
chmod 755 "$dir"
chmod 555 "$ro"
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null; then as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
  else fail readonly_dir_setup "running as root: setpriv (util-linux) is needed to run hylab as nobody"; finish; fi
else
  as_user() { "$@"; }
fi
as_user touch "$ro/probe" 2>/dev/null; rc=$?
MSG="the test user can write into $ro: the test would prove nothing"
check readonly_dir_is_read_only [ $rc != 0 -a ! -e "$ro/probe" ]
MSG="header bytes 18-19: $(od -A n -t u1 -j 18 -N 2 "$ro/r.db")"
check readonly_dir_db_is_wal [ "$(od -A n -t u1 -j 18 -N 2 "$ro/r.db" | tr -s ' ')" = " 2 2" ]
listing=$(ls -A "$ro"; state "$ro/r.db")
got=$(as_user "$HYLAB" query --db "$ro/r.db" --csv "SELECT count(*) FROM summary" 2>"$dir/err" | tail -n 1)
MSG="got '$got': $(cat "$dir/err")"
check readonly_dir_query [ "$got" = "$n_runs" ]
as_user "$HYLAB" check --db "$ro/r.db" --baseline "$ro/r.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check readonly_dir_check [ $rc = 0 ]
as_user "$HYLAB" report --db "$ro/r.db" "$ro/report.json" --out "$w/report" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check readonly_dir_report [ $rc = 0 -a -s "$w/report/t.md" ]
as_user "$HYLAB" db merge "$w/merged.db" "$ro/r.db" >/dev/null 2>"$dir/err"; rc=$?
MSG="exit $rc: $(cat "$dir/err")"
check readonly_dir_merge_input [ $rc = 0 ]
got=$(as_user "$HYLAB" query --db "$ro/live.db" --csv "SELECT variant FROM runs WHERE id = 1" 2>"$dir/err" | tail -n 1)
MSG="wal $(wc -c < "$ro/live.db-wal") bytes; got '$got': $(cat "$dir/err")"
check readonly_dir_unsaved_wal_never_stale sh -c "[ -s '$ro/live.db-wal' ] && { [ '$got' = changed ] || grep -q 'live.db-wal holds data' '$dir/err'; }"
MSG="before: $listing; after: $(ls -A "$ro"; state "$ro/r.db")"
check readonly_dir_unchanged [ "$listing" = "$(ls -A "$ro"; state "$ro/r.db")" ]

finish
