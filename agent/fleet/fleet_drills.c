/* The fleet's drill schedule (agent/fleet/fleet.h): drills every agent of the fleet runs on
 * schedule besides its own drills.schedule, and the record that keeps their `every` fleet-wide.
 *
 *   <prefix>drills/schedule       a YAML (or JSON) sequence of entries exactly as drills.schedule
 *                                 (drill, every, window); watched and read at each renewal like
 *                                 the pause and freeze keys (fleet.c hands every state here)
 *   <prefix>drills/last/<drill>   "UNIX_SECONDS GATEWAY": when and where the drill last started
 *                                 on the fleet's schedule
 *
 * A value that does not parse is refused whole: no fleet-scheduled drill runs until it is fixed
 * (a drill injects a real fault: what the key meant is not guessed), and why is audited and
 * shown by `fleet status` and `fleet drills`.
 *
 * `every` holds for the fleet, not per gateway: before an agent starts a fleet-scheduled drill it
 * claims the start — it reads the drill's record and, when the last start is older than `every`
 * (or there is none), replaces it with its own in a transaction that holds only if the record is
 * still the one it read. Of agents that try at once exactly one succeeds; the others see its
 * record. A claim whose start is then refused here (an incident, the steady state, the drill
 * unknown here) is given back: the record restored as it was, if no one changed it since. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fleet/fleet_internal.h"
#include "duration.h"
#include "log.h"
#include "now.h"

#define DRILLS_KEY "drills/schedule"
#define LAST_KEY "drills/last/"

int fleet_drill_last_parse(const char *value, uint64_t *ret_usec, char *gateway, size_t n) {
        char *end = NULL;
        unsigned long long s;

        if (!value || value[0] < '0' || value[0] > '9')
                return -EBADMSG;
        errno = 0;
        s = strtoull(value, &end, 10);
        if (errno || s == 0 || s > UINT64_MAX / USEC_PER_SEC || *end != ' ' || !end[1] || strlen(end + 1) > FLEET_NAME_MAX ||
            strpbrk(end + 1, " \t\r\n"))
                return -EBADMSG;
        *ret_usec = (uint64_t) s * USEC_PER_SEC;
        (void) snprintf(gateway, n, "%s", end + 1);
        return 0;
}

static void entries_drop(fleet *f) {
        drill_schedule_free(f->drills.entries, f->drills.n);
        f->drills.entries = NULL;
        f->drills.n = 0;
}

static void changed(fleet *f) {
        if (f->drills.changed)
                f->drills.changed(f->drills.userdata);
}

void fleet_drills_apply(fleet *f, const etcd_kv *kv) {
        _cleanup_(freep) char *msgs = NULL;
        char origin[FLEET_PREFIX_MAX + 32], list[256] = "";
        drill_schedule *v = NULL;
        size_t n = 0;
        ydiag d;
        int r;

        if (!kv) {
                if (!f->drills.text && !f->drills.error[0])
                        return;
                free(f->drills.text);
                f->drills.text = NULL;
                f->drills.error[0] = 0;
                entries_drop(f);
                fleet_audit(f, "fleet_drills", "fleet %s: the drill schedule was removed: no fleet-scheduled drills", f->prefix);
                changed(f);
                return;
        }
        if (f->drills.text && strcmp(f->drills.text, kv->value) == 0)
                return; /* the state in force (read again, or its own watch event) */
        free(f->drills.text);
        f->drills.text = strdup(kv->value);
        (void) snprintf(origin, sizeof(origin), "%s" DRILLS_KEY, f->prefix);
        ydiag_init(&d, origin);
        r = drill_schedule_parse(kv->value, strlen(kv->value), &v, &n, &d);
        entries_drop(f);
        if (r < 0) {
                msgs = ydiag_join(&d);
                for (char *p = msgs; p && (p = strchr(p, '\n'));)
                        *p = ';';
                (void) snprintf(f->drills.error, sizeof(f->drills.error), "refused: %s",
                                msgs ? msgs : r == -ENOMEM ? "out of memory" : strerror(-r));
                ydiag_done(&d);
                log_warning("fleet: drill schedule %s", f->drills.error);
                fleet_audit(f, "fleet_drills", "fleet %s: the drill schedule is %s; no fleet-scheduled drill runs until it "
                            "is fixed", f->prefix, f->drills.error);
                changed(f);
                return;
        }
        ydiag_done(&d);
        f->drills.entries = v;
        f->drills.n = n;
        f->drills.error[0] = 0;
        for (size_t i = 0; i < n; i++) {
                char e[32];
                size_t w = strlen(list);
                (void) snprintf(list + w, sizeof(list) - w, "%s%s every %s", i ? ", " : "", v[i].drill,
                                duration_format(v[i].every_usec, e, sizeof(e)));
        }
        fleet_audit(f, "fleet_drills", "fleet %s: drill schedule of %zu entr%s in force%s%s", f->prefix, n, n == 1 ? "y" : "ies",
                    n ? ": " : "", list);
        changed(f);
}

