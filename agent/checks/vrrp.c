/* The VRRP role check (kind "vrrp"): which role keepalived gave this gateway — MASTER (it holds
 * the virtual address and serves the clients), BACKUP (a standby: no sessions is its normal
 * state), FAULT or STOP. keepalived writes every state change of its instances as one line to
 * its notify FIFO (global_defs { vrrp_notify_fifo PATH }); this check holds the FIFO open and
 * reads those lines as they come (common/vrrp_notify.h), so a change of role is seen at once,
 * and each run reports the current role as facts:
 *
 *   role       MASTER, BACKUP, FAULT, STOP, DELETED or unknown (nothing heard yet)
 *   instance   the instance followed (param `instance`, else the first one heard)
 *   priority   its configured priority; since_usec: when the role was heard
 *   bad_lines  lines that did not parse (ignored)
 *
 * Runbooks match on the role (fact: {check: vrrp, key: role, equals: MASTER}); diagnosis does
 * not call a BACKUP's lack of SAs a collapse. The status is OK whatever the role (a role is not
 * a fault); UNKNOWN when the FIFO cannot be used. The FIFO is opened read-write, so it never
 * reaches end-of-file when keepalived restarts, and keepalived's lines written before the agent
 * started wait in it. It must be a FIFO owned by root and writable by nobody else: whoever can
 * write to it could make the agent believe it is a standby. The agent makes it (0600) if it is
 * not there yet; keepalived uses an existing FIFO.
 *
 * keepalived writes changes only, so an agent started after the last change hears nothing: until
 * it does, with `vip` (and `netns` where the address lives in another namespace) the role is
 * MASTER when that address is configured here (a socket can bind to it), else BACKUP (fact
 * role_from: address, else fifo).
 *
 * `weight_file` (keepalived's track_file) and `standby_url` (where the standby says it is
 * healthy) describe the pair for the failover action, which reads them from here so that one
 * runbook fits every gateway. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/checks/vrrp.h"
#include "netns.h"
#include "now.h"
#include "vrrp_notify.h"
#include "yaml_bind.h"

typedef struct vrrp_check_state {
        char *fifo;     /* params */
        char *instance;
        char *vip;      /* until the FIFO says: MASTER if this address is ours (in netns) */
        char *netns;
        char *weight_file; /* not used here: where the failover action finds them */
        char *standby_url;

        check *check;
        int fd;
        ev_source *io;
        char buf[VRRP_LINE_MAX + 2];
        size_t len;
        bool skipping; /* inside a line too long to be one: drop up to its newline */
        char error[256]; /* why the FIFO cannot be used, "" if it can */

        char followed[VRRP_NAME_MAX + 1];
        vrrp_state state;
        int priority;
        uint64_t since_usec;
        uint64_t bad_lines, lines;
} vrrp_check_state;

static const yfield vrrp_fields[] = {
        { "fifo", YF_PATH, offsetof(vrrp_check_state, fifo) },
        { "instance", YF_STRING, offsetof(vrrp_check_state, instance) },
        { "vip", YF_STRING, offsetof(vrrp_check_state, vip) },
        { "netns", YF_STRING, offsetof(vrrp_check_state, netns) },
        { "weight_file", YF_PATH, offsetof(vrrp_check_state, weight_file) },
        { "standby_url", YF_STRING, offsetof(vrrp_check_state, standby_url) },
        {}
};

