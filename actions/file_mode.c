/* The `file_mode` action: give a configuration file whose mode or owner became unsafe its
 * last-good mode and owner back — that file only, its content untouched, nothing reloaded.
 *
 * A private key made readable by others, or a swanctl.conf made writable by the group, is
 * fixed by a chmod/chown, not by rolling the whole configuration back. The last-good mode and
 * owner come from the config check's manifest (<state_dir>/snapshots/<check>.manifest, see
 * actions/config_manifest.h). The files it acts on are those of the manifest whose mode, owner
 * or group differs from the last-good one AND that are unsafe now: writable by group or others,
 * a key (private/ rsa/ ecdsa/ pkcs8/) accessible by group or others, or a new owner. With
 * `path`, only that file. A file whose last-good mode is unsafe too is not touched (it would
 * not help). What it replaced is kept in <state_dir>/file-mode.prev for the revert. Verify:
 * each file it changed has the last-good mode and owner. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/config_manifest.h"
#include "actions/registry.h"
#include "atomic_file.h"

enum { P_CHECK, P_PATH, _P_MAX };

static const action_param_spec params[] = {
        [P_CHECK] = { "check", AP_STRING, false },
        [P_PATH] = { "path", AP_PATH, false },
        [_P_MAX] = { 0 },
};

#define PREV_MAX (64u * 1024u)
#define TARGETS_MAX 32u

static const char *check_of(const action_params *p) {
        return p->v[P_CHECK].set ? p->v[P_CHECK].str : "config";
}

static bool is_key_path(const char *path) {
        return strstr(path, "/private/") || strstr(path, "/rsa/") || strstr(path, "/ecdsa/") || strstr(path, "/pkcs8/");
}

static bool mode_unsafe(const char *path, unsigned mode) {
        return (mode & 022) || (is_key_path(path) && (mode & 077));
}

static char *prev_path(const action_env *env) {
        char *s;
        return !env->state_dir || asprintf(&s, "%s/file-mode.prev", env->state_dir) < 0 ? NULL : s;
}

/* The files to fix now (entries of the last-good manifest, with its mode and owner), and how
 * many unsafe files it cannot fix because their last-good state is unsafe too. */
static int targets(const action_params *p, const action_env *env, config_manifest *ret, size_t *ret_unfixable,
                   char *why, size_t n) {
        _cleanup_(freep) char *good_path = NULL;
        config_manifest good = { 0 }, out = { 0 };
        size_t unfixable = 0;
        int r;

        r = config_manifest_path(env->state_dir, check_of(p), "", &good_path);
        if (r < 0)
                return r;
        r = config_manifest_read(good_path, &good);
        if (r < 0) {
                (void) snprintf(why, n, "no last-good manifest to take modes and owners from (%s: %s)", good_path,
                                strerror(-r));
                return r;
        }
        for (size_t i = 0; r >= 0 && i < good.n && out.n < TARGETS_MAX; i++) {
                const config_manifest_entry *e = &good.e[i];
                struct stat st;
                if (p->v[P_PATH].set && strcmp(p->v[P_PATH].str, e->path) != 0)
                        continue;
                if (lstat(e->path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                unsigned mode = st.st_mode & 07777;
                if (mode == (e->mode & 07777) && st.st_uid == e->uid && st.st_gid == e->gid)
                        continue;
                if (!mode_unsafe(e->path, mode) && st.st_uid == e->uid)
                        continue; /* a change that is not a risk: drift, left alone */
                if (mode_unsafe(e->path, e->mode)) {
                        unfixable++;
                        continue;
                }
                r = config_manifest_add(&out, e);
        }
        config_manifest_done(&good);
        if (r < 0) {
                config_manifest_done(&out);
                return r;
        }
        *ret = out;
        if (ret_unfixable)
                *ret_unfixable = unfixable;
        return 0;
}

/* Set path's mode and owner, through a descriptor of the file itself (a symlink put in its
 * place is not followed). */
static int set_mode(const char *path, unsigned mode, unsigned uid, unsigned gid) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EPERM;
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 07777) < 0)
                return -errno;
        return 0;
}