size_t fleet_drills(const fleet *f, const drill_schedule **ret) {
        *ret = f ? f->drills.entries : NULL;
        return f ? f->drills.n : 0;
}

const char *fleet_drills_error(const fleet *f) {
        return f ? f->drills.error : "";
}

const char *fleet_drills_text(const fleet *f) {
        return f && f->drills.text ? f->drills.text : NULL;
}

void fleet_drills_subscribe(fleet *f, void (*cb)(void *userdata), void *userdata) {
        if (!f)
                return;
        f->drills.changed = cb;
        f->drills.userdata = userdata;
}

/* What this agent last learnt of a drill's fleet record (for `fleet drills`). */
static void seen_set(fleet *f, const char *drill, const char *text) {
        struct fleet_drill_seen *s = NULL;

        for (size_t i = 0; i < ELEMENTSOF(f->drills.seen); i++)
                if (strcmp(f->drills.seen[i].drill, drill) == 0 || (!s && !f->drills.seen[i].drill[0]))
                        s = &f->drills.seen[i];
        if (!s)
                s = &f->drills.seen[f->drills.seen_next++ % ELEMENTSOF(f->drills.seen)];
        (void) snprintf(s->drill, sizeof(s->drill), "%s", drill);
        (void) snprintf(s->text, sizeof(s->text), "%s", text);
}

const char *fleet_drills_seen(const fleet *f, const char *drill) {
        for (size_t i = 0; f && i < ELEMENTSOF(f->drills.seen); i++)
                if (strcmp(f->drills.seen[i].drill, drill) == 0)
                        return f->drills.seen[i].text;
        return NULL;
}

static void claim_end(fleet *f, int r, const char *fmt, ...) _printf_(3, 4);
static void claim_end(fleet *f, int r, const char *fmt, ...) {
        struct fleet_claim *c = &f->drills.claim;
        fleet_claim_cb done = c->done;
        void *userdata = c->userdata;
        char why[512];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        c->busy = false;
        c->done = NULL;
        if (r <= 0 && why[0])
                seen_set(f, c->drill, why);
        if (done)
                done(userdata, r, why);
}

static void record_key(const fleet *f, const char *drill, char *buf, size_t n) {
        (void) snprintf(buf, n, "%s" LAST_KEY "%s", f->prefix, drill);
}

static const etcd_kv *record_of(const fleet *f, const etcd_reply *rep, const char *drill) {
        char key[FLEET_PREFIX_MAX + FLEET_DRILL_NAME_SIZE + 32];

        record_key(f, drill, key, sizeof(key));
        for (size_t i = 0; rep && i < rep->n_kvs; i++)
                if (strcmp(rep->kvs[i].key, key) == 0)
                        return &rep->kvs[i];
        return NULL;
}

static void on_claim_put(etcd_client *ec, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        struct fleet_claim *c = &f->drills.claim;
        const etcd_kv *kv;
        char gw[FLEET_NAME_MAX + 1] = "?", d[32];
        uint64_t t = 0;

        if (error < 0 || rep->is_error) {
                claim_end(f, error < 0 ? error : -EIO, "etcd: %.200s", why && why[0] ? why : error < 0 ? strerror(-error) :
                          rep->message);
                return;
        }
        if (!rep->succeeded) {
                /* another gateway's claim came between the read and the transaction */
                kv = record_of(f, rep, c->drill);
                if (kv)
                        (void) fleet_drill_last_parse(kv->value, &t, gw, sizeof(gw));
                claim_end(f, 0, "claimed by %s %s ago (every %s)", gw,
                          duration_format(t && real_usec() > t ? real_usec() - t : 0, d, sizeof(d)),
                          duration_format(c->every_usec, (char[32]){ 0 }, 32));
                return;
        }
        f->drills.last = (struct fleet_drill_last){ .rev = rep->revision, .had_prev = c->had_prev };
        (void) snprintf(f->drills.last.drill, sizeof(f->drills.last.drill), "%s", c->drill);
        (void) snprintf(f->drills.last.prev, sizeof(f->drills.last.prev), "%s", c->prev);
        seen_set(f, c->drill, "started here (claimed)");
        claim_end(f, 1, "%s", "");
}

