/* <state_dir>/drain: the gateway is drained — GET /healthz answers 503 so that load balancers
 * send new IKE sessions elsewhere. A file, so a drain survives an agent restart, and is shared
 * by its two makers: an operator (`ikehealctl drain --for DUR`, with its own expiry) and the
 * `drain` action of a runbook (a temporary measure, whose expiry and revert the engine keeps).
 * Each removes only a drain it made. Written atomically; small text, one "key=value" a line:
 *
 *   owner=operator        operator | runbook
 *   since_usec=…          CLOCK_REALTIME µs
 *   until_usec=…          0: until removed (a runbook's measure)
 *   reason=…              one line
 *
 * Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRAIN_FILE_NAME "drain"
#define DRAIN_FILE_MAX 1024u
#define DRAIN_REASON_MAX 256u

typedef struct drain_state {
        char owner[16];
        uint64_t since_usec, until_usec;
        char reason[DRAIN_REASON_MAX];
} drain_state;

/* Parse the file's text. -EBADMSG for a line that is not "key=value" of a known key, a bad
 * number, an owner other than operator/runbook, or no owner. */
int drain_parse(const char *buf, size_t len, drain_state *ret);
/* -ENOENT: not drained; -EBADMSG as drain_parse(). */
int drain_file_read(const char *state_dir, drain_state *ret);
/* The reason is cut at its first newline and at DRAIN_REASON_MAX - 1 bytes. */
int drain_file_write(const char *state_dir, const drain_state *s);
/* Remove the drain if `owner` made it (NULL: whoever did). 0 also when there is none;
 * -EBUSY: it belongs to another owner (left in place). */
int drain_file_remove(const char *state_dir, const char *owner);
