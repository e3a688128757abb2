# lib.sh: the shell tests' counterpart of tests/test.h. Source it with
#   . "$(dirname "$0")/lib.sh"
# ok NAME, fail NAME WHY, skip NAME WHY print one line each;
# check NAME CMD... runs CMD and reports it, with $MSG as the failure detail;
# finish prints "N passed, N failed, N skipped" and exits 1 on any failure.
P=0; F=0; K=0
ok()   { echo "ok $1"; P=$((P+1)); }
fail() { echo "FAIL $1: $2"; F=$((F+1)); }
skip() { echo "skip $1: $2"; K=$((K+1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "${MSG:-check failed}"; fi; MSG=; }
finish() { echo "$P passed, $F failed, $K skipped"; [ "$F" = 0 ]; exit $?; }