static int vrrp_parse(void *state, const ynode *params, ydiag *d) {
        vrrp_check_state *s = state;
        int r;

        s->fd = -1;
        r = ybind(params, vrrp_fields, s, d);
        if (r < 0)
                return r;
        if (!s->fifo) {
                ydiag_add(d, params, "vrrp: `fifo` is required (keepalived's vrrp_notify_fifo)");
                return -EINVAL;
        }
        if (s->instance && (!s->instance[0] || strlen(s->instance) > VRRP_NAME_MAX || strpbrk(s->instance, "\"\\"))) {
                ydiag_add(d, ynode_get(params, "instance"), "instance: a keepalived instance name (1…%u characters, no quotes)",
                          VRRP_NAME_MAX);
                return -EINVAL;
        }
        if (s->vip) {
                struct in6_addr a;
                if (inet_pton(AF_INET, s->vip, &a) != 1 && inet_pton(AF_INET6, s->vip, &a) != 1) {
                        ydiag_add(d, ynode_get(params, "vip"), "vip: '%s' is not an IPv4 or IPv6 address", YQ(s->vip));
                        return -EINVAL;
                }
        }
        if (s->netns && netns_name_valid(s->netns) < 0) {
                ydiag_add(d, ynode_get(params, "netns"), "netns: '%s' is not a namespace name", YQ(s->netns));
                return -EINVAL;
        }
        return 0;
}

/* Is the virtual address configured here? A socket can bind to a local address only (no
 * freebind): 1 yes, 0 no, -errno when it cannot tell. */
