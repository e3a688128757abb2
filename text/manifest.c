// manifest.c: every file of the shared data directory (../shared/data/README.md),
// with its canonical download, size and SHA-256 (computed from the shared
// copy), and the tasks that read it (text/datadir.h). `hylab data fetch`
// downloads url; where the shared copy is a conversion of the canonical
// source, fetch cannot reproduce it and the note says what to convert.
#include "text/datadir.h"

// A note starting with this prefix marks a file fetch cannot download as is.
#define CONVERTED "converted: "

const hl_data_entry hl_data_manifest[] = {
    {"tokenizers/gpt2/encoder.json", "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
     1042301, "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783", "the gpt2 tokenizer",
     "OpenAI GPT-2 (openai/gpt-2), MIT"},
    {"tokenizers/gpt2/vocab.bpe", "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
     456318, "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5", "the gpt2 tokenizer",
     "OpenAI GPT-2 (openai/gpt-2), MIT"},
    {NULL, NULL, 0, NULL, NULL, NULL},
};
