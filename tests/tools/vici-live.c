/* vici-live: drive common/vici.c against a real charon for tests/integration/vici.sh. One line
 * per observation on stdout ("version daemon=… version=…", "stream list-conns items=2 …",
 * "log group=CFG …", "disconnected reason=…", …), and the exit code says whether everything was
 * observed:
 *
 *   phase 1  connect; `version`; `stats`; stream `list-conns` (at least --min-conns items) and
 *            `list-sas`; subscribe to `log` and `load-conn` a tiny connection of our own, which
 *            makes charon log, so a log event must arrive; then print "phase1 done" and create
 *            the --ready file, so the script knows it may kill charon
 *   phase 2  see the disconnect (state callback), reconnect with backoff once charon is back,
 *            `version` again, and a log event again (the subscription was renewed by the client)
 *
 * Exit 0 all observed, 1 something missing or wrong (said on stderr), 2 usage.
 *
 *   vici-live --socket PATH [--ready FILE] [--min-conns N] [--timeout-ms MS] [--deadline-s S]
 *             [--backoff-ms MIN,MAX] [--capture DIR] [--once] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vici.h"

typedef struct live {
        ev_loop *event;
        vici_client *vici;
        const char *ready_file;
        const char *capture_dir;
        unsigned min_conns;
        bool once;
        int phase; /* 1, 2 */
        int exit_code;
        unsigned connects, disconnects, captured;
        unsigned conns, sas, logs_phase[3];
        bool got_version[3], got_stats, conns_done, sas_done, load_done[3];
        uint64_t disconnect_usec;
        int disconnect_reason;
        char last_version[64];
} live;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void fail(live *l, const char *what, int error) {
        fprintf(stderr, "vici-live: FAIL %s%s%s\n", what, error ? ": " : "",
                error ? strerror(-error) : "");
        l->exit_code = 1;
        (void) ev_exit(l->event, 1);
}

static void check_phase_done(live *l);

static void on_version(vici_client *c, int error, const vici_node *reply, void *userdata) {
        live *l = userdata;
        const char *v;

        if (error < 0) {
                fail(l, "version", error);
                return;
        }
        v = vici_node_str(reply, "version");
        printf("version phase=%d daemon=%s version=%s sysname=%s machine=%s\n", l->phase,
               vici_node_str(reply, "daemon") ?: "?", v ?: "?",
               vici_node_str(reply, "sysname") ?: "?", vici_node_str(reply, "machine") ?: "?");
        if (!v) {
                fail(l, "version reply without a version", 0);
                return;
        }
        (void) snprintf(l->last_version, sizeof(l->last_version), "%s", v);
        l->got_version[l->phase] = true;
        check_phase_done(l);
}

static void on_stats(vici_client *c, int error, const vici_node *reply, void *userdata) {
        live *l = userdata;
        uint64_t total = 0, half = 0, workers = 0;

        if (error < 0) {
                fail(l, "stats", error);
                return;
        }
        if (vici_node_u64(reply, "ikesas.total", &total) < 0 ||
            vici_node_u64(reply, "ikesas.half-open", &half) < 0) {
                fail(l, "stats reply without ikesas.total/half-open", 0);
                return;
        }
        (void) vici_node_u64(reply, "workers.total", &workers);
        printf("stats uptime=\"%s\" ikesas.total=%llu ikesas.half-open=%llu workers=%llu\n",
               vici_node_str(reply, "uptime.running") ?: "?", (unsigned long long) total,
               (unsigned long long) half, (unsigned long long) workers);
        l->got_stats = true;
        check_phase_done(l);
}

static void on_conn_item(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        live *l = userdata;

        for (const vici_node *n = item->child; n; n = n->next)
                if (n->type == VICI_NODE_SECTION) {
                        printf("item %s conn=%s version=%s\n", event, n->name,
                               vici_node_str(n, "version") ?: "?");
                        l->conns++;
                }
}

static void on_conns_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        live *l = userdata;

        if (error < 0) {
                fail(l, "list-conns", error);
                return;
        }
        printf("stream list-conns items=%u\n", l->conns);
        if (l->conns < l->min_conns) {
                fail(l, "list-conns streamed fewer connections than --min-conns", 0);
                return;
        }
        l->conns_done = true;
        check_phase_done(l);
}

static void on_sa_item(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        live *l = userdata;
        l->sas++;
}

static void on_sas_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        live *l = userdata;

        if (error < 0) {
                fail(l, "list-sas", error);
                return;
        }
        printf("stream list-sas items=%u\n", l->sas);
        l->sas_done = true;
        check_phase_done(l);
}

