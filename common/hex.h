/* Bytes as lowercase hexadecimal (digests in records, paths and messages). */
#pragma once

#include <stddef.h>

/* Write 2*n digits and a NUL to out (room for 2*n+1); returns out. */
char *hex_encode(const void *in, size_t n, char *out);