static int apply(action_call *call, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *prev = prev_path(env), *text = NULL;
        config_manifest t = { 0 };
        char why[512] = "", detail[ACTION_DETAIL_MAX] = "";
        size_t size = 0, w = 0;
        FILE *f;
        int r;

        if (!prev)
                return -ENOMEM;
        r = targets(p, env, &t, NULL, why, sizeof(why));
        if (r < 0) {
                action_call_set_detail(call, "%s", why[0] ? why : strerror(-r));
                return r;
        }
        if (t.n == 0) {
                config_manifest_done(&t);
                action_call_set_detail(call, "no file has an unsafe mode or owner that differs from the last-good one");
                return -ENOENT;
        }
        /* what is there now, on disk before anything changes: the revert's record */
        if (!(f = open_memstream(&text, &size))) {
                config_manifest_done(&t);
                return -ENOMEM;
        }
        for (size_t i = 0; i < t.n; i++) {
                struct stat st;
                if (lstat(t.e[i].path, &st) == 0)
                        fprintf(f, "%04o %u %u %s\n", (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                                (unsigned) st.st_gid, t.e[i].path);
        }
        if (fclose(f) != 0 || (r = atomic_file_write(prev, text, size, 0600)) < 0) {
                config_manifest_done(&t);
                action_call_set_detail(call, "cannot keep the current modes for the revert");
                return r < 0 ? r : -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < t.n; i++) {
                r = set_mode(t.e[i].path, t.e[i].mode, t.e[i].uid, t.e[i].gid);
                int k = snprintf(detail + w, sizeof(detail) - w, "%s%s %s mode %04o owner %u:%u", w ? "; " : "",
                                 r < 0 ? "FAILED" : "restored", t.e[i].path, t.e[i].mode & 07777, t.e[i].uid, t.e[i].gid);
                if (k > 0)
                        w += (size_t) k < sizeof(detail) - w ? (size_t) k : sizeof(detail) - w - 1;
        }
        config_manifest_done(&t);
        action_call_set_detail(call, "%s%s%s", detail, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
        if (r < 0)
                return r;
        action_call_done(call, 0);
        return 0;
}

/* The record of what apply replaced, one "mode uid gid path" per line, into m (hash "-"). */
static int read_prev(const action_env *env, config_manifest *m) {
        _cleanup_(freep) char *prev = prev_path(env), *text = NULL;
        size_t len = 0;
        int r;

        if (!prev)
                return -ENOMEM;
        r = atomic_file_read(prev, PREV_MAX, &text, &len);
        if (r < 0)
                return r;
        for (char *line = text, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                config_manifest_entry e = { .hash = "-" };
                char path[4200];
                if ((eol = strchr(line, '\n')))
                        *eol = 0;
                if (sscanf(line, "%o %u %u %4199[^\n]", &e.mode, &e.uid, &e.gid, path) != 4 || path[0] != '/') {
                        config_manifest_done(m);
                        return -EBADMSG;
                }
                e.path = path;
                if ((r = config_manifest_add(m, &e)) < 0) {
                        config_manifest_done(m);
                        return r;
                }
        }
        return 0;
}

static int revert(action_call *call, const action_env *env) {
        _cleanup_(freep) char *prev = prev_path(env);
        config_manifest m = { 0 };
        int r = read_prev(env, &m);
        size_t done = 0;

        if (r == -ENOENT) {
                action_call_set_detail(call, "nothing to put back: no mode was changed");
                action_call_done(call, 0);
                return 0;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < m.n; i++) {
                r = set_mode(m.e[i].path, m.e[i].mode, m.e[i].uid, m.e[i].gid);
                if (r >= 0)
                        done++;
        }
        action_call_set_detail(call, "%zu of %zu file(s) given back the mode and owner they had before%s%s%s%s", done,
                               m.n, m.n ? ", first " : "", m.n ? m.e[0].path : "", r < 0 ? ": stopped: " : "",
                               r < 0 ? strerror(-r) : "");
        config_manifest_done(&m);
        if (r < 0)
                return r;
        (void) unlink(prev);
        action_call_done(call, 0);
        return 0;
}

static int verify(action_call *call, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *good_path = NULL;
        config_manifest changed = { 0 }, good = { 0 };
        int r = read_prev(env, &changed);
        const char *bad = NULL;

        if (r == -ENOENT) {
                action_call_set_detail(call, "no mode was changed");
                action_call_done(call, 0);
                return 0;
        }
        if (r >= 0)
                r = config_manifest_path(env->state_dir, check_of(p), "", &good_path);
        if (r < 0 || (r = config_manifest_read(good_path, &good)) < 0) {
                config_manifest_done(&changed);
                return r;
        }
        for (size_t i = 0; !bad && i < changed.n; i++) {
                const config_manifest_entry *e = config_manifest_find(&good, changed.e[i].path);
                struct stat st;
                if (!e || lstat(e->path, &st) < 0 || (st.st_mode & 07777) != (e->mode & 07777) || st.st_uid != e->uid ||
                    st.st_gid != e->gid)
                        bad = changed.e[i].path;
        }
        if (bad)
                action_call_set_detail(call, "%s does not have its last-good mode and owner", bad);
        else
                action_call_set_detail(call, "%zu file(s) have their last-good mode and owner", changed.n);
        config_manifest_done(&changed);
        config_manifest_done(&good);
        action_call_done(call, bad ? -EPROTO : 0);
        return 0;
}

static int file_mode_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);

        return op == ACTION_APPLY ? apply(call, p, env) : op == ACTION_REVERT ? revert(call, env) : verify(call, p, env);
}

/* No last-good manifest, or no file it could fix: the step would only fail. */
static int file_mode_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        config_manifest t = { 0 };
        size_t unfixable = 0;
        int r = targets(p, env, &t, &unfixable, why, n);

        if (r < 0)
                return r;
        r = t.n ? 0 : -ENOENT;
        if (!t.n)
                (void) snprintf(why, n, "%s", unfixable ? "the unsafe file(s) were unsafe in the last-good configuration too"
                                                        : "no file has an unsafe mode or owner that differs from the last-good one");
        config_manifest_done(&t);
        return r;
}

static int file_mode_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        config_manifest t = { 0 };
        char why[512] = "";

        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  each file changed must have its last-good mode and owner");
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  give the files their mode and owner from before the change back");
        if (targets(p, env, &t, NULL, why, sizeof(why)) < 0)
                return action_plan_add(out, "  file modes: nothing to do: %s", why);
        if (!t.n)
                (void) action_plan_add(out, "  file modes: no file has an unsafe mode or owner that differs from the last-good one");
        for (size_t i = 0; i < t.n; i++) {
                struct stat st = { 0 };
                (void) lstat(t.e[i].path, &st);
                (void) action_plan_add(out, "  %s: mode %04o owner %u:%u → last-good mode %04o owner %u:%u (content untouched)",
                                       t.e[i].path, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                                       (unsigned) st.st_gid, t.e[i].mode & 07777, t.e[i].uid, t.e[i].gid);
        }
        config_manifest_done(&t);
        return 0;
}

static bool file_mode_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_file_mode = {
        .kind = "file_mode",
        .description = "give a configuration file with an unsafe mode or owner its last-good mode and owner back",
        .params = params,
        .effects = true,
        .precondition = file_mode_precondition,
        .plan = file_mode_plan,
        .start = file_mode_start,
        .supports = file_mode_supports,
};