static int vip_here(const vrrp_check_state *s) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        socklen_t len;
        int fd, r;

        if (inet_pton(AF_INET, s->vip, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                len = sizeof(*in);
        } else if (inet_pton(AF_INET6, s->vip, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                len = sizeof(*in6);
        } else
                return -EINVAL;
        fd = netns_socket(s->netns, ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        r = bind(fd, (struct sockaddr *) &ss, len) == 0 ? 1 : errno == EADDRNOTAVAIL ? 0 : -errno;
        close(fd);
        return r;
}

static void line(vrrp_check_state *s, const char *l, size_t n) {
        vrrp_event ev;

        if (n == 0)
                return;
        s->lines++;
        int r = vrrp_notify_parse(l, n, &ev, NULL);
        if (r == -EOPNOTSUPP || (r == 0 && ev.object != VRRP_INSTANCE))
                return;
        if (r < 0) {
                s->bad_lines++;
                return;
        }
        if (s->instance ? strcmp(ev.name, s->instance) != 0 : (s->followed[0] && strcmp(ev.name, s->followed) != 0))
                return;
        if (ev.state == VRRP_MASTER_RX_LOWER_PRI)
                return; /* a master that heard a lower priority is still master */
        (void) snprintf(s->followed, sizeof(s->followed), "%s", ev.name);
        if (ev.state != s->state) {
                s->state = ev.state;
                s->since_usec = real_usec();
        }
        s->priority = ev.priority;
}

static int on_readable(ev_source *src, int fd, uint32_t revents, void *userdata) {
        vrrp_check_state *s = userdata;
        vrrp_state before = s->state;

        for (;;) {
                ssize_t k = read(fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
                if (k <= 0)
                        break;
                s->len += (size_t) k;
                size_t start = 0;
                for (size_t i = 0; i < s->len; i++) {
                        if (s->buf[i] != '\n')
                                continue;
                        if (!s->skipping)
                                line(s, s->buf + start, i - start);
                        s->skipping = false;
                        start = i + 1;
                }
                memmove(s->buf, s->buf + start, s->len - start);
                s->len -= start;
                if (s->len >= sizeof(s->buf) - 1) { /* no newline in a whole buffer: not a line */
                        s->bad_lines += !s->skipping;
                        s->skipping = true;
                        s->len = 0;
                }
        }
        if (s->state != before && s->check)
                (void) check_trigger(s->check);
        return 0;
}

/* Open (making it if absent) and vet the FIFO. "" in s->error when it is usable. */
static int open_fifo(vrrp_check_state *s, const check_env *env) {
        struct stat st;
        int fd;

        if (mkfifo(s->fifo, 0600) < 0 && errno != EEXIST) {
                (void) snprintf(s->error, sizeof(s->error), "cannot make the FIFO %.150s: %s", s->fifo, strerror(errno));
                return -errno;
        }
        fd = open(s->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                (void) snprintf(s->error, sizeof(s->error), "cannot open %.150s: %s", s->fifo, strerror(errno));
                return -errno;
        }
        if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
                (void) snprintf(s->error, sizeof(s->error),
                                "%.150s is not a FIFO owned by uid %u and writable by it alone: not trusted", s->fifo,
                                (unsigned) geteuid());
                close(fd);
                return -EPERM;
        }
        s->fd = fd;
        if (ev_add_io(env->event, &s->io, fd, EPOLLIN, on_readable, s) < 0) {
                (void) snprintf(s->error, sizeof(s->error), "cannot watch %.150s", s->fifo);
                return -ENOMEM;
        }
        s->error[0] = 0;
        return 0;
}

static int vrrp_attach(void *state, check *c, const check_env *env) {
        vrrp_check_state *s = state;
        s->check = c;
        (void) open_fifo(s, env); /* a failure is each run's UNKNOWN, with the reason */
        return 0;
}

static int vrrp_start(void *state, const check_env *env, check_run *run) {
        vrrp_check_state *s = state;
        _cleanup_(finding_freep) finding *f = NULL;
        int r;

        if (s->fd < 0 && open_fifo(s, env) < 0)
                return check_run_unknown(run, "keepalived's notify FIFO: %s", s->error);
        if (s->io)
                (void) on_readable(s->io, s->fd, EPOLLIN, s); /* what is there now */
        r = finding_new(&f);
        if (r < 0)
                return r;
        if (s->state == VRRP_UNKNOWN && s->vip && (r = vip_here(s)) >= 0) {
                /* keepalived writes changes only: an agent that started after the last one
                 * learns the role from where the address is, until the FIFO speaks */
                (void) finding_set(f, CHECK_OK, "VRRP %s: the virtual address %s is %s (keepalived has not spoken yet)",
                                   r ? "MASTER" : "BACKUP", s->vip, r ? "here" : "not here");
                (void) finding_fact_set(f, "role", "%s", r ? "MASTER" : "BACKUP");
                (void) finding_fact_set(f, "role_from", "address");
                check_run_done(run, TAKE_PTR(f));
                return 0;
        }
        if (s->state == VRRP_UNKNOWN)
                (void) finding_set(f, CHECK_OK, "VRRP role not heard yet from %s", s->fifo);
        else
                (void) finding_set(f, CHECK_OK, "VRRP %s of %s (priority %d)", vrrp_state_to_string(s->state), s->followed,
                                   s->priority);
        (void) finding_fact_set(f, "role", "%s", vrrp_state_to_string(s->state));
        (void) finding_fact_set(f, "role_from", "fifo");
        if (s->followed[0])
                (void) finding_fact_set(f, "instance", "%s", s->followed);
        if (s->priority >= 0 && s->state != VRRP_UNKNOWN)
                (void) finding_fact_set(f, "priority", "%d", s->priority);
        if (s->since_usec)
                (void) finding_fact_set(f, "since_usec", "%llu", (unsigned long long) s->since_usec);
        (void) finding_fact_set(f, "bad_lines", "%llu", (unsigned long long) s->bad_lines);
        check_run_done(run, TAKE_PTR(f));
        return 0;
}

static void vrrp_cancel(void *state) {
}

static void vrrp_done(void *state) {
        vrrp_check_state *s = state;
        s->io = ev_source_disable_unref(s->io);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        free(s->fifo);
        free(s->instance);
        free(s->vip);
        free(s->netns);
        free(s->weight_file);
        free(s->standby_url);
}

const check_ops vrrp_check_ops = {
        .kind = "vrrp",
        .description = "this gateway's VRRP role, from keepalived's notify FIFO (a BACKUP serves no sessions)",
        .state_size = sizeof(vrrp_check_state),
        .parse = vrrp_parse,
        .attach = vrrp_attach,
        .start = vrrp_start,
        .cancel = vrrp_cancel,
        .done = vrrp_done,
};
