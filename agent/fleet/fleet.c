/* The fleet's lease, this gateway's record, the pause, freeze and drill schedule keys, and the
 * configuration (agent/fleet/fleet.h). Everything is driven by one timer, every third of the
 * lease's TTL: renew the lease (or grant one), write the record under it, read the three keys,
 * and let the gate retry or give up its waits. Each kind of request is sent only once the
 * previous one of its kind answered, so a slow etcd never piles requests up. The keys are
 * watched besides, so a change reaches the gate (or the drill schedule, fleet_drills.c) at once;
 * the read stays their fallback. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check.h"
#include "agent/checks/finding.h"
#include "agent/checks/registry.h"
#include "agent/engine/engine.h"
#include "agent/fleet/fleet_internal.h"
#include "agent/fleet/fleet_record.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "drain_file.h"
#include "log.h"
#include "now.h"
#include "yaml_bind.h"

static void request_failed(fleet *f, const char *what, int error, const etcd_reply *rep, const char *why) {
        (void) snprintf(f->last_error, sizeof(f->last_error), "%s: %.200s", what,
                        why && why[0] ? why : error < 0 ? strerror(-error) : rep && rep->message[0] ? rep->message : "refused");
        if (!f->unreachable_said) {
                log_warning("fleet: etcd %s, ignoring until it answers again", f->last_error);
                f->unreachable_said = true;
        }
}

static void request_ok(fleet *f) {
        if (f->unreachable_said)
                log_info("fleet: etcd answers again");
        f->unreachable_said = false;
        f->last_error[0] = 0;
}

static void lease_lost(fleet *f, const char *why) {
        if (!f->lease)
                return;
        fleet_audit(f, "fleet", "lease %" PRId64 " lost (%s): the slots held under it are gone", f->lease, why);
        f->lease = 0;
        f->lease_alive_until = 0;
        fleet_gate_lease_lost(f);
        fleet_drill_lease_lost(f);
}

static void on_granted(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->granting = false;
        if (error < 0 || rep->is_error || rep->id == 0 || rep->ttl <= 0) {
                request_failed(f, "lease grant", error, rep, why);
                return;
        }
        request_ok(f);
        f->lease = rep->id;
        f->lease_alive_until = f->renew_sent + (uint64_t) rep->ttl * USEC_PER_SEC;
        fleet_audit(f, "fleet", "lease %" PRId64 " granted (TTL %" PRId64 "s): %s is in fleet %s", f->lease, rep->ttl,
                    f->name, f->prefix);
        fleet_gate_tick(f); /* waits for a lease go on at once */
        fleet_drill_tick(f);
}

static void on_renewed(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->renewing = false;
        if (error < 0 || rep->is_error) {
                request_failed(f, "lease keepalive", error, rep, why);
                return;
        }
        request_ok(f);
        if (rep->ttl <= 0) {
                lease_lost(f, "etcd says it expired");
                return;
        }
        f->lease_alive_until = f->renew_sent + (uint64_t) rep->ttl * USEC_PER_SEC;
}

static void on_put(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->putting = false;
        if (error < 0 || rep->is_error)
                request_failed(f, "record put", error, rep, why);
        else
                request_ok(f);
}

/* The value under <prefix>pause, <prefix>freeze or <prefix>drills/schedule, if that exact key is there. */
static const etcd_kv *exact(const fleet *f, const etcd_reply *rep, const char *leaf) {
        size_t n = strlen(f->prefix);
        for (size_t i = 0; i < rep->n_kvs; i++)
                if (strncmp(rep->kvs[i].key, f->prefix, n) == 0 && strcmp(rep->kvs[i].key + n, leaf) == 0)
                        return &rep->kvs[i];
        return NULL;
}

static const char *const key_leaf[] = { [FLEET_KEY_PAUSE] = "pause", [FLEET_KEY_FREEZE] = "freeze",
                                        [FLEET_KEY_DRILLS] = "drills/schedule" };

