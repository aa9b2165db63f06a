/* The control protocol between ikeheald and ikehealctl: framing, the closed set of verbs, and
 * a small blocking client used by ikehealctl and the tests. The server side (non-blocking, on
 * sd-event, with authorisation) is agent/control/control.c. This module does not log.
 *
 * Transport: a UNIX stream socket (default PROTO_SOCKET_DEFAULT, mode 0660, group from the
 * config). One connection may carry any number of request/response exchanges, strictly one at
 * a time: the client sends a request and waits for its response.
 *
 * Frame (all integers big-endian):
 *
 *   u32 length                 bytes that follow (header + body): PROTO_HEADER_SIZE ..
 *                              PROTO_REQUEST_MAX (requests) or PROTO_RESPONSE_MAX (responses)
 *   u8  magic_version          high nibble PROTO_MAGIC (0xA), low nibble PROTO_VERSION (1)
 *   u8  kind                   PROTO_KIND_REQUEST (1) or PROTO_KIND_RESPONSE (2)
 *   u16 verb                   a proto_verb; a response echoes its request's verb (0 when the
 *                              request could not be read at all)
 *   i32 status                 requests: 0 (reserved); responses: 0 on success, or -errno
 *   ... body                   a VICI message (common/vici_msg.h), possibly empty
 *
 * A response with status != 0 carries a key "error" with a reason meant for people, e.g.
 * "permission denied: uid 65534 may not 'reload' (needs root or group ikeheal-operators)".
 * Status values the agent uses: -EPERM (refused), -EOPNOTSUPP (unknown or unimplemented verb),
 * -EPROTONOSUPPORT (unknown protocol version), -EBADMSG (malformed frame or body), -EMSGSIZE
 * (request too large), -EUSERS (too many clients), -EINVAL (bad arguments), anything a handler
 * returns otherwise.
 *
 * Versioning: the magic nibble tells our protocol from anything else; the version nibble is
 * bumped on an incompatible change. An agent answers a request of an unknown version with
 * -EPROTONOSUPPORT (in its own version's framing) and closes; an unknown verb gets
 * -EOPNOTSUPP and the connection stays usable. Verb numbers are part of the wire format and
 * never reused. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "vici_msg.h"

#define PROTO_SOCKET_DEFAULT "/run/ikeheal/ikeheal.sock"

#define PROTO_MAGIC 0xAu
#define PROTO_VERSION 1u
#define PROTO_MAGIC_VERSION ((PROTO_MAGIC << 4) | PROTO_VERSION)
#define PROTO_LENGTH_SIZE 4u
#define PROTO_HEADER_SIZE 8u
/* Limits on the frame length field, i.e. header + body. Requests are small (a verb and a few
 * arguments); responses may carry lists (incidents, audit) but never more than this. */
#define PROTO_REQUEST_MAX (64u * 1024u)
#define PROTO_RESPONSE_MAX (1024u * 1024u)
/* `audit N`: the most records one answer carries (the log itself is read by `audit verify`). */
#define PROTO_AUDIT_LAST_MAX 200u

typedef enum proto_kind {
        PROTO_KIND_REQUEST = 1,
        PROTO_KIND_RESPONSE = 2,
} proto_kind;

/* The closed set of verbs. Numbers are wire values: append, never renumber. Whether a verb
 * is read-only or state-changing is decided in one table in proto.c (proto_verb_is_write()),
 * and the agent authorises by that table alone. */
