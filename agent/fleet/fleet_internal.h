/* Shared by the fleet's files, in floors: fleet_base.c (audit, the lease's life) ← fleet_gate.c
 * (slots: the engine's gate, waiting, giving back), fleet_drill.c (the drill slot) and
 * fleet_drills.c (the drill schedule key and its claims) ← fleet.c (lease, record, pause,
 * freeze and drill schedule keys, configuration). */
#pragma once

#include "agent/config/drill_config.h"
#include "agent/fleet/fleet.h"
#include "etcd_client.h"

#define FLEET_HOLDS_MAX 32u /* runs waiting for or holding slots (the engine's active runs) */
#define FLEET_CONTROLS_MAX 8u /* operators' pause/resume/freeze requests in flight */
#define FLEET_DRILL_NAME_SIZE 72u /* a drill's name (at most 64 characters) and its NUL */

enum { FLEET_KEY_PAUSE, FLEET_KEY_FREEZE, FLEET_KEY_DRILLS, _FLEET_KEY_MAX };

typedef struct fleet fleet;
typedef struct fleet_control_req {
        fleet *fleet;
        bool busy;
        char text[512];              /* the audit record once etcd answered */
} fleet_control_req;

typedef struct fleet_hold {
        fleet *fleet;
        uint64_t run;                /* 0: a free entry */
        char runbook[65];
        int64_t lease;               /* the lease its slots were taken under */
        bool have_group, have_fleet;
        unsigned group_slot, fleet_slot;
        bool inflight;               /* an acquisition is on its way */
        bool released;               /* the run ended while a request was on its way */
        uint64_t since_usec, deadline_usec; /* CLOCK_MONOTONIC */
        char why[256];               /* what it waits for */
} fleet_hold;

struct fleet {
        ev_loop *event;
        triage *triage;
        incident_store *incidents;
        engine *engine;
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;

        /* the configuration in force, copied */
        bool enabled;
        char endpoints_joined[2048];
        char prefix[FLEET_PREFIX_MAX + 1];
        char name[FLEET_NAME_MAX + 1];
        char group[FLEET_NAME_MAX + 1]; /* "" none */
        uint64_t ttl_usec, timeout_usec, slot_wait_usec;
        uint32_t slots_fleet, slots_group;
        char **on_partition;
        char state_dir[256];

        etcd_client *etcd;
        ev_source *tick;
        int64_t lease;               /* 0: none */
        uint64_t lease_alive_until;  /* CLOCK_MONOTONIC: a renewal sent before it said TTL left */
        uint64_t renew_sent;
        bool granting, renewing, putting, reading_pause, reading_freeze, reading_drills, counting;
        int64_t gateways;            /* records under <prefix>gateways/ at the last count; -1 unknown */
        unsigned count_ticks;        /* renewals since that count */
        char last_error[256];
        bool lease_lost_said, unreachable_said;

        /* the pause and freeze keys, each watched by a stream of its own (fleet.c); the read at
         * each renewal stays the fallback and the truth after a reconnect */
        struct fleet_key {
                fleet *fleet;
                unsigned which;          /* FLEET_KEY_PAUSE, FLEET_KEY_FREEZE */
                etcd_watch *watch;       /* NULL: not open (a retry is due) */
                bool created;            /* etcd confirmed the watch */
                unsigned attempt;        /* opens so far: which endpoint the next one asks */
                uint64_t backoff_usec;
                ev_source *retry;
                int64_t rev;             /* the revision of the key's state in force */
                uint64_t changes;        /* watch events applied: a read sent before one is stale */
                uint64_t read_changes;   /* `changes` when the read in flight was sent */
        } keys[_FLEET_KEY_MAX];
        uint64_t watch_events;       /* events on the pause and freeze keys the watches brought */

        bool paused;
        bool gate_was_paused;        /* the pause or freeze in force at the last look */
        char pause_reason[256];
        uint64_t freeze_until_usec;
        char freeze_reason[256];

