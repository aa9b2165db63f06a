/* The audit log's line format and its chain, checked over a buffer of lines (one file of the
 * log, common/audit_log.h): each record's sequence number follows the previous one, its PREV is
 * the previous record's hash and, with the key, its MAC verifies. Without the key the chain is
 * still checked and MACs are only seen, not verified (the result says so).
 *
 * A buffer may begin the chain (record 1, PREV all zeros) or, when it is a later file of a
 * rotated log, continue it: either from a chain state the caller passes (the previous file's
 * end) or, for the oldest file left, from its own first record if that is a rotation record
 * (kind AUDIT_KIND_ROTATED), which then anchors the chain. Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_crypto.h"

#define AUDIT_KIND_ROTATED "rotated"
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct audit_chain {
        /* in: where the buffer continues the chain; out: where it ends */
        bool started;                  /* false: the buffer begins (or anchors) the chain */
        uint64_t seq;                  /* the last record's sequence number (0: none) */
        char hash[AUDIT_HASH_HEX + 1]; /* its hash */
        /* in: also report the hash of record want_seq (0: no) */
        uint64_t want_seq;
        /* out */
        bool want_found;
        char want_hash[AUDIT_HASH_HEX + 1];
        uint64_t first_seq;            /* the buffer's first record (0: none) */
        bool anchored;                 /* it began with a rotation record, not at record 1 */
        uint64_t records;              /* complete records in the buffer */
        uint64_t valid_bytes;          /* where they end */
        uint64_t torn_bytes;           /* an incomplete last line after them */
        bool macs;                     /* the records carry HMACs */
        uint64_t bad_line;             /* 1-based line of the first problem */
        char why[160];
} audit_chain;

/* A chain state for a new log. */
void audit_chain_init(audit_chain *c);
/* Check buf[0..len) (key_len 0: MACs not verified). 0, or -EBADMSG with bad_line and why; c
 * then describes the records before the bad line. */
int audit_scan(const char *buf, size_t len, const uint8_t *key, size_t key_len, audit_chain *c);
