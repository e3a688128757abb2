#!/bin/sh
# End-to-end tests of `hylab run` with a database: bad input writes nothing,
# crash isolation (SIGABRT, divergence), resume after kill -9 of the runner,
# --force, shards merged == one unsharded run, two concurrent runners; and
# (issue 6) killed --force reruns keep the result, curves of one attempt,
# SIGTERM/SIGINT and a full disk mark the runs, a reused pid, a bounded
# wait, crash isolation without --db, duplicate specs, output paths checked
# up front. Tiny specs in tests/specs/runner/ (each run well under a second).
set -u
HYLAB=${HYLAB:-./hylab}
S=tests/specs/runner
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
q()    { "$HYLAB" query --db "$1" --csv "$2" | tail -n +2; }

# ---------------------------------------------------------------- bad input
"$HYLAB" run $S/bad_grid.json --db "$dir/bad.db" 2>"$dir/err"; rc=$?
MSG="exit $rc, db exists: $(test -e "$dir/bad.db" && echo yes || echo no)"
check run_bad_sweep_exit2_nothing_written [ $rc = 2 -a ! -e "$dir/bad.db" ]
MSG="no message naming the key: $(cat "$dir/err")"
check run_bad_sweep_message grep -q "train.steps" "$dir/err"
"$HYLAB" run $S/sweep.json --db "$dir/bad.db" --shard 3/2 2>/dev/null; rc=$?
check run_bad_shard_exit2 [ $rc = 2 -a ! -e "$dir/bad.db" ]
"$HYLAB" run $S/sweep.json --db "$dir/bad.db" --save "$dir/w.safetensors" 2>/dev/null; rc=$?
check run_save_with_sweep_exit2 [ $rc = 2 -a ! -e "$dir/bad.db" ]
"$HYLAB" run $S/missing.json --db "$dir/bad.db" 2>/dev/null; rc=$?
check run_missing_file_exit2 [ $rc = 2 -a ! -e "$dir/bad.db" ]
"$HYLAB" run $S/sweep.json --bogus 2>/dev/null; rc=$?
check run_unknown_option_exit2 [ $rc = 2 ]
"$HYLAB" run --help >/dev/null; rc=$?
check run_help [ $rc = 0 ]

# ---------------------------------------------------------------- crash isolation
db=$dir/crash.db
"$HYLAB" run $S/crash.json --db "$db" --jobs 2 --threads 1 >/dev/null 2>"$dir/crash.err"; rc=$?
MSG="exit $rc: $(tail -n 3 "$dir/crash.err")"
check crash_exit_status_1 [ $rc = 1 ]
st=$(q "$db" "SELECT group_concat(variant || '=' || status, ' ') FROM (SELECT * FROM runs ORDER BY variant)")
MSG="statuses: $st"
check crash_isolated_statuses [ "$st" = "abort=failed diverge=diverged ok=done ok2=done" ]
e=$(q "$db" "SELECT error FROM runs WHERE variant='abort'")
MSG="error: $e"
check crash_abort_reason sh -c "echo '$e' | grep -q 'killed by signal 6 (SIGABRT) at step ~5'"
e=$(q "$db" "SELECT error || ' / ' || fail_step FROM runs WHERE variant='diverge'")
MSG="error: $e"
check crash_diverged_reason sh -c "echo '$e' | grep -Eq '(NaN|inf).* at step [0-9]+ / [0-9]+'"
# the step is a column of the run and of its attempt, the same step the
# message names (issue 7: recorded by the training loop, not parsed)
e=$(q "$db" "SELECT r.fail_step || ' ' || a.status || ' ' || a.fail_step || ' ' || (r.error LIKE '%at step ' || r.fail_step || '%') FROM runs r JOIN attempts a ON a.run_id = r.id AND a.attempt = r.result_attempt WHERE variant='diverge'")
MSG="fail_step, attempt status, attempt fail_step, message names it: $e"
check crash_diverged_fail_step_column sh -c "echo '$e' | grep -Eq '^([0-9]+) diverged \1 1$'"
n=$(q "$db" "SELECT count(*) FROM runs r WHERE status='done' AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=r.id) AND host IS NOT NULL AND git_commit IS NOT NULL AND started_at IS NOT NULL AND ended_at IS NOT NULL AND wall_s > 0 AND threads IS NOT NULL")
MSG="$n done runs with metrics + provenance"
check crash_done_runs_complete [ "$n" = 2 ]

