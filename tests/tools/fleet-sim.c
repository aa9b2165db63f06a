/* A fleet simulation against a real etcd, on the agent's etcd client (common/etcd_client.h):
 * N simulated gateways on one event loop, each with its lease (30 s, kept alive every 10 s; one
 * that lapses under load is taken again and counted), its record under
 * the lease, contending for K slots for a disruptive step, watching the fleet's pause key as
 * the agent does, and polling another.
 *
 *   fleet-sim ENDPOINTS PREFIX N K
 *
 * Phases, each timed: register (lease + record for all N), slots (every gateway takes one of K
 * slots, holds it 50 ms, frees it; a busy answer is retried after 100 ms), pause watched (each
 * gateway opens a watch stream of <prefix>pause, on the endpoints in turn; once all are open the
 * key is written: the time until every stream brought it), pause polled (<prefix>pause-poll is
 * written; each gateway reads it every 500 ms until it sees it: the time until all have).
 * Prints "figure: …" lines: etcd requests/s, slot acquisition latency p50/p99/max, pause
 * propagation both ways. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_client.h"
#include "now.h"

#define LEASE_TTL 30 /* seconds; kept alive every 10 s */

typedef struct sim sim;

typedef struct gw {
        sim *s;
        unsigned idx;
        char name[32];
        int64_t lease;
        uint64_t want_usec, got_usec, saw_pause_usec;
        unsigned slot;
        ev_source *timer;
        etcd_watch *watch;
        bool created, watch_done;
} gw;

struct sim {
        ev_loop *event;
        etcd_client *etcd;
        const char *prefix;
        unsigned n, k, pending, errors, leases_lost;
        gw *gws;
        uint64_t phase_start, pause_written;
        unsigned created;
        ev_source *keepalive;
        int phase;
};

static void phase_done(sim *s);

static void one_done(sim *s) {
        if (--s->pending == 0)
                phase_done(s);
}

/* ---- register ---- */
static void on_put(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        if (error < 0 || rep->is_error)
                g->s->errors++;
        one_done(g->s);
}

static void on_lease(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        char key[256], value[256];
        if (error < 0 || rep->is_error || !rep->id) {
                g->s->errors++;
                one_done(g->s);
                return;
        }
        g->lease = rep->id;
        (void) snprintf(key, sizeof(key), "%sgateways/%s", g->s->prefix, g->name);
        (void) snprintf(value, sizeof(value), "{\"name\":\"%s\",\"health\":\"ok\",\"vrrp\":\"MASTER\",\"version\":\"sim\"}",
                        g->name);
        if (etcd_put(c, key, value, g->lease, on_put, g) < 0) {
                g->s->errors++;
                one_done(g->s);
        }
}

/* ---- slots ---- */
static void want_slot(gw *g);

static void on_new_lease(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        if (error == 0 && !rep->is_error && rep->id)
                g->lease = rep->id;
        want_slot(g);
}

static int on_retry(ev_source *src, uint64_t usec, void *userdata) {
        gw *g = userdata;
        g->timer = ev_source_disable_unref(g->timer);
        want_slot(g);
        return 0;
}

static void on_freed(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        if (error < 0 || rep->is_error)
                g->s->errors++;
        one_done(g->s);
}

static int on_held(ev_source *src, uint64_t usec, void *userdata) {
        gw *g = userdata;
        char key[256];
        g->timer = ev_source_disable_unref(g->timer);
        (void) snprintf(key, sizeof(key), "%sslots/%u", g->s->prefix, g->slot);
        if (etcd_delete(g->s->etcd, key, on_freed, g) < 0) {
                g->s->errors++;
                one_done(g->s);
        }
        return 0;
}

static void on_slot(etcd_client *c, int error, unsigned slot, const char *why, void *userdata) {
        gw *g = userdata;
        if (error == 0) {
                g->got_usec = mono_usec();
                g->slot = slot;
                (void) ev_add_time_relative(g->s->event, &g->timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0, on_held, g);
                return;
        }
        if (error != -EBUSY)
                g->s->errors++;
        if (why && strstr(why, "lease not found")) {
                /* the lease lapsed (keepalives starved under load): a gateway would take a new one */
                g->s->leases_lost++;
                (void) etcd_lease_grant(g->s->etcd, LEASE_TTL, on_new_lease, g);
                return;
        }
        (void) ev_add_time_relative(g->s->event, &g->timer, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC, 0, on_retry, g);
}

static void want_slot(gw *g) {
        char prefix[256];
        (void) snprintf(prefix, sizeof(prefix), "%sslots/", g->s->prefix);
        if (etcd_slot_acquire(g->s->etcd, prefix, g->s->k, g->name, g->lease, on_slot, g) < 0) {
                g->s->errors++;
                one_done(g->s);
        }
}

