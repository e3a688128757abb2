#!/bin/sh
# End-to-end tests of `hylab data list|verify|fetch` (text/datadir.h,
# text/manifest.c) on the shared data directory ($HYLAB_DATA, which the
# Makefile sets to ../shared/data): list, verify passes there, fetch from a
# file:// mirror of it into a temp dir then verify passes, a corrupted copy
# fails verify naming the file, and a missing file's message names the file,
# the task and the fetch command. Needs curl (fetch runs it).
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
EXPECT_IN=both
D=${HYLAB_DATA:-}
[ -n "$D" ] || { fail data_dir_given "HYLAB_DATA is not set (the Makefile sets it to ../shared/data)"; finish; }
MSG="curl is not installed (hylab data fetch runs it; add curl to DEPS_PKGS)"
check curl_present sh -c 'command -v curl >/dev/null'

# ---------------------------------------------------------------- list
expect data_list_present 0 'tokenizers/gpt2/encoder.json  *1042301  present  *the gpt2 tokenizer' "$HYLAB" data list --data-dir "$D"
n=$("$HYLAB" data list --data-dir "$D" | grep -c ' present ')
MSG="$n files present"
check data_list_all_present [ "$n" = 21 ]
expect data_list_missing 0 'eval/hellaswag.jsonl  *8248103  missing  *hellaswag, commonsense' "$HYLAB" data list --data-dir "$dir/empty"
HYLAB_DATA="$D" "$HYLAB" data list --json >"$dir/list.json"; rc=$?
MSG="exit $rc: $(head -c 300 "$dir/list.json")"
check data_list_json_env sh -c "[ $rc = 0 ] && grep -q '\"path\": \"corpus/kjv.txt\", \"size\": 4137850, \"state\": \"present\"' '$dir/list.json'"
if command -v python3 >/dev/null; then
  MSG="not a JSON array of 21 objects"
  check data_list_json_parses python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==21 and all(len(e['sha256'])==64 for e in d)" "$dir/list.json"
fi

# the data directory: --data-dir, then HYLAB_DATA, then $XDG_DATA_HOME/hylab, then ~/.local/share/hylab
first() { "$@" 2>&1 | head -n 1; }
MSG="got: $(first env HYLAB_DATA="$dir/env" "$HYLAB" data list --data-dir "$dir/opt")"
check data_dir_option_first [ "$(first env HYLAB_DATA="$dir/env" "$HYLAB" data list --data-dir "$dir/opt")" = "data directory: $dir/opt" ]
MSG="got: $(first env HYLAB_DATA="$dir/env" XDG_DATA_HOME="$dir/xdg" "$HYLAB" data list)"
check data_dir_env_second [ "$(first env HYLAB_DATA="$dir/env" XDG_DATA_HOME="$dir/xdg" "$HYLAB" data list)" = "data directory: $dir/env" ]
MSG="got: $(first env -u HYLAB_DATA XDG_DATA_HOME="$dir/xdg" "$HYLAB" data list)"
check data_dir_xdg_third [ "$(first env -u HYLAB_DATA XDG_DATA_HOME="$dir/xdg" "$HYLAB" data list)" = "data directory: $dir/xdg/hylab" ]
MSG="got: $(first env -u HYLAB_DATA -u XDG_DATA_HOME HOME="$dir/home" "$HYLAB" data list)"
check data_dir_home_default [ "$(first env -u HYLAB_DATA -u XDG_DATA_HOME HOME="$dir/home" "$HYLAB" data list)" = "data directory: $dir/home/.local/share/hylab" ]

# ---------------------------------------------------------------- verify
expect data_verify_shared 0 'all 21 files present and good' "$HYLAB" data verify --data-dir "$D"
expect data_verify_empty 1 'MISSING eval/piqa.jsonl (needed by piqa, commonsense, lm_eval8)' "$HYLAB" data verify --data-dir "$dir/empty"
expect data_verify_empty_count 1 '21 of 21 files missing or bad' "$HYLAB" data verify --data-dir "$dir/empty"

