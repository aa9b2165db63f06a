/* `--wait` for `drill run`, `run` and `approve`: after the agent accepted the request, follow the
 * drill or the run until it ends, asking the agent twice a second (`drills report ID`, `runs ID`:
 * the same read-only verbs a reader may use). On a terminal each change of phase or step is a
 * line on stderr with the time since the wait began; at the end the drill's report or the run is
 * printed as the command itself would print it (or as JSON). Exit status 0 when the drill passed
 * or the run succeeded, 1 otherwise. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/json_shapes.h"
#include "ctl/render.h"
#include "duration.h"
#include "now.h"
#include "proto.h"

#define WAIT_POLL_NSEC (500 * 1000 * 1000L)

static bool one_of(const char *s, const char *const *set) {
        for (size_t i = 0; s && set[i]; i++)
                if (strcmp(s, set[i]) == 0)
                        return true;
        return false;
}

/* One read-only request; 0 with *ret_body, or <0 after a message on stderr. */
static int ask(const char *socket_path, proto_verb verb, const char *key, const char *val, const char *key2,
               const char *val2, uint64_t timeout_usec, vici_node **ret_body) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(vici_builder_freep) vici_builder *b = NULL;
        _cleanup_(freep) uint8_t *msg = NULL;
        size_t len = 0;
        proto_header h;
        vici_node *body = NULL;
        int r;

        r = vici_builder_new(&b);
        if (r < 0)
                return r;
        vici_builder_add_str(b, key, val);
        if (key2)
                vici_builder_add_str(b, key2, val2);
        r = vici_builder_finish(TAKE_PTR(b), &msg, &len);
        if (r >= 0)
                r = proto_connect(socket_path, &fd);
        if (r >= 0)
                r = proto_call(fd, verb, msg, len, timeout_usec, &h, &body);
        if (r < 0) {
                fprintf(stderr, "ikehealctl: --wait: %s\n", strerror(-r));
                return r;
        }
        if (h.status != 0) {
                fprintf(stderr, "ikehealctl: --wait: %s\n", vici_node_str(body, "error") ?: strerror(EPROTO));
                vici_node_free(body);
                return -EPROTO;
        }
        *ret_body = body;
        return 0;
}

/* The progress line of a drill or a run: "watching", "running step 2/3 (restore)". */
static void progress_of(bool drill, const vici_node *it, char *buf, size_t size) {
        if (drill) {
                (void) snprintf(buf, size, "%s", vici_node_str(it, "phase") ?: "?");
                return;
        }
        if (vici_node_str(it, "step_name"))
                (void) snprintf(buf, size, "%s, step %s/%s (%s)", vici_node_str(it, "state") ?: "?",
                                vici_node_str(it, "step") ?: "?", vici_node_str(it, "steps") ?: "?",
                                vici_node_str(it, "step_name"));
        else
                (void) snprintf(buf, size, "%s", vici_node_str(it, "state") ?: "?");
}

int ctl_wait(const char *socket_path, ctl_wait_what what, const char *id, bool json, uint64_t timeout_usec) {
        static const char *const drill_over[] = { "passed", "failed", "aborted", NULL };
        static const char *const run_over[] = { "observed", "succeeded", "failed", "denied", "escalated", "cancelled", NULL };
        bool drill = what == CTL_WAIT_DRILL, tty = isatty(STDERR_FILENO);
        uint64_t t0 = mono_usec();
        char last[256] = "", now[256], path[64];
        int r;

        for (;;) {
                _cleanup_(vici_node_freep) vici_node *body = NULL;
                const vici_node *it;
                const char *ended;

                r = drill ? ask(socket_path, PROTO_DRILLS, "op", "report", "id", id, timeout_usec, &body)
                          : ask(socket_path, PROTO_RUNS, "id", id, NULL, NULL, timeout_usec, &body);
                if (r < 0)
                        return 1;
                (void) snprintf(path, sizeof(path), "runs.%s", id);
                it = vici_node_get(body, drill ? "drill" : path);
                if (!it) {
                        fprintf(stderr, "ikehealctl: --wait: the agent no longer knows %s %s\n", drill ? "drill" : "run", id);
                        return 1;
                }
                progress_of(drill, it, now, sizeof(now));
                if (tty && strcmp(now, last) != 0) {
                        char d[32];
                        fprintf(stderr, "%s %s: %s (%s)\n", drill ? "drill" : "run", id, now,
                                duration_format(mono_usec() - t0, d, sizeof(d)));
                        (void) snprintf(last, sizeof(last), "%s", now);
                }
                ended = vici_node_str(it, drill ? "phase" : "state");
                if (one_of(ended, drill ? drill_over : run_over)) {
                        if (json)
                                r = json_render(stdout, body, drill ? &json_shape_drills : &json_shape_runs);
                        else if (drill)
                                render_drills(stdout, body);
                        else
                                render_pending(stdout, body);
                        if (r < 0 || fflush(stdout) != 0) {
                                fprintf(stderr, "ikehealctl: cannot write output: %s\n",
                                        r < 0 ? json_render_error(r) : strerror(errno));
                                return 1;
                        }
                        return strcmp(ended, drill ? "passed" : "succeeded") == 0 ||
                                               (!drill && strcmp(ended, "observed") == 0)
                                       ? 0
                                       : 1;
                }
                (void) nanosleep(&(struct timespec){ .tv_nsec = WAIT_POLL_NSEC }, NULL);
        }
}
