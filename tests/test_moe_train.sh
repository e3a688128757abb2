#!/bin/sh
# test_moe_train.sh: the router statistics of the moe FFN recorded as
# training curves (models/ffn_moe.c stat hook, harness/train). A tiny MQAR
# run with 4 experts, top 2, moe on every layer (2 layers) into a database:
#  - every loss-curve step has, per layer, the curves load_balance, z,
#    entropy and frac.e0 .. frac.e3 (7 per layer) and no others named moe.*;
#  - frac.e* are fractions of the n*top_k assignments: each in [0, 1], summing
#    to 1 (within float rounding) at every step and layer;
#  - entropy in [0, ln 4], and near ln 4 at step 1 (router init std 0.02:
#    near-uniform probabilities);
#  - load_balance = E sum_e f_e P_e (f_e summing to top_k) in (0, E*top_k];
#    z (mean squared router logsumexp) >= 0;
#  - a dense run of the same spec records no moe.* curves.
# Prints "N passed, N failed, N skipped" last.
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
q() { "$HYLAB" query --db "$1" --csv "$2" | tail -n +2; }

common="--threads 1 --set train.steps=30 --set train.batch_size=8 --set train.eval_every=0 --set eval=[]"
MSG="hylab run failed"
check moe_run_done sh -c "\"$HYLAB\" run sweeps/specs/mqar-tiny.json --db \"$dir/moe.db\" $common \
  --set model.ffn.type=moe --set model.ffn.moe.n_experts=4 --set model.ffn.moe.top_k=2 --set model.ffn.moe.d_ff=32 \
  --set model.ffn.moe.load_balance=0.01 >\"$dir/out\" 2>\"$dir/err\""
db="$dir/moe.db"

steps=$(q "$db" "SELECT count(*) FROM curves WHERE split='train' AND name='loss'")
per=$(q "$db" "SELECT count(*) FROM curves WHERE split='train' AND name LIKE 'moe.%'")
want=$((steps * 2 * 7))
MSG="$steps loss points, $per moe curves points (want $want)"
check moe_stats_every_step_every_layer sh -c '[ "$1" -gt 0 ] && [ "$2" = "$3" ]' sh "$steps" "$per" "$want"
names=$(q "$db" "SELECT group_concat(name, ' ') FROM (SELECT DISTINCT name FROM curves WHERE name LIKE 'moe.L0.%' ORDER BY name)")
MSG="names: $names"
check moe_stats_names sh -c '[ "$1" = "moe.L0.entropy moe.L0.frac.e0 moe.L0.frac.e1 moe.L0.frac.e2 moe.L0.frac.e3 moe.L0.load_balance moe.L0.z" ]' sh "$names"

bad=$(q "$db" "SELECT count(*) FROM (SELECT step, substr(name, 1, 7) AS layer, sum(value) AS s, min(value) AS lo, max(value) AS hi
  FROM curves WHERE name LIKE 'moe.L_.frac.e%' GROUP BY step, layer) WHERE abs(s - 1) > 1e-5 OR lo < 0 OR hi > 1")
groups=$(q "$db" "SELECT count(DISTINCT step || substr(name, 1, 7)) FROM curves WHERE name LIKE 'moe.L_.frac.e%'")
MSG="$bad of $groups (step, layer) groups have fractions outside [0,1] or not summing to 1"
check moe_frac_sum_to_one sh -c '[ "$1" = 0 ] && [ "$2" = "$3" ]' sh "$bad" "$groups" "$((steps * 2))"

bad=$(q "$db" "SELECT count(*) FROM curves WHERE (name LIKE 'moe.%.entropy' AND (value < 0 OR value > 1.3862944 + 1e-6))
  OR (name LIKE 'moe.%.load_balance' AND (value <= 0 OR value > 8 + 1e-6)) OR (name LIKE 'moe.%.z' AND value < 0)")
MSG="$bad entropy/load_balance/z points out of range"
check moe_stats_in_range sh -c '[ "$1" = 0 ]' sh "$bad"
e1=$(q "$db" "SELECT min(value) FROM curves WHERE step=1 AND name LIKE 'moe.%.entropy'")
MSG="entropy at step 1: $e1 (ln 4 = 1.386)"
check moe_entropy_uniform_at_init awk "BEGIN{exit !($e1 > 0.99 * log(4))}"

# shellcheck disable=SC2086
"$HYLAB" run sweeps/specs/mqar-tiny.json --db "$dir/dense.db" $common --set model.ffn.type=swiglu --set model.ffn.d_ff=64 \
  >/dev/null 2>"$dir/err2"
n=$(q "$dir/dense.db" "SELECT count(*) FROM curves WHERE name LIKE 'moe.%'")
l=$(q "$dir/dense.db" "SELECT count(*) FROM curves WHERE name = 'loss'")
MSG="dense run: $n moe curve points, $l loss points"
check dense_run_no_moe_stats sh -c '[ "$1" = 0 ] && [ "$2" -gt 0 ]' sh "$n" "$l"
finish