static void on_log(vici_client *c, const char *event, const vici_node *msg, void *userdata) {
        live *l = userdata;

        if (l->logs_phase[l->phase]++ < 3)
                printf("log phase=%d group=%s level=%s msg=\"%s\"\n", l->phase,
                       vici_node_str(msg, "group") ?: "?", vici_node_str(msg, "level") ?: "?",
                       vici_node_str(msg, "msg") ?: "?");
        check_phase_done(l);
}

static void on_load(vici_client *c, int error, const vici_node *reply, void *userdata) {
        live *l = userdata;
        const char *ok;

        if (error < 0) {
                fail(l, "load-conn", error);
                return;
        }
        ok = vici_node_str(reply, "success");
        printf("load-conn phase=%d success=%s errmsg=%s\n", l->phase, ok ?: "?",
               vici_node_str(reply, "errmsg") ?: "");
        if (!ok || strcmp(ok, "yes") != 0) {
                fail(l, "load-conn refused", 0);
                return;
        }
        l->load_done[l->phase] = true;
        check_phase_done(l);
}

/* A tiny connection of our own: makes charon log ("added vici connection") and exercises
 * nested sections and lists of the builder against charon's own parser. */
static int send_load_conn(live *l) {
        _cleanup_(vici_builder_freep) vici_builder *b = NULL;
        _cleanup_(freep) uint8_t *msg = NULL;
        size_t len;
        int r;

        r = vici_builder_new(&b);
        if (r < 0)
                return r;
        vici_builder_begin_section(b, "vici-live");
        vici_builder_add_str(b, "version", "2");
        vici_builder_begin_list(b, "local_addrs");
        vici_builder_add_list_item(b, "198.18.255.1");
        vici_builder_end_list(b);
        vici_builder_begin_list(b, "proposals");
        vici_builder_add_list_item(b, "aes128-sha256-ecp256");
        vici_builder_end_list(b);
        vici_builder_begin_section(b, "local");
        vici_builder_add_str(b, "auth", "psk");
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "remote");
        vici_builder_add_str(b, "auth", "psk");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        r = vici_builder_finish(TAKE_PTR(b), &msg, &len);
        if (r < 0)
                return r;
        return vici_client_command(l->vici, "load-conn", msg, len, on_load, l);
}

