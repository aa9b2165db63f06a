/* `ikehealctl guard`: a change to the gateway that confirms itself or is rolled back (the agent's
 * `guard` verb, agent/guard/guard.h).
 *
 *   guard [--confirm-within D] [--verify-for D] [--reason T] [--force] -- COMMAND…
 *        begin, run COMMAND, confirm, wait for the verdict. Exit 0: kept; 3: rolled back (the
 *        change broke a check, or COMMAND failed: it is aborted); 1: refused or an error; 2: usage.
 *   guard begin [--confirm-within D] [--verify-for D] [--reason T] [--force]
 *   guard confirm | abort [--reason T] | status
 *   guard apt-pre | apt-post [--dpkg-log FILE]
 *        the apt hook (DPkg::Pre-Invoke / DPkg::Post-Invoke): every dpkg run is a guarded change;
 *        these never fail (exit 0 whatever happens) — an agent that is not running, or refuses,
 *        is said on stderr and apt goes on. apt-post names the packages dpkg's log shows changed
 *        (--dpkg-log, else $IKEHEAL_DPKG_LOG, else /var/log/dpkg.log).
 *
 * Global options (--socket, --timeout, --json) may come before `guard`; it is dispatched before
 * the main option parser because COMMAND's own options follow "--". */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "ctl/commands.h"
#include "ctl/json.h"
#include "ctl/render.h"
#include "dpkg_log.h"
#include "duration.h"
#include "proto.h"

#define EXIT_ROLLED_BACK 3
#define EXIT_USAGE 2
#define BEGIN_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define POLL_USEC (250 * USEC_PER_MSEC)
#define DPKG_LOG_DEFAULT "/var/log/dpkg.log"
#define DPKG_LOG_MAX (8u * 1024u * 1024u)
#define APT_CONFIRM_WITHIN "30m"

typedef struct guard_opts {
        const char *socket;
        uint64_t timeout_usec;
        bool json;
        const char *confirm_within, *verify_for, *reason, *dpkg_log;
        bool force;
} guard_opts;

static const char *const guard_numbers[] = { "*.id", "*.uid", "*.verify_for_usec", "*.peers_untracked", "id", "uid",
                                             "verify_for_usec", "peers_untracked", NULL };
static const char *const guard_times[] = { "*.begun_usec", "*.confirm_by_usec", "*.verify_until_usec", "*.ended_usec",
                                           "begun_usec", "confirm_by_usec", "verify_until_usec", "ended_usec", NULL };
static const json_shape guard_shape = { .numbers = guard_numbers, .times_usec = guard_times };

/* One request: an operation of the write verb `guard` (begin, confirm, abort), or the read verb
 * `guards` (the status, which readers may see too). 0 with *ret_body on an answer of status 0,
 * else -errno with err saying why. */
static int call(const guard_opts *o, int verb, vici_builder *req, uint64_t timeout_usec, vici_node **ret_body,
                char *err, size_t err_size) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_node *body = NULL;
        size_t msg_len = 0;
        proto_header h;
        int r;

        r = vici_builder_finish(req, &msg, &msg_len);
        if (r >= 0)
                r = proto_connect(o->socket, &fd);
        if (r < 0) {
                (void) snprintf(err, err_size, "cannot reach ikeheald at %s: %s", o->socket, strerror(-r));
                return -ECONNREFUSED;
        }
        r = proto_call(fd, verb, msg, msg_len, timeout_usec, &h, &body);
        if (r < 0) {
                (void) snprintf(err, err_size, "no answer from ikeheald: %s", strerror(-r));
                return r;
        }
        if (h.status != 0) {
                const char *why = vici_node_str(body, "error");
                (void) snprintf(err, err_size, "%s", why ? why : strerror(h.status < 0 ? -h.status : h.status));
                vici_node_free(body);
                return -EPERM;
        }
        *ret_body = body;
        return 0;
}

static vici_builder *request(const char *op) {
        vici_builder *b = NULL;
        if (vici_builder_new(&b) < 0)
                return NULL;
        vici_builder_add_str(b, "op", op);
        return b;
}

static void show(const guard_opts *o, const vici_node *body) {
        int r;

        if (o->json && (r = json_render(stdout, body, &guard_shape)) < 0)
                fprintf(stderr, "ikehealctl: cannot write output: %s\n", json_render_error(r));
        else if (!o->json)
                render_tree(stdout, body);
        (void) fflush(stdout);
}

