#!/bin/sh
# test_distill.sh: train.teacher end to end (harness/train/train.c,
# harness/spec.c hl_spec_check_teacher). A tiny MQAR teacher is trained and
# saved; a student of the same spec trains against it into a database:
#  - the student records the curves kl and ce at every loss step, and
#    loss = kl_weight * kl + ce_weight * ce at every step (weights 0.1 and 1
#    by default; 0.5 and 0.25 set), kl >= 0 and > 0 somewhere;
#  - the canonical spec of a run without a teacher has no "teacher" key and
#    the same hash as with --set train.teacher=null (old hashes hold);
#  - bad input exits 2 naming train.teacher.ckpt and writes no database: a
#    missing file, a teacher with another vocab_size, another d_model; and a
#    teacher section without ckpt, weights both 0, temperature 0.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
q() { "$HYLAB" query --db "$1" --csv "$2" | tail -n +2; }

spec=sweeps/specs/mqar-tiny.json
common="--threads 1 --set train.steps=6 --set train.batch_size=4 --set eval=[]"
T="$dir/teacher.safetensors"
MSG="teacher run failed"
# shellcheck disable=SC2086
check teacher_saved sh -c "\"$HYLAB\" run $spec $common --save \"$T\" >\"$dir/out\" 2>\"$dir/err\" && [ -s \"$T\" ]"

# student_loss_terms NAME KLW CEW SETS...: a student run, then the curve checks
student_loss_terms() {
  nm=$1; kw=$2; cw=$3; shift 3
  db="$dir/$nm.db"
  MSG="student run failed: $(cat "$dir/err" 2>/dev/null | tail -2)"
  # shellcheck disable=SC2086
  check "${nm}_run_done" sh -c "\"$HYLAB\" run $spec $common \
    --set train.teacher.ckpt=\"$T\" $* --set train.seed=3 --db \"$db\" >\"$dir/out\" 2>\"$dir/err\""
  steps=$(q "$db" "SELECT count(*) FROM curves WHERE split='train' AND name='loss'")
  bad=$(q "$db" "SELECT count(*) FROM curves l JOIN curves k ON k.step=l.step AND k.name='kl'
    JOIN curves c ON c.step=l.step AND c.name='ce' WHERE l.name='loss'
    AND abs(l.value - ($kw * k.value + $cw * c.value)) <= 1e-5 * abs(l.value) AND k.value >= 0")
  pos=$(q "$db" "SELECT count(*) FROM curves WHERE name='kl' AND value > 0")
  MSG="$steps loss steps, $bad with loss = $kw*kl + $cw*ce and kl >= 0, $pos with kl > 0"
  check "${nm}_loss_is_weighted_sum" sh -c '[ "$1" = 6 ] && [ "$2" = "$1" ] && [ "$3" -gt 0 ]' sh "$steps" "$bad" "$pos"
}
student_loss_terms default 0.1 1
student_loss_terms weighted 0.5 0.25 --set train.teacher.kl_weight=0.5 --set train.teacher.ce_weight=0.25 \
  --set train.teacher.temperature=2

# shellcheck disable=SC2086
"$HYLAB" run $spec $common --db "$dir/plain.db" >/dev/null 2>&1
# shellcheck disable=SC2086
"$HYLAB" run $spec $common --set train.teacher=null --db "$dir/null.db" >/dev/null 2>&1
h1=$(q "$dir/plain.db" "SELECT spec_hash FROM runs")
h2=$(q "$dir/null.db" "SELECT spec_hash FROM runs")
n=$(q "$dir/plain.db" "SELECT count(*) FROM runs WHERE spec_json LIKE '%teacher%'")
MSG="hashes $h1 / $h2, $n specs naming a teacher"
check no_teacher_same_hash sh -c '[ -n "$1" ] && [ "$1" = "$2" ] && [ "$3" = 0 ]' sh "$h1" "$h2" "$n"
t=$(q "$dir/default.db" "SELECT count(*) FROM runs WHERE spec_json LIKE '%\"teacher\":{\"ce_weight\":1,\"ckpt\":%'")
MSG="teacher specs with their canonical section: $t"
check teacher_in_canonical_spec [ "$t" = 1 ]

# refused NAME WANT SETS...: exit 2, the message has train.teacher.* and WANT, no database
refused() {
  nm=$1; want=$2; shift 2
  # shellcheck disable=SC2086
  "$HYLAB" run $spec $common "$@" --db "$dir/$nm.db" >/dev/null 2>"$dir/err"
  rc=$?
  MSG="rc $rc: $(cat "$dir/err")"
  check "$nm" sh -c '[ "$1" = 2 ] && grep -q "train.teacher" "$2" && grep -q "$3" "$2" && [ ! -e "$4" ]' \
    sh "$rc" "$dir/err" "$want" "$dir/$nm.db"
}
refused missing_teacher_file "train.teacher.ckpt: cannot read" --set train.teacher.ckpt="$dir/nope.safetensors"
refused teacher_vocab_mismatch "train.teacher.ckpt: the teacher's model.vocab_size 1024 differs from the student's 512" \
  --set train.teacher.ckpt="$T" --set model.vocab_size=512
refused teacher_width_mismatch "train.teacher.ckpt: the teacher's model.d_model 64 differs from the student's 32" \
  --set train.teacher.ckpt="$T" --set model.d_model=32
refused teacher_without_ckpt "train.teacher.ckpt: the teacher's hylab checkpoint is required" --set train.teacher.kl_weight=1
refused teacher_weights_zero "train.teacher.kl_weight: kl_weight and ce_weight are both 0" --set train.teacher.ckpt="$T" \
  --set train.teacher.kl_weight=0 --set train.teacher.ce_weight=0
refused teacher_zero_temperature "train.teacher.temperature" --set train.teacher.ckpt="$T" --set train.teacher.temperature=0
finish