typedef enum proto_verb {
        PROTO_STATUS = 1,     /* read:  agent and charon health (fields below) */
        PROTO_RELOAD = 2,     /* write: re-read the configuration file */
        PROTO_DIAGNOSE = 3,   /* read:  run the checks now and name the failure class/scope */
        PROTO_CHECKS = 4,     /* read:  every check with its last finding */
        PROTO_INCIDENTS = 5,  /* read:  open and recent incidents */
        PROTO_PLAN = 6,       /* read:  the runbook plan an incident would run */
        PROTO_PENDING = 7,    /* read:  steps waiting for approval */
        PROTO_APPROVE = 8,    /* write: approve a pending step */
        PROTO_DENY = 9,       /* write: deny a pending step */
        PROTO_RUN = 10,       /* write: run a runbook (manual grade) */
        PROTO_MEASURES = 11,  /* read:  temporary measures in force, with expiry */
        PROTO_EXTEND = 12,    /* write: extend a measure's expiry (bounded by policy) */
        PROTO_REVERT = 13,    /* write: revert a measure now */
        PROTO_AUDIT = 14,     /* read:  the audit log */
        PROTO_PAUSE = 15,     /* write: stop automatic remediation */
        PROTO_RESUME = 16,    /* write: resume automatic remediation */
        PROTO_DRILL = 17,     /* write: run (or dry-run) or abort a chaos drill */
        PROTO_RUNS = 18,      /* read:  runbook runs, active and recent */
        PROTO_PSK = 19,       /* write: a temporary PSK fallback's secret (approvers; audited) */
        PROTO_DRILLS = 20,    /* read:  drills: list, status, report (history, scores) */
        PROTO_ACCEPT = 21,    /* write: the current state becomes the last good one (approvers; audited) */
        PROTO_GUARD = 22,     /* write: a guarded change: begin, confirm, abort (agent/guard/guard.h) */
        PROTO_DRAIN = 23,     /* write: GET /healthz answers 503 for a while ("for", "reason") */
        PROTO_UNDRAIN = 24,   /* write: end a drain */
        PROTO_GUARDS = 25,    /* read:  the guarded change in progress, or the last one */
        PROTO_EVIDENCE = 26,  /* write: what an incident collected: list, or read a file (approvers; audited) */
        PROTO_FLEET = 27,     /* write: fleet-wide pause, resume, freeze (agent/fleet/fleet.h) */
        PROTO_FLEET_STATUS = 28, /* read: this agent in its fleet: lease, slots, pause, freeze */
        _PROTO_VERB_MAX,
        _PROTO_VERB_INVALID = -22, /* -EINVAL */
} proto_verb;

/* Body of a PROTO_STATUS response. Every value is a string, as always in VICI; "(n)" marks a
 * decimal number (ikehealctl --json renders these as JSON numbers). Absent keys are unknown.
 *
 *   version            ikeheald's version
 *   pid                (n) ikeheald's pid
 *   uptime             (n) seconds since ikeheald started
 *   started            (n) start time, seconds since the epoch
 *   config             configuration file path
 *   socket             control socket path
 *   reloads            (n) successful reloads
 *   reload_failures    (n) rejected reloads
 *   runbooks {         the runbook engine (agent/engine/engine.h)
 *     loaded           (n) runbooks loaded
 *     paused           "yes" or "no"; pause_reason: why (optional)
 *     running          (n) runs executing or rolling back
 *     waiting          (n) runs pending approval or proposed to an operator
 *     measures         (n) temporary measures in force
 *     breakers_open    (n) failure signatures whose circuit breaker is open
 *     notify_delivered (n) webhook deliveries; notify_failed: (n) given up or dropped
 *   }
 *   charon {           section
 *     state            "connected" or "disconnected"
 *     socket           charon's VICI socket path
 *     error            why not connected, or why a query failed (optional)
 *     daemon           from charon's "version" command: daemon name
 *     version          strongSwan version
 *     sysname          OS name
 *     release          OS release
 *     machine          hardware name
 *     uptime           (n) seconds charon has been running (from "stats")
 *   }
 *   ikesas {           from charon's "stats"
 *     total            (n) IKE_SAs
 *     half_open        (n) half-open IKE_SAs
 *   }
 *   childsas {
 *     total            (n) CHILD_SAs (from "list-sas")
 *   }
 *   events {           what charon pushed to the agent
 *     connects         (n)
 *     disconnects      (n)
 *     ike_updown       (n)
 *     child_updown     (n)
 *     log              (n)
 *     last             last event, e.g. "ike-updown up gw-1" (optional)
 *     last_time        (n) its time, seconds since the epoch (optional)
 *   }
 *
 * Body of a PROTO_RELOAD request: empty. Response: "config" = the file path that was loaded;
 * on failure status < 0 and "error" = every configuration error, one per line. */