/* The pause key's state: kv its value, NULL deleted. */
static void pause_apply(fleet *f, const etcd_kv *kv) {
        if (!!kv != f->paused || (kv && strncmp(kv->value, f->pause_reason, sizeof(f->pause_reason) - 1) != 0)) {
                f->paused = !!kv;
                (void) snprintf(f->pause_reason, sizeof(f->pause_reason), "%s", kv ? kv->value : "");
                fleet_audit(f, f->paused ? "fleet_pause" : "fleet_resume", "fleet %s: automatic remediation %s%s%s", f->prefix,
                            f->paused ? "paused fleet-wide" : "no longer paused fleet-wide", f->paused ? ": " : "",
                            f->pause_reason);
        }
}

static void freeze_apply(fleet *f, const etcd_kv *kv) {
        uint64_t until = 0;
        char reason[256] = "";

        if (kv) {
                char *end = NULL;
                unsigned long long s = strtoull(kv->value, &end, 10);
                if (end == kv->value || s == 0 || s > UINT64_MAX / USEC_PER_SEC) {
                        until = UINT64_MAX; /* unreadable: frozen until someone fixes the key */
                        (void) snprintf(reason, sizeof(reason), "unreadable freeze key: %.200s", kv->value);
                } else {
                        until = s * USEC_PER_SEC;
                        (void) snprintf(reason, sizeof(reason), "%s", end + strspn(end, " "));
                }
        }
        if (until != f->freeze_until_usec) {
                f->freeze_until_usec = until;
                (void) snprintf(f->freeze_reason, sizeof(f->freeze_reason), "%s", reason);
                if (until)
                        fleet_audit(f, "fleet_freeze", "fleet %s frozen until %llu (unix seconds): %s", f->prefix,
                                    (unsigned long long) (until == UINT64_MAX ? 0 : until / USEC_PER_SEC), reason);
                else
                        fleet_audit(f, "fleet_freeze", "fleet %s: the freeze was lifted", f->prefix);
        }
}

static void key_apply(fleet *f, unsigned which, const etcd_kv *kv) {
        if (which == FLEET_KEY_PAUSE)
                pause_apply(f, kv);
        else if (which == FLEET_KEY_FREEZE)
                freeze_apply(f, kv);
        else
                fleet_drills_apply(f, kv);
}

/* A read of a key answered. A watch event applied while it was on its way is as new or newer
 * (the read may have been answered before that change): the read is dropped, not applied over
 * it. Otherwise the read is the truth, and its revision the one in force. */
static void on_key_read(fleet *f, unsigned which, int error, const etcd_reply *rep, const char *why) {
        struct fleet_key *k = &f->keys[which];
        char what[32];

        if (error < 0 || rep->is_error) {
                (void) snprintf(what, sizeof(what), "%s read", key_leaf[which]);
                request_failed(f, what, error, rep, why);
                return;
        }
        request_ok(f);
        if (k->changes == k->read_changes) {
                k->rev = rep->revision;
                key_apply(f, which, exact(f, rep, key_leaf[which]));
        }
        fleet_gate_pause_check(f);
}

static void on_pause(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->reading_pause = false;
        on_key_read(f, FLEET_KEY_PAUSE, error, rep, why);
}

static void on_freeze(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->reading_freeze = false;
        on_key_read(f, FLEET_KEY_FREEZE, error, rep, why);
}

static void on_drills(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->reading_drills = false;
        on_key_read(f, FLEET_KEY_DRILLS, error, rep, why);
}

static void key_read(fleet *f, unsigned which) {
        bool *reading = which == FLEET_KEY_PAUSE ? &f->reading_pause : which == FLEET_KEY_FREEZE ? &f->reading_freeze
                                                                                                 : &f->reading_drills;
        char key[FLEET_PREFIX_MAX + 24];

        if (*reading || !f->etcd)
                return;
        (void) snprintf(key, sizeof(key), "%s%s", f->prefix, key_leaf[which]);
        f->keys[which].read_changes = f->keys[which].changes;
        *reading = etcd_get_prefix(f->etcd, key, which == FLEET_KEY_PAUSE    ? on_pause
                                                 : which == FLEET_KEY_FREEZE ? on_freeze
                                                                             : on_drills,
                                   f) >= 0;
}

/* ---- the watches ----
 *
 * One stream per key, each on an endpoint of its own choosing (the next one at each reopen). A
 * change is applied at once, unless the state in force is newer (a read answered after the
 * change was made: the stream lags). A stream that ends is reopened after a backoff that
 * doubles while opens fail; once etcd confirms it, the key is read again (what changed while
 * no stream was open). */

