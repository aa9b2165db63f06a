/* The fleet's drill slot (agent/fleet/fleet.h): one chaos drill at a time in the whole fleet, so
 * that two gateways never break themselves on purpose at once. The slot is the one key
 * <prefix>slots/drill/0, created under this agent's lease (etcd_slot_acquire with K = 1): a
 * dead agent's slot frees itself with its lease. A drill asks before it starts; the wait is
 * retried at every renewal, said once in the audit (naming the holder), and ends after
 * fleet.drill_wait. Without a live lease a drill is refused at once: a drill is never worth
 * taking a stale view of the fleet. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/fleet/fleet_internal.h"
#include "duration.h"
#include "now.h"

#define DRILL_SLOTS "slots/drill/"

static void on_deleted(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        /* a slot not deleted frees itself with the lease */
}

static void slot_key(const fleet *f, char *buf, size_t n) {
        (void) snprintf(buf, n, "%s" DRILL_SLOTS "0", f->prefix);
}

static void forget(fleet *f) {
        f->drill = (struct fleet_drill_slot){};
}

/* Call the waiter once, the state already as it will stay (done may ask for the slot again or
 * give it back). */
static void finish(fleet *f, int error, const char *why) {
        fleet_drill_cb done = f->drill.done;
        void *userdata = f->drill.userdata;

        f->drill.done = NULL;
        if (error < 0)
                forget(f);
        if (done)
                done(userdata, error, why);
}

static void acquire(fleet *f);

static void on_slot(etcd_client *c, int error, unsigned slot, const char *why, void *userdata) {
        fleet *f = userdata;
        char d[32], old[sizeof(f->drill.why)];

        f->drill.inflight = false;
        if (f->drill.dropped) {
                if (error == 0 && f->etcd) {
                        char key[FLEET_PREFIX_MAX + 32];
                        slot_key(f, key, sizeof(key));
                        (void) etcd_delete(f->etcd, key, on_deleted, f);
                }
                forget(f);
                return;
        }
        if (error == 0) {
                f->drill.have = true;
                fleet_audit(f, "fleet_drill", "drill %s took the fleet's drill slot after %s", f->drill.drill,
                            duration_format(mono_usec() - f->drill.since_usec, d, sizeof(d)));
                finish(f, 0, "");
                return;
        }
        (void) snprintf(old, sizeof(old), "%s", f->drill.why);
        if (error == -EBUSY)
                (void) snprintf(f->drill.why, sizeof(f->drill.why), "waiting for the fleet's drill slot: %s", why);
        else
                (void) snprintf(f->drill.why, sizeof(f->drill.why), "waiting for etcd (%s)",
                                why && why[0] ? why : strerror(-error));
        if (strcmp(old, f->drill.why) != 0)
                fleet_audit(f, "fleet_drill", "drill %s waits: %s", f->drill.drill, f->drill.why);
}

static void acquire(fleet *f) {
        char prefix[FLEET_PREFIX_MAX + 32], holder[FLEET_NAME_MAX + 80];
        int r;

        if (f->drill.inflight || f->drill.have || !f->etcd || !fleet_lease_alive(f))
                return;
        f->drill.lease = f->lease;
        (void) snprintf(prefix, sizeof(prefix), "%s" DRILL_SLOTS, f->prefix);
        (void) snprintf(holder, sizeof(holder), "%s/drill-%s", f->name, f->drill.drill);
        r = etcd_slot_acquire(f->etcd, prefix, 1, holder, f->lease, on_slot, f);
        f->drill.inflight = r >= 0;
}