# A programming error (token id -1, planted at step 3 by the test hook
# HYLAB_DEBUG_BAD_TOKEN_STEP) is an error status: the run fails (not
# "diverged") at that step, stored in runs.fail_step and attempts.fail_step;
# steps counts the 2 steps done; the message names the token.
bdb=$dir/badtok.db
HYLAB_DEBUG_BAD_TOKEN_STEP=3 "$HYLAB" run $S/tiny.json --db "$bdb" --threads 1 >/dev/null 2>"$dir/badtok.err"; rc=$?
e=$(q "$bdb" "SELECT r.status || ' ' || r.fail_step || ' ' || a.status || ' ' || a.fail_step || ' ' || r.steps FROM runs r JOIN attempts a ON a.run_id = r.id AND a.attempt = r.result_attempt")
MSG="exit $rc, status fail_step attempt_status attempt_fail_step steps: $e"
check bad_token_fails_at_its_step [ $rc = 1 -a "$e" = "failed 3 failed 3 2" ]
e=$(q "$bdb" "SELECT error FROM runs")
MSG="error: $e"
check bad_token_error_names_it sh -c "echo '$e' | grep -q 'step 3: hl_model_forward: token -1 at position 0'"

# resume: done and diverged runs are kept, the failed one is retried
before=$(q "$db" "SELECT group_concat(ended_at, ' ') FROM runs WHERE status IN ('done','diverged') ORDER BY id")
"$HYLAB" run $S/crash.json --db "$db" --jobs 2 --threads 1 >/dev/null 2>"$dir/crash2.err"; rc=$?
after=$(q "$db" "SELECT group_concat(ended_at, ' ') FROM runs WHERE variant IN ('ok','ok2','diverge') ORDER BY id")
att=$(q "$db" "SELECT group_concat(variant || '=' || attempts, ' ') FROM (SELECT * FROM runs ORDER BY variant)")
MSG="exit $rc, attempts $att, ended_at $before -> $after"
check resume_skips_finished_retries_failed [ $rc = 1 -a "$before" = "$after" -a "$att" = "abort=2 diverge=1 ok=1 ok2=1" ]
check resume_says_skipped grep -q "skipped" "$dir/crash2.err"

# ---------------------------------------------------------------- --force
db=$dir/sweep.db
"$HYLAB" run $S/sweep.json --db "$db" --threads 1 >/dev/null 2>&1; rc1=$?
m1=$(q "$db" "SELECT count(*) || '/' || (SELECT count(*) FROM curves) FROM metrics")
"$HYLAB" run $S/sweep.json --db "$db" --threads 1 --force >/dev/null 2>&1; rc2=$?
m2=$(q "$db" "SELECT count(*) || '/' || (SELECT count(*) FROM curves) FROM metrics")
att=$(q "$db" "SELECT group_concat(attempts, '-') FROM runs")
MSG="exit $rc1/$rc2, metrics/curves $m1 -> $m2, attempts $att"
check force_reruns_without_duplicates [ $rc1 = 0 -a $rc2 = 0 -a "$m1" = "$m2" -a "$att" = "2-2-2-2" ]

