/* The `exec` action: run a script from the one allowlisted directory (agent.exec_dir).
 *
 * What may run is checked like keepalived checks its scripts, and checked again right before
 * each run: the path resolves (symlinks followed) inside exec_dir, is a regular executable
 * file, and every component from / down to it belongs to root and is not group- or
 * world-writable (a sticky /tmp is refused too: anyone may create files there). The checked
 * file is the one executed: it is opened, re-checked through the descriptor, and run with
 * fexecve(), so a rename between check and exec changes nothing.
 *
 * The child gets a clean environment (PATH, LANG and the call's IKEHEAL_* context), /dev/null
 * as stdin, a pipe as stdout/stderr (the last ACTION_DETAIL_MAX bytes are kept for the audit
 * log), no other descriptor, an empty signal mask, and its own session, so a timeout kills the
 * whole process group. It is watched through a pidfd on the loop, never with SIGCHLD or a
 * blocking wait. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/spawn.h"
#include "file_read.h"
#include "hex.h"

enum { P_SCRIPT, P_ARGS, P_REVERT, P_VERIFY, P_DISRUPTIVE };

static const action_param_spec params[] = {
        [P_SCRIPT] = { "script", AP_PATH, true },
        [P_ARGS] = { "args", AP_STRV, false },
        [P_REVERT] = { "revert", AP_PATH, false },
        [P_VERIFY] = { "verify", AP_PATH, false },
        [P_DISRUPTIVE] = { "disruptive", AP_BOOL, false },
        { 0 },
};

#define SCRIPT_HASH_MAX (4u * 1024u * 1024u)

typedef struct exec_state {
        action_call *call;
        spawn *child;
} exec_state;

static const char *script_for(const action_params *p, action_op op) {
        const action_value *v = &p->v[op == ACTION_REVERT ? P_REVERT : op == ACTION_VERIFY ? P_VERIFY : P_SCRIPT];
        return v->set ? v->str : NULL;
}

static int component_ok(const char *path, const struct stat *st, const char *script, char *why, size_t n) {
        if (st->st_uid != 0) {
                (void) snprintf(why, n, "%s: %s belongs to uid %u, not root", script, path, (unsigned) st->st_uid);
                return -EPERM;
        }
        if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                (void) snprintf(why, n, "%s: %s is group- or world-writable (mode %04o)", script, path,
                                (unsigned) (st->st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

/* Is `script` fit to run from `dir`? On success *ret_real is its resolved path (malloc'ed). */
static int script_check(const char *dir, const char *script, char **ret_real, char *why, size_t n) {
        _cleanup_(freep) char *real = NULL, *rdir = NULL;
        struct stat st;
        size_t dl;

        if (!dir) {
                (void) snprintf(why, n, "no exec_dir configured");
                return -EPERM;
        }
        if (!(rdir = realpath(dir, NULL))) {
                (void) snprintf(why, n, "exec_dir %s: %s", dir, strerror(errno));
                return -errno;
        }
        if (!(real = realpath(script, NULL))) {
                (void) snprintf(why, n, "%s: %s", script, strerror(errno));
                return -errno;
        }
        dl = strlen(rdir);
        if (strncmp(real, rdir, dl) != 0 || (real[dl] != '/' && dl > 1)) {
                (void) snprintf(why, n, "%s resolves to %s, outside exec_dir %s", script, real, rdir);
                return -EPERM;
        }
        if (stat(real, &st) < 0) {
                (void) snprintf(why, n, "%s: %s", script, strerror(errno));
                return -errno;
        }
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
                (void) snprintf(why, n, "%s is not an executable regular file", script);
                return -EPERM;
        }
        /* every component, from / down to the file itself */
        for (char *c = real;; c++) {
                if (*c == '/' || *c == 0) {
                        char keep = *c, *comp = c == real ? "/" : real;
                        struct stat cs;
                        *c = 0;
                        int r = stat(comp, &cs) < 0 ? -errno : component_ok(comp, &cs, script, why, n);
                        *c = keep;
                        if (r < 0) {
                                if (r != -EPERM)
                                        (void) snprintf(why, n, "%s: %s", comp, strerror(-r));
                                return r;
                        }
                        if (keep == 0)
                                break;
                }
        }
        if (ret_real)
                *ret_real = TAKE_PTR(real);
        return 0;
}