static void on_pause_written_watched(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        sim *s = userdata;
        if (error < 0 || rep->is_error)
                s->errors++;
}

/* ---- pause, watched ---- */
static void watch_created(sim *s) {
        char key[256];
        if (++s->created < s->n)
                return;
        printf("figure: N=%u %u watch streams open in %.2f s\n", s->n, s->n, (double) (mono_usec() - s->phase_start) / 1e6);
        fflush(stdout);
        (void) snprintf(key, sizeof(key), "%spause", s->prefix);
        s->pause_written = mono_usec(); /* sent: a stream may bring it before the put's answer */
        if (etcd_put(s->etcd, key, "1", 0, on_pause_written_watched, s) < 0)
                s->errors++;
}

static void on_wmsg(etcd_watch *w, const etcd_watch_msg *m, void *userdata) {
        gw *g = userdata;
        if (m->created && !g->created) {
                g->created = true;
                watch_created(g->s);
        }
        for (size_t i = 0; i < m->n_events; i++)
                if (!m->events[i].is_delete && strcmp(m->events[i].kv.value, "1") == 0 && !g->watch_done) {
                        g->watch_done = true;
                        g->saw_pause_usec = mono_usec();
                        one_done(g->s);
                }
}

static void on_wend(etcd_watch *w, int error, const char *why, void *userdata) {
        gw *g = userdata;
        g->watch = NULL;
        g->s->errors++;
        if (g->s->errors < 5)
                fprintf(stderr, "sim-%u: watch ended: %s\n", g->idx, why);
        if (!g->created) {
                g->created = true;
                watch_created(g->s);
        }
        if (!g->watch_done) {
                g->watch_done = true;
                one_done(g->s);
        }
}

/* ---- pause, polled ---- */
static void poll_pause(gw *g);

static int on_poll(ev_source *src, uint64_t usec, void *userdata) {
        gw *g = userdata;
        g->timer = ev_source_disable_unref(g->timer);
        poll_pause(g);
        return 0;
}

static void on_pause(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        if (error == 0 && !rep->is_error && rep->n_kvs > 0 && strcmp(rep->kvs[0].value, "1") == 0) {
                g->saw_pause_usec = mono_usec();
                one_done(g->s);
                return;
        }
        (void) ev_add_time_relative(g->s->event, &g->timer, CLOCK_MONOTONIC, 500 * USEC_PER_MSEC, 0, on_poll, g);
}

static void poll_pause(gw *g) {
        char key[256];
        (void) snprintf(key, sizeof(key), "%spause-poll", g->s->prefix);
        if (etcd_get_prefix(g->s->etcd, key, on_pause, g) < 0)
                one_done(g->s);
}

static void on_pause_written(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        sim *s = userdata;
        if (error < 0 || rep->is_error)
                s->errors++;
        s->pause_written = mono_usec();
}

/* ---- keepalive of every lease, every 3 s ---- */
static void on_ka(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        gw *g = userdata;
        if (error < 0 || rep->is_error || rep->ttl <= 0)
                g->s->errors++;
}

