/* The `capture` action: a bounded packet capture of IKE and ESP (`udp port 500 or udp port 4500
 * or esp`) on one interface (default "any"), for `duration` or `packets` packets or `bytes`
 * bytes of file, whichever comes first, written as a pcap file into the incident's evidence
 * directory (common/evidence.h: 0700, the file 0600). It changes nothing, so observe runbooks
 * may use it. The step lasts as long as the capture: its timeout must exceed `duration`.
 *
 * libpcap is loaded on the first capture (common/pcap_lib.h), not at start. The capture runs on
 * the loop: the handle is non-blocking in immediate mode, its selectable descriptor is watched,
 * and each wake-up takes what is queued (pcap_dispatch) — never a blocking read. With `netns`
 * (else the firewall check's), the handle is opened inside that network namespace by a
 * short-lived thread; the socket stays there. A cancelled step (timeout, shutdown) keeps what was
 * written so far. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "byte_size.h"
#include "duration.h"
#include "evidence.h"
#include "netns.h"
#include "pcap_lib.h"

#define CAPTURE_FILTER "udp port 500 or udp port 4500 or esp"
#define CAPTURE_SNAPLEN 65535
#define CAPTURE_DURATION_DEFAULT (30 * USEC_PER_SEC)
#define CAPTURE_PACKETS_DEFAULT 10000u
#define CAPTURE_BYTES_DEFAULT "10M"
#define CAPTURE_BYTES_MAX (1ULL << 30)
#define PCAP_FILE_HEADER 24u
#define PCAP_RECORD_HEADER 16u

enum { P_INTERFACE, P_NETNS, P_DURATION, P_PACKETS, P_BYTES, _P_MAX };

static const action_param_spec params[] = {
        [P_INTERFACE] = { "interface", AP_STRING, false },
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_DURATION] = { "duration", AP_DURATION, false, USEC_PER_SEC, 3600 * USEC_PER_SEC },
        [P_PACKETS] = { "packets", AP_U32, false, 1, 10000000 },
        [P_BYTES] = { "bytes", AP_STRING, false },
        [_P_MAX] = { 0 },
};

typedef struct capture_state {
        action_call *call;
        pcap_t *pcap;
        pcap_dumper_t *dumper;
        ev_source *io, *timer;
        char path[512];
        uint64_t packets, bytes, max_packets, max_bytes;
        const char *ended; /* what ended it */
        char error[PCAP_ERRBUF_SIZE]; /* libpcap's words for a failure mid-capture */
} capture_state;

static const char *interface_of(const action_params *p) {
        return p->v[P_INTERFACE].set ? p->v[P_INTERFACE].str : "any";
}

static const char *netns_of(const action_params *p, const action_env *env) {
        if (p->v[P_NETNS].set)
                return p->v[P_NETNS].str;
        return env && env->check_param ? env->check_param(env->check_userdata, "firewall", "netns") : NULL;
}

static uint64_t duration_of(const action_params *p) {
        return p->v[P_DURATION].set ? p->v[P_DURATION].num : CAPTURE_DURATION_DEFAULT;
}

static uint64_t bytes_of(const action_params *p) {
        uint64_t n = 0;
        (void) byte_size_parse(p->v[P_BYTES].set ? p->v[P_BYTES].str : CAPTURE_BYTES_DEFAULT, &n);
        return n;
}

static int capture_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        uint64_t b;
        const char *i = interface_of(p);

        if (strlen(i) == 0 || strlen(i) >= 16 || strspn(i, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@") != strlen(i)) {
                (void) snprintf(why, n, "interface: '%.60s' is not an interface name", i);
                return -EINVAL;
        }
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns: '%.60s' is not a network namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_BYTES].set && (byte_size_parse(p->v[P_BYTES].str, &b) < 0 || b <= PCAP_FILE_HEADER || b > CAPTURE_BYTES_MAX)) {
                (void) snprintf(why, n, "bytes: '%.60s' is not a size from 1K to 1G (e.g. 10M)", p->v[P_BYTES].str);
                return -EINVAL;
        }
        return 0;
}

