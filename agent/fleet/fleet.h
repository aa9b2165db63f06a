/* The fleet: this gateway among the others, coordinated through etcd (the `fleet:` section).
 *
 *   a lease (fleet.lease_ttl), renewed every third of its life while the agent lives
 *   └─ <prefix>gateways/<name>         this gateway's record (agent/fleet/fleet_record.h), under it
 *   └─ <prefix>slots/fleet/<i>         K slots for disruptive steps in the whole fleet, and
 *      <prefix>slots/group/<g>/<i>     K in the VRRP group: taken by a run before such a step,
 *                                      under the lease, so a dead agent's slot frees itself
 *   └─ <prefix>slots/drill/0           one chaos drill at a time in the fleet
 *   <prefix>pause, <prefix>freeze      watched (one stream each, reopened with backoff) and
 *                                      read every renewal: while set (a freeze until its end
 *                                      time, "UNIX_SECONDS reason") grades are raised as by a
 *                                      local pause
 *   <prefix>drills/schedule            watched and read the same way: drills every agent runs
 *                                      on schedule (agent/fleet/fleet_drills.c)
 *   <prefix>drills/last/<drill>        a drill's last start on that schedule, claimed in a
 *                                      transaction so that its `every` holds fleet-wide
 *
 * It sits above the engine: it sets the engine's gate (engine_set_gate) and learns of each run's
 * end by subscription, when the run's slots are given back. Without a lease known to be alive
 * (etcd unreachable, no quorum) a gated step is held — never taken on a stale view — unless its
 * runbook is in fleet.on_partition; a hold longer than fleet.slot_wait escalates the run. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/fleet_config.h"
#include "ev.h"
#include "macro.h"

typedef struct fleet fleet;
typedef struct triage triage;
typedef struct incident_store incident_store;
typedef struct engine engine;

/* What the fleet uses; borrowed, they outlive it. */
typedef struct fleet_deps {
        ev_loop *event;
        triage *triage;             /* the VRRP role (the vrrp check's findings) */
        incident_store *incidents;  /* active incidents by class, for the record */
        engine *engine;             /* its gate; its runs (drills, slots given back at a run's end) */
        void (*audit)(void *userdata, const char *kind, const char *text);
        void *audit_userdata;
} fleet_deps;

int fleet_new(fleet **ret, const fleet_deps *deps);
fleet *fleet_free(fleet *f);
DEFINE_FREE_FUNC(fleet, fleet_free);
/* The configuration in force (copied): starts, restarts (endpoints, prefix, name or TTL changed)
 * or stops coordination. state_dir: where the drain file is. -ENOMEM, -EINVAL. */
int fleet_configure(fleet *f, const fleet_config *c, const char *state_dir);

typedef struct fleet_status {
        bool enabled;
        bool lease_alive;            /* renewed within its TTL: slots may be held */
        int64_t lease;
        char name[FLEET_NAME_MAX + 1];
        char prefix[FLEET_PREFIX_MAX + 1];
        char last_error[256];        /* the last request that failed ("" none since a success) */
        bool paused;
        char pause_reason[256];
        uint64_t freeze_until_usec;  /* CLOCK_REALTIME; 0: none */
        unsigned slots_held, waiting;
        uint64_t requests;           /* sent to etcd */
        int64_t gateways;            /* records of the fleet at the last count (every ~30 s); -1 unknown */
        bool drill_slot_held, drill_waiting;
        bool watching;               /* both keys' watch streams are open (etcd confirmed them) */
        uint64_t watch_events;       /* changes of the pause, freeze and drill schedule keys the watches brought */
        size_t drills;               /* entries of the fleet's drill schedule in force */
        char drills_error[768];      /* why its value was refused ("" it was not) */
} fleet_status;
void fleet_status_get(const fleet *f, fleet_status *ret);