static vici_builder *begin_request(const guard_opts *o, const char *mark, const char *reason) {
        vici_builder *b = request("begin");
        if (o->confirm_within)
                vici_builder_add_str(b, "confirm_within", o->confirm_within);
        if (o->verify_for)
                vici_builder_add_str(b, "verify_for", o->verify_for);
        if (reason)
                vici_builder_add_str(b, "reason", reason);
        if (mark)
                vici_builder_add_str(b, "mark", mark);
        if (o->force)
                vici_builder_add_str(b, "force", "yes");
        return b;
}

static int simple(const guard_opts *o, const char *op, const char *reason) {
        _cleanup_(vici_node_freep) vici_node *body = NULL;
        vici_builder *b = strcmp(op, "begin") == 0 ? begin_request(o, NULL, o->reason) : request(op);
        int verb = strcmp(op, "status") == 0 ? PROTO_GUARDS : PROTO_GUARD;
        char err[1024];

        if (reason && strcmp(op, "abort") == 0)
                vici_builder_add_str(b, "reason", reason);
        if (call(o, verb, b, strcmp(op, "begin") == 0 ? BEGIN_TIMEOUT_USEC : o->timeout_usec, &body, err, sizeof(err)) <
            0) {
                fprintf(stderr, "ikehealctl: %s\n", err);
                return 1;
        }
        show(o, body);
        return 0;
}

/* Wait until the guard `id` ended; its final state into state (size n). */
static int wait_end(const guard_opts *o, const char *id, uint64_t limit_usec, char *state, size_t n,
                    vici_node **ret_last) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) (POLL_USEC * 1000) };
        char err[1024];

        for (uint64_t waited = 0; waited <= limit_usec; waited += POLL_USEC) {
                vici_node *body = NULL;
                if (call(o, PROTO_GUARDS, request("status"), o->timeout_usec, &body, err, sizeof(err)) < 0) {
                        fprintf(stderr, "ikehealctl: guard: %s\n", err);
                        return -EIO;
                }
                const char *st = vici_node_str(body, "state"), *cur = vici_node_str(body, "id");
                if (cur && strcmp(cur, id) == 0 && st &&
                    (strcmp(st, "kept") == 0 || strcmp(st, "rolled_back") == 0 || strcmp(st, "rollback_failed") == 0 ||
                     strcmp(st, "stale") == 0)) {
                        (void) snprintf(state, n, "%s", st);
                        *ret_last = body;
                        return 0;
                }
                vici_node_free(body);
                (void) nanosleep(&ts, NULL);
        }
        return -ETIMEDOUT;
}

static int run_command(char **cmd) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execvp(cmd[0], cmd);
                fprintf(stderr, "ikehealctl: guard: cannot run %s: %s\n", cmd[0], strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int guarded_command(const guard_opts *o, char **cmd) {
        _cleanup_(vici_node_freep) vici_node *body = NULL, *last = NULL;
        char reason[256], err[1024], state[32], id[32];
        uint64_t verify = 30 * USEC_PER_SEC;
        size_t w = 0;
        int code, r;

        w = (size_t) snprintf(reason, sizeof(reason), "%s", o->reason ? o->reason : "");
        for (size_t i = 0; !o->reason && cmd[i] && w < sizeof(reason); i++)
                w += (size_t) snprintf(reason + w, sizeof(reason) - w, "%s%s", i ? " " : "", cmd[i]);
        if (call(o, PROTO_GUARD, begin_request(o, NULL, reason), BEGIN_TIMEOUT_USEC, &body, err, sizeof(err)) < 0) {
                fprintf(stderr, "ikehealctl: guard: %s; the command was not run\n", err);
                return 1;
        }
        (void) vici_node_str_copy(body, "id", id, sizeof(id));
        fprintf(stderr, "ikehealctl: guard %s begun: running %s\n", id, cmd[0]);
        code = run_command(cmd);
        body = vici_node_free(body);
        if (code != 0) {
                vici_builder *b = request("abort");
                char why[128];
                (void) snprintf(why, sizeof(why), "the guarded command exited with status %d", code);
                vici_builder_add_str(b, "reason", why);
                fprintf(stderr, "ikehealctl: guard %s: %s: rolling back\n", id, why);
                r = call(o, PROTO_GUARD, b, o->timeout_usec, &body, err, sizeof(err));
        } else
                r = call(o, PROTO_GUARD, request("confirm"), o->timeout_usec, &body, err, sizeof(err));
        if (r < 0) {
                /* it may have ended already (a failure while the command ran): the wait says */
                fprintf(stderr, "ikehealctl: guard %s: %s\n", id, err);
        }
        if (o->verify_for)
                (void) duration_parse(o->verify_for, &verify);
        r = wait_end(o, id, verify + 5 * 60 * USEC_PER_SEC, state, sizeof(state), &last);
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "ikehealctl: guard %s: no verdict yet; see 'ikehealctl guard status'\n", id);
                return 1;
        }
        if (r < 0)
                return 1;
        show(o, last);
        if (strcmp(state, "kept") == 0) {
                fprintf(stderr, "ikehealctl: guard %s: the change was verified and kept\n", id);
                return 0;
        }
        fprintf(stderr, "ikehealctl: guard %s: %s: %s\n", id,
                strcmp(state, "rolled_back") == 0 ? "the change was ROLLED BACK" : "the rollback FAILED, a human must look",
                vici_node_str(last, "outcome") ?: "");
        return EXIT_ROLLED_BACK;
}

