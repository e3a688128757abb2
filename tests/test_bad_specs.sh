#!/bin/sh
# test_bad_specs.sh: every bad spec fixture listed in tests/specs/bad/CASES.tsv
# (FILE, JSON path or "-", message fragment; tab-separated), given to
# `$HYLAB describe`, must exit with status 2, print nothing on stdout, and
# name the file, the JSON path and the fragment on stderr. tests/test_spec.c
# checks the same table through the library. Every fixture file in the
# directory must be listed.
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
HYLAB=${HYLAB:-./hylab}
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
CASES=tests/specs/bad/CASES.tsv
TAB=$(printf '\t')

grep -v '^#' "$CASES" | grep . > "$TMP/table"
n=$(wc -l < "$TMP/table")
MSG="only $n cases in $CASES"; check bad_specs_table_has_cases [ "$n" -ge 60 ]

while IFS="$TAB" read -r file path what; do
  name="bad_spec_cli_${file%.json}"
  f="tests/specs/bad/$file"
  if [ ! -f "$f" ]; then fail "$name" "fixture $f is missing"; continue; fi
  "$HYLAB" describe "$f" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  problem=""
  [ "$rc" = 2 ] || problem="exit status $rc, expected 2"
  [ -z "$problem" ] && [ -s "$TMP/out" ] && problem="wrote to stdout: $(head -c 200 "$TMP/out")"
  [ -z "$problem" ] && ! grep -qF "$f: " "$TMP/err" && problem="stderr does not name $f: $(head -c 300 "$TMP/err")"
  [ -z "$problem" ] && [ "$path" != - ] && ! grep -qF "$f: $path: " "$TMP/err" && problem="stderr does not name the path $path: $(head -c 300 "$TMP/err")"
  [ -z "$problem" ] && ! grep -qF -- "$what" "$TMP/err" && problem="stderr lacks '$what': $(head -c 300 "$TMP/err")"
  if [ -z "$problem" ]; then ok "$name"; else fail "$name" "$problem"; fi
done < "$TMP/table"

# every fixture is listed (a file nobody checks could drift)
for f in tests/specs/bad/*.json; do
  b=$(basename "$f")
  cut -f1 "$TMP/table" | grep -qxF "$b" || fail "bad_spec_listed_$b" "$f is not in $CASES"
done
finish