static void on_claim_read(etcd_client *ec, int error, const etcd_reply *rep, const char *why, void *userdata) {
        fleet *f = userdata;
        struct fleet_claim *c = &f->drills.claim;
        char key[FLEET_PREFIX_MAX + FLEET_DRILL_NAME_SIZE + 32], value[FLEET_NAME_MAX + 32], gw[FLEET_NAME_MAX + 1], d[32], e[32];
        const etcd_kv *kv;
        uint64_t t, now = real_usec();
        int r;

        if (error < 0 || rep->is_error) {
                claim_end(f, error < 0 ? error : -EIO, "etcd: %.200s", why && why[0] ? why : error < 0 ? strerror(-error) :
                          rep->message);
                return;
        }
        kv = record_of(f, rep, c->drill);
        c->had_prev = !!kv;
        (void) snprintf(c->prev, sizeof(c->prev), "%s", kv ? kv->value : "");
        if (kv) {
                if (fleet_drill_last_parse(kv->value, &t, gw, sizeof(gw)) < 0) {
                        claim_end(f, -EBADMSG, "the fleet's record %s" LAST_KEY "%s does not parse ('%.60s'; expected "
                                  "\"UNIX_SECONDS GATEWAY\"): not started until it is fixed or removed", f->prefix, c->drill, kv->value);
                        return;
                }
                if (t <= now && now - t < c->every_usec) {
                        claim_end(f, 0, "started on %s %s ago (every %s)", gw, duration_format(now - t, d, sizeof(d)),
                                  duration_format(c->every_usec, e, sizeof(e)));
                        return;
                }
                if (t > now) {
                        claim_end(f, 0, "started on %s at %llu, in the future (a clock ahead there): not before then plus "
                                  "every", gw, (unsigned long long) (t / USEC_PER_SEC));
                        return;
                }
        }
        record_key(f, c->drill, key, sizeof(key));
        (void) snprintf(value, sizeof(value), "%llu %s", (unsigned long long) (now / USEC_PER_SEC), f->name);
        if ((r = etcd_put_if(f->etcd, key, value, kv ? kv->mod_revision : 0, on_claim_put, f)) < 0)
                claim_end(f, r, "cannot send the claim: %s", strerror(-r));
}

int fleet_drills_claim(fleet *f, const char *drill, uint64_t every_usec, fleet_claim_cb done, void *userdata, char *why,
                       size_t n) {
        char key[FLEET_PREFIX_MAX + FLEET_DRILL_NAME_SIZE + 32];
        int r;

        if (!f || !f->enabled || !f->etcd) {
                (void) snprintf(why, n, "not in a fleet");
                return -ENOTCONN;
        }
        if (f->drills.claim.busy) {
                (void) snprintf(why, n, "a claim for drill %s is on its way", f->drills.claim.drill);
                return -EBUSY;
        }
        if (!fleet_lease_alive(f)) {
                (void) snprintf(why, n, "etcd unavailable (%.160s): a fleet-scheduled drill is claimed in etcd first",
                                f->last_error[0] ? f->last_error : "no lease yet");
                return -EHOSTUNREACH;
        }
        f->drills.claim = (struct fleet_claim){ .busy = true, .every_usec = every_usec, .done = done, .userdata = userdata };
        (void) snprintf(f->drills.claim.drill, sizeof(f->drills.claim.drill), "%s", drill);
        record_key(f, drill, key, sizeof(key));
        if ((r = etcd_get_prefix(f->etcd, key, on_claim_read, f)) < 0) {
                f->drills.claim.busy = false;
                (void) snprintf(why, n, "cannot send the request: %s", strerror(-r));
                return r;
        }
        return 0;
}

static void on_unclaimed(etcd_client *ec, int error, const etcd_reply *rep, const char *why, void *userdata) {
        /* not given back (etcd did not answer, or the record changed since): the start counts as
         * made, which errs on the side of fewer drills */
}

void fleet_drills_unclaim(fleet *f, const char *drill) {
        char key[FLEET_PREFIX_MAX + FLEET_DRILL_NAME_SIZE + 32];

        if (!f || !f->etcd || !f->drills.last.rev || strcmp(f->drills.last.drill, drill) != 0)
                return;
        record_key(f, drill, key, sizeof(key));
        (void) etcd_put_if(f->etcd, key, f->drills.last.had_prev ? f->drills.last.prev : NULL, f->drills.last.rev,
                           on_unclaimed, f);
        fleet_audit(f, "fleet_drills", "drill %s: its fleet-scheduled start was claimed but not made here: the claim is "
                    "given back", drill);
        seen_set(f, drill, "claimed here, not started: given back");
        f->drills.last = (struct fleet_drill_last){};
}

void fleet_drills_forget(fleet *f, void *userdata) {
        if (!f)
                return;
        if (f->drills.userdata == userdata) {
                f->drills.changed = NULL;
                f->drills.userdata = NULL;
        }
        if (f->drills.claim.userdata == userdata)
                f->drills.claim.done = NULL; /* the reply still lands, told to no one */
}

void fleet_drills_stopped(fleet *f) {
        f->drills.claim.busy = false; /* abandoned with the client: its waiter is told */
        if (f->drills.claim.done) {
                fleet_claim_cb done = f->drills.claim.done;
                f->drills.claim.done = NULL;
                done(f->drills.claim.userdata, -ECANCELED, "coordination through etcd stopped");
        }
        f->drills.last = (struct fleet_drill_last){};
        free(f->drills.text);
        f->drills.text = NULL;
        f->drills.error[0] = 0;
        if (f->drills.n) {
                entries_drop(f);
                changed(f);
        }
}