static int capture_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char d[32], b[32];
        const char *ns = netns_of(p, env);
        return action_plan_add(out, "  capture '" CAPTURE_FILTER "' on %s%s%s for %s, at most %llu packets and %s bytes, into "
                               "%s/evidence/INCIDENT/ (0600); changes nothing",
                               interface_of(p), ns ? " in netns " : "", ns ?: "", duration_format(duration_of(p), d, sizeof(d)),
                               (unsigned long long) (p->v[P_PACKETS].set ? p->v[P_PACKETS].num : CAPTURE_PACKETS_DEFAULT),
                               byte_size_format(bytes_of(p), b, sizeof(b)), env && env->state_dir ? env->state_dir : "STATE_DIR");
}

static void finish(capture_state *s, int r) {
        int fr = 0;

        s->io = ev_source_disable_unref(s->io);
        s->timer = ev_source_disable_unref(s->timer);
        if (s->dumper) {
                fr = pcap_dump_flush(s->dumper) < 0 ? -EIO : 0;
                pcap_dump_close(s->dumper);
                s->dumper = NULL;
        }
        if (s->pcap) {
                pcap_close(s->pcap);
                s->pcap = NULL;
        }
        if (!s->call)
                return;
        if (r >= 0 && fr < 0)
                r = fr;
        action_call_set_detail(s->call, "%s%llu packet(s), %llu bytes in %s (ended by %s%s%s)", r < 0 ? "capture failed: " : "",
                               (unsigned long long) s->packets, (unsigned long long) s->bytes, s->path, s->ended ?: "an error",
                               s->error[0] ? ": " : "", s->error);
        action_call_done(s->call, r);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
        capture_state *s = (capture_state *) user;
        uint64_t more = PCAP_RECORD_HEADER + h->caplen;

        if (s->ended)
                return;
        if (s->bytes + more > s->max_bytes) {
                s->ended = "the byte limit";
                return;
        }
        pcap_dump((u_char *) s->dumper, h, bytes);
        s->bytes += more;
        if (++s->packets >= s->max_packets)
                s->ended = "the packet limit";
}

static int on_io(ev_source *src, int fd, uint32_t revents, void *userdata) {
        capture_state *s = userdata;
        int n = pcap_dispatch(s->pcap, (int) (s->max_packets - s->packets), on_packet, (u_char *) s);

        if (n < 0) {
                (void) snprintf(s->error, sizeof(s->error), "%s", pcap_geterr(s->pcap));
                s->ended = "an error";
                finish(s, -EIO);
                return 0;
        }
        if (s->ended)
                finish(s, 0);
        return 0;
}

static int on_timer(ev_source *src, uint64_t usec, void *userdata) {
        capture_state *s = userdata;
        /* what is queued already belongs to the window */
        (void) pcap_dispatch(s->pcap, (int) (s->max_packets - s->packets), on_packet, (u_char *) s);
        if (!s->ended)
                s->ended = "its duration";
        finish(s, 0);
        return 0;
}

typedef struct capture_activation {
        pcap_t *pcap;
        int status; /* pcap_activate()'s: <0 an error, >0 a warning */
} capture_activation;

static int activate(void *userdata) {
        capture_activation *a = userdata;
        a->status = pcap_activate(a->pcap);
        return 0;
}

/* "capture-<run>-<step>-<UTC time>.pcap", made 0600 exclusively in the evidence directory. */
static int open_file(capture_state *s, const action_env *env, FILE **ret) {
        _cleanup_(freep) char *dir = NULL;
        const char *run = "0", *step = "capture";
        uint64_t incident = 0;
        char when[32];
        struct tm tm;
        time_t now = time(NULL);
        int fd, r;

        for (char *const *c = action_call_context(s->call); c && *c; c++) {
                if (strncmp(*c, "IKEHEAL_INCIDENT=", 17) == 0)
                        incident = strtoull(*c + 17, NULL, 10);
                else if (strncmp(*c, "IKEHEAL_RUN=", 12) == 0)
                        run = *c + 12;
                else if (strncmp(*c, "IKEHEAL_STEP=", 13) == 0 && evidence_name_valid(*c + 13) == 0)
                        step = *c + 13;
        }
        if ((r = evidence_dir_make(env->state_dir, incident, &dir)) < 0)
                return r;
        (void) strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
        (void) snprintf(s->path, sizeof(s->path), "%s/capture-%.20s-%.40s-%s.pcap", dir,
                        strspn(run, "0123456789") == strlen(run) ? run : "0", step, when);
        fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (!(*ret = fdopen(fd, "w"))) {
                r = -errno;
                (void) close(fd);
                return r;
        }
        return 0;
}