# ---------------------------------------------------------------- shards + merge == unsharded
"$HYLAB" run $S/sweep.json --db "$dir/s1.db" --shard 1/2 --threads 1 >/dev/null 2>&1; r1=$?
"$HYLAB" run $S/sweep.json --db "$dir/s2.db" --shard 2/2 --threads 1 >/dev/null 2>&1; r2=$?
n1=$(q "$dir/s1.db" "SELECT count(*) FROM runs"); n2=$(q "$dir/s2.db" "SELECT count(*) FROM runs")
MSG="exit $r1/$r2, runs per shard $n1/$n2"
check shards_split_the_runs [ $r1 = 0 -a $r2 = 0 -a "$n1" = 2 -a "$n2" = 2 ]
"$HYLAB" db merge "$dir/merged.db" "$dir/s1.db" "$dir/s2.db" 2>/dev/null; rm_=$?
"$HYLAB" db merge "$dir/merged.db" "$dir/s2.db" 2>/dev/null   # again: no duplicates
cmp_sql="SELECT r.spec_hash, m.task, m.metric, m.value FROM runs r JOIN metrics m ON m.run_id = r.id ORDER BY 1, 2, 3"
q "$dir/merged.db" "$cmp_sql" >"$dir/merged.csv"
q "$dir/sweep.db" "$cmp_sql" >"$dir/full.csv"
nm=$(q "$dir/merged.db" "SELECT count(*) || '/' || count(DISTINCT spec_hash) || '/' || (SELECT count(*) FROM sweeps) FROM runs")
MSG="merge exit $rm_, runs/distinct/sweeps $nm; diff: $(diff "$dir/merged.csv" "$dir/full.csv" | head -n 4)"
check shards_merged_equal_unsharded sh -c "[ $rm_ = 0 -a '$nm' = 4/4/1 -a -s '$dir/full.csv' ] && cmp -s '$dir/merged.csv' '$dir/full.csv'"

# ---------------------------------------------------------------- two concurrent runners
db=$dir/conc.db
"$HYLAB" run $S/sweep.json --db "$db" --jobs 2 --threads 1 >/dev/null 2>"$dir/c1.err" & p1=$!
"$HYLAB" run $S/sweep.json --db "$db" --jobs 2 --threads 1 >/dev/null 2>"$dir/c2.err" & p2=$!
wait $p1; c1=$?; wait $p2; c2=$?
st=$(q "$db" "SELECT count(*) || '/' || sum(status='done') || '/' || sum(attempts) || '/' || (SELECT count(*) FROM metrics WHERE metric='accuracy') FROM runs")
MSG="exits $c1/$c2, runs/done/attempts/accuracy rows $st: $(tail -n 2 "$dir/c1.err" "$dir/c2.err")"
check concurrent_runners_lose_nothing [ $c1 = 0 -a $c2 = 0 -a "$st" = 4/4/4/4 ]

# ---------------------------------------------------------------- kill -9 mid-sweep, then resume
db=$dir/kill.db
"$HYLAB" run $S/sweep.json --db "$db" --threads 1 --set train.steps=60 >/dev/null 2>&1 & pid=$!
i=0; done_=0
while [ $i -lt 600 ]; do
  done_=$(q "$db" "SELECT count(*) FROM runs WHERE status='done'" 2>/dev/null)
  [ "${done_:-0}" -ge 1 ] && break
  sleep 0.05; i=$((i+1))
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
sleep 0.2
done_=$(q "$db" "SELECT count(*) FROM runs WHERE status='done'")
if [ "${done_:-0}" -ge 1 ] && [ "$done_" -lt 4 ]; then
  before=$(q "$db" "SELECT group_concat(id || '@' || ended_at, ' ') FROM runs WHERE status='done' ORDER BY id")
  ids=$(q "$db" "SELECT group_concat(id) FROM runs WHERE status='done' ORDER BY id")
  "$HYLAB" run $S/sweep.json --db "$db" --threads 1 --set train.steps=60 >/dev/null 2>"$dir/kill.err"; rc=$?
  after=$(q "$db" "SELECT group_concat(id || '@' || ended_at, ' ') FROM runs WHERE id IN ($ids) ORDER BY id")
  st=$(q "$db" "SELECT count(*) || '/' || sum(status='done') || '/' || (SELECT count(*) FROM metrics WHERE metric='accuracy') FROM runs")
  MSG="exit $rc, runs/done/accuracy rows $st, finished before kill: $before -> $after"
  check kill9_resume_every_run_done_once [ $rc = 0 -a "$st" = 4/4/4 -a "$before" = "$after" ]
else
  skip kill9_resume_every_run_done_once "could not catch the runner mid-sweep ($done_ runs done at kill)"
fi

