/* See charon_log.h. The pattern table is ordered: the first match wins, so the more specific
 * message comes first ("no IKE config found …, sending NO_PROPOSAL_CHOSEN" is a missing
 * configuration, not a proposal mismatch). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charon_log.h"
#include "macro.h"

typedef struct pattern {
        const char *needle;
        const char *also; /* a second string the line must contain, or NULL */
        charon_log_event event;
        fault_class cls;
} pattern;

static const pattern patterns[] = {
        { "no IKE config found", NULL, CHARON_EV_NO_CONFIG, FAULT_DAEMON_CONFIG },
        { "no matching peer config found", NULL, CHARON_EV_PEER_ID, FAULT_AUTHENTICATION },
        { "NO_PROPOSAL_CHOSEN", NULL, CHARON_EV_NO_PROPOSAL, FAULT_PROPOSAL },
        { "no acceptable proposal found", NULL, CHARON_EV_NO_PROPOSAL, FAULT_PROPOSAL },
        { "received proposals unacceptable", NULL, CHARON_EV_NO_PROPOSAL, FAULT_PROPOSAL },
        { "AUTHENTICATION_FAILED", NULL, CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        /* the gateway's view of a peer that rejected it: "parsed INFORMATIONAL request 2
         * [ N(AUTH_FAILED) ]" (its certificate expired, chain incomplete, …) */
        { "N(AUTH_FAILED)", NULL, CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        { "MAC mismatched", NULL, CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        { "constraint check failed", NULL, CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        { "signature validation failed", NULL, CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        { "authentication of", "failed", CHARON_EV_AUTH_FAILED, FAULT_AUTHENTICATION },
        { "TS_UNACCEPTABLE", NULL, CHARON_EV_TS_UNACCEPTABLE, FAULT_TRAFFIC_SELECTORS },
        { "traffic selectors", "unacceptable", CHARON_EV_TS_UNACCEPTABLE, FAULT_TRAFFIC_SELECTORS },
        { "certificate was revoked", NULL, CHARON_EV_REVOKED, FAULT_REVOCATION },
        { "fetching crl from", "failed", CHARON_EV_REVOCATION_FAIL, FAULT_REVOCATION },
        { "ocsp request to", "failed", CHARON_EV_REVOCATION_FAIL, FAULT_REVOCATION },
        { "no issuer certificate found", NULL, CHARON_EV_CHAIN_INCOMPLETE, FAULT_CERTIFICATE },
        { "certificate invalid (valid from", NULL, CHARON_EV_CERT_EXPIRED, FAULT_CERTIFICATE },
        { "has expired", NULL, CHARON_EV_CERT_EXPIRED, FAULT_CERTIFICATE },
        { "not valid before", NULL, CHARON_EV_CERT_NOT_YET, FAULT_CERTIFICATE },
        { "public key found for", "no trusted", CHARON_EV_CERT_UNTRUSTED, FAULT_CERTIFICATE },
        { "INVALID_SPI", NULL, CHARON_EV_INVALID_SPI, FAULT_NAT_MTU },
        { "TEMPORARY_FAILURE", NULL, CHARON_EV_TEMP_FAILURE, FAULT_RESOURCE },
        { "of request with message ID", "retransmit", CHARON_EV_RETRANSMIT, FAULT_NONE },
        /* the responder's side: "received retransmit of request with ID 1, retransmitting
         * response" — its answer did not arrive */
        { "received retransmit of request with ID", NULL, CHARON_EV_RETRANSMIT, FAULT_NONE },
        { "giving up after", "retransmits", CHARON_EV_GIVING_UP, FAULT_NONE },
        { "splitting IKE message", NULL, CHARON_EV_FRAGMENTED, FAULT_NONE },
        { "established between", NULL, CHARON_EV_ESTABLISHED, FAULT_NONE },
        { "established with SPIs", "CHILD_SA", CHARON_EV_ESTABLISHED, FAULT_NONE },
        { " is initiating an IKE_SA", NULL, CHARON_EV_INITIATING, FAULT_NONE },
        { "looking for peer configs matching", NULL, CHARON_EV_PEER_CFG, FAULT_NONE },
        { "received, shutting down", NULL, CHARON_EV_SHUTDOWN, FAULT_NONE },
        { "received. Shutting down", NULL, CHARON_EV_SHUTDOWN, FAULT_NONE },
};

static const char *const event_names[_CHARON_EV_MAX] = {
        [CHARON_EV_NONE] = "none",
        [CHARON_EV_NO_PROPOSAL] = "no_proposal",
        [CHARON_EV_AUTH_FAILED] = "auth_failed",
        [CHARON_EV_TS_UNACCEPTABLE] = "ts_unacceptable",
        [CHARON_EV_CERT_EXPIRED] = "cert_invalid_dates",
        [CHARON_EV_CERT_NOT_YET] = "cert_not_yet_valid",
        [CHARON_EV_CHAIN_INCOMPLETE] = "chain_incomplete",
        [CHARON_EV_CERT_UNTRUSTED] = "cert_untrusted",
        [CHARON_EV_REVOKED] = "revoked",
        [CHARON_EV_REVOCATION_FAIL] = "revocation_unavailable",
        [CHARON_EV_NO_CONFIG] = "no_config",
        [CHARON_EV_PEER_ID] = "peer_id_mismatch",
        [CHARON_EV_RETRANSMIT] = "retransmit",
        [CHARON_EV_GIVING_UP] = "giving_up",
        [CHARON_EV_FRAGMENTED] = "fragmented",
        [CHARON_EV_TEMP_FAILURE] = "temporary_failure",
        [CHARON_EV_INVALID_SPI] = "invalid_spi",
        [CHARON_EV_ESTABLISHED] = "established",
        [CHARON_EV_INITIATING] = "initiating",
        [CHARON_EV_SHUTDOWN] = "shutdown",
        [CHARON_EV_PEER_CFG] = "peer_config_lookup",
};

/* One pass over the message instead of one search per pattern: every needle (the patterns, then
 * the markers find_peer() looks for) is indexed by a hash of its first four bytes; each position
 * of the message loads four bytes, and only where their hash is in the filter (a 4096-bit set,
 * rarely hit by ordinary text) are the needles of that bucket compared. The matches are
 * collected as a bit set with the position of each first match; the first pattern of the table
 * that matched (and whose second string is there) wins. */
static const char *const markers[] = { "' - '", "received packet: from ", "sending packet: from ", "]...",
                                       "parsed ", "received AUTHENTICATION_FAILED" };
enum {
        MARK_TRIED = ELEMENTSOF(patterns),
        MARK_RECEIVED,
        MARK_SENDING,
        MARK_ENDPOINTS, /* "ME[id]...PEER[id]" */
        MARK_PARSED,
        MARK_TOLD_AUTH_FAILED,
        N_NEEDLES,
};
_Static_assert(N_NEEDLES <= 64, "the match set is a 64-bit mask");
_Static_assert(ELEMENTSOF(markers) == N_NEEDLES - MARK_TRIED, "one marker each");

#define HASH_BITS 12u
typedef struct needle_entry {
        const char *s;
        uint32_t key; /* its first four bytes */
        uint8_t len;
} needle_entry;
static needle_entry needles[N_NEEDLES];
static uint8_t bucket[1u << HASH_BITS]; /* first needle of the bucket + 1, 0: none */
static uint8_t chain[N_NEEDLES];        /* next needle in the same bucket + 1 */
static uint64_t filter[(1u << HASH_BITS) / 64];
static bool index_ready;

typedef struct scan {
        uint64_t set;
        uint16_t pos[N_NEEDLES]; /* of the first match */
} scan;

static inline uint32_t load32(const char *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

static inline unsigned hash32(uint32_t v) {
        return (v * 2654435761u) >> (32 - HASH_BITS);
}

static void index_build(void) {
        for (size_t i = 0; i < N_NEEDLES; i++) {
                const char *n = i < MARK_TRIED ? patterns[i].needle : markers[i - MARK_TRIED];
                needles[i] = (needle_entry){ .s = n, .len = (uint8_t) strlen(n), .key = load32(n) };
                unsigned h = hash32(needles[i].key);
                chain[i] = bucket[h];
                bucket[h] = (uint8_t) (i + 1);
                filter[h / 64] |= UINT64_C(1) << (h % 64);
        }
        index_ready = true;
}

static void match(const char *m, size_t len, scan *sc) {
        sc->set = 0;
        for (size_t p = 0; p + 4 <= len; p++) {
                uint32_t w = load32(m + p);
                unsigned h = hash32(w);
                if (!(filter[h / 64] & (UINT64_C(1) << (h % 64))))
                        continue;
                for (unsigned k = bucket[h]; k; k = chain[k - 1]) {
                        const needle_entry *n = &needles[k - 1];
                        if (n->key != w || n->len > len - p || (sc->set & (UINT64_C(1) << (k - 1))))
                                continue;
                        if (memcmp(m + p + 4, n->s + 4, n->len - 4u) == 0) {
                                sc->set |= UINT64_C(1) << (k - 1);
                                sc->pos[k - 1] = (uint16_t) p;
                        }
                }
        }
}

const char *charon_log_event_to_string(charon_log_event e) {
        return (unsigned) e < _CHARON_EV_MAX ? event_names[e] : "?";
}

static const char *find(const char *hay, size_t len, const char *needle) {
        return memmem(hay, len, needle, strlen(needle));
}

/* Copy an address or identity token [p, end) into out: stops at a blank, '[', quote, or end. */
static void take_token(char *out, size_t size, const char *p, const char *end, const char *stop) {
        char s0 = stop[0], s1 = s0 ? stop[1] : 0; /* stop holds at most two bytes */
        size_t n = 0;
        while (p < end && *p && *p != s0 && *p != s1 && n + 1 < size)
                out[n++] = *p++;
        out[n] = 0;
}

static unsigned parse_uint(const char *p, const char *end) {
        unsigned long v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < 100000000)
                v = v * 10 + (unsigned long) (*p++ - '0');
        return (unsigned) v;
}

/* An identity [p, end) up to `stop`, made safe for a comma-separated list of peers. */
static void take_identity(char *out, size_t size, const char *p, const char *end, char stop) {
        size_t n = 0;
        for (; p < end && *p != stop && n + 1 < size; p++) {
                if (*p == ' ' && n > 0 && out[n - 1] == '/')
                        continue; /* "O=x, CN=y" → "O=x/CN=y" */
                out[n++] = *p == ',' ? '/' : *p == ' ' ? '_' : *p;
        }
        out[n] = 0;
}

void charon_log_identity(char *out, size_t size, const char *id) {
        take_identity(out, size, id, id + strlen(id), 0);
}

/* "ME[id]...PEER[id]": the peer's address and identity. */
static void take_endpoints(charon_log_line *l, const char *m, const char *end, const scan *sc) {
        const char *p;
        if (!(sc->set & (UINT64_C(1) << MARK_ENDPOINTS)))
                return;
        p = m + sc->pos[MARK_ENDPOINTS] + 4;
        take_token(l->peer, sizeof(l->peer), p, end, "[ ");
        p += strlen(l->peer);
        if (p < end && *p == '[') {
                const char *close = memrchr(p, ']', (size_t) (end - p));
                if (close)
                        take_identity(l->peer_id, sizeof(l->peer_id), p + 1, close, ']');
        }
        if (strcmp(l->peer, "%any") == 0)
                l->peer[0] = 0;
}

/* The peer a line names, for the messages that name one. */
static void find_peer(charon_log_line *l, const char *m, const char *end, const scan *sc) {
        const char *p;

        switch (l->event) {
        case CHARON_EV_ESTABLISHED:
                /* "IKE_SA rw[3] established between ME[id]...PEER[id]" */
        case CHARON_EV_PEER_CFG:
                /* "looking for peer configs matching ME[id]...PEER[id]" */
                take_endpoints(l, m, end, sc);
                return;
        case CHARON_EV_INITIATING:
                /* "198.18.0.2 is initiating an IKE_SA" */
                take_token(l->peer, sizeof(l->peer), m, end, " ");
                return;
        default:
                break;
        }
        /* the packet lines are NET's (or of a source that does not say) */
        if (l->event == CHARON_EV_NONE && l->group[0] && strcmp(l->group, "NET") != 0)
                return;
        /* "tried 1 shared key for 'gw' - 'client1', but MAC mismatched" */
        if (sc->set & (UINT64_C(1) << MARK_TRIED))
                take_identity(l->peer_id, sizeof(l->peer_id), m + sc->pos[MARK_TRIED] + 5, end, '\'');
        /* "no trusted RSA public key found for 'client1'" */
        else if (l->event == CHARON_EV_CERT_UNTRUSTED && (p = find(m, (size_t) (end - m), "found for '")))
                take_identity(l->peer_id, sizeof(l->peer_id), p + 11, end, '\'');
        /* "received packet: from 198.18.0.2[500] to …", "sending packet: … to 198.18.0.2[500]" */
        else if (sc->set & (UINT64_C(1) << MARK_RECEIVED))
                take_token(l->peer, sizeof(l->peer), m + sc->pos[MARK_RECEIVED] + 22, end, "[ ");
        else if ((sc->set & (UINT64_C(1) << MARK_SENDING)) &&
                 (p = find(m + sc->pos[MARK_SENDING], (size_t) (end - m - sc->pos[MARK_SENDING]), " to ")))
                take_token(l->peer, sizeof(l->peer), p + 4, end, "[ ");
}

void charon_log_classify(charon_log_line *l) {
        const char *m = l->msg, *end;
        size_t len = l->msg_len > CHARON_LOG_LINE_MAX ? CHARON_LOG_LINE_MAX : l->msg_len;

        l->event = CHARON_EV_NONE;
        l->cls = FAULT_NONE;
        l->peer[0] = l->peer_id[0] = 0;
        l->refused = false;
        l->message_id = l->size = 0;
        if (!m)
                return;
        end = m + len;
        if (!index_ready)
                index_build();
        scan sc;
        match(m, len, &sc);
        uint64_t set = sc.set & ((UINT64_C(1) << MARK_TRIED) - 1);
        for (size_t i = 0; set && i < ELEMENTSOF(patterns); i++) {
                if (!(set & (UINT64_C(1) << i)))
                        continue;
                if (patterns[i].also && !find(m, len, patterns[i].also))
                        continue;
                l->event = patterns[i].event;
                l->cls = patterns[i].cls;
                break;
        }
        if (l->event == CHARON_EV_RETRANSMIT) {
                const char *p = find(m, len, "message ID ");
                if (p)
                        l->message_id = parse_uint(p + 11, end);
                else if ((p = find(m, len, "with ID ")))
                        l->message_id = parse_uint(p + 8, end);
        } else if (l->event == CHARON_EV_AUTH_FAILED) {
                /* "parsed … [ N(AUTH_FAILED) ]" and "received AUTHENTICATION_FAILED notify": the
                 * peer refused us; anything else (MAC mismatched, signature validation failed,
                 * "generating … [ N(AUTH_FAILED) ]") is this charon refusing the peer */
                l->refused = !(sc.set & (UINT64_C(1) << MARK_PARSED | UINT64_C(1) << MARK_TOLD_AUTH_FAILED));
        } else if (l->event == CHARON_EV_FRAGMENTED) {
                const char *p = find(m, len, "IKE message (");
                if (p)
                        l->size = parse_uint(p + 13, end);
        }
        find_peer(l, m, end, &sc);
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_upper(char c) {
        return c >= 'A' && c <= 'Z';
}

int charon_log_parse_text(const char *line, size_t len, charon_log_line *ret) {
        const char *p = line, *end = line + (len > CHARON_LOG_LINE_MAX ? CHARON_LOG_LINE_MAX : len);
        charon_log_line l = { .level = -1 };

        /* find "NN[GRP]" or "NN[GRPL]": a thread number, then the group in brackets */
        for (;; p++) {
                p = p + 5 <= end ? memchr(p, '[', (size_t) (end - p) - 4) : NULL;
                if (!p)
                        return -EINVAL;
                if (p != line && is_digit(p[-1]) && p + 4 < end && is_upper(p[1]) && is_upper(p[2]) &&
                    is_upper(p[3]) && (p[4] == ']' || (p + 5 < end && is_digit(p[4]) && p[5] == ']')))
                        break;
        }
        memcpy(l.group, p + 1, 3);
        l.group[3] = 0;
        if (p[4] != ']') {
                l.level = p[4] - '0';
                p += 6;
        } else
                p += 5;
        while (p < end && *p == ' ')
                p++;
        /* "<rw|3> " */
        if (p < end && *p == '<') {
                const char *bar = memchr(p, '|', (size_t) (end - p)), *gt = memchr(p, '>', (size_t) (end - p));
                if (bar && gt && bar < gt) {
                        take_token(l.conn, sizeof(l.conn), p + 1, bar, "");
                        l.uniqueid = parse_uint(bar + 1, gt);
                        p = gt + 1;
                } else if (gt) {
                        /* "<3>": an IKE_SA without a name yet, only its unique id */
                        if (gt > p + 1 && strspn(p + 1, "0123456789") == (size_t) (gt - p - 1))
                                l.uniqueid = parse_uint(p + 1, gt);
                        else
                                take_token(l.conn, sizeof(l.conn), p + 1, gt, "");
                        p = gt + 1;
                }
                while (p < end && *p == ' ')
                        p++;
        }
        while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
                end--;
        l.msg = p;
        l.msg_len = (size_t) (end - p);
        charon_log_classify(&l);
        *ret = l;
        return 0;
}

void charon_log_from_vici(const char *group, const char *level, const char *ikesa_name,
                          const char *ikesa_uniqueid, const char *msg, charon_log_line *ret) {
        charon_log_line l = { .level = -1 };

        if (group)
                snprintf(l.group, sizeof(l.group), "%.3s", group);
        if (level && is_digit(level[0]) && !level[1])
                l.level = level[0] - '0';
        if (ikesa_name)
                snprintf(l.conn, sizeof(l.conn), "%s", ikesa_name);
        if (ikesa_uniqueid)
                l.uniqueid = strtoul(ikesa_uniqueid, NULL, 10);
        l.msg = msg ? msg : "";
        l.msg_len = strlen(l.msg);
        charon_log_classify(&l);
        *ret = l;
}