#define WATCH_BACKOFF_MIN_USEC (250 * USEC_PER_MSEC)
#define WATCH_BACKOFF_MAX_USEC (15 * USEC_PER_SEC)

static void watch_open(struct fleet_key *k);

static int on_watch_retry(ev_source *s, uint64_t usec, void *userdata) {
        watch_open(userdata);
        return 0;
}

static void watch_retry_later(struct fleet_key *k) {
        fleet *f = k->fleet;
        uint64_t at = mono_usec() + k->backoff_usec;

        if (k->retry) {
                (void) ev_source_set_time(k->retry, at);
                (void) ev_source_set_enabled(k->retry, EV_ONESHOT);
        } else if (ev_add_time(f->event, &k->retry, CLOCK_MONOTONIC, at, 10 * USEC_PER_MSEC, on_watch_retry, k) < 0)
                log_warning("fleet: cannot schedule the reopening of the %s watch, ignoring: the renewal's read stands in",
                            key_leaf[k->which]);
}

static void on_watch_msg(etcd_watch *w, const etcd_watch_msg *m, void *userdata) {
        struct fleet_key *k = userdata;
        fleet *f = k->fleet;
        size_t n = strlen(f->prefix);

        if (m->created && !k->created) {
                k->created = true;
                k->backoff_usec = 0;
                key_read(f, k->which);
        }
        for (size_t i = 0; i < m->n_events; i++) {
                const etcd_watch_event *e = &m->events[i];
                if (strncmp(e->kv.key, f->prefix, n) != 0 || strcmp(e->kv.key + n, key_leaf[k->which]) != 0)
                        continue;
                f->watch_events++;
                if (e->kv.mod_revision <= k->rev)
                        continue; /* the state in force is newer */
                k->rev = e->kv.mod_revision;
                k->changes++;
                key_apply(f, k->which, e->is_delete ? NULL : &e->kv);
        }
        if (m->n_events)
                fleet_gate_pause_check(f);
}

static void on_watch_end(etcd_watch *w, int error, const char *why, void *userdata) {
        struct fleet_key *k = userdata;

        k->watch = NULL;
        if (k->created)
                log_warning("fleet: the watch of %s%s ended (%s); reopening it, the renewal's read stands in meanwhile",
                            k->fleet->prefix, key_leaf[k->which], why);
        k->backoff_usec = k->created ? WATCH_BACKOFF_MIN_USEC
                          : k->backoff_usec < WATCH_BACKOFF_MIN_USEC ? WATCH_BACKOFF_MIN_USEC
                          : k->backoff_usec * 2 > WATCH_BACKOFF_MAX_USEC ? WATCH_BACKOFF_MAX_USEC
                                                                          : k->backoff_usec * 2;
        k->created = false;
        watch_retry_later(k);
}

static void watch_open(struct fleet_key *k) {
        fleet *f = k->fleet;
        char key[FLEET_PREFIX_MAX + 24];

        if (!f->etcd || k->watch)
                return;
        (void) snprintf(key, sizeof(key), "%s%s", f->prefix, key_leaf[k->which]);
        if (etcd_watch_open(f->etcd, key, k->attempt++, on_watch_msg, on_watch_end, k, &k->watch) < 0) {
                k->backoff_usec = WATCH_BACKOFF_MAX_USEC;
                watch_retry_later(k);
        }
}

static void watches_stop(fleet *f) {
        for (unsigned i = 0; i < ELEMENTSOF(f->keys); i++) {
                struct fleet_key *k = &f->keys[i];
                k->retry = ev_source_disable_unref(k->retry);
                /* the streams end with the client */
                *k = (struct fleet_key){ .fleet = f, .which = i };
        }
}

