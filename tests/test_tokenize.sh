#!/bin/sh
# End-to-end tests of `hylab tokenize` (text/tokenizer.h): ids on one line,
# --decode back to the same bytes, stdin, the byte tokenizer, and bad input
# (exit 2 with the file named). GPT-2 ids are checked against values from
# Hugging Face tokenizers (tests/tokenizer/gpt2_fixtures.txt holds more).
set -u
HYLAB=${HYLAB:-./hylab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
D=${HYLAB_DATA:-}
[ -n "$D" ] || { fail data_dir_given "HYLAB_DATA is not set (the Makefile sets it to ../shared/data)"; finish; }

printf "Hello world, I'm  here\n\n  they'LL 123 \342\200\231s" >"$dir/t.txt"
"$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" "$dir/t.txt" >"$dir/ids"; rc=$?
printf '15496 995 11 314 1101 220 994 628 220 484 6 3069 17031 564 247 82\n' >"$dir/ids.want"
MSG="exit $rc: $(cat "$dir/ids")"
check tokenize_gpt2_ids sh -c "[ $rc = 0 ] && cmp -s '$dir/ids' '$dir/ids.want'"
"$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" --decode "$dir/ids" >"$dir/back"; rc=$?
MSG="exit $rc"
check tokenize_gpt2_decode_round_trip sh -c "[ $rc = 0 ] && cmp -s '$dir/back' '$dir/t.txt'"
HYLAB_DATA="$D" "$HYLAB" tokenize --tokenizer gpt2 - <"$dir/t.txt" >"$dir/ids2"
MSG="stdin gave $(cat "$dir/ids2")"
check tokenize_stdin_env_data_dir cmp -s "$dir/ids2" "$dir/ids.want"
# a whole corpus round-trips through the CLI (ids on one line)
"$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" "$D/corpus/tinyshakespeare.txt" >"$dir/ts.ids"
MSG="$(wc -l <"$dir/ts.ids") lines, $(wc -w <"$dir/ts.ids") ids"
check tokenize_corpus_one_line sh -c "[ \$(wc -l <'$dir/ts.ids') = 1 ] && [ \$(wc -w <'$dir/ts.ids') = 338025 ]"
"$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" --decode "$dir/ts.ids" >"$dir/ts.back"
MSG="decoded corpus differs"
check tokenize_corpus_round_trip cmp -s "$dir/ts.back" "$D/corpus/tinyshakespeare.txt"
# byte tokenizer: one id per byte, no data directory needed; invalid UTF-8 is fine
printf 'a\377\n' >"$dir/b.txt"
"$HYLAB" tokenize --tokenizer byte "$dir/b.txt" >"$dir/b.ids"
MSG="got $(cat "$dir/b.ids")"
check tokenize_byte_ids sh -c "[ \"\$(cat '$dir/b.ids')\" = '97 255 10' ]"
"$HYLAB" tokenize --tokenizer byte --decode "$dir/b.ids" >"$dir/b.back"
check tokenize_byte_round_trip cmp -s "$dir/b.back" "$dir/b.txt"
printf '' >"$dir/empty.txt"
"$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" "$dir/empty.txt" >"$dir/e.ids"; rc=$?
MSG="exit $rc, got '$(cat "$dir/e.ids")'"
check tokenize_empty_text sh -c "[ $rc = 0 ] && [ \"\$(cat '$dir/e.ids')\" = '' ] && [ \$(wc -c <'$dir/e.ids') = 1 ]"

# ---------------------------------------------------------------- bad input
expect tokenize_unknown_tokenizer 2 "unknown tokenizer 'gpt3' (known: byte or gpt2)" "$HYLAB" tokenize --tokenizer gpt3 "$dir/t.txt"
expect tokenize_no_tokenizer 2 '--tokenizer NAME is required' "$HYLAB" tokenize "$dir/t.txt"
expect tokenize_no_file 2 'no FILE given' "$HYLAB" tokenize --tokenizer byte
expect tokenize_missing_file 2 "$dir/nope.txt: cannot open" "$HYLAB" tokenize --tokenizer byte "$dir/nope.txt"
expect tokenize_bad_option 2 "unknown option '--decdoe'" "$HYLAB" tokenize --tokenizer byte --decdoe "$dir/t.txt"
printf '15496 99999 995\n' >"$dir/bad.ids"
expect tokenize_decode_out_of_range 2 "$dir/bad.ids: id 99999 at 1 is outside \[0, 50257)" "$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" --decode "$dir/bad.ids"
printf '15496 hello 995\n' >"$dir/bad2.ids"
expect tokenize_decode_not_integer 2 "$dir/bad2.ids: id 1 ('hello') is not an integer" "$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" --decode "$dir/bad2.ids"
MSG="output written on error"
check tokenize_error_writes_nothing sh -c "[ ! -s '$dir/out' ]"
# a tokenizer file that is not BPE, in a copy of the data directory
mkdir -p "$dir/d/tokenizers/gpt2"
cp "$D/tokenizers/gpt2/encoder.json" "$dir/d/tokenizers/gpt2/"
printf '#version: 0.2\n\304\240 t\nnot a merge\n' >"$dir/d/tokenizers/gpt2/vocab.bpe"
expect tokenize_not_bpe 2 "$dir/d/tokenizers/gpt2/vocab.bpe: line 3: not BPE" "$HYLAB" tokenize --tokenizer gpt2 --data-dir "$dir/d" "$dir/t.txt"
rm "$dir/d/tokenizers/gpt2/vocab.bpe"
expect tokenize_missing_vocab 2 "vocab.bpe: missing (needed by the gpt2 tokenizer; run \`hylab data fetch" "$HYLAB" tokenize --tokenizer gpt2 --data-dir "$dir/d" "$dir/t.txt"
expect tokenize_missing_input_file 2 "$dir/none.txt: cannot open (No such file or directory)" "$HYLAB" tokenize --tokenizer gpt2 --data-dir "$D" "$dir/none.txt"
"$HYLAB" tokenize --help >"$dir/help" 2>&1; rc=$?
MSG="exit $rc"
check tokenize_help sh -c "[ $rc = 0 ] && grep -q 'usage: hylab tokenize' '$dir/help'"
finish