# ---------------------------------------------------------------- without --db; checkpoints
"$HYLAB" run $S/tiny.json --threads 1 --save "$dir/one.safetensors" >"$dir/one.out" 2>/dev/null; rc=$?
MSG="exit $rc: $(tail -n 2 "$dir/one.out")"
check run_no_db_prints_summary_and_saves sh -c "[ $rc = 0 ] && grep -q '\"summary\":true' '$dir/one.out' && [ -s '$dir/one.safetensors' ]"
"$HYLAB" run $S/sweep.json --db "$dir/ck.db" --threads 1 --jobs 2 --ckpt-dir "$dir/ck" >/dev/null 2>&1; rc=$?
n=0
for h in $(q "$dir/ck.db" "SELECT spec_hash FROM runs"); do [ -s "$dir/ck/$h.safetensors" ] && n=$((n+1)); done
MSG="exit $rc, $n of 4 checkpoints"
check run_ckpt_dir_one_file_per_spec_hash [ $rc = 0 -a $n = 4 ]

# ---------------------------------------------------------------- issue 6
# wait_for DB SQL: poll until the query gives a number other than 0 (at most ~30 s)
wait_for() {
  i=0
  while [ $i -lt 600 ]; do
    v=$(q "$1" "$2" 2>/dev/null); [ -n "$v" ] && [ "$v" != 0 ] && return 0
    sleep 0.05; i=$((i+1))
  done
  return 1
}
# gone PID: wait until the process is gone or a zombie (a child killed with its runner; ~5 s at most)
gone() {
  i=0
  while [ $i -lt 100 ] && [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; do
    sleep 0.05; i=$((i+1))
  done
}
LONG="--threads 1 --set train.steps=4000 --set train.eval_every=0"
# curves of the result: their content, and the steps with more than one point
curves_of() { q "$1" "SELECT run_id, step, split, name, value FROM curves ORDER BY 1, 2, 3, 4"; }
dup_points() { q "$1" "SELECT count(*) FROM (SELECT 1 FROM curves GROUP BY run_id, step, split, name HAVING count(*) > 1)"; }
# the run's latest attempt (> after) has written points past step 1
RERUN_POINTS="SELECT count(*) FROM curve_points p JOIN runs r ON r.id = p.run_id WHERE p.attempt = r.attempts AND p.step > 1 AND r.attempts >"

# a --force rerun killed (SIGTERM, then kill -9) keeps the finished result: status, metrics, curves
db=$dir/keep.db
"$HYLAB" run $S/tiny.json --db "$db" $LONG >/dev/null 2>&1; rc0=$?
curves_of "$db" >"$dir/keep.before"
RESULT="SELECT status || ' ' || started_at || ' ' || ended_at || ' ' || final_train_loss || ' ' || (SELECT group_concat(value) FROM metrics) FROM runs"
m0=$(q "$db" "$RESULT")
k=1
for how in TERM KILL; do
  "$HYLAB" run $S/tiny.json --db "$db" $LONG --force >/dev/null 2>"$dir/keep.err" & pid=$!
  wait_for "$db" "$RERUN_POINTS $k" && caught=yes || caught=no; k=$((k+1))
  kill -$how $pid; wait $pid 2>/dev/null; rc=$?
  gone "$(q "$db" "SELECT pid FROM attempts ORDER BY attempt DESC LIMIT 1")"
  curves_of "$db" >"$dir/keep.after"
  m1=$(q "$db" "$RESULT")
  MSG="exit $rc0/$rc, caught mid-run: $caught, result '$m0' -> '$m1', curves $(wc -l <"$dir/keep.before") -> $(wc -l <"$dir/keep.after") lines: $(tail -n 2 "$dir/keep.err")"
  check "force_rerun_killed_by_${how}_keeps_result" sh -c "[ $rc0 = 0 -a $caught = yes -a -n '$m0' -a '$m0' = '$m1' ] && cmp -s '$dir/keep.before' '$dir/keep.after'"
done
n=$(q "$db" "SELECT count(*) FROM attempts WHERE attempt = 2 AND status = 'failed' AND error LIKE 'interrupted by SIGTERM at step ~%'")
MSG="$n; attempts: $(q "$db" "SELECT group_concat(attempt || ':' || status || ':' || coalesce(error, ''), ' ') FROM attempts")"
check force_rerun_sigterm_recorded_on_its_attempt [ "$n" = 1 ]
"$HYLAB" run $S/tiny.json --db "$db" $LONG >/dev/null 2>"$dir/keep.err"; rc=$?
a=$(q "$db" "SELECT group_concat(attempt || ':' || status, ' ') FROM attempts")
MSG="exit $rc, attempts $a: $(tail -n 2 "$dir/keep.err")"
check force_rerun_killed_then_resume_skips [ $rc = 0 -a "$a" = "1:done 2:failed 3:failed" ]

# a run killed mid-way twice, then resumed: the result's curves come from one attempt
db=$dir/twice.db
caught=
for k in 0 1; do
  "$HYLAB" run $S/tiny.json --db "$db" $LONG >/dev/null 2>&1 & pid=$!
  wait_for "$db" "$RERUN_POINTS $k" && caught=$caught$k
  kill -9 $pid; wait $pid 2>/dev/null
done
d1=$(dup_points "$db")
"$HYLAB" run $S/tiny.json --db "$db" $LONG >/dev/null 2>&1; rc=$?
st=$(q "$db" "SELECT status || '/' || attempts || '/' || result_attempt FROM runs")
pts=$(q "$db" "SELECT count(*) || '/' || count(DISTINCT attempt) FROM curve_points")
n=$(q "$db" "SELECT count(*) FROM curves")
MSG="exit $rc, caught mid-run: '$caught', status/attempts/result $st, steps with 2 points while killed $d1 after $(dup_points "$db"), curve_points/attempts $pts, curves $n"
check killed_twice_resumed_curves_from_one_attempt [ $rc = 0 -a "$caught" = 01 -a "$d1" = 0 -a "$(dup_points "$db")" = 0 -a "$st" = done/3/3 -a "$pts" = "$n/1" -a "$n" -gt 400 ]

# SIGTERM / SIGINT to the runner: the runs in progress are marked failed, not left running
db=$dir/term.db
for sig in TERM INT; do
  rm -f "$db"
  "$HYLAB" run $S/sweep.json --db "$db" $LONG --jobs 2 >/dev/null 2>"$dir/term.err" & pid=$!
  wait_for "$db" "SELECT count(DISTINCT run_id) = 2 FROM curve_points WHERE step > 1" && caught=yes || caught=no
  kill -$sig $pid; wait $pid; rc=$?
  st=$(q "$db" "SELECT group_concat(status, ' ') FROM (SELECT status FROM runs ORDER BY status)")
  n=$(q "$db" "SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE 'interrupted by SIG$sig at step ~%'")
  MSG="exit $rc, caught mid-run: $caught, statuses $st, $n interrupted: $(tail -n 3 "$dir/term.err")"
  check "sig${sig}_marks_runs_failed" sh -c "[ $rc = 1 -a $caught = yes -a '$n' = 2 -a '$st' = 'failed failed queued queued' ] && ! grep -q 'running elsewhere' '$dir/term.err' && grep -q 'interrupted by SIG$sig' '$dir/term.err'"
done

# a full disk (here the file size limit): the run ends failed with the write error, not running
db=$dir/full.db
(ulimit -f 400; exec "$HYLAB" run $S/tiny.json --db "$db" --threads 1 --set train.steps=600 --set train.eval_every=0 >/dev/null 2>"$dir/full.err"); rc=$?
st=$(q "$db" "SELECT status || ': ' || error FROM runs")
MSG="exit $rc, run $st: $(tail -n 2 "$dir/full.err")"
check disk_full_run_marked_failed sh -c "[ $rc = 1 ] && echo '$st' | grep -Eq '^failed: .*(disk|full|I/O)' && ! grep -q 'running elsewhere' '$dir/full.err'"

# a stale attempt whose pid is alive again (reused by another process): taken over
db=$dir/reuse.db
"$HYLAB" run $S/tiny.json --db "$db" --threads 1 >/dev/null 2>&1
sleep 300 & sp=$!
stale() {
  for sql in "UPDATE runs SET status = 'running', pid = $sp" "UPDATE runs SET result_attempt = NULL" \
             "UPDATE attempts SET status = 'running', pid = $sp, proc_id = $1"; do sqlite3 "$db" "$sql"; done
}
stale "'0:1'"
timeout 30 "$HYLAB" run $S/tiny.json --db "$db" --threads 1 >/dev/null 2>"$dir/reuse.err"; rc=$?
a=$(q "$db" "SELECT group_concat(attempt || ':' || status || ':' || coalesce(error, ''), ' ') FROM attempts")
MSG="exit $rc, attempts $a: $(tail -n 2 "$dir/reuse.err")"
check stale_row_reused_pid_taken_over sh -c "[ $rc = 0 ] && echo '$a' | grep -q '^1:failed:abandoned.* 2:done:$'"
# a live owner that cannot be told from another process (no identity): waited for, but not forever
stale NULL
timeout 30 "$HYLAB" run $S/tiny.json --db "$db" --threads 1 --wait 1 >/dev/null 2>"$dir/reuse.err"; rc=$?
MSG="exit $rc: $(tail -n 3 "$dir/reuse.err")"
check resume_wait_is_bounded sh -c "[ $rc = 0 ] && grep -q 'not waiting longer than 1 s' '$dir/reuse.err' && grep -q 'still running elsewhere' '$dir/reuse.err'"
kill $sp; wait $sp 2>/dev/null

# without --db: a crashing run fails alone, the sweep goes on
"$HYLAB" run $S/crash.json --threads 1 >"$dir/nodb.out" 2>"$dir/nodb.err"; rc=$?
sm=$(grep '"summary":true' "$dir/nodb.out" | sed 's/.*"status":"\([a-z]*\)".*/\1/' | tr '\n' ' ')
MSG="exit $rc, summaries: $sm: $(tail -n 2 "$dir/nodb.err")"
check no_db_crash_isolated sh -c "[ $rc = 1 -a '$sm' = 'done failed diverged done ' ] && grep -q 'killed by signal 6 (SIGABRT)' '$dir/nodb.out'"

# two variants giving one spec: refused before anything is written
printf '{"name": "dup", "base": "%s/%s/tiny.json",\n "variants": [{"name": "one", "set": {}}, {"name": "two", "set": {"model.layers": "AS"}}]}\n' \
  "$PWD" "$S" >"$dir/dup.json"
"$HYLAB" run "$dir/dup.json" --db "$dir/dup.db" 2>"$dir/dup.err"; rc=$?
MSG="exit $rc, db: $(test -e "$dir/dup.db" && echo yes || echo no): $(cat "$dir/dup.err")"
check duplicate_spec_refused sh -c "[ $rc = 2 -a ! -e '$dir/dup.db' ] && grep -q \"dup.json: variant 'one' {} and variant 'two' {} give the same spec\" '$dir/dup.err'"

# output paths checked before anything runs; --ckpt-dir not created when the database is refused
mkdir -p "$dir/paths"; : >"$dir/paths/file"
echo "not a database, only text long enough to look like a header of one....." >"$dir/paths/junk.db"
badpath() { # NAME WANT ARGS...: exit 2, message has WANT, nothing new in $dir/paths, nothing trained
  name=$1; want=$2; shift 2
  before=$(ls -A "$dir/paths" | tr '\n' ' ')
  "$HYLAB" run $S/tiny.json --threads 1 "$@" >"$dir/paths.out" 2>"$dir/paths.err"; rc=$?
  after=$(ls -A "$dir/paths" | tr '\n' ' ')
  MSG="exit $rc, files $before -> $after: $(cat "$dir/paths.err")"
  check "$name" sh -c "[ $rc = 2 -a '$before' = '$after' -a ! -s '$dir/paths.out' ] && grep -q -- '$want' '$dir/paths.err'"
}
badpath bad_db_is_directory "--db $dir/paths: is a directory" --db "$dir/paths"
badpath bad_db_missing_directory "--db $dir/paths/no/x.db: no such directory" --db "$dir/paths/no/x.db"
badpath bad_save_is_directory "--save $dir/paths: is a directory" --save "$dir/paths"
badpath bad_save_missing_directory "no such directory: $dir/paths/no" --save "$dir/paths/no/w.safetensors"
badpath bad_ckpt_dir_is_file "--ckpt-dir $dir/paths/file: exists and is not a directory" --ckpt-dir "$dir/paths/file"
badpath bad_ckpt_dir_missing_parent "no such directory" --ckpt-dir "$dir/paths/no/ck"
badpath bad_db_not_created_ckpt_dir "junk.db" --db "$dir/paths/junk.db" --ckpt-dir "$dir/paths/ck"

finish
