/* One simulated fleet member for the fleet tests, built on the agent's etcd client
 * (common/etcd_client.h): it takes a lease of TTL seconds and keeps it alive (every TTL/3),
 * writes its record <prefix>gateways/<name> under the lease, then takes one of K slots
 * <prefix>slots/ for a disruptive step, holds it for HOLD seconds, frees it and exits 0.
 *
 *   fleet-member ENDPOINTS PREFIX NAME K TTL HOLD DEADLINE
 *
 * ENDPOINTS comma-separated http://host:port. Lines on stdout: "lease ID", "waiting: WHY" once
 * while every slot is held, "acquired slot N after MS ms", "released". Without etcd (no member
 * answers, or no quorum) it says "held: etcd unavailable: WHY" each time, and after DEADLINE
 * seconds without a slot "escalated: WHY" and exit 2. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_client.h"
#include "now.h"

typedef struct member {
        ev_loop *event;
        etcd_client *etcd;
        const char *prefix, *name;
        unsigned k;
        int64_t ttl, lease;
        uint64_t hold_usec, deadline_usec, started_usec;
        ev_source *keepalive, *retry;
        bool waiting_said, holding;
        char slot_key[512];
        char last_why[512];
        int exit_code;
} member;

static void quit(member *m, int code) {
        m->exit_code = code;
        (void) ev_exit(m->event, code);
}

static void try_slot(member *m);

static int on_retry(ev_source *s, uint64_t usec, void *userdata) {
        member *m = userdata;
        m->retry = ev_source_disable_unref(m->retry);
        try_slot(m);
        return 0;
}

static void retry_in(member *m, uint64_t usec) {
        if (ev_add_time_relative(m->event, &m->retry, CLOCK_MONOTONIC, usec, 0, on_retry, m) < 0)
                quit(m, 1);
}

static void on_released(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        member *m = userdata;
        printf("released%s%s\n", error < 0 ? ": " : "", error < 0 ? why : "");
        fflush(stdout);
        quit(m, error < 0 ? 1 : 0);
}

static int on_hold_over(ev_source *s, uint64_t usec, void *userdata) {
        member *m = userdata;
        m->retry = ev_source_disable_unref(m->retry);
        if (etcd_delete(m->etcd, m->slot_key, on_released, m) < 0)
                quit(m, 1);
        return 0;
}

static void on_slot(etcd_client *c, int error, unsigned slot, const char *why, void *userdata) {
        member *m = userdata;

        if (error == 0) {
                printf("acquired slot %u after %" PRIu64 " ms\n", slot, (mono_usec() - m->started_usec) / 1000);
                fflush(stdout);
                (void) snprintf(m->slot_key, sizeof(m->slot_key), "%sslots/%u", m->prefix, slot);
                m->holding = true;
                if (ev_add_time_relative(m->event, &m->retry, CLOCK_MONOTONIC, m->hold_usec, 0, on_hold_over, m) < 0)
                        quit(m, 1);
                return;
        }
        if (mono_usec() - m->started_usec > m->deadline_usec) {
                printf("escalated: no slot within the deadline: %s\n", why);
                fflush(stdout);
                quit(m, 2);
                return;
        }
        if (error == -EBUSY) {
                if (!m->waiting_said)
                        printf("waiting: %s\n", why);
                m->waiting_said = true;
        } else
                printf("held: etcd unavailable: %s\n", why && why[0] ? why : strerror(-error));
        fflush(stdout);
        retry_in(m, 200 * USEC_PER_MSEC);
}

static void try_slot(member *m) {
        char prefix[512];
        (void) snprintf(prefix, sizeof(prefix), "%sslots/", m->prefix);
        if (etcd_slot_acquire(m->etcd, prefix, m->k, m->name, m->lease, on_slot, m) < 0)
                quit(m, 1);
}

static void on_keepalive(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        member *m = userdata;
        if (error == 0 && !rep->is_error && rep->ttl <= 0) {
                /* the lease is gone: whatever was held under it is not ours any more */
                printf("lease lost%s\n", m->holding ? " while holding a slot: stopping" : "");
                fflush(stdout);
                quit(m, 3);
        }
}

static int on_keepalive_timer(ev_source *s, uint64_t usec, void *userdata) {
        member *m = userdata;
        (void) etcd_lease_keepalive(m->etcd, m->lease, on_keepalive, m);
        (void) ev_source_set_time_relative(s, (uint64_t) m->ttl * USEC_PER_SEC / 3);
        (void) ev_source_set_enabled(s, EV_ON);
        return 0;
}

static void on_record(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        member *m = userdata;
        if (error < 0 || rep->is_error) {
                printf("held: etcd unavailable: %s\n", why);
                fflush(stdout);
        }
        try_slot(m);
}

static void on_lease(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        member *m = userdata;
        char key[512], value[256];

        if (error < 0 || rep->is_error || rep->id == 0) {
                printf("held: etcd unavailable: %s\n", why && why[0] ? why : "no lease");
                fflush(stdout);
                if (mono_usec() - m->started_usec > m->deadline_usec) {
                        printf("escalated: no lease within the deadline\n");
                        quit(m, 2);
                        return;
                }
                if (etcd_lease_grant(m->etcd, m->ttl, on_lease, m) < 0)
                        quit(m, 1);
                return;
        }
        m->lease = rep->id;
        printf("lease %" PRId64 "\n", m->lease);
        fflush(stdout);
        if (ev_add_time_relative(m->event, &m->keepalive, CLOCK_MONOTONIC, (uint64_t) m->ttl * USEC_PER_SEC / 3, 0,
                                       on_keepalive_timer, m) < 0)
                quit(m, 1);
        (void) snprintf(key, sizeof(key), "%sgateways/%s", m->prefix, m->name);
        (void) snprintf(value, sizeof(value), "{\"name\":\"%s\",\"health\":\"incident\",\"vrrp\":\"MASTER\"}", m->name);
        if (etcd_put(m->etcd, key, value, m->lease, on_record, m) < 0)
                quit(m, 1);
}

int main(int argc, char **argv) {
        member m = {};
        char *eps[ETCD_ENDPOINTS_MAX + 1] = {}, *list;
        size_t n = 0;
        int r;

        if (argc != 8) {
                fprintf(stderr, "usage: fleet-member ENDPOINTS PREFIX NAME K TTL HOLD DEADLINE\n");
                return 2;
        }
        list = strdup(argv[1]);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < ETCD_ENDPOINTS_MAX; t = strtok_r(NULL, ",", &save))
                eps[n++] = t;
        m.prefix = argv[2];
        m.name = argv[3];
        m.k = (unsigned) atoi(argv[4]);
        m.ttl = atoi(argv[5]);
        m.hold_usec = (uint64_t) (atof(argv[6]) * USEC_PER_SEC);
        m.deadline_usec = (uint64_t) (atof(argv[7]) * USEC_PER_SEC);
        if (ev_default(&m.event) < 0 || etcd_client_new(&m.etcd, m.event, eps, 3 * USEC_PER_SEC) < 0) {
                fprintf(stderr, "fleet-member: cannot start\n");
                return 1;
        }
        m.started_usec = mono_usec();
        if (etcd_lease_grant(m.etcd, m.ttl, on_lease, &m) < 0)
                return 1;
        r = ev_loop_run(m.event);
        m.keepalive = ev_source_disable_unref(m.keepalive);
        m.retry = ev_source_disable_unref(m.retry);
        etcd_client_free(m.etcd);
        ev_unref(m.event);
        free(list);
        return r < 0 ? 1 : m.exit_code;
}
