/* check-run: run one check of any registered kind, alone, on a real loop — the way tests
 * exercise a check against the lab without a whole agent. The check gets what the agent would
 * lend it (agent/checks/check.h's check_env): a VICI client feeding a charon hub (--vici) and a
 * state directory; no system bus. Each finding is printed as one block:
 *
 *   finding N status=fail changed=yes ms=12
 *   summary: …
 *   fact class=firewall
 *   evidence: …
 *   end
 *
 * --count N stops after N findings (default 1); --watch S keeps running S seconds (for push
 * tests: start it, cause the fault, read the findings); --trigger-every MS re-runs the check
 * (an interval); --mark-good calls the kind's mark_good after the first OK finding (a last-good
 * snapshot); --ready FILE is created once the first finding is printed.
 *
 *   check-run [--vici PATH] [--state-dir DIR] [--count N] [--watch S] [--interval MS]
 *             [--timeout MS] [--retries N] [--mark-good] [--ready FILE] KIND [PARAMS.yaml]
 *
 * Exit 0 when the last finding was printed, 1 on a failure to set up (said on stderr), 2 usage.
 * `check-run --list` prints the registered kinds. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/charon_hub.h"
#include "agent/config/config.h"
#include "agent/checks/check.h"
#include "agent/checks/registry.h"
#include "sysbus.h"
#include "vici.h"

typedef struct run {
        ev_loop *event;
        unsigned count, seen;
        bool mark_good, marked;
        const char *ready;
        uint64_t t0;
} run;

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void on_finding(check *c, const finding *f, bool changed, void *userdata) {
        run *r = userdata;

        r->seen++;
        printf("finding %u status=%s reported=%s changed=%s ms=%llu\n", r->seen,
               check_status_to_string(f->status),
               check_status_to_string(check_get_state(c)->reported), changed ? "yes" : "no",
               (unsigned long long) ((mono_usec() - r->t0) / USEC_PER_MSEC));
        printf("summary: %s\n", f->summary ? f->summary : "");
        for (size_t i = 0; i < f->n_facts; i++)
                printf("fact %s=%s\n", f->facts[i].key, f->facts[i].value);
        for (size_t i = 0; i < f->n_evidence; i++)
                printf("evidence: %s\n", f->evidence[i]);
        printf("end\n");
        fflush(stdout);
        if (r->mark_good && !r->marked && f->status == CHECK_OK) {
                check_mark_good(c);
                r->marked = true;
        }
        if (r->ready && r->seen == 1) {
                int fd = open(r->ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0)
                        close(fd);
        }
        if (r->count && r->seen >= r->count)
                (void) ev_exit(r->event, 0);
}

/* charon answers one connection's requests in order, and the subscriptions are registered
 * first after a connect: the answer to a request made now says they are all in place. */
static void on_subscribed(vici_client *v, int error, const vici_node *reply, void *userdata) {
        if (error == 0) {
                fprintf(stderr, "check-run: subscribed\n");
                fflush(stderr);
        }
}

static void on_vici_state(vici_client *v, bool connected, int reason, void *userdata) {
        charon_hub_emit_state(userdata, connected, reason);
        if (connected)
                (void) vici_client_command(v, "version", NULL, 0, on_subscribed, NULL);
}

static void on_vici_event(vici_client *v, const char *event, const vici_node *msg, void *userdata) {
        charon_hub_emit_event(userdata, event, msg);
}

static int on_deadline(ev_source *s, uint64_t usec, void *userdata) {
        return ev_exit(userdata, 0);
}

