/* charon's log lines, read and classified: which failure class (common/fault.h) a line points
 * at, which event it is, and which IKE_SA and peer it belongs to. The same classifier serves
 * every source a gateway may have: VICI "log" events (structured: group, level, IKE_SA name and
 * unique id, message), journal entries of charon-systemd ("12[IKE] <rw|3> message") and charon's
 * file log ("2026-11-22T15:05:12.680 12[IKE] <rw|3> message", any time format before it).
 *
 * The patterns are charon 5.9's own messages, checked against what the lab's charon writes for
 * each fault (tests/integration/check-logs.sh captures them live). Matching is a few fixed-string
 * searches per line, no regular expressions; a line is at most CHARON_LOG_LINE_MAX bytes (longer
 * ones are classified on their first CHARON_LOG_LINE_MAX bytes). Pure: no I/O, no allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "fault.h"

#define CHARON_LOG_LINE_MAX 4096u

typedef enum charon_log_event {
        CHARON_EV_NONE,
        CHARON_EV_NO_PROPOSAL,      /* no acceptable proposal / NO_PROPOSAL_CHOSEN */
        CHARON_EV_AUTH_FAILED,      /* AUTHENTICATION_FAILED, MAC mismatch, signature failed */
        CHARON_EV_TS_UNACCEPTABLE,  /* TS_UNACCEPTABLE / traffic selectors unacceptable */
        CHARON_EV_CERT_EXPIRED,     /* certificate validity ended */
        CHARON_EV_CERT_NOT_YET,     /* certificate not yet valid */
        CHARON_EV_CHAIN_INCOMPLETE, /* no issuer certificate found */
        CHARON_EV_CERT_UNTRUSTED,   /* no trusted public key / certificate invalid */
        CHARON_EV_REVOKED,          /* certificate revoked */
        CHARON_EV_REVOCATION_FAIL,  /* CRL/OCSP fetch failed or status unavailable */
        CHARON_EV_NO_CONFIG,        /* no IKE config / no matching peer config: nothing loaded */
        CHARON_EV_PEER_ID,          /* the peer's identity does not match */
        CHARON_EV_RETRANSMIT,       /* retransmit N of request with message ID M */
        CHARON_EV_GIVING_UP,        /* giving up after N retransmits */
        CHARON_EV_FRAGMENTED,       /* splitting IKE message into fragments */
        CHARON_EV_TEMP_FAILURE,     /* TEMPORARY_FAILURE: load, limits */
        CHARON_EV_INVALID_SPI,      /* INVALID_SPI: an SA the peer no longer has */
        CHARON_EV_ESTABLISHED,      /* IKE_SA … established between … */
        CHARON_EV_INITIATING,       /* a peer starts an IKE_SA (names its address) */
        CHARON_EV_SHUTDOWN,         /* charon shutting down on a signal */
        CHARON_EV_PEER_CFG,         /* looking for peer configs matching ME[id]...PEER[id] */
        _CHARON_EV_MAX,
} charon_log_event;

typedef struct charon_log_line {
        /* where it came from */
        char group[4];        /* "IKE", "CFG", …; "" if the line had none */
        int level;            /* 0..4, -1 unknown */
        char conn[64];        /* IKE_SA name from "<rw|3>" or the VICI ikesa-name */
        unsigned long uniqueid; /* IKE_SA unique id, 0 if none */
        const char *msg;      /* the message itself, inside the caller's buffer */
        size_t msg_len;
        /* what it means */
        charon_log_event event;
        fault_class cls;      /* FAULT_NONE for lines that are not failures */
        char peer[64];        /* remote address named by the line, "" if none */
        char peer_id[64];     /* the peer's IKE identity named by the line, "" if none (a comma
                               * of a DN becomes '/', a blank '_': peers are listed comma-separated) */
        bool refused;         /* CHARON_EV_AUTH_FAILED: this charon refused the peer's credential
                               * (not the peer refusing ours) */
        unsigned message_id;  /* CHARON_EV_RETRANSMIT: the message ID retransmitted */
        unsigned size;        /* CHARON_EV_FRAGMENTED: the message size in bytes */
} charon_log_line;

/* A line of the journal or a file log: optional timestamp, "NN[GRP]" thread and group, an
 * optional "<name|id>", the message. -EINVAL for a line without the thread/group marker (not
 * charon's). The result points into `line`. */
int charon_log_parse_text(const char *line, size_t len, charon_log_line *ret);
/* A VICI log event's fields (any may be NULL). */
void charon_log_from_vici(const char *group, const char *level, const char *ikesa_name,
                          const char *ikesa_uniqueid, const char *msg, charon_log_line *ret);
/* Fill event, cls, peer, peer_id, refused, message_id, size from msg. Called by both functions above. */
void charon_log_classify(charon_log_line *l);

/* An IKE identity as peer_id holds it (from a VICI event's remote-id, say). */
void charon_log_identity(char *out, size_t size, const char *id);

const char *charon_log_event_to_string(charon_log_event e); /* "auth_failed", … */
