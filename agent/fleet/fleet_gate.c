/* Fleet slots as the engine's gate (agent/fleet/fleet.h). A gated step — one that drops
 * sessions (the plan says disruptive: a daemon restart, a failover) or swaps what the gateway
 * runs on (a configuration rollback, a certificate swap, a firewall restore) — starts only once
 * its run holds a slot of the VRRP group (if any) and then one of the fleet, both taken under the
 * lease; the run keeps them to its end (its rollback is as disruptive as its steps) and gives
 * them back then. The group slot is taken first: a run waiting for a fleet slot then keeps its
 * partner from taking one too, so the two of a pair are never both at work.
 *
 * A wait is retried at every renewal of the lease, never in a tight loop, and ends in an
 * escalation after fleet.slot_wait. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine/engine.h"
#include "agent/fleet/fleet_internal.h"
#include "duration.h"
#include "now.h"
#include "yaml_bind.h"

/* Kinds gated whatever their plan says (they do not drop sessions, but change what the gateway
 * runs on, so two gateways must not do it at once). */
static const char *const gated_kinds[] = { "failover", "config_rollback", "cert_standby", "nft_restore", NULL };

static bool step_gated(const char *kind, bool disruptive) {
        return disruptive || strv_contains((char **) gated_kinds, kind);
}

static fleet_hold *hold_find(fleet *f, uint64_t run_id) {
        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++)
                if (f->holds[i].run == run_id)
                        return &f->holds[i];
        return NULL;
}

static void hold_key(const fleet *f, const fleet_hold *h, bool group, char *buf, size_t n) {
        if (group)
                (void) snprintf(buf, n, "%sslots/group/%s/%u", f->prefix, f->group, h->group_slot);
        else
                (void) snprintf(buf, n, "%sslots/fleet/%u", f->prefix, h->fleet_slot);
}

static void on_deleted(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        /* a slot not deleted frees itself with the lease */
}

/* Give the slots of h back (if still under the lease in force) and free the entry. */
static void hold_release(fleet *f, fleet_hold *h) {
        char key[FLEET_PREFIX_MAX + 96];

        if (h->inflight) {
                h->released = true; /* the reply gives back what it took */
                return;
        }
        if (f->etcd && h->lease && h->lease == f->lease) {
                if (h->have_fleet) {
                        hold_key(f, h, false, key, sizeof(key));
                        (void) etcd_delete(f->etcd, key, on_deleted, f);
                }
                if (h->have_group) {
                        hold_key(f, h, true, key, sizeof(key));
                        (void) etcd_delete(f->etcd, key, on_deleted, f);
                }
        }
        if (h->have_fleet || h->have_group)
                fleet_audit(f, "fleet_slot", "run %llu gives back its fleet slot%s", (unsigned long long) h->run,
                            h->have_group && h->have_fleet ? "s" : "");
        *h = (fleet_hold){};
}

static bool hold_complete(const fleet *f, const fleet_hold *h) {
        return h->have_fleet && (!f->group[0] || h->have_group) && h->lease == f->lease && fleet_lease_alive(f);
}

static void acquire(fleet *f, fleet_hold *h);

static void on_slot(etcd_client *c, int error, unsigned slot, const char *why, void *userdata) {
        fleet_hold *h = userdata;
        fleet *f = h->fleet;
        bool group = f->group[0] && !h->have_group;
        uint64_t run_id = h->run;
        char old[sizeof(h->why)];

        h->inflight = false;
        if (error == 0) {
                if (group) {
                        h->have_group = true;
                        h->group_slot = slot;
                } else {
                        h->have_fleet = true;
                        h->fleet_slot = slot;
                }
        }
        if (h->released) {
                hold_release(f, h);
                return;
        }
        (void) snprintf(old, sizeof(old), "%s", h->why);
        if (error == 0 && !hold_complete(f, h)) {
                acquire(f, h); /* the group's slot taken: now the fleet's */
                return;
        }
        if (error == 0) {
                char d[32];
                fleet_audit(f, "fleet_slot", "run %llu (%s) took fleet slot %u%s%s after %s", (unsigned long long) run_id,
                            h->runbook, h->fleet_slot, f->group[0] ? " and a slot of VRRP group " : "", f->group,
                            duration_format(mono_usec() - h->since_usec, d, sizeof(d)));
                engine_gate_reopen(f->engine, run_id, 0, "");
                return;
        }
        if (error == -EBUSY)
                (void) snprintf(h->why, sizeof(h->why), "waiting for a %s slot: %s", group ? "VRRP group" : "fleet", why);
        else
                (void) snprintf(h->why, sizeof(h->why), "held: etcd unavailable (%s)", why && why[0] ? why : strerror(-error));
        /* the engine records a new reason once */
        if (strcmp(old, h->why) != 0)
                engine_gate_reopen(f->engine, run_id, 0, "");
}

static void acquire(fleet *f, fleet_hold *h) {
        char prefix[FLEET_PREFIX_MAX + 96], holder[FLEET_NAME_MAX + 32];
        bool group = f->group[0] && !h->have_group;
        int r;

        if (h->inflight || !f->etcd || !fleet_lease_alive(f))
                return;
        if (h->lease != f->lease) { /* slots of a lease that is gone are no one's */
                h->have_fleet = h->have_group = false;
                h->lease = f->lease;
        }
        if (group)
                (void) snprintf(prefix, sizeof(prefix), "%sslots/group/%s/", f->prefix, f->group);
        else
                (void) snprintf(prefix, sizeof(prefix), "%sslots/fleet/", f->prefix);
        (void) snprintf(holder, sizeof(holder), "%s/run%llu", f->name, (unsigned long long) h->run);
        r = etcd_slot_acquire(f->etcd, prefix, group ? f->slots_group : f->slots_fleet, holder, f->lease, on_slot, h);
        h->inflight = r >= 0;
}

