/* The checks' environment and their set's start (agent/triage/check_host.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "agent/checks/charon_hub.h"
#include "agent/checks/check_set.h"
#include "agent/triage/check_host.h"
#include "snapshot.h"
#include "log.h"

typedef struct bus_glue bus_glue;
struct bus_glue {
        sd_bus *bus;
        ev_source *io, *time;
};

struct check_host {
        charon_hub *hub;
        sd_bus *bus;            /* NULL where there is none */
        bus_glue glue;
        check_env env;          /* what checks borrow; updated in place on reload */
};

/* The system bus on the agent's loop (an interim glue): before each wait sd-bus says which
 * events and which deadline it waits for; on either, it processes until it has nothing left. */
static int bus_glue_process(ev_source *s, void *userdata) {
        bus_glue *g = userdata;
        int r;

        while ((r = sd_bus_process(g->bus, NULL)) > 0)
                ;
        return 0;
}

static int on_bus_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        return bus_glue_process(s, userdata);
}

static int on_bus_time(ev_source *s, uint64_t usec, void *userdata) {
        return bus_glue_process(s, userdata);
}

static int on_bus_prepare(ev_source *s, void *userdata) {
        bus_glue *g = userdata;
        uint64_t t;
        int ev = sd_bus_get_events(g->bus);

        if (ev >= 0)
                (void) ev_source_set_io_events(g->io, (uint32_t) ev);
        if (sd_bus_get_timeout(g->bus, &t) >= 0 && t != UINT64_MAX) {
                (void) ev_source_set_time(g->time, t);
                return ev_source_set_enabled(g->time, EV_ONESHOT);
        }
        return ev_source_set_enabled(g->time, EV_OFF);
}

static int bus_glue_attach(bus_glue *g, sd_bus *bus, ev_loop *e) {
        int fd = sd_bus_get_fd(bus);
        int r;

        if (fd < 0)
                return fd;
        g->bus = bus;
        r = ev_add_io(e, &g->io, fd, 0, on_bus_io, g);
        if (r >= 0)
                r = ev_add_time(e, &g->time, CLOCK_MONOTONIC, 0, 1, on_bus_time, g);
        if (r >= 0)
                r = ev_source_set_prepare(g->io, on_bus_prepare);
        return r;
}

static void bus_glue_detach(bus_glue *g) {
        g->io = ev_source_disable_unref(g->io);
        g->time = ev_source_disable_unref(g->time);
}

/* The state directory holds incidents, snapshots and measures: private to us. */
static int state_dir_prepare(const char *dir) {
        _cleanup_(freep) char *snap = NULL;
        int r;

        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return -errno;
        r = snapshot_dir(dir, &snap);
        if (r < 0)
                return r;
        if (mkdir(snap, 0750) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int check_host_new(check_host **ret, ev_loop *e, const ikeheal_config *config) {
        check_host *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        r = charon_hub_new(&h->hub);
        if (r < 0) {
                free(h);
                return r;
        }
        r = sd_bus_open_system(&h->bus);
        if (r >= 0)
                r = bus_glue_attach(&h->glue, h->bus, e);
        if (r < 0) {
                bus_glue_detach(&h->glue);
                log_warning_errno(r, "no system bus: unit and timedated facts unavailable, ignoring");
                h->bus = sd_bus_flush_close_unref(h->bus);
        }
        r = state_dir_prepare(config->state_dir);
        if (r < 0) {
                check_host_free(h);
                return log_error_errno(r, "cannot create state directory %s", config->state_dir);
        }
        h->env = (check_env){
                .event = e,
                .charon = config_check_charon(config),
                .hub = h->hub,
                .bus = h->bus,
                .state_dir = config->state_dir,
        };
        *ret = h;
        return 0;
}

check_host *check_host_free(check_host *h) {
        if (!h)
                return NULL;
        bus_glue_detach(&h->glue);
        h->bus = sd_bus_flush_close_unref(h->bus);
        h->hub = charon_hub_free(h->hub);
        free(h);
        return NULL;
}

charon_hub *check_host_hub(const check_host *h) {
        return h->hub;
}

sd_bus *check_host_bus(const check_host *h) {
        return h->bus;
}

int check_host_prepare(check_host *h, const ikeheal_config *config, check_observer observer, void *userdata,
                       check_set **ret, char **ret_error) {
        ydiag d;
        int r;

        ydiag_init(&d, config->path);
        r = check_set_new(ret, &h->env, config->checks, config->n_checks, observer, userdata, &d);
        if (r < 0 && ret_error)
                *ret_error = ydiag_join(&d);
        ydiag_done(&d);
        return r;
}

int check_host_start(check_host *h, const ikeheal_config *config, vici_client *vici, check_set *set) {
        int r;

        h->env.charon = config_check_charon(config);
        h->env.vici = vici;
        h->env.state_dir = config->state_dir;
        r = check_set_start(set);
        if (r < 0)
                log_warning_errno(r, "a check could not start, ignoring");
        log_info("%zu checks running", check_set_size(set));
        return 0;
}
