/* Durations as people write them in config and runbooks: "500ms", "30s", "5m", "2h", "1d",
 * and sums of them ("1h30m"). A unit is required: a bare "30" is refused, since seconds and
 * milliseconds are both plausible and a wrong guess is a 1000× error. */
#pragma once

#include <stdint.h>
#include <stddef.h>

#define DURATION_MAX_USEC (366ULL * 24 * 3600 * 1000000ULL) /* one year */

/* 0, or -EINVAL (syntax), -ERANGE (over DURATION_MAX_USEC). */
int duration_parse(const char *s, uint64_t *ret_usec);
/* Shortest exact form, e.g. 90000000 → "1m30s"; 0 → "0s". Returns buf. */
char *duration_format(uint64_t usec, char *buf, size_t size);