static int gate_step(const run *r, const char *kind, bool disruptive, char *why, size_t n, void *userdata) {
        fleet *f = userdata;
        fleet_hold *h;

        if (!f->enabled || !step_gated(kind, disruptive))
                return 1;
        h = hold_find(f, r->id);
        if (h && hold_complete(f, h)) {
                (void) snprintf(why, n, "fleet slot %u held", h->fleet_slot);
                return 1;
        }
        if (!fleet_lease_alive(f) && strv_contains(f->on_partition, r->runbook)) {
                (void) snprintf(why, n, "etcd unavailable (%s), but runbook %s may go on (fleet.on_partition)",
                                f->last_error[0] ? f->last_error : "no lease", r->runbook);
                return 1;
        }
        if (!h) {
                h = hold_find(f, 0);
                if (!h) {
                        (void) snprintf(why, n, "more than %u runs wait for fleet slots", FLEET_HOLDS_MAX);
                        return -ENOSPC;
                }
                *h = (fleet_hold){ .fleet = f, .run = r->id, .since_usec = mono_usec() };
                h->deadline_usec = h->since_usec + f->slot_wait_usec;
                (void) snprintf(h->runbook, sizeof(h->runbook), "%s", r->runbook);
                (void) snprintf(h->why, sizeof(h->why), "waiting for a fleet slot");
                acquire(f, h);
        }
        if (!fleet_lease_alive(f))
                (void) snprintf(h->why, sizeof(h->why), "held: etcd unavailable (%.160s); no fleet-gated step without a "
                                "live lease", f->last_error[0] ? f->last_error : "no lease yet");
        (void) snprintf(why, n, "%s", h->why);
        return 0;
}

static bool gate_paused(void *userdata) {
        fleet *f = userdata;
        return f->enabled && (f->paused || (f->freeze_until_usec && real_usec() < f->freeze_until_usec));
}

void fleet_gate_pause_check(fleet *f) {
        bool now = gate_paused(f);

        if (f->gate_was_paused && !now && f->engine) {
                f->gate_was_paused = false;
                fleet_audit(f, "fleet", "the fleet's pause or freeze lifted: runs it only proposed are decided again");
                engine_redecide_proposed(f->engine, "the fleet's pause or freeze lifted");
        }
        f->gate_was_paused = now;
}

static void on_run_changed(const run *r, void *userdata) {
        fleet *f = userdata;
        fleet_hold *h = hold_find(f, r->id);
        if (h && r->id && !run_state_active(r->state))
                hold_release(f, h);
}

int fleet_gate_attach(fleet *f) {
        if (!f->engine)
                return 0;
        engine_set_gate(f->engine, &(engine_gate){ .step = gate_step, .paused = gate_paused, .userdata = f });
        return engine_subscribe(f->engine, &(engine_listener){ .run_changed = on_run_changed, .userdata = f });
}

void fleet_gate_tick(fleet *f) {
        uint64_t now = mono_usec(), late[FLEET_HOLDS_MAX];
        char whys[FLEET_HOLDS_MAX][320];
        size_t n_late = 0;

        fleet_gate_pause_check(f); /* a freeze ends by the clock */

        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++) {
                fleet_hold *h = &f->holds[i];
                if (!h->run || h->released || hold_complete(f, h))
                        continue;
                if (now >= h->deadline_usec) {
                        char d[32];
                        (void) snprintf(whys[n_late], sizeof(whys[n_late]), "no fleet slot within %s (fleet.slot_wait): %s",
                                        duration_format(f->slot_wait_usec, d, sizeof(d)), h->why);
                        late[n_late++] = h->run;
                        continue;
                }
                acquire(f, h);
        }
        /* escalating ends the run, whose listener frees its entry */
        for (size_t i = 0; i < n_late; i++)
                engine_gate_reopen(f->engine, late[i], -ETIMEDOUT, whys[i]);
        /* an entry of a run the engine no longer holds at the gate (it went on, or is gone) */
        for (size_t i = 0; i < n_late; i++) {
                fleet_hold *h = hold_find(f, late[i]);
                const run *r = h ? engine_run_find(f->engine, late[i]) : NULL;
                if (h && (!r || !run_state_active(r->state)))
                        hold_release(f, h);
        }
}

void fleet_gate_lease_lost(fleet *f) {
        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++)
                f->holds[i].have_fleet = f->holds[i].have_group = false;
}

unsigned fleet_gate_held(const fleet *f) {
        unsigned n = 0;
        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++)
                n += f->holds[i].run && hold_complete(f, &f->holds[i]);
        return n;
}

unsigned fleet_gate_waiting(const fleet *f) {
        unsigned n = 0;
        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++)
                n += f->holds[i].run && !hold_complete(f, &f->holds[i]);
        return n;
}

void fleet_gate_release_all(fleet *f) {
        uint64_t runs[FLEET_HOLDS_MAX];
        size_t n = 0;

        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++) {
                if (f->holds[i].run && !f->holds[i].released)
                        runs[n++] = f->holds[i].run;
                f->holds[i] = (fleet_hold){};
        }
        for (size_t i = 0; i < n; i++)
                engine_gate_reopen(f->engine, runs[i], 0, "");
}

void fleet_gate_recheck(fleet *f) {
        uint64_t runs[FLEET_HOLDS_MAX];
        size_t n = 0;

        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++)
                if (f->holds[i].run && !f->holds[i].released && !hold_complete(f, &f->holds[i]))
                        runs[n++] = f->holds[i].run;
        for (size_t i = 0; i < n; i++)
                engine_gate_reopen(f->engine, runs[i], 0, "");
}
