#!/bin/sh
# End-to-end tests of `hylab run` with a database: bad input writes nothing,
# crash isolation (SIGABRT, divergence), resume after kill -9 of the runner,
# --force, shards merged == one unsharded run, two concurrent runners.
# Tiny specs in tests/specs/runner/ (each run well under a second).
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
n=$(q "$db" "SELECT count(*) FROM runs r WHERE status='done' AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=r.id) AND host IS NOT NULL AND git_commit IS NOT NULL AND started_at IS NOT NULL AND ended_at IS NOT NULL AND wall_s > 0 AND threads IS NOT NULL")
MSG="$n done runs with metrics + provenance"
check crash_done_runs_complete [ "$n" = 2 ]

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

finish
