/* Fuzz the control socket of a real, running agent: the verbs' own handlers, not stand-ins.
 * One agent is built once from a configuration in a private directory (a state directory, the
 * control socket, two runbooks of notify steps, no checks, charon absent) with its verbs
 * registered as ikeheald registers them (agent_register_verbs()). Each input's first byte picks
 * who connects (root; an operator, a reader or an outsider by group) and the rest is the byte
 * stream that client sends through a socket pair into the agent's control server; the agent's
 * own loop runs between the sends, so deferred answers (status, diagnose), plans, approvals,
 * runs, measures, drains, reloads, guards and audit reads all happen for real, and a client that
 * goes away with a request still owed is met too. State carries over between inputs, as it does
 * in a running agent.
 *
 * The verbs act on the host: run as root, the target first moves into a network and mount
 * namespace of its own and puts tmpfs over the directories an action might write
 * (/etc/swanctl, /etc/strongswan.d, /etc/ikeheal, /var/lib/ikeheal, /run/ikeheal); as root
 * without them it refuses to run. Seeds: requests as ikehealctl sends them (the corpus of
 * fuzz-control, which frames the same way). */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/control/control_internal.h"
#include "agent/core/agent.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static agent *the_agent;
static char the_dir[] = "/tmp/ikh-fuzz-agent-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) type;
        (void) ftw;
        (void) remove(path); /* best effort: what cannot go stays for a human */
        return 0;
}

/* the private directory goes with the process (libFuzzer ends through exit()) */
static void remove_dir(void) {
        (void) nftw(the_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void isolate(void) {
        static const char *const shadowed[] = { "/etc/swanctl", "/etc/strongswan.d", "/etc/ikeheal",
                                                "/var/lib/ikeheal", "/run/ikeheal" };

        if (geteuid() != 0)
                return; /* nothing an unprivileged agent does reaches the host's firewall or /etc */
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "fuzz-agent-control: as root it needs a network and mount namespace of its own: %s\n",
                        strerror(errno));
                abort();
        }
        for (size_t i = 0; i < sizeof(shadowed) / sizeof(shadowed[0]); i++)
                if (mount("fuzz", shadowed[i], "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0 && errno != ENOENT) {
                        fprintf(stderr, "fuzz-agent-control: cannot shadow %s: %s\n", shadowed[i], strerror(errno));
                        abort();
                }
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        FILE *f;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (!(f = fopen(path, "we")) || fputs(text, f) < 0 || fclose(f) != 0)
                abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *dir = the_dir, runbooks[600], yaml[4096], cfg_path[600];
        ikeheal_config *cfg = NULL;
        char *err = NULL;

        (void) argc;
        (void) argv;
        isolate();
        log_setup("fuzz-agent-control", LOG_TARGET_STDERR);
        log_set_max_level(LOG_CRIT); /* the requests and refusals it logs would drown the output */
        if (!mkdtemp(dir))
                abort();
        (void) atexit(remove_dir);
        (void) snprintf(runbooks, sizeof(runbooks), "%s/runbooks", dir);
        if (mkdir(runbooks, 0755) < 0)
                abort();
        write_file(runbooks, "tell.yaml",
                   "version: 1\nname: tell\ndescription: tell a human\nmatch:\n  class: daemon\ngrade: observe\n"
                   "steps:\n  - name: tell\n    action: notify\n    params: {message: \"${incident.summary}\"}\n");
        write_file(runbooks, "ask.yaml",
                   "version: 1\nname: ask\ndescription: ask first, then tell\nmatch:\n  class: firewall\n"
                   "grade: approve\napproval: {expires_in: 1m}\nsteps:\n  - name: tell\n    action: notify\n    params: {message: \"${incident.summary}\"}\n");
        (void) snprintf(yaml, sizeof(yaml),
                        "agent:\n  state_dir: %s/state\n  runbook_dirs: [%s]\n"
                        "control:\n  socket: %s/ctl.sock\n  reader_groups: [nogroup]\n  operator_groups: [users]\n"
                        "charon:\n  vici_socket: %s/no.vici\n  unit: none\nchecks: []\n",
                        dir, runbooks, dir, dir);
        write_file(dir, "ikeheal.yaml", yaml);
        (void) snprintf(cfg_path, sizeof(cfg_path), "%s/ikeheal.yaml", dir);
        if (config_load(cfg_path, &cfg, &err) < 0) {
                fprintf(stderr, "fuzz-agent-control: %s\n", err ? err : "cannot load its configuration");
                abort();
        }
        if (agent_new(&the_agent, cfg, LOG_CRIT) < 0 || agent_register_verbs(the_agent) < 0) {
                fprintf(stderr, "fuzz-agent-control: cannot build the agent\n");
                abort();
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        control_server *server = the_agent->control;
        control_peer peer = { .uid = 1000, .gid = 1000, .pid = 4242 };
        uint8_t sink[4096];
        size_t off = 1;
        bool shut = false;
        int fds[2];

        if (size < 1)
                return 0;
        if (!(peer.groups = malloc(sizeof(gid_t))))
                return 0;
        switch (data[0] & 3) {
        case 0:
                peer.uid = 0;
                peer.groups[0] = 0;
                break;
        case 1:
                peer.groups[0] = getgrnam("users") ? getgrnam("users")->gr_gid : 100;
                break;
        case 2:
                peer.groups[0] = 65534; /* nogroup, a reader */
                break;
        default:
                peer.groups[0] = 4242;
        }
        peer.n_groups = 1;
        snprintf(peer.user, sizeof(peer.user), "%u", (unsigned) peer.uid);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
                abort();
        if (control_conn_new(server, fds[0], &peer, peer.uid == 0) < 0) {
                close(fds[1]);
                return 0;
        }
        for (unsigned turn = 0; turn < 2000 && server->n_conns > 0; turn++) {
                if (off < size) {
                        ssize_t n = send(fds[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n > 0)
                                off += (size_t) n;
                } else if (!shut) {
                        (void) shutdown(fds[1], SHUT_WR); /* the client is done: EOF after its frames */
                        shut = true;
                }
                while (recv(fds[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
                        ;
                if (ev_run(the_agent->event, 0) < 0)
                        abort();
        }
        /* a client gone with an answer still owed: the agent must forget it safely */
        while (server->conns)
                control_conn_free(server->conns);
        close(fds[1]);
        for (unsigned turn = 0; turn < 4; turn++)
                (void) ev_run(the_agent->event, 0);
        return 0;
}