int fleet_drill_take(fleet *f, const char *drill, fleet_drill_cb done, void *userdata, char *why, size_t n) {
        if (!f || !f->enabled)
                return 1;
        if (f->drill.on) {
                (void) snprintf(why, n, "drill %s %s the fleet's drill slot", f->drill.drill,
                                f->drill.have ? "holds" : "waits for");
                return -EBUSY;
        }
        if (!fleet_lease_alive(f)) {
                (void) snprintf(why, n, "etcd unavailable (%.160s): a drill needs the fleet's drill slot (one drill at a "
                                "time in the fleet), so it is not started", f->last_error[0] ? f->last_error : "no lease yet");
                return -EHOSTUNREACH;
        }
        f->drill = (struct fleet_drill_slot){ .on = true, .done = done, .userdata = userdata, .since_usec = mono_usec() };
        f->drill.deadline_usec = f->drill.since_usec + f->drill_wait_usec;
        (void) snprintf(f->drill.drill, sizeof(f->drill.drill), "%s", drill);
        (void) snprintf(f->drill.why, sizeof(f->drill.why), "asking for the fleet's drill slot");
        acquire(f);
        (void) snprintf(why, n, "%s", f->drill.why);
        return 0;
}

void fleet_drill_release(fleet *f) {
        char key[FLEET_PREFIX_MAX + 32];

        if (!f || !f->drill.on)
                return;
        f->drill.done = NULL;
        if (f->drill.inflight) {
                f->drill.dropped = true; /* the reply gives back what it took */
                return;
        }
        if (f->drill.have) {
                if (f->etcd && f->drill.lease == f->lease) {
                        slot_key(f, key, sizeof(key));
                        (void) etcd_delete(f->etcd, key, on_deleted, f);
                }
                fleet_audit(f, "fleet_drill", "drill %s gives back the fleet's drill slot", f->drill.drill);
        } else if (!f->drill.dropped)
                fleet_audit(f, "fleet_drill", "drill %s no longer waits for the fleet's drill slot", f->drill.drill);
        forget(f);
}

bool fleet_drill_waiting(const fleet *f, char *why, size_t n) {
        if (!f || !f->drill.on || f->drill.have || f->drill.dropped)
                return false;
        if (why && n)
                (void) snprintf(why, n, "%s", f->drill.why);
        return true;
}

bool fleet_drill_held(const fleet *f) {
        return f && f->drill.on && f->drill.have && !f->drill.dropped;
}

void fleet_drill_tick(fleet *f) {
        char d[32], why[400];

        if (!f->drill.on || f->drill.have || f->drill.dropped)
                return;
        if (mono_usec() >= f->drill.deadline_usec) {
                (void) snprintf(why, sizeof(why), "no drill slot within %s (fleet.drill_wait): %s",
                                duration_format(f->drill_wait_usec, d, sizeof(d)), f->drill.why);
                fleet_audit(f, "fleet_drill", "drill %s not started: %s", f->drill.drill, why);
                if (f->drill.inflight) {
                        fleet_drill_cb done = f->drill.done;
                        void *userdata = f->drill.userdata;
                        f->drill.done = NULL;
                        f->drill.dropped = true;
                        if (done)
                                done(userdata, -ETIMEDOUT, why);
                        return;
                }
                finish(f, -ETIMEDOUT, why);
                return;
        }
        acquire(f);
}

void fleet_drill_lease_lost(fleet *f) {
        if (f->drill.on && f->drill.have) {
                f->drill.have = false;
                fleet_audit(f, "fleet_drill", "drill %s: the fleet's drill slot went with the lease (the drill goes on; "
                            "its fault is bounded by its own expiry)", f->drill.drill);
                /* it is not waited for again: the drill already runs */
                f->drill.dropped = true;
        }
}

void fleet_drill_stopped(fleet *f) {
        f->drill.inflight = false; /* abandoned with the client */
        if (f->drill.dropped)
                forget(f);
}

void fleet_drill_leave(fleet *f) {
        if (!f->drill.on)
                return;
        if (f->drill.have || f->drill.dropped) {
                forget(f);
                return;
        }
        finish(f, -ECANCELED, "coordination through etcd stopped (fleet: removed)");
}
