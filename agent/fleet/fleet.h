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
 *
 * It sits above the engine: it sets the engine's gate (engine_set_gate) and learns of each run's
 * end by subscription, when the run's slots are given back. Without a lease known to be alive
 * (etcd unreachable, no quorum) a gated step is held — never taken on a stale view — unless its
 * runbook is in fleet.on_partition; a hold longer than fleet.slot_wait escalates the run. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent/config/fleet_config.h"
#include "macro.h"

typedef struct fleet fleet;
typedef struct triage triage;
typedef struct incident_store incident_store;
typedef struct engine engine;

/* What the fleet uses; borrowed, they outlive it. */
typedef struct fleet_deps {
        sd_event *event;
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
        uint64_t watch_events;       /* changes of the pause and freeze keys the watches brought */
} fleet_status;
void fleet_status_get(const fleet *f, fleet_status *ret);

typedef enum fleet_control {
        FLEET_PAUSE,   /* <prefix>pause = reason */
        FLEET_RESUME,  /* <prefix>pause and <prefix>freeze deleted */
        FLEET_FREEZE,  /* <prefix>freeze = "UNIX_SECONDS reason" */
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

int fleet_control_send(fleet *f, fleet_control op, const char *reason, uint64_t until_usec, const char *who, char *why,
                       size_t n);
