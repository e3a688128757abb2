// sha256.h: SHA-256 (FIPS 180-4), used to hash canonical specs.
#ifndef HYLAB_SHA256_H
#define HYLAB_SHA256_H

#include <stddef.h>

// out receives the 64 lowercase hex digits of SHA-256(data[0..len)) and a NUL.
void hl_sha256_hex(const void *data, size_t len, char out[65]);

#endif
