/* The agent's audit trail: every detection and decision appended to the audit log
 * (common/audit_log.h: hash-chained, optionally HMAC-signed, fsynced) under the state
 * directory, and mirrored to the journal with the record's sequence number and hash, so that a
 * log cut short or rewritten can be told from the journal's copy (IKEHEAL_AUDIT_HEAD is what
 * `ikehealctl audit verify --head` takes). A log that no longer verifies at start-up — its
 * chain broken, or no longer reaching its head record — is damage: said at error level and to
 * every webhook, kept aside as evidence (audit.log.broken-TIME, with its head and rotated
 * files) and a new chain begins with a record saying why. Rotation follows audit.rotate_size_kib
 * and audit.keep. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/notify/notifier.h"
#include "ev.h"
#include "macro.h"

typedef struct audit_trail audit_trail;

typedef struct audit_trail_params {
        const char *state_dir; /* the log is <state_dir>/audit.log */
        const char *key_file;  /* agent.audit_key_file; NULL: chain only */
        uint32_t rotate_kib;   /* audit.rotate_size_kib (0: never) */
        uint32_t keep;         /* audit.keep */
} audit_trail_params;

/* Open (or begin) the log; a damaged one is kept aside and said to the journal and, on the
 * loop's first iteration, to every webhook of the notifier at *webhooks (see notify_later.h).
 * Logs its errors; returns -errno. */
int audit_trail_open(audit_trail **ret, ev_loop *e, notifier *const *webhooks, const audit_trail_params *p);
audit_trail *audit_trail_free(audit_trail *t);
DEFINE_FREE_FUNC(audit_trail, audit_trail_free);

/* Append a record (and mirror it to the journal); a NULL trail records nothing. A failure is
 * logged, never returned: the action it describes has happened. */
void audit_trail_add(audit_trail *t, const char *kind, const char *fmt, ...) _printf_(3, 4);
void audit_trail_addv(audit_trail *t, const char *kind, const char *fmt, va_list ap) _printf_(3, 0);

/* <state_dir>/audit.log */
const char *audit_trail_path(const audit_trail *t);
/* Records so far, and the head record's hash (64 hex digits and a NUL). */
uint64_t audit_trail_head(const audit_trail *t, char ret_hash[65]);
