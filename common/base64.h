/* Standard base64 (RFC 4648, with padding), as etcd's JSON gateway carries keys and values. */
#pragma once

#include <stddef.h>

/* Encode len bytes into a malloc'ed NUL-terminated string. -ENOMEM. */
int base64_encode(const void *data, size_t len, char **ret);
/* Decode strictly (no white space, padding required, no bits left over) into a malloc'ed buffer,
 * NUL-terminated for convenience (not counted in *ret_len). -EINVAL, -ENOMEM. */
int base64_decode(const char *s, size_t len, char **ret, size_t *ret_len);