typedef enum fleet_control {
        FLEET_PAUSE,   /* <prefix>pause = reason */
        FLEET_RESUME,  /* <prefix>pause and <prefix>freeze deleted */
        FLEET_FREEZE,  /* <prefix>freeze = "UNIX_SECONDS reason" */
        FLEET_DRILLS_SET,   /* <prefix>drills/schedule = the schedule (`reason`: its text, checked first) */
        FLEET_DRILLS_CLEAR, /* <prefix>drills/schedule deleted */
} fleet_control;
/* Write (or delete) the fleet's pause or freeze key for every agent of the fleet, `who` asking;
 * audited when etcd answers. until_usec: the freeze's end (CLOCK_REALTIME). -ENOTCONN (not in
 * a fleet), -EHOSTUNREACH (etcd not reached lately), -EINVAL, with `why`. */
/* The fleet's drill slot: one drill at a time in the whole fleet (<prefix>slots/drill/0, under
 * the lease, so a dead agent's slot frees itself). fleet_drill_take(): 1 no fleet, go on now;
 * 0 waiting: done(userdata, error, why) is called once — 0 the slot is held, -ETIMEDOUT not
 * within fleet.drill_wait, -ECANCELED the fleet was left; <0 refused now, with why:
 * -EHOSTUNREACH no live lease (etcd unreachable), -EBUSY this agent's slot is taken or waited
 * for already. */
typedef void (*fleet_drill_cb)(void *userdata, int error, const char *why);
int fleet_drill_take(fleet *f, const char *drill, fleet_drill_cb done, void *userdata, char *why, size_t n);
/* Give the slot back, or stop waiting (done is not called). */
void fleet_drill_release(fleet *f);
/* Waiting for the drill slot? Then why (what it waits for). */
bool fleet_drill_waiting(const fleet *f, char *why, size_t n);
bool fleet_drill_held(const fleet *f);

/* The fleet's drill schedule (<prefix>drills/schedule, agent/fleet/fleet_drills.c): drills every
 * agent runs on schedule besides its own, each claimed in etcd first so that `every` holds for
 * the whole fleet. fleet_drills(): the entries in force (none while the key is absent or its
 * value refused); fleet_drills_error(): why it was refused ("" it was not); fleet_drills_text():
 * the key's value (NULL: none). fleet_drills_subscribe(): cb is called whenever the schedule in
 * force changes (one subscriber; NULL to stop); fleet_drills_forget() drops the subscription and
 * the claim callback of `userdata`. */
typedef struct drill_schedule drill_schedule;
size_t fleet_drills(const fleet *f, const drill_schedule **ret);
const char *fleet_drills_error(const fleet *f);
const char *fleet_drills_text(const fleet *f);
void fleet_drills_subscribe(fleet *f, void (*cb)(void *userdata), void *userdata);
void fleet_drills_forget(fleet *f, void *userdata);
/* Claim the fleet's next start of `drill` (at most one per every_usec in the whole fleet):
 * 0 asked — done(userdata, r, why) once: r 1 claimed (this gateway starts it now: the start is
 * recorded in etcd), 0 not due (why: where and when it last started, or who claimed it first),
 * <0 an error (-EBADMSG the record does not parse, an etcd error, -ECANCELED the fleet left);
 * <0 refused now, with why (-ENOTCONN no fleet, -EBUSY a claim on its way, -EHOSTUNREACH no
 * live lease). */
typedef void (*fleet_claim_cb)(void *userdata, int r, const char *why);
int fleet_drills_claim(fleet *f, const char *drill, uint64_t every_usec, fleet_claim_cb done, void *userdata, char *why,
                       size_t n);
/* The claimed start of `drill` was not made here (refused): give the claim back (the record
 * restored as it was, unless it changed since). */
void fleet_drills_unclaim(fleet *f, const char *drill);
/* What this agent last learnt of `drill`'s fleet record (NULL: nothing yet). */
const char *fleet_drills_seen(const fleet *f, const char *drill);
/* "UNIX_SECONDS GATEWAY", a drill's fleet record: its start (CLOCK_REALTIME µs) and where.
 * -EBADMSG when it is not exactly that. */
int fleet_drill_last_parse(const char *value, uint64_t *ret_usec, char *gateway, size_t n);

int fleet_control_send(fleet *f, fleet_control op, const char *reason, uint64_t until_usec, const char *who, char *why,
                       size_t n);