        char vrrp_role[16];
        fleet_hold holds[FLEET_HOLDS_MAX];
        uint64_t drill_wait_usec;
        struct fleet_drill_slot {
                bool on;                 /* taken or waited for */
                bool have, inflight;
                bool dropped;            /* given back (or lost) while a request was on its way */
                int64_t lease;           /* the lease it was taken under */
                char drill[72];
                char why[320];           /* what it waits for */
                uint64_t since_usec, deadline_usec; /* CLOCK_MONOTONIC */
                fleet_drill_cb done;
                void *userdata;
        } drill;
        fleet_control_req controls[FLEET_CONTROLS_MAX];

        /* the fleet's drill schedule (fleet_drills.c) */
        struct fleet_drills {
                char *text;              /* the key's value in force (NULL: no key) */
                drill_schedule *entries; /* none while the key is absent or refused */
                size_t n;
                char error[768];         /* why the value was refused ("" it was not) */
                void (*changed)(void *userdata); /* the drill runner's subscription */
                void *userdata;
                struct fleet_claim {     /* a claim on its way (one at a time) */
                        bool busy;
                        char drill[FLEET_DRILL_NAME_SIZE];
                        uint64_t every_usec;
                        fleet_claim_cb done;
                        void *userdata;
                        bool had_prev;   /* the record as read: there, and its value */
                        char prev[FLEET_NAME_MAX + 32];
                } claim;
                struct fleet_drill_last { /* the last claim made, until its start is known */
                        char drill[FLEET_DRILL_NAME_SIZE];
                        int64_t rev;     /* the record's mod_revision after the claim */
                        bool had_prev;
                        char prev[FLEET_NAME_MAX + 32];
                } last;
                struct fleet_drill_seen { /* what this agent last learnt of a drill's record */
                        char drill[FLEET_DRILL_NAME_SIZE];
                        char text[200];
                } seen[DRILL_SCHEDULE_MAX];
                unsigned seen_next;
        } drills;
};

/* fleet_base.c */
/* Renewed, and etcd said so, within the lease's TTL: only then are slots held. */
bool fleet_lease_alive(const fleet *f);
void fleet_audit(fleet *f, const char *kind, const char *fmt, ...) _printf_(3, 4);

/* fleet_drill.c */
/* Every renewal: retry the drill slot's wait, end it after fleet.drill_wait. */
void fleet_drill_tick(fleet *f);
void fleet_drill_lease_lost(fleet *f);
/* The etcd client was dropped with what was in flight. */
void fleet_drill_stopped(fleet *f);
/* No fleet any more: a waiting drill is told (-ECANCELED). */
void fleet_drill_leave(fleet *f);

/* fleet_drills.c */
/* The <prefix>drills/schedule key's state (NULL: deleted), read or watched. */
void fleet_drills_apply(fleet *f, const etcd_kv *kv);
/* The etcd client was dropped with what was in flight, or the fleet left. */
void fleet_drills_stopped(fleet *f);

/* fleet_gate.c */
int fleet_gate_attach(fleet *f);
/* Every renewal: retry waiting acquisitions, escalate those past their wait. */
void fleet_gate_tick(fleet *f);
/* The lease is gone (expired, revoked, a restart): the slots under it are no longer held. */
void fleet_gate_lease_lost(fleet *f);
/* Ask the engine to try again every run waiting at the gate (the configuration changed). */
void fleet_gate_recheck(fleet *f);
/* The fleet's pause or freeze may have lifted (a read of their keys, a freeze's end, the fleet
 * left): then what it only proposed is decided again (engine_redecide_proposed). */
void fleet_gate_pause_check(fleet *f);
/* Forget every hold and let the runs that waited go on (the fleet was left). */
void fleet_gate_release_all(fleet *f);
unsigned fleet_gate_held(const fleet *f);
unsigned fleet_gate_waiting(const fleet *f);