static int usage(void) {
        fprintf(stderr, "usage: check-run [--vici PATH] [--state-dir DIR] [--count N] [--watch S] "
                        "[--interval MS] [--timeout MS] [--retries N] [--mark-good] "
                        "[--ready FILE] KIND [PARAMS.yaml]\n       check-run --list\n");
        return 2;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "vici", required_argument, NULL, 'v' },
                { "state-dir", required_argument, NULL, 's' },
                { "count", required_argument, NULL, 'n' },
                { "watch", required_argument, NULL, 'w' },
                { "interval", required_argument, NULL, 'i' },
                { "timeout", required_argument, NULL, 't' },
                { "retries", required_argument, NULL, 'r' },
                { "mark-good", no_argument, NULL, 'g' },
                { "ready", required_argument, NULL, 'R' },
                { "list", no_argument, NULL, 'l' },
                {}
        };
        const char *vici_path = NULL, *state_dir = "/tmp";
        unsigned watch_s = 0;
        check_schedule sched = { .timeout_usec = 10 * USEC_PER_SEC, .rise = 1, .fall = 1 };
        run r = { .count = 1 };
        _cleanup_(charon_hub_freep) charon_hub *hub = NULL;
        _cleanup_(vici_client_freep) vici_client *vici = NULL;
        _cleanup_(ynode_freep) ynode *params = NULL;
        _cleanup_(check_freep) check *c = NULL;
        _cleanup_(config_freep) ikeheal_config *config = NULL;
        sysbus *bus = NULL;
        const check_ops *ops;
        check_env env = {};
        ydiag d;
        int opt, rc;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (opt) {
                case 'v': vici_path = optarg; break;
                case 's': state_dir = optarg; break;
                case 'n': r.count = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'w': watch_s = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'i': sched.interval_usec = strtoull(optarg, NULL, 10) * USEC_PER_MSEC; break;
                case 't': sched.timeout_usec = strtoull(optarg, NULL, 10) * USEC_PER_MSEC; break;
                case 'r': sched.retries = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'g': r.mark_good = true; break;
                case 'R': r.ready = optarg; break;
                case 'l': {
                        size_t n;
                        const check_ops *const *all = check_registry_all(&n);
                        for (size_t i = 0; i < n; i++)
                                printf("%s\t%s\n", all[i]->kind, all[i]->description ?: "");
                        return 0;
                }
                default: return usage();
                }
        if (optind >= argc || argc - optind > 2)
                return usage();
        ops = check_registry_find(argv[optind]);
        if (!ops) {
                fprintf(stderr, "check-run: no check kind \"%s\" (see --list)\n", argv[optind]);
                return 2;
        }
        if (watch_s)
                r.count = 0;

        ydiag_init(&d, argc - optind == 2 ? argv[optind + 1] : "params");
        if (argc - optind == 2 && ytree_parse_file(argv[optind + 1], &d, &params) < 0) {
                _cleanup_(freep) char *m = ydiag_join(&d);
                fprintf(stderr, "%s\n", m ? m : "cannot parse params");
                ydiag_done(&d);
                return 1;
        }

        if (ev_new(&r.event) < 0 || charon_hub_new(&hub) < 0)
                return 1;
        env.event = r.event;
        env.hub = hub;
        env.state_dir = state_dir;
        if (sysbus_new(&bus, r.event, NULL, NULL) < 0) /* connected when the check first needs it */
                return 1;
        env.bus = bus;
        {
                /* the defaults, with the VICI socket the checks should name */
                _cleanup_(freep) char *text = NULL, *err = NULL;
                if (asprintf(&text, "charon: {vici_socket: \"%s\"}\nchecks: []\n",
                             vici_path ? vici_path : "/run/charon.vici") < 0 ||
                    config_parse_buffer("check-run", text, strlen(text), &config, &err) < 0) {
                        fprintf(stderr, "check-run: %s\n", err ? err : "cannot build a config");
                        return 1;
                }
                env.charon = config_check_charon(config);
        }
        if (vici_path) {
                static const char *const events[] = { "ike-updown", "child-updown", "log" };
                if (vici_client_new(&vici, r.event, vici_path, 5 * USEC_PER_SEC, 50 * USEC_PER_MSEC,
                                    USEC_PER_SEC, on_vici_state, hub) < 0)
                        return 1;
                for (size_t i = 0; i < ELEMENTSOF(events); i++)
                        (void) vici_client_subscribe(vici, events[i], on_vici_event, hub);
                if (vici_client_start(vici) < 0)
                        return 1;
                env.vici = vici;
        }

        if (check_new(&c, &env, argv[optind], ops, &sched, on_finding, &r) < 0)
                return 1;
        if (check_parse_params(c, params, &d) < 0) {
                _cleanup_(freep) char *m = ydiag_join(&d);
                fprintf(stderr, "%s\n", m ? m : "invalid params");
                ydiag_done(&d);
                return 1;
        }
        ydiag_done(&d);
        if (watch_s)
                (void) ev_add_time_relative(r.event, NULL, CLOCK_MONOTONIC,
                                                  (uint64_t) watch_s * USEC_PER_SEC, 1000,
                                                  on_deadline, r.event);
        r.t0 = mono_usec();
        rc = check_start(c);
        if (rc < 0) {
                fprintf(stderr, "check-run: cannot start: %s\n", strerror(-rc));
                return 1;
        }
        if (!r.count || r.seen < r.count)
                (void) ev_loop_run(r.event);
        c = check_free(c);
        vici = vici_client_free(vici);
        sysbus_free(bus);
        ev_unref(r.event);
        return r.seen > 0 ? 0 : 1;
}