# ---------------------------------------------------------------- fetch
FD=$dir/fetched
expect data_fetch_mirror 0 'ok      corpus/tinyshakespeare.txt' "$HYLAB" data fetch --data-dir "$FD" --mirror "file://$D"
expect data_fetch_then_verify 0 'all 21 files present and good' "$HYLAB" data verify --data-dir "$FD"
MSG="a .part file was left behind"
check data_fetch_no_part sh -c "[ -z \"\$(find '$FD' -name '*.part')\" ]"
expect data_fetch_present_skipped 0 'ok      eval/boolq.jsonl (already present)' "$HYLAB" data fetch --data-dir "$FD" --mirror "file://$D" eval/boolq.jsonl
# corrupt one byte of a copy (same size): verify names it
chmod u+w "$FD/eval/piqa.jsonl"
printf 'X' | dd of="$FD/eval/piqa.jsonl" bs=1 seek=100 conv=notrunc 2>/dev/null
expect data_verify_corrupt 1 'BAD     eval/piqa.jsonl: sha256 [0-9a-f]*, the manifest says d2870e73' "$HYLAB" data verify --data-dir "$FD"
expect data_verify_corrupt_only_one 1 '1 of 21 files missing or bad' "$HYLAB" data verify --data-dir "$FD"
printf 'more' >>"$FD/eval/arc_easy.jsonl"
expect data_verify_wrong_size 1 'BAD     eval/arc_easy.jsonl: 636669 bytes, the manifest says 636665' "$HYLAB" data verify --data-dir "$FD"
# fetch repairs the bad files
expect data_fetch_repairs 0 'ok      eval/piqa.jsonl' "$HYLAB" data fetch --data-dir "$FD" --mirror "file://$D/" eval/piqa.jsonl eval/arc_easy.jsonl
expect data_verify_repaired 0 'all 21 files present and good' "$HYLAB" data verify --data-dir "$FD"
# a mirror with a bad copy: refused, nothing left behind
mkdir -p "$dir/badmirror/eval"
printf '{"query": "x", "choices": ["a", "b"], "gold": 0}\n' >"$dir/badmirror/eval/openbookqa.jsonl"
expect data_fetch_bad_mirror_copy 1 'eval/openbookqa.jsonl: downloaded 49 bytes, the manifest says 88043' "$HYLAB" data fetch --data-dir "$dir/f2" --mirror "file://$dir/badmirror" eval/openbookqa.jsonl
MSG="bad download kept"
check data_fetch_bad_not_kept sh -c "[ ! -e '$dir/f2/eval/openbookqa.jsonl' ] && [ ! -e '$dir/f2/eval/openbookqa.jsonl.part' ]"
expect data_fetch_mirror_missing_file 1 'eval/boolq.jsonl: curl exited with status' "$HYLAB" data fetch --data-dir "$dir/f2" --mirror "file://$dir/badmirror" eval/boolq.jsonl
# a converted file cannot be downloaded from its source
expect data_fetch_converted 1 'corpus/kjv.txt: cannot download: the file is converted: Debian package bible-kjv-text' "$HYLAB" data fetch --data-dir "$dir/f3" corpus/kjv.txt
expect data_fetch_unknown_path 2 "'eval/nope.jsonl' is not in the manifest" "$HYLAB" data fetch --data-dir "$dir/f3" eval/nope.jsonl
expect data_bad_subcommand 2 "unknown subcommand 'show'" "$HYLAB" data show
expect data_no_subcommand 2 'give a subcommand' "$HYLAB" data
expect data_bad_option 2 "unknown option '--mirorr'" "$HYLAB" data fetch --mirorr x

# ---------------------------------------------------------------- missing file message
expect data_missing_names_file_task_fetch 2 "$dir/empty/tokenizers/gpt2/encoder.json: missing (needed by the gpt2 tokenizer; run \`hylab data fetch --data-dir $dir/empty tokenizers/gpt2/encoder.json\`" \
  sh -c 'echo hi | "$1" tokenize --tokenizer gpt2 --data-dir "$2" -' sh "$HYLAB" "$dir/empty"
finish
