/* Sizes as people write them in runbooks: "512", "64K", "50M", "2G" (powers of 1024; an
 * optional "B" or "iB" after the letter). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BYTE_SIZE_MAX (1ULL << 50) /* one pebibyte: far beyond any log or capture */

/* 0, or -EINVAL (syntax), -ERANGE (over BYTE_SIZE_MAX). */
int byte_size_parse(const char *s, uint64_t *ret);
/* Shortest exact form: 52428800 → "50M", 1000 → "1000". Returns buf. */
char *byte_size_format(uint64_t n, char *buf, size_t size);
