#!/bin/sh
# Runs each test program given as an argument, adds up their closing
# "N passed, N failed, N skipped" lines and prints the total as the last line.
# Shell tests (tests/test_*.sh) run with sh and print the same closing line;
# they get HYLAB (the binary) and BUILD in the environment.
# A program that crashes or prints no closing line counts as one failure.
P=0; F=0; S=0
for t in "$@"; do
  echo "== $t"
  case "$t" in *.sh) out=$(sh "$t" 2>&1); rc=$? ;; *) out=$("$t" 2>&1); rc=$? ;; esac
  printf '%s\n' "$out" | grep -v '^ok ' 
  last=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
  if [ -z "$last" ]; then
    echo "FAIL $t: exited $rc without a result line"; F=$((F+1)); continue
  fi
  p=$(echo "$last" | cut -d' ' -f1); f=$(echo "$last" | cut -d' ' -f3); s=$(echo "$last" | cut -d' ' -f5)
  P=$((P+p)); F=$((F+f)); S=$((S+s))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then echo "FAIL $t: exit status $rc"; F=$((F+1)); fi
done
echo "$P passed, $F failed, $S skipped"
[ "$F" = 0 ]
