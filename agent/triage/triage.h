/* Triage: from the checks' findings to diagnosis to incidents. After every finding a diagnosis
 * runs (coalesced to once per loop iteration) and the incidents are reconciled on it; before an
 * incident is resolved every check first looks again (the settle phase, which waits out what is
 * left of charon's start grace when charon has just come back); a healthy stretch that lasts
 * records the checks' last-good state.
 *
 * Those above triage (the runbook engine, the drill runner, the `diagnose` verb) learn what
 * happens by subscribing; they act on it through triage_incident_set_state() and
 * triage_trigger_all(). Triage names none of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/triage/incident.h"

typedef struct triage triage;
typedef struct check check;
typedef struct check_set check_set;
typedef struct finding finding;
typedef struct charon_hub charon_hub;
typedef struct ev_loop ev_loop;

/* What triage tells its subscribers; any callback may be NULL. */
typedef struct triage_listener {
        /* A check delivered a finding (it has been logged if its status changed). */
        void (*finding)(check *c, const finding *f, void *userdata);
        /* An incident opened or changed; the change is durable (or said to be not). */
        void (*incident)(const incident *i, incident_event ev, void *userdata);
        /* A complete diagnosis found every check OK and no incident active. */
        void (*healthy)(void *userdata);
        /* A diagnosis pass ran after the findings of one loop iteration. */
        void (*diagnosed)(void *userdata);
        void *userdata;
} triage_listener;

/* What triage uses. The incident store and the hub are borrowed and outlive triage. */
typedef struct triage_deps {
        ev_loop *event;
        incident_store *incidents;
        charon_hub *hub;            /* charon's state and when it last changed (its start grace) */
        /* one record on the audit trail */
        void (*audit)(void *userdata, const char *kind, const char *text);
        /* something the service status shows changed (incidents, the checks) */
        void (*changed)(void *userdata);
        void *userdata;
} triage_deps;

/* The configuration pieces triage reads; replaced on reload. */
typedef struct triage_params {
        uint64_t last_good_after_usec;    /* healthy this long before the last-good state is recorded */
        uint64_t charon_start_grace_usec; /* charon's start: connections may still be loading */
        const char *state_dir;            /* where incidents are kept (named in errors) */
} triage_params;

#define TRIAGE_LISTENERS_MAX 8u

typedef struct ikeheal_config ikeheal_config;
triage_params triage_params_of(const ikeheal_config *config);

int triage_new(triage **ret, const triage_deps *deps, const triage_params *params);
triage *triage_free(triage *t);
void triage_configure(triage *t, const triage_params *params);
/* Add a listener (copied; an identical one is not added twice); -ENOSPC past
 * TRIAGE_LISTENERS_MAX. Listeners are called in the order they subscribed. */
int triage_subscribe(triage *t, const triage_listener *l);
/* Remove every listener with this userdata (its owner is going away). */
void triage_unsubscribe(triage *t, void *userdata);

/* The check set's observer (check_set_new's callback; userdata: the triage). */
void triage_on_finding(check *c, const finding *f, bool changed, void *userdata);
/* The running checks (borrowed; NULL: none). Setting NULL ends a settle phase in progress. */
void triage_set_checks(triage *t, check_set *set);
check_set *triage_checks(const triage *t);

/* Move an incident along its life cycle (logged, audited, persisted). 0 also when it is already
 * in that state or resolved; -ENOENT: no such incident. */
int triage_incident_set_state(triage *t, uint64_t id, incident_state state, const char *note);
/* Every check runs again now. */
void triage_trigger_all(triage *t);
/* Diagnose once the loop has delivered what is pending (coalesces bursts of findings). */
void triage_schedule(triage *t);
/* Run diagnosis now over the checks' current findings and reconcile incidents. */
void triage_diagnose(triage *t);
/* The running checks as diagnosis sees them (at most max); returns how many. */
typedef struct diagnosis_input diagnosis_input;
size_t triage_inputs(const triage *t, diagnosis_input *in, size_t max);
/* The current state is the last good one (`accept`): the checks record it now. */
void triage_mark_good(triage *t);
/* Who holds the automatic last-good recording: while any does, a healthy stretch records
 * nothing — a change still to be confirmed, or a temporary measure (past its expiry a rollback
 * would put it back for good), must not become what rollbacks return to; triage_mark_good()
 * still records (`accept` and the guard refuse in those cases themselves). When the last hold
 * is lifted with nothing recorded, a stretch begins once every check has run again. */
typedef enum triage_good_hold {
        TRIAGE_HOLD_GUARD = 1u << 0,    /* a guarded change not confirmed yet */
        TRIAGE_HOLD_MEASURES = 1u << 1, /* a temporary measure in force */
} triage_good_hold;
void triage_hold_good(triage *t, triage_good_hold who, bool hold);
/* Has this healthy stretch's last-good state been recorded (or accepted)? */
bool triage_good_recorded(const triage *t);

/* Open (create) <state_dir>/incidents.log and replay it, saying what a torn tail or still-active
 * incidents mean. */
int triage_open_incidents(incident_store **ret, const char *state_dir);
