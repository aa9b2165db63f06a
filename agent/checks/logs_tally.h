/* The logs check's tally of failing peers: per failure class, how many failures charon reported
 * over a sliding window, the peers failing most (a bounded "space-saving" table), and an
 * estimate of how many distinct peers failed (HyperLogLog registers per time slice). Every
 * operation is O(1) in the number of lines seen and the memory is fixed, whatever a flood of
 * lines from many peers brings: a line costs one hash, one scan of a small table and a few
 * counter updates.
 *
 * A peer is keyed by its address (or by its identity when no address is known) and named by
 * its IKE identity and address, "client1.example.org@198.51.100.7". Entries of peers whose
 * credential the gateway refused ("sticky") outlive the window: such a peer is still failing
 * until it establishes an IKE_SA or makes no attempt for its own retry window (three times the
 * longest gap between its attempts, at least the window) — a quiet log alone does not prove
 * that the wrong credential is gone. Pure: no I/O, no allocation. Times are µs of one clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"

#define LOGS_TALLY_TOP 32u   /* peers tracked per class */
#define LOGS_TALLY_SLOTS 8u  /* time slices of the window */
#define LOGS_TALLY_HLL 128u  /* distinct-peer registers per slice (±9 %) */
#define LOGS_TALLY_KEY_MAX 64u
#define LOGS_TALLY_NAME_MAX (2 * LOGS_TALLY_KEY_MAX + 2)
#define LOGS_TALLY_QUIET_MAX (24ull * 3600 * 1000000) /* a retry window is at most a day */

typedef struct logs_tally_peer {
        uint64_t hash;
        char addr[LOGS_TALLY_KEY_MAX]; /* "" if unknown */
        char id[LOGS_TALLY_KEY_MAX];   /* IKE identity, "" if unknown */
        uint64_t count;                /* failures since first (an upper bound once the table
                                        * overflowed: count - err is certain) */
        uint64_t err;
        uint64_t first, last, gap_max;
        unsigned event;                /* the latest charon_log_event */
        bool sticky;                   /* the gateway refused its credential */
} logs_tally_peer;

typedef struct logs_tally_class {
        uint64_t slot_epoch[LOGS_TALLY_SLOTS];
        uint64_t slot_count[LOGS_TALLY_SLOTS];
        uint8_t hll[LOGS_TALLY_SLOTS][LOGS_TALLY_HLL];
        logs_tally_peer top[LOGS_TALLY_TOP];
        size_t n_top;
        uint64_t last_evict; /* 0: never */
        unsigned last_event;
} logs_tally_class;

typedef struct logs_tally {
        uint64_t window, slot_len;
        logs_tally_class cls[_FAULT_CLASS_MAX];
} logs_tally;

/* What an add changed (a bit set), so that the caller reports news at once and the rest
 * coalesced. */
enum {
        LOGS_TALLY_NEW_CLASS = 1 << 0, /* the class had no failure in the window */
        LOGS_TALLY_NEW_PEER = 1 << 1,  /* a peer not in the table */
        LOGS_TALLY_NAMED = 1 << 2,     /* a known peer's identity or address learned */
};

void logs_tally_init(logs_tally *t, uint64_t window);
/* One failure of class cls (not FAULT_NONE) by the peer at addr with identity id (either may be
 * "" but not both). Returns the LOGS_TALLY_* bits. */
unsigned logs_tally_add(logs_tally *t, fault_class cls, unsigned event, const char *addr, const char *id,
                        bool sticky, uint64_t now);
/* The peer established an IKE_SA: it is no longer failing in any class. Its failures leave the
 * window's counts. True if it was failing; then its name is written to ret_name. */
bool logs_tally_success(logs_tally *t, const char *addr, const char *id, char *ret_name, size_t size);
/* Drop peers whose failures are over: not seen for the window (or for their retry window, if
 * sticky). A sticky peer dropped is named in ret_name with its quiet time in *ret_quiet (the
 * latest one if several); returns how many sticky peers were dropped. */
size_t logs_tally_expire(logs_tally *t, uint64_t now, char *ret_name, size_t size, uint64_t *ret_quiet);
/* A cause elsewhere was repaired: failures counted so far are its evidence, not the peers'.
 * Counts and peers go, except sticky ones (their credential was refused by the gateway). */
void logs_tally_forget(logs_tally *t);

/* Failures of the class in the window. */
uint64_t logs_tally_count(const logs_tally *t, fault_class cls, uint64_t now);
/* Distinct peers failing in the class: exact (*ret_exact) while the table never overflowed
 * within the window, else estimated. */
uint64_t logs_tally_distinct(const logs_tally *t, fault_class cls, uint64_t now, bool *ret_exact);
/* The class's tracked peers, in the order they were first seen; pointers into t. */
size_t logs_tally_peers(const logs_tally *t, fault_class cls, const logs_tally_peer **ret, size_t max);
/* The retry window of a peer: how long without an attempt means it stopped trying. */
uint64_t logs_tally_quiet(const logs_tally *t, const logs_tally_peer *p);
/* "id@addr", "addr" or "id". */
void logs_tally_name(const logs_tally_peer *p, char *buf, size_t size);
/* Put back a sticky peer remembered across a restart (times already on this clock). */
void logs_tally_restore(logs_tally *t, fault_class cls, const logs_tally_peer *p);
/* Has the class's table stayed exact (never overflowed) within the window? */
bool logs_tally_exact(const logs_tally *t, fault_class cls, uint64_t now);