static int capture_start(void *state, action_call *call, action_op op) {
        capture_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        char err[PCAP_ERRBUF_SIZE] = "";
        struct bpf_program prog;
        FILE *f = NULL;
        int r, fd;

        *s = (capture_state){ .call = call,
                              .max_packets = p->v[P_PACKETS].set ? p->v[P_PACKETS].num : CAPTURE_PACKETS_DEFAULT,
                              .max_bytes = bytes_of(p),
                              .bytes = PCAP_FILE_HEADER };
        if (op != ACTION_APPLY)
                return -EOPNOTSUPP;
        if ((r = pcap_lib_load()) < 0) {
                action_call_set_detail(call, "%s", pcap_lib_error());
                return r;
        }
        if (!(s->pcap = pcap_create(interface_of(p), err))) {
                action_call_set_detail(call, "pcap: %s", err);
                return -ENODEV;
        }
        if (pcap_set_snaplen(s->pcap, CAPTURE_SNAPLEN) < 0 || pcap_set_immediate_mode(s->pcap, 1) < 0)
                goto pcap_failed;
        capture_activation a = { .pcap = s->pcap };
        r = netns_run(netns_of(p, env), activate, &a);
        if (r < 0) {
                action_call_set_detail(call, "cannot enter netns %s: %s", netns_of(p, env), strerror(-r));
                goto failed_r;
        }
        if (a.status < 0) {
                action_call_set_detail(call, "pcap on %s: %s (%s)", interface_of(p), pcap_statustostr(a.status),
                                       pcap_geterr(s->pcap));
                goto failed;
        }
        if (pcap_compile(s->pcap, &prog, CAPTURE_FILTER, 1, PCAP_NETMASK_UNKNOWN) < 0)
                goto pcap_failed;
        r = pcap_setfilter(s->pcap, &prog);
        pcap_freecode(&prog);
        if (r < 0 || pcap_setnonblock(s->pcap, 1, err) < 0 || (fd = pcap_get_selectable_fd(s->pcap)) < 0)
                goto pcap_failed;
        if ((r = open_file(s, env, &f)) < 0) {
                action_call_set_detail(call, "cannot create the capture file in %s/evidence: %s", env->state_dir ?: "?",
                                       strerror(-r));
                goto failed_r;
        }
        if (!(s->dumper = pcap_dump_fopen(s->pcap, f))) {
                (void) fclose(f);
                goto pcap_failed;
        }
        if ((r = ev_add_io(env->event, &s->io, fd, EPOLLIN, on_io, s)) < 0 ||
            (r = ev_add_time_relative(env->event, &s->timer, CLOCK_MONOTONIC, duration_of(p), 0, on_timer, s)) < 0) {
                action_call_set_detail(call, "cannot watch the capture: %s", strerror(-r));
                goto failed_r;
        }
        return 0;

pcap_failed:
        action_call_set_detail(call, "pcap on %s: %s", interface_of(p), pcap_geterr(s->pcap));
failed:
        r = -EIO;
failed_r:
        s->call = NULL; /* the call completes with r */
        finish(s, r);
        return r;
}

static void capture_cancel(void *state) {
        capture_state *s = state;
        s->call = NULL;
        finish(s, -ECANCELED);
}

static bool capture_supports(const action_params *p, action_op op) {
        return false;
}

const action_ops action_capture = {
        .kind = "capture",
        .description = "a bounded packet capture of IKE and ESP into the incident's evidence (changes nothing)",
        .params = params,
        .effects = false,
        .state_size = sizeof(capture_state),
        .validate = capture_validate,
        .plan = capture_plan,
        .start = capture_start,
        .cancel = capture_cancel,
        .done = capture_cancel,
        .supports = capture_supports,
};