static int exec_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        for (action_op op = ACTION_APPLY; op < _ACTION_OP_MAX; op++) {
                const char *s = script_for(p, op);
                int r = s ? script_check(env->exec_dir, s, NULL, why, n) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static void file_sha256(const char *path, char out[65]) {
        _cleanup_(closep) int fd = file_read_open(path, FILE_READ_FOLLOW, NULL); /* never a FIFO */
        EVP_MD_CTX *md;
        unsigned char buf[8192], h[32];
        unsigned hl = 0;
        size_t total = 0;
        ssize_t k;

        (void) snprintf(out, 65, "unreadable");
        if (fd < 0 || !(md = EVP_MD_CTX_new()))
                return;
        (void) EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        while ((k = read(fd, buf, sizeof(buf))) > 0 && total < SCRIPT_HASH_MAX) {
                (void) EVP_DigestUpdate(md, buf, (size_t) k);
                total += (size_t) k;
        }
        if (k == 0 && EVP_DigestFinal_ex(md, h, &hl) == 1)
                hex_encode(h, hl, out);
        EVP_MD_CTX_free(md);
}

static int exec_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        const char *s = script_for(p, op);
        char args[1024] = "", hash[65];
        size_t len = 0;

        if (!s)
                return action_plan_add(out, "  (nothing to %s)", action_op_to_string(op));
        for (size_t i = 0; op == ACTION_APPLY && p->v[P_ARGS].strv && p->v[P_ARGS].strv[i]; i++) {
                int w = snprintf(args + len, sizeof(args) - len, " '%s'", p->v[P_ARGS].strv[i]);
                if (w < 0 || (size_t) w >= sizeof(args) - len)
                        break;
                len += (size_t) w;
        }
        file_sha256(s, hash);
        if (p->v[P_DISRUPTIVE].set && p->v[P_DISRUPTIVE].num && op == ACTION_APPLY) {
                out->disruptive = true;
                (void) action_plan_add(out, "  drops established SAs (disruptive)");
        }
        return action_plan_add(out, "  run %s%s (sha256 %s) as root, clean environment, own process group", s, args,
                               hash);
}

static bool exec_supports(const action_params *p, action_op op) {
        return script_for(p, op) != NULL;
}

static void on_child_done(spawn *child, int code, int status, const char *out, void *userdata) {
        exec_state *s = userdata;

        if (code == CLD_EXITED && status == 0) {
                action_call_set_detail(s->call, "%s", out);
                action_call_done(s->call, 0);
        } else if (code == CLD_EXITED) {
                action_call_set_detail(s->call, "exit status %d%s%s", status, out[0] ? ": " : "", out);
                action_call_done(s->call, -EPROTO);
        } else {
                action_call_set_detail(s->call, "killed by signal %d%s%s", status, out[0] ? ": " : "", out);
                action_call_done(s->call, -EPROTO);
        }
}

static int exec_start(void *state, action_call *call, action_op op) {
        exec_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        const char *script = script_for(p, op);
        _cleanup_(freep) char *real = NULL;
        _cleanup_(closep) int fd = -1;
        char why[512];
        struct stat st;
        int r;

        *s = (exec_state){ .call = call };
        r = script_check(env->exec_dir, script, &real, why, sizeof(why));
        if (r < 0) {
                action_call_set_detail(call, "refused: %s", why);
                return r;
        }
        /* the descriptor is what runs: re-check it, not the name */
        fd = file_read_open(real, 0, &st); /* a regular file, not a symlink or a FIFO swapped in */
        if (fd < 0 || component_ok(real, &st, script, why, sizeof(why)) < 0) {
                action_call_set_detail(call, "refused: %s changed while being checked", script);
                return -EPERM;
        }
        char *argv[40], *envp[16];
        size_t na = 0, ne = 0;
        char *const *ctx = action_call_context(call);
        argv[na++] = real;
        for (size_t i = 0; p->v[P_ARGS].strv && p->v[P_ARGS].strv[i] && na < 39; i++)
                argv[na++] = p->v[P_ARGS].strv[i];
        argv[na] = NULL;
        envp[ne++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        envp[ne++] = "LANG=C";
        for (size_t i = 0; ctx && ctx[i] && ne < 15; i++)
                envp[ne++] = ctx[i];
        envp[ne] = NULL;
        return spawn_start(&s->child, env->event, fd, argv, envp, on_child_done, s);
}

/* A timeout or a shutdown: the whole process group goes. */
static void exec_cancel(void *state) {
        exec_state *s = state;
        s->child = spawn_free(s->child);
}

static void exec_done(void *state) {
        exec_state *s = state;
        s->child = spawn_free(s->child);
}

const action_ops action_exec = {
        .kind = "exec",
        .description = "run an allowlisted root-owned script",
        .params = params,
        .effects = true,
        .state_size = sizeof(exec_state),
        .validate = exec_validate,
        .plan = exec_plan,
        .start = exec_start,
        .cancel = exec_cancel,
        .done = exec_done,
        .supports = exec_supports,
};
