/* Shared by the drill runner's files: drill_run.c (the state machine), drill_store.c (durable
 * records) and drill_report.c (verdicts, scores, rendering). */
#pragma once

#include "ev.h"

#include "agent/config/config.h"
#include "agent/drill/drill_run.h"
#include "agent/fleet/fleet.h"
#include "now.h"
#include "record_store.h"

struct drill_runner {
        ev_loop *event;
        triage *triage;             /* incidents' life cycle, the running checks */
        incident_store *incidents;
        engine *engine;
        notifier *notifier;         /* NULL: none */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
        const ikeheal_config *config; /* the one in force (drill_runner_reconfigure) */
        record_store store;         /* <state_dir>/drills.log; its log NULL: memory only */
        drill_rec **recs;           /* oldest first, the active one included */
        size_t n_recs;
        uint64_t next_id;
        uint64_t undecodable;
        drill_rec *active;

        /* the active drill's definition (copied: a reload may replace the set mid-drill) */
        char **steady, **abort_checks, **tolerate;
        uint64_t steady_within_usec, abort_after_usec;
        bool auto_approve;
        uint64_t settle_since;      /* findings must be newer than this to count as steady */

        action_call *call;          /* the fault's apply or revert in flight */
        bool end_pending;           /* end once the revert in flight returns */
        drill_phase end_phase;
        char end_note[384];
        ev_source *deadline_timer, *abort_timer, *settle_timer, *approve_defer, *schedule_timer;
        ev_source *give_up_timer; /* recover_within + its margin: the drill cannot pass any more */
        ev_source *retry_timer;   /* a failed removal of the fault, tried again */
        uint64_t retry_usec;            /* its current backoff */
        bool retried;
        uint64_t schedule_refused;  /* last refused scheduled start (CLOCK_REALTIME) */
        uint64_t approve_run;
        void (*stop_done)(void *userdata);
        void *stop_userdata;
        bool stopping;

        fleet *fleet;               /* the drill slot, one drill at a time in the fleet (NULL: none) */
        bool slot_held;             /* … held for the active drill */
        struct drill_wait {         /* a start waiting for that slot */
                bool on;
                char name[DRILL_NAME_MAX + 1];
                bool scheduled;
                uint32_t uid;
                char user[64];
                uint64_t since_usec; /* CLOCK_REALTIME */
                bool fleet_claim;    /* a fleet-scheduled start: its claim is given back if refused */
        } wait;
        bool fleet_subscribed;      /* to the fleet's drill schedule */
        bool claiming;              /* a claim of a fleet-scheduled start on its way */
        char claim_drill[DRILL_NAME_MAX + 1];
        char fleet_said[600];       /* the last refusal of a fleet-scheduled start said */
        bool fleet_unknown_said;    /* an entry naming no drill here said (until the schedule changes) */
        size_t fleet_next;          /* the fleet's entry a look goes on with */
};

/* drill_audit.c */
void drill_audit(drill_runner *dr, const char *kind, const char *fmt, ...) _printf_(3, 4);

/* drill_store.c */
int drill_store_open(drill_runner *dr, const char *state_dir);
int drill_persist(drill_runner *dr, const drill_rec *r);
/* Persist the active drill's record (if there is one). */
void drill_save(drill_runner *dr);
/* Forget the oldest finished records beyond the configured history. */
void drill_prune(drill_runner *dr, size_t keep);
drill_rec *drill_rec_free(drill_rec *r);

/* drill_report.c */
/* Fill detect_ok / recover_ok and the note's verdict from the timeline. */
void drill_judge(drill_rec *r);
/* The weighted score per fault class over the history (section "scores"). */
void drill_scores_to_vici(const drill_runner *dr, vici_builder *b);

/* drill_run.c: one drill's state machine */
void drill_runtime_clear(drill_runner *dr);
/* End what a previous life (or the drill just finished) left: the next interrupted drill. */
void drill_reconcile_next(drill_runner *dr);
/* End the active drill: how = DRILL_ABORTED, or DRILL_FAILED/DRILL_PASSED to have the timeline
 * judged; the fault is removed first. The first reason wins. */
void drill_end(drill_runner *dr, drill_phase how, const char *fmt, ...) _printf_(3, 4);
void drill_fault_revert(drill_runner *dr, const char *why);
/* A drill is active and not ending: what happens now counts. */
bool drill_watching(const drill_runner *dr);
/* Stamp a point of the active drill's timeline (once; not before the injection). */
void drill_mark_set(drill_runner *dr, drill_mark m, uint64_t when);
/* Recovered (or the fault removed): wait for the steady state. */
void drill_settle(drill_runner *dr);
/* Settling: end the drill as passed once the steady state is back. */
void drill_try_steady(drill_runner *dr);
/* remove_fault recovery: remove the fault once detection (and the observe run) happened. */
void drill_maybe_remove(drill_runner *dr);
/* The fault's apply returned: act on what was seen while it was in flight (the runbook may have
 * healed the fault, or the incident opened, before the apply's last step came back). */
void drill_fault_injected(drill_runner *dr);
/* The fault was removed by the drill itself (remove_fault recovery): settle. */
void drill_fault_removed(drill_runner *dr);

/* drill_schedule.c */
void drill_schedule_start(drill_runner *dr);
