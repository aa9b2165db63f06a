/* See base64.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const void *data, size_t len, char **ret) {
        const uint8_t *p = data;
        char *out, *o;

        if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
                return -ENOMEM;
        o = out = malloc((len + 2) / 3 * 4 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < len ? (uint32_t) p[i + 1] << 8 : 0) |
                             (i + 2 < len ? p[i + 2] : 0);
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
                *o++ = i + 2 < len ? alphabet[v & 63] : '=';
        }
        *o = 0;
        *ret = out;
        return 0;
}

static int value_of(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len) {
        char *out;
        size_t n = 0;

        if (len % 4)
                return -EINVAL;
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 4) {
                int v[4], pad = 0;
                for (int j = 0; j < 4; j++) {
                        if (s[i + j] == '=' && i + 4 == len && j >= 2) {
                                v[j] = 0;
                                pad++;
                                continue;
                        }
                        if (pad || (v[j] = value_of(s[i + j])) < 0)
                                goto bad;
                }
                uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
                        goto bad; /* bits left over: not the canonical encoding */
                out[n++] = (char) (w >> 16);
                if (pad < 2)
                        out[n++] = (char) (w >> 8 & 0xff);
                if (pad < 1)
                        out[n++] = (char) (w & 0xff);
        }
        out[n] = 0;
        *ret = out;
        *ret_len = n;
        return 0;
bad:
        free(out);
        return -EINVAL;
}
