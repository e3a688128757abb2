#!/bin/sh
# test_bad_specs.sh: every bad spec fixture in tests/specs/bad, given to
# `$HYLAB describe`, must exit with status 2, print nothing on stdout, and
# name the file and the JSON path on stderr. The fixtures and their expected
# paths come from the table in tests/test_spec.c (the same table checks the
# messages through the library). Until `describe` is implemented, every
# fixture is reported as skipped.
cd "$(dirname "$0")/.." || exit 1
HYLAB=${HYLAB:-./hylab}
P=0; F=0; S=0
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

table=$(sed -n 's/^ *{"\([A-Za-z0-9_]*\.json\)", "\([^"]*\)".*/\1|\2/p' tests/test_spec.c)
if [ -z "$table" ]; then
  echo "FAIL bad_specs: no fixture table found in tests/test_spec.c"
  echo "0 passed, 1 failed, 0 skipped"; exit 1
fi

describe_ready=1
if [ ! -x "$HYLAB" ]; then describe_ready=0; why="no hylab binary at $HYLAB"
else
  "$HYLAB" describe sweeps/specs/mqar-tiny.json >"$TMP/out" 2>"$TMP/err"
  if grep -q "not implemented" "$TMP/err"; then describe_ready=0; why="hylab describe is not implemented yet"; fi
fi

printf '%s\n' "$table" > "$TMP/table"
while IFS='|' read -r file path; do
  name="bad_spec_cli_${file%.json}"
  f="tests/specs/bad/$file"
  if [ ! -f "$f" ]; then echo "FAIL $name: fixture $f is missing"; F=$((F+1)); continue; fi
  if [ "$describe_ready" = 0 ]; then echo "skip $name: $why"; S=$((S+1)); continue; fi
  "$HYLAB" describe "$f" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  problem=""
  [ "$rc" = 2 ] || problem="exit status $rc, expected 2"
  [ -z "$problem" ] && [ -s "$TMP/out" ] && problem="wrote to stdout: $(head -c 200 "$TMP/out")"
  [ -z "$problem" ] && ! grep -qF "$f" "$TMP/err" && problem="stderr does not name $f: $(head -c 300 "$TMP/err")"
  [ -z "$problem" ] && [ -n "$path" ] && ! grep -qF "$path" "$TMP/err" && problem="stderr does not name the path $path: $(head -c 300 "$TMP/err")"
  if [ -z "$problem" ]; then echo "ok $name"; P=$((P+1)); else echo "FAIL $name: $problem"; F=$((F+1)); fi
done < "$TMP/table"

echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]