/* Verb table. is_valid: a defined verb. to_string: "status", …, NULL for unknown values.
 * from_string: the verb, or -EINVAL. is_write: state-changing (needs an operator); unknown
 * verbs count as state-changing so a mistake never widens access. */
bool proto_verb_is_valid(int verb);
bool proto_verb_is_write(int verb);
const char *proto_verb_to_string(int verb);
int proto_verb_from_string(const char *s);
/* One line for help texts; NULL for unknown values. */
const char *proto_verb_summary(int verb);

typedef struct proto_header {
        uint8_t version; /* low nibble of magic_version */
        proto_kind kind;
        uint16_t verb;
        int32_t status;
} proto_header;

/* Encode a whole frame: length prefix, header (magic/version filled in), body (may be NULL
 * when body_len is 0). -EMSGSIZE if it would exceed the kind's limit, -EINVAL for a bad
 * kind, -ENOMEM. */
int proto_frame_build(proto_kind kind, uint16_t verb, int32_t status, const void *body,
                      size_t body_len, uint8_t **ret_buf, size_t *ret_len);
/* Convenience: a response whose body is just { error = message }. */
int proto_frame_build_error(uint16_t verb, int32_t status, const char *message, uint8_t **ret_buf,
                            size_t *ret_len);

/* Look at the first bytes of a stream. Returns 0 and *ret_frame_len = total frame size
 * (including the length prefix) once the length field is complete, -EAGAIN if fewer than
 * PROTO_LENGTH_SIZE bytes are there, -EBADMSG if the length is below PROTO_HEADER_SIZE,
 * -EMSGSIZE if above `max` (PROTO_REQUEST_MAX or PROTO_RESPONSE_MAX). */
int proto_frame_peek(const void *buf, size_t len, size_t max, size_t *ret_frame_len);
/* Parse the header at buf (after the length prefix; len = the length field). -EBADMSG if too
 * short, wrong magic or unknown kind; -EPROTONOSUPPORT for another version (ret still filled,
 * so the caller may say which). The verb is not checked: the server answers unknown verbs. */
int proto_header_parse(const void *buf, size_t len, proto_header *ret);
/* Parse a whole frame (after the length prefix): header as above, then the body with
 * vici_msg_parse() (-EBADMSG, -E2BIG, -ENOMEM). An empty body gives an empty root section.
 * Nothing is returned on error. */
int proto_frame_parse(const void *buf, size_t len, proto_header *ret_header, vici_node **ret_body);

/* Blocking client. proto_connect: a CLOEXEC stream socket connected to `path` (-ENAMETOOLONG,
 * or connect()'s -errno: -ENOENT, -ECONNREFUSED, -EACCES …). */
int proto_connect(const char *path, int *ret_fd);
/* Send one request and read its response, giving up after timeout_usec in total
 * (-ETIMEDOUT). A peer that closes early is -ECONNRESET; a malformed response -EBADMSG (or the
 * errors above). Returns 0 when a response arrived, whatever its status: look at
 * ret_header->status and vici_node_str(body, "error"). */
int proto_call(int fd, uint16_t verb, const void *body, size_t body_len, uint64_t timeout_usec,
               proto_header *ret_header, vici_node **ret_body);
/* The two halves of proto_call, for callers that build frames by hand (tests). deadline_usec
 * is CLOCK_MONOTONIC; 0 means wait forever. */
int proto_send_all(int fd, const void *buf, size_t len, uint64_t deadline_usec);
int proto_recv_response(int fd, uint64_t deadline_usec, proto_header *ret_header,
                        vici_node **ret_body);
/* The clock of the deadlines above: mono_usec() of now.h. */
uint64_t proto_now_usec(void);
