/* See audit_crypto.h. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "audit_crypto.h"
#include "hex.h"

static void failed(char out[AUDIT_HASH_HEX + 1]) {
        memset(out, '?', AUDIT_HASH_HEX);
        out[AUDIT_HASH_HEX] = 0;
}

void audit_sha256_hex(const void *buf, size_t len, char out[AUDIT_HASH_HEX + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n != 32)
                return failed(out);
        hex_encode(md, n, out);
}

void audit_hmac_hex(const uint8_t *key, size_t key_len, const void *buf, size_t len, char out[AUDIT_HASH_HEX + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!HMAC(EVP_sha256(), key, (int) key_len, buf, len, md, &n) || n != 32)
                return failed(out);
        hex_encode(md, n, out);
}

int audit_hex_equal(const char *a, const char *b) {
        return CRYPTO_memcmp(a, b, AUDIT_HASH_HEX) == 0;
}