static int on_keepalive(ev_source *src, uint64_t usec, void *userdata) {
        sim *s = userdata;
        for (unsigned i = 0; i < s->n; i++)
                if (s->gws[i].lease)
                        (void) etcd_lease_keepalive(s->etcd, s->gws[i].lease, on_ka, &s->gws[i]);
        (void) ev_source_set_time_relative(src, LEASE_TTL * USEC_PER_SEC / 3);
        (void) ev_source_set_enabled(src, EV_ON);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(sim *s, const char *phase, uint64_t req0) {
        double secs = (double) (mono_usec() - s->phase_start) / 1e6;
        uint64_t req = etcd_client_requests(s->etcd) - req0;
        printf("figure: N=%u %s: %.2f s, %" PRIu64 " etcd requests, %.0f requests/s, %u errors, %u leases lost\n", s->n, phase,
               secs, req, secs > 0 ? (double) req / secs : 0, s->errors, s->leases_lost);
        fflush(stdout);
}

static uint64_t req_mark;

/* The watched pause seen by all: its figures, then the polled one. */
static int poll_phase(ev_source *src, void *userdata) {
        sim *s = userdata;
        uint64_t last = 0;
        char key[256];

        for (unsigned i = 0; i < s->n; i++) {
                last = s->gws[i].saw_pause_usec > last ? s->gws[i].saw_pause_usec : last;
                etcd_watch_close(s->gws[i].watch);
                s->gws[i].watch = NULL;
                s->gws[i].saw_pause_usec = 0;
        }
        report(s, "pause (watched)", req_mark);
        printf("figure: N=%u fleet pause seen by all through their watches %.0f ms after its put was sent\n", s->n,
               s->pause_written && last > s->pause_written ? (last - s->pause_written) / 1e3 : 0.0);
        s->phase = 3;
        s->phase_start = mono_usec();
        req_mark = etcd_client_requests(s->etcd);
        s->pending = s->n;
        (void) snprintf(key, sizeof(key), "%spause-poll", s->prefix);
        s->pause_written = 0;
        (void) etcd_put(s->etcd, key, "1", 0, on_pause_written, s);
        for (unsigned i = 0; i < s->n; i++)
                poll_pause(&s->gws[i]);
        return 0;
}

static void phase_done(sim *s) {
        switch (s->phase) {
        case 0:
                report(s, "register (lease + record)", req_mark);
                (void) ev_add_time_relative(s->event, &s->keepalive, CLOCK_MONOTONIC, LEASE_TTL * USEC_PER_SEC / 3, 0,
                                                  on_keepalive, s);
                s->phase = 1;
                s->phase_start = mono_usec();
                req_mark = etcd_client_requests(s->etcd);
                s->pending = s->n;
                for (unsigned i = 0; i < s->n; i++) {
                        s->gws[i].want_usec = mono_usec();
                        want_slot(&s->gws[i]);
                }
                break;
        case 1: {
                report(s, "slots (take, hold 50 ms, free)", req_mark);
                uint64_t *lat = calloc(s->n, sizeof(*lat));
                for (unsigned i = 0; lat && i < s->n; i++)
                        lat[i] = s->gws[i].got_usec - s->gws[i].want_usec;
                if (lat) {
                        qsort(lat, s->n, sizeof(*lat), cmp_u64);
                        printf("figure: N=%u K=%u slot acquisition latency p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", s->n, s->k,
                               lat[s->n / 2] / 1e3, lat[(s->n * 99) / 100] / 1e3, lat[s->n - 1] / 1e3);
                }
                free(lat);
                s->phase = 2;
                s->phase_start = mono_usec();
                req_mark = etcd_client_requests(s->etcd);
                s->pending = s->n;
                char key[256];
                (void) snprintf(key, sizeof(key), "%spause", s->prefix);
                for (unsigned i = 0; i < s->n; i++)
                        if (etcd_watch_open(s->etcd, key, i, on_wmsg, on_wend, &s->gws[i], &s->gws[i].watch) < 0) {
                                s->errors++;
                                s->gws[i].created = s->gws[i].watch_done = true;
                                watch_created(s);
                                one_done(s);
                        }
                break;
        }
        case 2:
                /* the last event is being read from inside a watch: close them all afterwards */
                (void) ev_add_defer(s->event, NULL, poll_phase, s);
                break;
        default: {
                uint64_t last = 0;
                for (unsigned i = 0; i < s->n; i++)
                        last = s->gws[i].saw_pause_usec > last ? s->gws[i].saw_pause_usec : last;
                report(s, "pause (polled every 500 ms)", req_mark);
                printf("figure: N=%u fleet pause (polled) reached every gateway %.0f ms after it was written\n", s->n,
                       s->pause_written && last > s->pause_written ? (last - s->pause_written) / 1e3 : 0.0);
                (void) ev_exit(s->event, s->errors ? 1 : 0);
        }
        }
}

int main(int argc, char **argv) {
        sim s = {};
        char *eps[ETCD_ENDPOINTS_MAX + 1] = {}, *list;
        size_t n = 0;
        int r;

        if (argc != 5) {
                fprintf(stderr, "usage: fleet-sim ENDPOINTS PREFIX N K\n");
                return 2;
        }
        list = strdup(argv[1]);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < ETCD_ENDPOINTS_MAX; t = strtok_r(NULL, ",", &save))
                eps[n++] = t;
        s.prefix = argv[2];
        s.n = (unsigned) atoi(argv[3]);
        s.k = (unsigned) atoi(argv[4]);
        if (s.n == 0 || s.n > 100000 || s.k == 0 || s.k > 64 || !(s.gws = calloc(s.n, sizeof(*s.gws))))
                return 2;
        if (ev_default(&s.event) < 0 || etcd_client_new(&s.etcd, s.event, eps, 30 * USEC_PER_SEC) < 0)
                return 1;
        s.phase_start = mono_usec();
        s.pending = s.n;
        for (unsigned i = 0; i < s.n; i++) {
                gw *g = &s.gws[i];
                g->s = &s;
                g->idx = i;
                (void) snprintf(g->name, sizeof(g->name), "sim-%u", i);
                if (etcd_lease_grant(s.etcd, LEASE_TTL, on_lease, g) < 0)
                        return 1;
        }
        r = ev_loop_run(s.event);
        for (unsigned i = 0; i < s.n; i++) {
                ev_source_disable_unref(s.gws[i].timer);
                etcd_watch_close(s.gws[i].watch);
        }
        ev_source_disable_unref(s.keepalive);
        etcd_client_free(s.etcd);
        ev_unref(s.event);
        free(s.gws);
        free(list);
        return r;
}
