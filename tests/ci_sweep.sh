#!/bin/sh
# The CI's end-to-end check: a small sweep runs unattended into a fresh
# database, the report is regenerated from it, and what both produced is
# checked. Prints "N passed, N failed, N skipped" last; exit status 1 on any failure.
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
q()    { "$HYLAB" query --db "$dir/ci.db" --csv "$1" | tail -n +2; }

if "$HYLAB" run sweeps/ci.json --db "$dir/ci.db" --jobs 2 --set train.steps=60 --set train.eval_every=30 --set 'eval=[{"task":"mqar","seq_len":64,"num_kv_pairs":4,"num_examples":200}]' >"$dir/run.out" 2>"$dir/run.err"; then
  ok ci_sweep_exit_0
else
  fail ci_sweep_exit_0 "exit $?: $(tail -n 5 "$dir/run.err")"
fi

runs=$(q "SELECT count(*) FROM runs")
done=$(q "SELECT count(*) FROM runs WHERE status='done'")
[ "$runs" -ge 4 ] && [ "$runs" = "$done" ] && ok ci_all_runs_done || fail ci_all_runs_done "$done of $runs done"

missing=$(q "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM metrics m WHERE m.run_id=r.id AND m.task='mqar' AND m.metric='accuracy')")
[ "$missing" = 0 ] && ok ci_every_run_has_accuracy || fail ci_every_run_has_accuracy "$missing runs without mqar accuracy"

bad=$(q "SELECT count(*) FROM metrics WHERE metric='accuracy' AND (value < 0 OR value > 1)")
[ "$bad" = 0 ] && ok ci_accuracy_in_range || fail ci_accuracy_in_range "$bad out of [0,1]"

curves=$(q "SELECT count(DISTINCT run_id) FROM curves WHERE split='train' AND name='loss'")
[ "$curves" = "$runs" ] && ok ci_loss_curves || fail ci_loss_curves "$curves of $runs runs have loss curves"

prov=$(q "SELECT count(*) FROM runs WHERE blas_core IS NULL OR threads IS NULL OR host IS NULL OR spec_json IS NULL OR wall_s IS NULL")
[ "$prov" = 0 ] && ok ci_provenance || fail ci_provenance "$prov runs lack provenance"

if "$HYLAB" report --db "$dir/ci.db" plots/quickstart.json --out "$dir/report" >/dev/null 2>"$dir/report.err" &&
   "$HYLAB" report --db "$dir/ci.db" plots/training.json --out "$dir/report" >/dev/null 2>>"$dir/report.err"; then
  ok ci_report_exit_0
else
  fail ci_report_exit_0 "$(tail -n 3 "$dir/report.err")"
fi
n_png=$(ls "$dir"/report/*.png 2>/dev/null | wc -l)
n_md=$(ls "$dir"/report/*.md 2>/dev/null | wc -l)
[ "$n_png" -ge 2 ] && [ "$n_md" -ge 1 ] && ok ci_report_files || fail ci_report_files "$n_png PNGs, $n_md tables"
for p in "$dir"/report/*.png; do
  [ -f "$p" ] || continue
  sig=$(od -An -tx1 -N8 "$p" | tr -d ' \n')
  [ "$sig" = 89504e470d0a1a0a ] && ok "ci_png_$(basename "$p")" || fail "ci_png_$(basename "$p")" "not a PNG"
done
finish