static const char *dpkg_log(const guard_opts *o) {
        const char *env = getenv("IKEHEAL_DPKG_LOG");
        return o->dpkg_log ? o->dpkg_log : env && env[0] ? env : DPKG_LOG_DEFAULT;
}

/* The apt hook's halves: whatever happens, exit 0 (apt must go on). */
static int apt_pre(const guard_opts *o) {
        _cleanup_(vici_node_freep) vici_node *body = NULL;
        char mark[64], err[1024];
        struct stat st;
        guard_opts ao = *o;

        (void) snprintf(mark, sizeof(mark), "dpkg:%lld", stat(dpkg_log(o), &st) == 0 ? (long long) st.st_size : 0LL);
        if (!ao.confirm_within)
                ao.confirm_within = APT_CONFIRM_WITHIN;
        if (call(&ao, PROTO_GUARD, begin_request(&ao, mark, ao.reason ? ao.reason : "dpkg run (apt)"), BEGIN_TIMEOUT_USEC,
                 &body, err, sizeof(err)) < 0) {
                fprintf(stderr, "ikehealctl: warning: this dpkg run is NOT guarded: %s; apt goes on\n", err);
                return 0;
        }
        fprintf(stderr, "ikehealctl: dpkg run guarded (guard %s): verified after dpkg, rolled back if IKE breaks\n",
                vici_node_str(body, "id") ?: "?");
        return 0;
}

static int apt_post(const guard_opts *o) {
        _cleanup_(vici_node_freep) vici_node *body = NULL, *done = NULL;
        _cleanup_(freep) char *buf = NULL;
        char err[1024], packages[1024] = "";
        const char *mark, *state;
        long long from = 0;
        size_t len = 0, n = 0;

        if (call(o, PROTO_GUARDS, request("status"), o->timeout_usec, &body, err, sizeof(err)) < 0) {
                fprintf(stderr, "ikehealctl: warning: this dpkg run is not verified: %s; apt goes on\n", err);
                return 0;
        }
        mark = vici_node_str(body, "mark");
        state = vici_node_str(body, "state");
        /* only the guard our own apt-pre began: an operator's guard around apt is theirs to confirm */
        if (!mark || strncmp(mark, "dpkg:", 5) != 0 || !state || strcmp(state, "open") != 0) {
                fprintf(stderr, "ikehealctl: note: no guard of this dpkg run is open; nothing to confirm\n");
                return 0;
        }
        from = atoll(mark + 5);
        if (atomic_file_read(dpkg_log(o), DPKG_LOG_MAX, &buf, &len) >= 0) {
                size_t at = from >= 0 && (size_t) from <= len ? (size_t) from : 0; /* rotated: all of it */
                (void) dpkg_log_packages(buf + at, len - at, packages, sizeof(packages), &n);
        }
        vici_builder *b = request("confirm");
        if (packages[0])
                vici_builder_add_str(b, "packages", packages);
        if (call(o, PROTO_GUARD, b, o->timeout_usec, &done, err, sizeof(err)) < 0) {
                fprintf(stderr, "ikehealctl: warning: cannot confirm the dpkg run's guard: %s; apt goes on\n", err);
                return 0;
        }
        fprintf(stderr, "ikehealctl: dpkg run (%s) is being verified by ikeheald (guard %s)\n",
                packages[0] ? packages : "no package named in dpkg's log", vici_node_str(done, "id") ?: "?");
        return 0;
}

void ctl_guard_usage(FILE *f) {
        fprintf(f, "Usage: ikehealctl guard [--confirm-within D] [--verify-for D] [--reason T] [--force] -- COMMAND…\n"
                   "       ikehealctl guard begin [--confirm-within D] [--verify-for D] [--reason T] [--force]\n"
                   "       ikehealctl guard confirm | abort [--reason T] | status\n"
                   "       ikehealctl guard apt-pre | apt-post [--dpkg-log FILE]\n");
}

static int usage(void) {
        ctl_guard_usage(stderr);
        return EXIT_USAGE;
}

