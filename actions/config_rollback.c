/* The `config_rollback` action: put strongSwan's configuration back to the last version that
 * was known to work, then make charon load it.
 *
 * The config check (agent/checks/config_drift.c) keeps, when the gateway is healthy, a manifest
 * (SHA-256, mode, owner, path of every file of the swanctl tree and strongswan.conf) and each
 * file's content in a content-addressed store (<state_dir>/config-store/<sha256>). A rollback
 * restores every file whose content, mode or owner differs (temporary file in the same
 * directory, fsync, rename: each file is old or new, never half-written), and removes files of
 * the swanctl tree that appeared since — except a temporary measure's (config_manifest.h): its
 * own revert removes it. What it replaced is stored the same way first, with a
 * manifest of its own (<check>.manifest.pre-rollback): the revert is the same operation back.
 *
 * Then `swanctl --load-all` runs as a child (actions/spawn.h) with a timeout, against charon's
 * VICI socket. swanctl exits 0 even when swanctl.conf has a syntax error (and then unloads every
 * connection), so its output counts too: "syntax error", "invalid config", "failed" fail the
 * step. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/config_manifest.h"
#include "actions/registry.h"
#include "actions/spawn.h"
#include "actions/swanctl.h"
#include "atomic_file.h"
#include "hex.h"

enum { P_CHECK, P_SWANCTL, P_RELOAD, _P_MAX };

static const action_param_spec params[] = {
        [P_CHECK] = { "check", AP_STRING, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [P_RELOAD] = { "reload", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

#define FILES_MAX CONFIG_MANIFEST_FILES_MAX
#define FILE_MAX (4u * 1024u * 1024u)

typedef struct rollback_state {
        action_call *call;
        spawn *child;
        char detail[512];
} rollback_state;

static const char *check_of(const action_params *p) {
        return p->v[P_CHECK].set ? p->v[P_CHECK].str : "config";
}

static const char *check_param(const action_params *p, const action_env *env, const char *key) {
        return env->check_param ? env->check_param(env->check_userdata, check_of(p), key) : NULL;
}

static const char *swanctl_dir(const action_params *p, const action_env *env) {
        return check_param(p, env, "swanctl_dir") ?: "/etc/swanctl";
}

/* <state_dir>/config-store/<sha256> */
static char *store_path(const action_env *env, const char *hash) {
        char *s;
        if (!env->state_dir || asprintf(&s, "%s/config-store/%s", env->state_dir, hash) < 0)
                return NULL;
        return s;
}

static int sha256_file(const char *path, char hex[65], char **ret_data, size_t *ret_len) {
        _cleanup_(freep) char *data = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        size_t len = 0;
        int r = atomic_file_read(path, FILE_MAX, &data, &len);

        if (r < 0)
                return r;
        if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
                return -EIO;
        hex_encode(md, md_len, hex);
        if (ret_data) {
                *ret_data = TAKE_PTR(data);
                *ret_len = len;
        }
        return 0;
}

/* Does the file at e->path differ from e (content, mode, owner; or present vs absent)? */
static bool differs(const config_manifest_entry *e) {
        char hex[65];
        struct stat st;

        if (lstat(e->path, &st) < 0)
                return strcmp(e->hash, "-") != 0;
        if (strcmp(e->hash, "-") == 0 || !S_ISREG(st.st_mode))
                return true;
        if ((st.st_mode & 07777) != e->mode || st.st_uid != e->uid || st.st_gid != e->gid)
                return true;
        return sha256_file(e->path, hex, NULL, NULL) < 0 || strcmp(hex, e->hash) != 0;
}

static bool listed(const config_manifest *m, const char *path) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->e[i].path, path) == 0)
                        return true;
        return false;
}

/* Files of the swanctl tree the manifest does not know (appeared since): as "-" entries. */
static int extra_files(const char *dir, const config_manifest *good, config_manifest *out, unsigned depth) {
        struct dirent **list = NULL;
        int n = depth > 4 ? 0 : scandir(dir, &list, NULL, alphasort), r = 0;

        for (int i = 0; i < n; i++) {
                char path[4200];
                struct stat st;
                if (r >= 0 && list[i]->d_name[0] != '.' &&
                    snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) < (int) sizeof(path) && lstat(path, &st) == 0) {
                        if (S_ISDIR(st.st_mode))
                                r = extra_files(path, good, out, depth + 1);
                        else if (S_ISREG(st.st_mode) && !listed(good, path) && !config_manifest_measure_file(path) &&
                                 out->n < FILES_MAX)
                                r = config_manifest_add(out, &(config_manifest_entry){ .hash = "-", .path = path });
                }
                free(list[i]);
        }
        free(list);
        return r;
}

