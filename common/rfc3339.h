/* RFC 3339 timestamps as configuration writes them ("2026-12-20T00:00:00Z",
 * "2026-12-20T01:00:00+01:00") and as messages show them (UTC, whole seconds, "Z"). Converted
 * by arithmetic rather than mktime(), so the agent's TZ never changes what a file means. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A full date-time with an optional fraction (kept to the µs) and Z or ±HH:MM; dates from
 * 1970 on. 0, or -EINVAL for anything else (a date that does not exist included). */
int rfc3339_parse(const char *s, uint64_t *ret_usec);
/* "2027-01-03T00:00:00Z" (the fraction dropped); "?" if the time cannot be shown. Returns buf. */
char *rfc3339_format(uint64_t usec, char *buf, size_t size);