/* Global options before `guard`: where it is, or -1. */
static int find_guard(int argc, char **argv, guard_opts *o) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "guard") == 0)
                        return i;
                if ((strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) && i + 1 < argc)
                        o->socket = argv[++i];
                else if (strncmp(a, "--socket=", 9) == 0)
                        o->socket = a + 9;
                else if ((strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) && i + 1 < argc) {
                        if (duration_parse(argv[++i], &o->timeout_usec) < 0)
                                o->timeout_usec = (uint64_t) atoi(argv[i]) * USEC_PER_SEC;
                } else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0)
                        o->json = true;
                else
                        return -1;
        }
        return -1;
}

int ctl_guard_main(int argc, char **argv) {
        enum { ARG_CONFIRM = 0x100, ARG_VERIFY, ARG_FORCE, ARG_DPKG_LOG };
        static const struct option options[] = {
                { "confirm-within", required_argument, NULL, ARG_CONFIRM },
                { "verify-for", required_argument, NULL, ARG_VERIFY },
                { "reason", required_argument, NULL, 'r' },
                { "force", no_argument, NULL, ARG_FORCE },
                { "dpkg-log", required_argument, NULL, ARG_DPKG_LOG },
                { "json", no_argument, NULL, 'j' },
                { "socket", required_argument, NULL, 's' },
                {},
        };
        guard_opts o = { .socket = getenv("IKEHEAL_SOCKET"), .timeout_usec = 30 * USEC_PER_SEC };
        int at, c, n;
        char **args;
        uint64_t d;

        if (!o.socket || !o.socket[0])
                o.socket = PROTO_SOCKET_DEFAULT;
        at = find_guard(argc, argv, &o);
        if (at < 0)
                return -1;
        n = argc - at;
        args = argv + at;
        optind = 1;
        /* "+": stop at the first word that is not an option (the operation, or "--") */
        while ((c = getopt_long(n, args, "+r:js:", options, NULL)) >= 0)
                switch (c) {
                case ARG_CONFIRM:
                case ARG_VERIFY:
                        if (duration_parse(optarg, &d) < 0 || d == 0) {
                                fprintf(stderr, "ikehealctl: guard: '%s' is not a duration (30s, 5m)\n", optarg);
                                return EXIT_USAGE;
                        }
                        if (c == ARG_CONFIRM)
                                o.confirm_within = optarg;
                        else
                                o.verify_for = optarg;
                        break;
                case 'r':
                        o.reason = optarg;
                        break;
                case ARG_FORCE:
                        o.force = true;
                        break;
                case ARG_DPKG_LOG:
                        o.dpkg_log = optarg;
                        break;
                case 'j':
                        o.json = true;
                        break;
                case 's':
                        o.socket = optarg;
                        break;
                default:
                        return usage();
                }
        if (optind > 0 && strcmp(args[optind - 1], "--") == 0) {
                if (optind >= n)
                        return usage();
                return guarded_command(&o, args + optind);
        }
        if (optind >= n)
                return simple(&o, "status", NULL);
        const char *op = args[optind];
        if (optind + 1 < n) {
                /* options after the operation ("guard abort --reason T") */
                int m = n - optind;
                char **rest = args + optind;
                optind = 1;
                while ((c = getopt_long(m, rest, "+r:js:", options, NULL)) >= 0)
                        switch (c) {
                        case 'r':
                                o.reason = optarg;
                                break;
                        case 'j':
                                o.json = true;
                                break;
                        case 's':
                                o.socket = optarg;
                                break;
                        case ARG_FORCE:
                                o.force = true;
                                break;
                        case ARG_DPKG_LOG:
                                o.dpkg_log = optarg;
                                break;
                        case ARG_CONFIRM:
                                o.confirm_within = optarg;
                                break;
                        case ARG_VERIFY:
                                o.verify_for = optarg;
                                break;
                        default:
                                return usage();
                        }
                if (optind < m) {
                        fprintf(stderr, "ikehealctl: guard %s: unexpected argument '%s'\n", op, rest[optind]);
                        return usage();
                }
        }
        if (strcmp(op, "begin") == 0 || strcmp(op, "confirm") == 0 || strcmp(op, "status") == 0)
                return simple(&o, op, NULL);
        if (strcmp(op, "abort") == 0)
                return simple(&o, op, o.reason);
        if (strcmp(op, "apt-pre") == 0)
                return apt_pre(&o);
        if (strcmp(op, "apt-post") == 0)
                return apt_post(&o);
        fprintf(stderr, "ikehealctl: guard: unknown operation '%s'\n", op);
        return usage();
}