static int record_put(fleet *f) {
        fleet_record rec = { .name = f->name, .version = IKEHEAL_VERSION, .vrrp_role = f->vrrp_role,
                             .vrrp_group = f->group[0] ? f->group : NULL, .updated_usec = real_usec() };
        _cleanup_(freep) char *json = NULL, *key = NULL;
        drain_state ds;
        uint32_t active = 0;
        int r;

        for (size_t i = 0; f->incidents && i < incident_store_size(f->incidents); i++) {
                const incident *inc = incident_store_get(f->incidents, i);
                if (inc && inc->state != INCIDENT_RESOLVED && inc->cls < _FAULT_CLASS_MAX) {
                        rec.incidents[inc->cls]++;
                        active++;
                }
        }
        rec.health = active ? "degraded" : "healthy";
        rec.drained = f->state_dir[0] && drain_file_read(f->state_dir, &ds) == 0;
        for (size_t i = 0; f->engine && i < engine_runs(f->engine); i++) {
                const run *ru = engine_run_get(f->engine, i);
                if (ru && ru->drill && run_state_active(ru->state))
                        rec.drills_running++;
        }
        rec.slots_held = fleet_gate_held(f);
        if ((r = fleet_record_format(&rec, &json)) < 0)
                return r;
        if (asprintf(&key, "%sgateways/%s", f->prefix, f->name) < 0)
                return -ENOMEM;
        return etcd_put(f->etcd, key, json, f->lease, on_put, f);
}

/* The records are counted (count_only: no values sent) about every GATEWAYS_COUNT_USEC: how
 * many gateways the fleet has is a gauge, not worth a read of every record at each renewal. */
#define GATEWAYS_COUNT_USEC (30 * USEC_PER_SEC)

static void on_count(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        f->counting = false;
        if (error == 0 && rep)
                f->gateways = rep->count;
}

static uint64_t tick_usec(const fleet *f);

static void fleet_send(fleet *f) {
        char key[FLEET_PREFIX_MAX + 16];
        int r;

        if (!f->etcd)
                return;
        if (!f->lease) {
                if (!f->granting) {
                        f->renew_sent = mono_usec();
                        r = etcd_lease_grant(f->etcd, (int64_t) ((f->ttl_usec + USEC_PER_SEC - 1) / USEC_PER_SEC), on_granted, f);
                        f->granting = r >= 0;
                }
        } else if (!f->renewing) {
                if (!fleet_lease_alive(f) && !f->lease_lost_said) {
                        fleet_audit(f, "fleet", "lease %" PRId64 " not renewed within its TTL (%s): slots are not held "
                                    "while etcd does not answer", f->lease, f->last_error[0] ? f->last_error : "no answer");
                        f->lease_lost_said = true;
                } else if (fleet_lease_alive(f))
                        f->lease_lost_said = false;
                f->renew_sent = mono_usec();
                r = etcd_lease_keepalive(f->etcd, f->lease, on_renewed, f);
                f->renewing = r >= 0;
        }
        if (fleet_lease_alive(f) && !f->putting)
                f->putting = record_put(f) >= 0;
        key_read(f, FLEET_KEY_PAUSE);
        key_read(f, FLEET_KEY_FREEZE);
        key_read(f, FLEET_KEY_DRILLS);
        if (!f->counting && (f->gateways < 0 || ++f->count_ticks * tick_usec(f) >= GATEWAYS_COUNT_USEC)) {
                (void) snprintf(key, sizeof(key), "%sgateways/", f->prefix);
                f->counting = etcd_count_prefix(f->etcd, key, on_count, f) >= 0;
                f->count_ticks = 0;
        }
}

static uint64_t tick_usec(const fleet *f) {
        uint64_t t = f->ttl_usec / 3;
        return t < 500 * USEC_PER_MSEC ? 500 * USEC_PER_MSEC : t;
}

static int on_tick(ev_source *s, uint64_t usec, void *userdata) {
        fleet *f = userdata;
        fleet_send(f);
        fleet_gate_tick(f);
        fleet_drill_tick(f);
        (void) ev_source_set_time(s, usec + tick_usec(f));
        (void) ev_source_set_enabled(s, EV_ON);
        return 0;
}

static void on_finding(check *c, const finding *fi, void *userdata) {
        fleet *f = userdata;
        if (!check_kind_is(check_kind(c), CHECK_ROLE_VRRP))
                return;
        const char *role = finding_fact_get(fi, "role");
        (void) snprintf(f->vrrp_role, sizeof(f->vrrp_role), "%s", role ? role : "");
}