/* What would change to make the files equal `target` (+ what appeared since, to remove). */
static int changes(const config_manifest *target, const char *tree, bool remove_extra, config_manifest *ret) {
        config_manifest c = { 0 };
        int r = 0;

        for (size_t i = 0; i < target->n && r >= 0; i++) {
                if (differs(&target->e[i]))
                        r = config_manifest_add(&c, &target->e[i]);
        }
        if (r >= 0 && remove_extra && tree)
                r = extra_files(tree, target, &c, 0);
        if (r < 0) {
                config_manifest_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Put one file into the state `e` describes: its stored content, mode and owner, or gone. */
static int put_file(const action_env *env, const config_manifest_entry *e, char *why, size_t n) {
        _cleanup_(freep) char *obj = NULL, *data = NULL, *tmp = NULL;
        _cleanup_(closep) int fd = -1;
        size_t len = 0;
        char hex[65];

        if (strcmp(e->hash, "-") == 0) {
                if (unlink(e->path) < 0 && errno != ENOENT) {
                        (void) snprintf(why, n, "remove %s: %s", e->path, strerror(errno));
                        return -errno;
                }
                return 0;
        }
        if (!(obj = store_path(env, e->hash)) || sha256_file(obj, hex, &data, &len) < 0 ||
            strcmp(hex, e->hash) != 0) {
                (void) snprintf(why, n, "%s: the stored version (sha256 %.16s…) is missing or damaged", e->path, e->hash);
                return -ENOENT;
        }
        if (asprintf(&tmp, "%s.ikeheal-tmp", e->path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || atomic_file_write_all(fd, data, len) < 0 || fchown(fd, e->uid, e->gid) < 0 ||
            fchmod(fd, e->mode & 07777) < 0 || fsync(fd) < 0 || rename(tmp, e->path) < 0) {
                int k = -errno;
                (void) snprintf(why, n, "write %s: %s", e->path, strerror(errno));
                (void) unlink(tmp);
                return k ? k : -EIO;
        }
        return 0;
}

/* Keep what is there now (for the revert): objects + a manifest of the touched paths. */
static int keep_before(const action_env *env, const config_manifest *touched, const char *out_path) {
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < touched->n; i++) {
                _cleanup_(freep) char *data = NULL, *obj = NULL;
                char hex[65] = "-";
                size_t len = 0;
                struct stat st = { 0 };
                if (lstat(touched->e[i].path, &st) == 0 && S_ISREG(st.st_mode)) {
                        if (sha256_file(touched->e[i].path, hex, &data, &len) < 0 ||
                            !(obj = store_path(env, hex))) {
                                fclose(f);
                                return -EIO;
                        }
                        if (access(obj, F_OK) < 0 && atomic_file_write(obj, data, len, 0600) < 0) {
                                fclose(f);
                                return -EIO;
                        }
                }
                fprintf(f, "%s %04o %u %u %s\n", hex, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                        (unsigned) st.st_gid, touched->e[i].path);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        return atomic_file_write(out_path, text, size, 0600);
}

static void on_swanctl(spawn *child, int code, int status, const char *out, void *userdata) {
        rollback_state *s = userdata;
        bool bad = swanctl_failed(code, status, out);

        action_call_set_detail(s->call, "%s; swanctl --load-all: %s%s", s->detail, bad ? "FAILED: " : "", out);
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static int reload(rollback_state *s, const action_params *p, const action_env *env) {
        return swanctl_load_all(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                                swanctl_dir(p, env), check_param(p, env, "strongswan_conf"), false, on_swanctl, s);
}

static int rollback_start(void *state, action_call *call, action_op op) {
        rollback_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *good_path = NULL, *pre_path = NULL;
        config_manifest target = { 0 }, delta = { 0 };
        char why[512] = "";
        int r;

        *s = (rollback_state){ .call = call };
        r = config_manifest_path(env->state_dir, check_of(p), "", &good_path);
        if (r >= 0)
                r = config_manifest_path(env->state_dir, check_of(p), ".pre-rollback", &pre_path);
        if (r < 0)
                return r;
        r = config_manifest_read(op == ACTION_REVERT ? pre_path : good_path, &target);
        if (r == -ENOENT && op == ACTION_REVERT) {
                action_call_set_detail(call, "nothing to put back: the rollback changed nothing");
                action_call_done(call, 0);
                return 0;
        }
        if (r < 0) {
                action_call_set_detail(call, "no last-good configuration to go back to (%s: %s)",
                                       op == ACTION_REVERT ? pre_path : good_path, strerror(-r));
                return r;
        }
        r = changes(&target, swanctl_dir(p, env), op == ACTION_APPLY, &delta);
        if (r >= 0 && op == ACTION_VERIFY) {
                if (delta.n)
                        action_call_set_detail(call, "%zu file(s) differ from the last-good configuration, e.g. %s", delta.n,
                                               delta.e[0].path);
                else
                        action_call_set_detail(call, "the configuration is the last-good one");
                r = delta.n ? -EPROTO : 0;
                config_manifest_done(&target);
                config_manifest_done(&delta);
                action_call_done(call, r);
                return 0;
        }
        if (r >= 0 && op == ACTION_APPLY) {
                (void) unlink(pre_path);
                r = keep_before(env, &delta, pre_path);
                if (r < 0)
                        (void) snprintf(why, sizeof(why), "cannot keep the current files for the revert: %s", strerror(-r));
        }
        size_t done = 0; /* only the files actually put in place */
        for (size_t i = 0; r >= 0 && i < delta.n; i++) {
                r = put_file(env, &delta.e[i], why, sizeof(why));
                if (r >= 0)
                        done++;
        }
        if (r >= 0 && op == ACTION_REVERT)
                (void) unlink(pre_path);
        (void) snprintf(s->detail, sizeof(s->detail), "%zu of %zu file(s) %s%s%s", done, delta.n,
                        op == ACTION_APPLY ? "restored to the last-good configuration" : "put back as before the rollback",
                        delta.n ? ", first " : "", delta.n ? delta.e[0].path : "");
        config_manifest_done(&target);
        config_manifest_done(&delta);
        if (r < 0) {
                action_call_set_detail(call, "%s; stopped: %s", s->detail, why);
                return r;
        }
        if (p->v[P_RELOAD].set && !p->v[P_RELOAD].num) {
                action_call_set_detail(call, "%s", s->detail);
                action_call_done(call, 0);
                return 0;
        }
        r = reload(s, p, env);
        if (r < 0)
                action_call_set_detail(call, "%s; cannot run swanctl: %s", s->detail, strerror(-r));
        return r;
}

static void rollback_cancel(void *state) {
        rollback_state *s = state;
        s->child = spawn_free(s->child);
}

static int rollback_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(freep) char *good_path = NULL;
        config_manifest target = { 0 }, delta = { 0 };

        (void) config_manifest_path(env->state_dir, check_of(p), "", &good_path);
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  every file must match the last-good manifest %s", good_path ?: "?");
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  put back the files the rollback replaced, then swanctl --load-all");
        if (!good_path || config_manifest_read(good_path, &target) < 0)
                return action_plan_add(out, "  configuration rollback: there is no last-good manifest (%s)", good_path ?: "?");
        if (changes(&target, swanctl_dir(p, env), true, &delta) >= 0) {
                (void) action_plan_add(out, "  configuration rollback to %s: %zu file(s) would change", good_path, delta.n);
                for (size_t i = 0; i < delta.n && i < 20; i++)
                        (void) action_plan_add(out, "    %s %s", strcmp(delta.e[i].hash, "-") ? "restore" : "remove",
                                               delta.e[i].path);
                (void) action_plan_add(out, "  then %s --load-all --noprompt (SWANCTL_DIR=%s) against %s",
                                       p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : "/usr/sbin/swanctl", swanctl_dir(p, env),
                                       env->vici_socket ?: "charon's default socket");
        }
        config_manifest_done(&target);
        config_manifest_done(&delta);
        return 0;
}

/* A rollback needs a last-good manifest to go back to: without one (the gateway was never
 * healthy under the agent, or the state was wiped) it can only fail once approved. */
static int rollback_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        _cleanup_(freep) char *good_path = NULL;
        config_manifest target = { 0 };
        int r;

        r = config_manifest_path(env->state_dir, check_of(p), "", &good_path);
        if (r < 0)
                return r;
        r = config_manifest_read(good_path, &target);
        if (r < 0) {
                (void) snprintf(why, n, "no last-good configuration to go back to (%s: %s)", good_path, strerror(-r));
                return r;
        }
        config_manifest_done(&target);
        return 0;
}

static bool rollback_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_config_rollback = {
        .kind = "config_rollback",
        .description = "restore strongSwan's last-good configuration and load it",
        .params = params,
        .effects = true,
        .state_size = sizeof(rollback_state),
        .precondition = rollback_precondition,
        .plan = rollback_plan,
        .start = rollback_start,
        .cancel = rollback_cancel,
        .done = rollback_cancel,
        .supports = rollback_supports,
};
