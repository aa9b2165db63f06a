/* Incidents: the problems diagnosis finds, given an identity, a life cycle and a memory that
 * survives agent restarts.
 *
 *   open ──► remediating ──► resolved
 *     │           │
 *     └──────► escalated ──► resolved
 *
 * A problem (agent/triage/diagnosis.h) matches the active incident of the same signature (its class:
 * one root cause, one incident) and updates it, or opens a new one. An active incident whose
 * problem is gone from a complete diagnosis is resolved. The runbook engine moves incidents to
 * remediating and escalated (through triage_incident_set_state()).
 *
 * Every change is written to the durable state log (common/statelog.h) under the state
 * directory before it is reported, so a restarted agent knows what was open; after a restart
 * the open incidents are re-checked against the first complete diagnosis. Updates are
 * coalesced: an incident is written (and reported) at most once per INCIDENT_COALESCE_USEC
 * while only its details change (a flood renames its peers many times a second); the updates
 * in between are carried in memory, counted, and written with the next record — at the latest
 * when the interval ends (a timer, once incident_store_attach_event() gave the store a loop),
 * with a state change, or when the store is freed. Opening and state changes are never held. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/triage/diagnosis.h"
#include "macro.h"
#include "vici_msg.h"

#define INCIDENT_KEEP_RESOLVED 200u /* resolved incidents remembered (for `incidents`) */
#define INCIDENT_EVIDENCE_MAX DIAGNOSIS_EVIDENCE_MAX
#define INCIDENT_COALESCE_USEC 1000000ull /* at most one durable update per incident per second */

typedef enum incident_state {
        INCIDENT_OPEN,
        INCIDENT_REMEDIATING,
        INCIDENT_ESCALATED,
        INCIDENT_RESOLVED,
        _INCIDENT_STATE_MAX,
} incident_state;

typedef struct incident {
        uint64_t id;
        fault_class cls;
        fault_scope scope;
        check_status severity;
        unsigned confidence;
        incident_state state;
        char reason[64];
        char peers[512];
        char root_check[64];
        char summary[512];
        char explains[256];
        char note[256];           /* why it changed state last (escalation, resolution) */
        char *evidence[INCIDENT_EVIDENCE_MAX];
        size_t n_evidence;
        uint64_t opened_usec;     /* CLOCK_REALTIME */
        uint64_t updated_usec;
        uint64_t resolved_usec;
        uint32_t updates;
        /* in memory only */
        uint64_t persisted_usec;  /* when it was last written */
        uint32_t coalesced;       /* updates carried since (reported with the next record) */
} incident;

typedef enum incident_event {
        INCIDENT_OPENED,
        INCIDENT_UPDATED,
        INCIDENT_STATE_CHANGED,
} incident_event;

typedef struct incident_store incident_store;
/* For INCIDENT_UPDATED, i->coalesced says how many updates this record carries beyond one. */
typedef void (*incident_cb)(const incident *i, incident_event ev, void *userdata);
typedef struct ev_loop ev_loop;

/* `state_dir` NULL: memory only (tests, --check-config). Otherwise the log
 * <state_dir>/incidents.log is opened (created) and replayed; *ret_dropped (if non-NULL) says
 * how many bytes of a torn tail were dropped. */
int incident_store_new(incident_store **ret, const char *state_dir, uint64_t *ret_dropped);
incident_store *incident_store_free(incident_store *s);
/* Write held updates when their interval ends, on this loop, reporting them to cb. */
int incident_store_attach_event(incident_store *s, ev_loop *e, incident_cb cb, void *userdata);
/* Write the held updates whose interval ended by now (now: CLOCK_REALTIME µs). */
int incident_store_flush(incident_store *s, uint64_t now_usec, incident_cb cb, void *userdata);
DEFINE_FREE_FUNC(incident_store, incident_store_free);

/* Reconcile with a complete diagnosis at time now (CLOCK_REALTIME µs). `in` are the checks the
 * diagnosis saw: an incident whose problem is gone is resolved only when its root check has a
 * verdict (or no longer exists) — a check that cannot tell (UNKNOWN: charon not connected yet
 * after a restart) proves nothing. cb is called for every change, after it is durable. <0: the state
 * log could not be written (the change is kept in memory and the error returned, so the agent
 * can say so). */
int incident_store_apply(incident_store *s, const diagnosis *d, const diagnosis_input *in,
                         size_t n_in, uint64_t now_usec, incident_cb cb, void *userdata);
/* Is an active incident about to change hands: its problem gone (it would be resolved), or the
 * check that found it healthy again while others still report the problem? Either way the
 * picture may be stale: the agent lets every check look again before reconciling. */
bool incident_store_would_resolve(const incident_store *s, const diagnosis *d, const diagnosis_input *in,
                                  size_t n_in);
/* Move an incident along its life cycle (the runbook engine, operators). -ENOENT, -EINVAL for
 * a move the life cycle does not allow (nothing leaves resolved). */
int incident_store_set_state(incident_store *s, uint64_t id, incident_state state,
                             const char *note, uint64_t now_usec, incident_cb cb, void *userdata);

size_t incident_store_size(const incident_store *s);
/* Newest first. */
const incident *incident_store_get(const incident_store *s, size_t i);
const incident *incident_store_find(const incident_store *s, uint64_t id);
size_t incident_store_active(const incident_store *s);

/* For the control socket: add one incident as a section named by its id. */
void incident_to_vici(const incident *i, vici_builder *b, bool with_evidence);

const char *incident_state_to_string(incident_state s);
int incident_state_from_string(const char *s, incident_state *ret);