int fleet_new(fleet **ret, const fleet_deps *deps) {
        fleet *f = calloc(1, sizeof(*f));
        int r;

        if (!f)
                return -ENOMEM;
        f->event = ev_ref(deps->event);
        f->gateways = -1;
        watches_stop(f);
        f->triage = deps->triage;
        f->incidents = deps->incidents;
        f->engine = deps->engine;
        f->audit = deps->audit;
        f->audit_userdata = deps->audit_userdata;
        if (f->triage && (r = triage_subscribe(f->triage, &(triage_listener){ .finding = on_finding, .userdata = f })) < 0) {
                fleet_free(f);
                return r;
        }
        if ((r = fleet_gate_attach(f)) < 0) {
                fleet_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

static void fleet_stop(fleet *f) {
        f->tick = ev_source_disable_unref(f->tick);
        f->etcd = etcd_client_free(f->etcd); /* abandons what is in flight and the watches: no callbacks */
        watches_stop(f);
        f->granting = f->renewing = f->putting = f->reading_pause = f->reading_freeze = f->reading_drills = f->counting = false;
        fleet_drills_stopped(f);
        f->gateways = -1;
        for (size_t i = 0; i < FLEET_CONTROLS_MAX; i++)
                f->controls[i].busy = false; /* abandoned with the client */
        for (size_t i = 0; i < FLEET_HOLDS_MAX; i++) {
                if (f->holds[i].released)
                        f->holds[i] = (fleet_hold){}; /* its run ended; what it took frees itself with the lease */
                f->holds[i].inflight = false;
        }
        fleet_drill_stopped(f);
        if (f->lease) {
                f->lease = 0;
                fleet_gate_lease_lost(f);
                fleet_drill_lease_lost(f);
        }
        f->paused = false;
        f->freeze_until_usec = 0;
}

fleet *fleet_free(fleet *f) {
        if (!f)
                return NULL;
        fleet_stop(f);
        if (f->engine)
                engine_set_gate(f->engine, NULL);
        if (f->engine)
                engine_unsubscribe(f->engine, f);
        if (f->triage)
                triage_unsubscribe(f->triage, f);
        strv_free(f->on_partition);
        ev_unref(f->event);
        free(f);
        return NULL;
}

int fleet_configure(fleet *f, const fleet_config *c, const char *state_dir) {
        char joined[sizeof(f->endpoints_joined)] = "";
        char **onp = NULL;
        int r;

        for (size_t i = 0; c->enabled && c->endpoints && c->endpoints[i]; i++) {
                size_t w = strlen(joined);
                (void) snprintf(joined + w, sizeof(joined) - w, "%s%s", w ? "," : "", c->endpoints[i]);
        }
        for (size_t i = 0; c->on_partition && c->on_partition[i]; i++) {
                size_t n = i;
                char **v = realloc(onp, (n + 2) * sizeof(char *));
                if (!v || !(v[n] = strdup(c->on_partition[i]))) {
                        if (v)
                                v[n] = NULL;
                        strv_free(v ? v : onp);
                        return -ENOMEM;
                }
                v[n + 1] = NULL;
                onp = v;
        }
        bool restart = c->enabled != f->enabled || strcmp(joined, f->endpoints_joined) != 0 ||
                       (c->enabled && (strcmp(c->prefix, f->prefix) != 0 || strcmp(c->name, f->name) != 0 ||
                                       c->lease_ttl_usec != f->ttl_usec || c->timeout_usec != f->timeout_usec));
        strv_free(f->on_partition);
        f->on_partition = onp;
        f->slots_fleet = c->slots_fleet;
        f->slots_group = c->slots_group;
        f->slot_wait_usec = c->slot_wait_usec;
        f->drill_wait_usec = c->drill_wait_usec;
        (void) snprintf(f->group, sizeof(f->group), "%s", c->vrrp_group ? c->vrrp_group : "");
        (void) snprintf(f->state_dir, sizeof(f->state_dir), "%s", state_dir ? state_dir : "");
        if (!restart) {
                fleet_gate_recheck(f); /* on_partition may let a held step go on now */
                return 0;
        }
        if (f->enabled)
                fleet_audit(f, "fleet", "leaving fleet %s as %s (configuration changed)", f->prefix, f->name);
        fleet_stop(f);
        f->enabled = c->enabled;
        (void) snprintf(f->endpoints_joined, sizeof(f->endpoints_joined), "%s", joined);
        if (!c->enabled) {
                fleet_gate_release_all(f); /* no fleet any more: what waited for it goes on */
                fleet_drill_leave(f);
                fleet_gate_pause_check(f); /* a fleet pause is no more */
                return 0;
        }
        (void) snprintf(f->prefix, sizeof(f->prefix), "%s", c->prefix);
        (void) snprintf(f->name, sizeof(f->name), "%s", c->name);
        f->ttl_usec = c->lease_ttl_usec;
        f->timeout_usec = c->timeout_usec;
        r = etcd_client_new(&f->etcd, f->event, c->endpoints, c->timeout_usec);
        if (r < 0) {
                f->enabled = false;
                return r;
        }
        r = ev_add_time(f->event, &f->tick, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC, on_tick, f);
        if (r < 0) {
                f->etcd = etcd_client_free(f->etcd);
                f->enabled = false;
                return r;
        }
        for (unsigned i = 0; i < ELEMENTSOF(f->keys); i++)
                watch_open(&f->keys[i]);
        log_info("fleet: joining %s as %s through %s", f->prefix, f->name, f->endpoints_joined);
        return 0;
}

void fleet_status_get(const fleet *f, fleet_status *ret) {
        *ret = (fleet_status){ .enabled = f->enabled, .lease_alive = fleet_lease_alive(f), .lease = f->lease,
                               .paused = f->paused, .freeze_until_usec = f->freeze_until_usec,
                               .slots_held = fleet_gate_held(f), .waiting = fleet_gate_waiting(f),
                               .requests = f->etcd ? etcd_client_requests(f->etcd) : 0, .gateways = f->gateways,
                               .drill_slot_held = fleet_drill_held(f), .drill_waiting = fleet_drill_waiting(f, NULL, 0),
                               .watching = f->keys[FLEET_KEY_PAUSE].created && f->keys[FLEET_KEY_FREEZE].created &&
                                           f->keys[FLEET_KEY_DRILLS].created,
                               .watch_events = f->watch_events, .drills = f->drills.n };
        (void) snprintf(ret->drills_error, sizeof(ret->drills_error), "%s", f->drills.error);
        (void) snprintf(ret->name, sizeof(ret->name), "%s", f->name);
        (void) snprintf(ret->prefix, sizeof(ret->prefix), "%s", f->prefix);
        (void) snprintf(ret->last_error, sizeof(ret->last_error), "%s", f->last_error);
        (void) snprintf(ret->pause_reason, sizeof(ret->pause_reason), "%s",
                        f->paused ? f->pause_reason : f->freeze_until_usec ? f->freeze_reason : "");
}

static void on_control(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet_control_req *q = userdata;
        if (error < 0 || rep->is_error)
                fleet_audit(q->fleet, "fleet_control", "%s FAILED: %s", q->text,
                            why && why[0] ? why : error < 0 ? strerror(-error) : "refused");
        else
                fleet_audit(q->fleet, "fleet_control", "%s", q->text);
        q->busy = false;
}

/* A free slot for a control request's audit text (they are few: an operator's commands). */
static fleet_control_req *control_req_get(fleet *f) {
        for (size_t i = 0; i < FLEET_CONTROLS_MAX; i++)
                if (!f->controls[i].busy) {
                        f->controls[i] = (fleet_control_req){ .fleet = f, .busy = true };
                        return &f->controls[i];
                }
        return NULL;
}

int fleet_control_send(fleet *f, fleet_control op, const char *reason, uint64_t until_usec, const char *who, char *why,
                       size_t n) {
        char key[FLEET_PREFIX_MAX + 24], value[320];
        fleet_control_req *q, *q2 = NULL;
        int r;

        if (!f->enabled || !f->etcd) {
                (void) snprintf(why, n, "this agent is not in a fleet (no fleet: section)");
                return -ENOTCONN;
        }
        if (f->last_error[0] && !fleet_lease_alive(f)) {
                (void) snprintf(why, n, "etcd is not reached (%s)", f->last_error);
                return -EHOSTUNREACH;
        }
        if (op == FLEET_DRILLS_SET) {
                _cleanup_(freep) char *msgs = NULL;
                drill_schedule *v = NULL;
                size_t k = 0;
                ydiag d;
                ydiag_init(&d, "drill schedule");
                r = reason ? drill_schedule_parse(reason, strlen(reason), &v, &k, &d) : -EINVAL;
                drill_schedule_free(v, k);
                if (r < 0) {
                        msgs = ydiag_join(&d);
                        (void) snprintf(why, n, "refused, nothing written: %s", msgs ? msgs : strerror(-r));
                        ydiag_done(&d);
                        return r == -ENOMEM ? r : -EINVAL;
                }
                ydiag_done(&d);
        } else if (op != FLEET_RESUME && op != FLEET_DRILLS_CLEAR && (!reason || !reason[0] || strlen(reason) > 200)) {
                (void) snprintf(why, n, "a reason of 1-200 characters is required");
                return -EINVAL;
        }
        if (op == FLEET_FREEZE && until_usec <= real_usec()) {
                (void) snprintf(why, n, "the freeze's end is not in the future");
                return -EINVAL;
        }
        if (!(q = control_req_get(f)) || (op == FLEET_RESUME && !(q2 = control_req_get(f)))) {
                if (q)
                        q->busy = false;
                (void) snprintf(why, n, "too many fleet commands in flight; try again");
                return -EBUSY;
        }
        switch (op) {
        case FLEET_PAUSE:
                (void) snprintf(key, sizeof(key), "%spause", f->prefix);
                (void) snprintf(q->text, sizeof(q->text), "fleet %s paused by %s: %s", f->prefix, who, reason);
                r = etcd_put(f->etcd, key, reason, 0, on_control, q);
                break;
        case FLEET_FREEZE:
                (void) snprintf(key, sizeof(key), "%sfreeze", f->prefix);
                (void) snprintf(value, sizeof(value), "%llu %s", (unsigned long long) (until_usec / USEC_PER_SEC), reason);
                (void) snprintf(q->text, sizeof(q->text), "fleet %s frozen by %s until %llu (unix seconds): %s", f->prefix,
                                who, (unsigned long long) (until_usec / USEC_PER_SEC), reason);
                r = etcd_put(f->etcd, key, value, 0, on_control, q);
                break;
        case FLEET_DRILLS_SET:
                (void) snprintf(key, sizeof(key), "%sdrills/schedule", f->prefix);
                (void) snprintf(q->text, sizeof(q->text), "fleet %s drill schedule set by %s", f->prefix, who);
                r = etcd_put(f->etcd, key, reason, 0, on_control, q);
                break;
        case FLEET_DRILLS_CLEAR:
                (void) snprintf(key, sizeof(key), "%sdrills/schedule", f->prefix);
                (void) snprintf(q->text, sizeof(q->text), "fleet %s drill schedule cleared by %s", f->prefix, who);
                r = etcd_delete(f->etcd, key, on_control, q);
                break;
        default:
                (void) snprintf(key, sizeof(key), "%spause", f->prefix);
                (void) snprintf(q->text, sizeof(q->text), "fleet %s pause lifted by %s", f->prefix, who);
                r = etcd_delete(f->etcd, key, on_control, q);
                if (r >= 0) {
                        (void) snprintf(q2->text, sizeof(q2->text), "fleet %s freeze lifted by %s", f->prefix, who);
                        (void) snprintf(key, sizeof(key), "%sfreeze", f->prefix);
                        if (etcd_delete(f->etcd, key, on_control, q2) < 0)
                                q2->busy = false;
                        q2 = NULL;
                }
                break;
        }
        if (q2)
                q2->busy = false;
        if (r < 0) {
                q->busy = false;
                (void) snprintf(why, n, "cannot send the request: %s", strerror(-r));
                return r;
        }
        (void) snprintf(why, n, "sent to etcd; every agent of fleet %s applies it as its watch sees it, or at its next renewal (within %llu ms)",
                        f->prefix, (unsigned long long) (tick_usec(f) / USEC_PER_MSEC));
        return 0;
}
