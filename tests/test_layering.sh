#!/bin/sh
# test_layering.sh: includes point downward only (DESIGN.md "Layout"):
#   harness -> {tasks, models, db} -> {kernels, text} -> core
# text (tokenizers, the data directory) includes core only; tasks do not include models, db includes core only, core includes nothing
# else of hylab. Inside harness/ the sub-folders are ordered too (no include
# cycle between them): cli -> run -> {train, eval} -> harness/ top (spec,
# sweep, hf_io), and cli -> report -> harness/ top.
# Every #include "..." in the source folders is checked against the table
# below; it must also be rooted at the repository ("core/status.h", never
# "../core/status.h" or "status.h") and name an existing file. Two system
# headers are kept where they belong: <sqlite3.h> in db/ and harness/ only,
# <cblas.h> in kernels/ only.
# A negative control plants one bad include of each kind in a copy of the
# sources and requires every one to be reported, so the check cannot pass
# vacuously.
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

SRC_FOLDERS="core text kernels models tasks db harness"

# unit: what a file may include (the folders of the files it may include).
RULES='
core            core
text            text core
kernels         kernels core
models          models kernels core
tasks           tasks text kernels core
db              db core
harness         harness models tasks db text kernels core
harness/train   harness/train harness models tasks db text kernels core
harness/eval    harness/eval harness models tasks db text kernels core
harness/run     harness/run harness/train harness/eval harness models tasks db text kernels core
harness/report  harness/report harness models tasks db text kernels core
harness/cli     harness/cli harness/run harness/train harness/eval harness/report harness models tasks db text kernels core
'
# system header: the top folders that may include it.
SYSTEM_RULES='
sqlite3.h       db harness
cblas.h         kernels
'

# check_tree ROOT: prints one line per violation ("FILE:LINE: why") and,
# last, "scanned F files, I includes".
check_tree() {
  root=$1
  files=$(cd "$root" && find $SRC_FOLDERS -name '*.[ch]' | sort)
  [ -n "$files" ] || { echo "scanned 0 files, 0 includes"; return; }
  (cd "$root" && grep -Hn '^[[:space:]]*#[[:space:]]*include' $files) |
  awk -v root="$root" -v rules="$RULES" -v sysrules="$SYSTEM_RULES" -v nfiles="$(echo "$files" | wc -l)" '
    function unit(path,   u) {
      if (path ~ /^harness\/(cli|train|run|report|eval)\//) { split(path, u, "/"); return u[1] "/" u[2] }
      split(path, u, "/"); return u[1]
    }
    function exists(path,   line, r) {
      r = (getline line < (root "/" path)); close(root "/" path); return r >= 0
    }
    BEGIN {
      n = split(rules, L, "\n")
      for (i = 1; i <= n; i++) if (split(L[i], w, " ") > 1) for (j = 2; j in w; j++) allow[w[1], w[j]] = 1
      n = split(sysrules, L, "\n")
      for (i = 1; i <= n; i++) if (split(L[i], w, " ") > 1) { sys[w[1]] = 1; for (j = 2; j in w; j++) sysok[w[1], w[j]] = 1 }
      incs = 0
    }
    {
      # FILE:LINE:TEXT
      file = $0; sub(/:.*/, "", file)
      rest = substr($0, length(file) + 2); line = rest; sub(/:.*/, "", line)
      text = substr(rest, length(line) + 2)
      where = file ":" line ": "
      incs++
      if (match(text, /<[^>]+>/)) {
        h = substr(text, RSTART + 1, RLENGTH - 2); top = file; sub(/\/.*/, "", top)
        if ((h in sys) && !((h, top) in sysok)) print where "<" h "> outside its folders"
        next
      }
      if (!match(text, /"[^"]+"/)) { print where "unreadable include: " text; next }
      inc = substr(text, RSTART + 1, RLENGTH - 2)
      if (inc ~ /(^|\/)\.\.?\//) { print where "\"" inc "\": not rooted at the repository"; next }
      if (!exists(inc)) { print where "\"" inc "\": no such file from the repository root"; next }
      from = unit(file); to = unit(inc)
      if (!((from, from) in allow)) { print where "no rule for folder " from; next }
      if (!((from, to) in allow)) print where "\"" inc "\": " from " may not include " to
    }
    END { print "scanned " nfiles " files, " incs " includes" }'
}

# ---- the sources as they are
out=$(check_tree .)
viol=$(printf '%s\n' "$out" | grep -v '^scanned ')
scanned=$(printf '%s\n' "$out" | grep '^scanned ')
printf '# %s\n' "$scanned"
MSG="$(printf '%s\n' "$viol" | grep -c .) includes against the layering (listed below)"
check "no_include_against_the_layering" test -z "$viol"
[ -z "$viol" ] || printf '%s\n' "$viol"
nf=$(echo "$scanned" | cut -d' ' -f2); ni=$(echo "$scanned" | cut -d' ' -f4)
MSG="only $nf files, $ni includes scanned"
check "scanned_the_sources" test "${nf:-0}" -ge 50 -a "${ni:-0}" -ge 200

# ---- negative control: one planted bad include of each kind must be reported
for d in $SRC_FOLDERS; do cp -R "$d" "$dir/$d"; done
plant() { printf '%s\n' "$2" >> "$dir/$1"; }
plant core/status.h            '#include "harness/spec.h"'        # upward from core
plant kernels/kernels.h        '#include "models/model.h"'        # upward from kernels
plant models/model.h           '#include "harness/spec.h"'        # upward (the old models -> harness)
plant tasks/task.h             '#include "models/model.h"'        # sideways: tasks do not call models
plant db/db.h                  '#include "models/model_config.h"' # sideways: db knows no model
plant harness/spec.h           '#include "harness/run/runner.h"'  # harness top -> a sub-folder
plant harness/train/train.h    '#include "harness/cli/commands.h"' # train -> cli (a cycle)
plant harness/report/report.h  '#include "harness/run/runner.h"'  # report -> run
plant models/layer.h           '#include "../core/status.h"'      # not rooted
plant models/mamba.h           '#include "layer.h"'               # not rooted
plant models/model.c           '#include <sqlite3.h>'             # sqlite outside db/harness
plant harness/spec.c           '#include <cblas.h>'               # BLAS outside kernels
plant text/tokenizer.h         '#include "tasks/task.h"'          # upward from text
plant harness/eval/evaluate.h  '#include "harness/run/runner.h"'  # eval -> run (a cycle)
bad=$(check_tree "$dir" | grep -v '^scanned ')
for want in core/status.h kernels/kernels.h models/model.h tasks/task.h db/db.h harness/spec.h \
            harness/train/train.h harness/report/report.h models/layer.h models/mamba.h \
            models/model.c harness/spec.c text/tokenizer.h harness/eval/evaluate.h; do
  MSG="planted include in $want not reported; reported: $(printf '%s; ' "$bad")"
  check "control_reports_$want" sh -c 'printf "%s\n" "$1" | grep -q "^$2:"' _ "$bad" "$want"
done
n=$(printf '%s\n' "$bad" | grep -c .)
MSG="the control reported $n lines, planted 14: $(printf '%s; ' "$bad")"
check "control_reports_only_the_planted" test "$n" = 14
finish
