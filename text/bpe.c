// bpe.c: GPT-2 byte-level BPE. (Being written for issue 9; until then gpt2
// is reported as not built.)
#include "text/tokenizer_internal.h"

int hl_gpt2_open(const char *data_dir, hl_tokenizer **out, char *err, size_t errlen) {
    (void)data_dir; *out = NULL;
    return hl_fail(err, errlen, HL_EUNSUPPORTED, "gpt2 tokenizer: not built yet");
}
