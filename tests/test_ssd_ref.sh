#!/bin/sh
# The numpy port of ssd_minimal_discrete (tests/ref/ssd_minimal.py) runs, its
# chunked SSD agrees with its own float64 recurrence (the script exits 1
# otherwise), and it regenerates the committed fixture tests/fixtures/ssd/
# (which tests/test_ssd.c checks ssd_fwd against) byte for byte.
# Prints "N passed, N failed, N skipped" last.
set -u
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Debian's python3 + python3-numpy (`make deps`): a reference that cannot run
# is a failure, never a skip.
PY=${HYLAB_PYTHON:-/usr/bin/python3}
MSG="$PY cannot import numpy (run 'make deps')"
check ssd_numpy_available "$PY" -c 'import numpy'
MSG="the port's chunked SSD and recurrence disagree, or it failed"
check ssd_minimal_matches_recurrence "$PY" tests/ref/ssd_minimal.py "$dir/ssd"
for f in x dt dt_bias A_log Bm Cm D y; do
  MSG="tests/fixtures/ssd/$f.npy is not what tests/ref/ssd_minimal.py writes"
  check "ssd_fixture_${f}_regenerates" cmp -s "$dir/ssd/$f.npy" "tests/fixtures/ssd/$f.npy"
done
finish