static void check_phase_done(live *l) {
        if (l->exit_code >= 0)
                return;
        if (l->phase == 1 && l->got_version[1] && l->got_stats && l->conns_done && l->sas_done &&
            l->load_done[1] && l->logs_phase[1] > 0) {
                printf("phase1 done: version, stats, list-conns (%u), list-sas (%u), %u log "
                       "events\n",
                       l->conns, l->sas, l->logs_phase[1]);
                fflush(stdout);
                if (l->once) {
                        l->exit_code = 0;
                        (void) ev_exit(l->event, 0);
                        return;
                }
                l->phase = 2;
                if (l->ready_file) {
                        int fd = open(l->ready_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                        if (fd < 0) {
                                fail(l, "cannot create the --ready file", -errno);
                                return;
                        }
                        (void) close(fd);
                }
                return;
        }
        if (l->phase == 2 && l->disconnects > 0 && l->connects > 1 && l->got_version[2] &&
            l->load_done[2] && l->logs_phase[2] > 0) {
                printf("phase2 done: disconnect seen (%s), reconnected, version %s, log "
                       "subscription renewed (%u events)\n",
                       strerror(-l->disconnect_reason), l->last_version, l->logs_phase[2]);
                l->exit_code = 0;
                (void) ev_exit(l->event, 0);
        }
}

static void on_state(vici_client *c, bool connected, int reason, void *userdata) {
        live *l = userdata;
        int r;

        printf("state %s%s%s\n", connected ? "connected" : "disconnected", reason ? " reason=" : "",
               reason ? strerror(-reason) : "");
        fflush(stdout);
        if (!connected) {
                if (l->connects > 0) {
                        l->disconnects++;
                        l->disconnect_usec = now_usec();
                        l->disconnect_reason = reason;
                        if (l->phase != 2)
                                fail(l, "disconnected before phase 1 was complete", reason);
                }
                return;
        }
        l->connects++;
        if (l->phase == 2) {
                if (l->disconnects == 0) {
                        fail(l, "connected twice without a disconnect", 0);
                        return;
                }
                printf("reconnected %.3f s after the disconnect\n",
                       (double) (now_usec() - l->disconnect_usec) / USEC_PER_SEC);
                r = vici_client_command(c, "version", NULL, 0, on_version, l);
                if (r >= 0)
                        r = send_load_conn(l);
                if (r < 0)
                        fail(l, "queueing phase 2 requests", r);
                return;
        }
        /* all of phase 1 queued at once: the client serialises them */
        r = vici_client_command(c, "version", NULL, 0, on_version, l);
        if (r >= 0)
                r = vici_client_command(c, "stats", NULL, 0, on_stats, l);
        if (r >= 0)
                r = vici_client_stream(c, "list-conns", "list-conn", NULL, 0, on_conn_item,
                                       on_conns_done, l);
        if (r >= 0)
                r = vici_client_stream(c, "list-sas", "list-sa", NULL, 0, on_sa_item, on_sas_done,
                                       l);
        if (r >= 0)
                r = send_load_conn(l);
        if (r < 0)
                fail(l, "queueing phase 1 requests", r);
}

static void on_packet(vici_client *c, const uint8_t *pkt, size_t len, void *userdata) {
        live *l = userdata;
        char path[4096];
        uint8_t prefix[4] = {(uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8),
                             (uint8_t) len};
        FILE *f;

        if (!l->capture_dir || l->captured >= 200)
                return;
        (void) snprintf(path, sizeof(path), "%s/charon-%03u-type%u", l->capture_dir, l->captured++,
                        len ? pkt[0] : 255);
        f = fopen(path, "we");
        if (!f || fwrite(prefix, 1, 4, f) != 4 || fwrite(pkt, 1, len, f) != len)
                fprintf(stderr, "vici-live: cannot write %s\n", path);
        if (f)
                (void) fclose(f);
}

static int on_deadline(ev_source *s, uint64_t usec, void *userdata) {
        live *l = userdata;

        fprintf(stderr,
                "vici-live: deadline reached in phase %d: version=%d/%d stats=%d list-conns=%d "
                "list-sas=%d load=%d/%d logs=%u/%u connects=%u disconnects=%u\n",
                l->phase, l->got_version[1], l->got_version[2], l->got_stats, l->conns_done,
                l->sas_done, l->load_done[1], l->load_done[2], l->logs_phase[1], l->logs_phase[2],
                l->connects, l->disconnects);
        fail(l, "deadline", -ETIMEDOUT);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
                                             {"ready", required_argument, NULL, 'r'},
                                             {"min-conns", required_argument, NULL, 'n'},
                                             {"timeout-ms", required_argument, NULL, 't'},
                                             {"deadline-s", required_argument, NULL, 'd'},
                                             {"backoff-ms", required_argument, NULL, 'b'},
                                             {"capture", required_argument, NULL, 'c'},
                                             {"once", no_argument, NULL, 'o'},
                                             {}};
        live l = {.phase = 1, .exit_code = -1};
        const char *path = NULL;
        unsigned long timeout_ms = 2000, deadline_s = 30, bmin = 50, bmax = 400;
        ev_source *deadline = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        path = optarg;
                        break;
                case 'r':
                        l.ready_file = optarg;
                        break;
                case 'n':
                        l.min_conns = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        timeout_ms = strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        deadline_s = strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        if (sscanf(optarg, "%lu,%lu", &bmin, &bmax) != 2)
                                return 2;
                        break;
                case 'c':
                        l.capture_dir = optarg;
                        break;
                case 'o':
                        l.once = true;
                        break;
                default:
                        return 2;
                }
        }
        if (!path) {
                fprintf(stderr, "usage: vici-live --socket PATH [--ready FILE] [--min-conns N] "
                                "[--timeout-ms MS] [--deadline-s S] [--backoff-ms MIN,MAX] "
                                "[--capture DIR] [--once]\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);

        r = ev_new(&l.event);
        if (r >= 0)
                r = vici_client_new(&l.vici, l.event, path, timeout_ms * USEC_PER_MSEC,
                                    bmin * USEC_PER_MSEC, bmax * USEC_PER_MSEC, on_state, &l);
        if (r >= 0)
                r = vici_client_subscribe(l.vici, "log", on_log, &l);
        if (r >= 0) {
                vici_client_set_packet_hook(l.vici, on_packet, &l);
                r = vici_client_start(l.vici);
        }
        if (r >= 0)
                r = ev_add_time_relative(l.event, &deadline, CLOCK_MONOTONIC,
                                               deadline_s * USEC_PER_SEC, 0, on_deadline, &l);
        if (r >= 0)
                r = ev_loop_run(l.event);
        if (r < 0) {
                fprintf(stderr, "vici-live: %s\n", strerror(-r));
                l.exit_code = 1;
        }
        printf("result %s\n", l.exit_code == 0 ? "PASS" : "FAIL");
        ev_source_unref(deadline);
        vici_client_free(l.vici);
        ev_unref(l.event);
        return l.exit_code == 0 ? 0 : 1;
}
