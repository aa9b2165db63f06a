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

struct check_host {
        charon_hub *hub;
        sysbus *bus;            /* connected when a check or an action first needs it */
        check_env env;          /* what checks borrow; updated in place on reload */
};

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

/* Said once, when the bus is first needed and cannot be had; the bus is asked for again later. */
static void on_bus_failed(int r, const char *why, void *userdata) {
        log_warning_errno(r, "no system bus (%s): unit and timedated facts unavailable, ignoring", why);
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
        r = sysbus_new(&h->bus, e, on_bus_failed, h);
        if (r < 0) {
                check_host_free(h);
                return r;
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
        h->bus = sysbus_free(h->bus);
        h->hub = charon_hub_free(h->hub);
        free(h);
        return NULL;
}

charon_hub *check_host_hub(const check_host *h) {
        return h->hub;
}

sysbus *check_host_bus(const check_host *h) {
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
