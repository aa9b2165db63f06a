/* See file_swap.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/swanctl.h"
#include "atomic_file.h"
#include "faults/file_swap.h"
#include "hex.h"

/* What .meta records: the original (hash "-": there was no file) and the fault ("-": removed). */
typedef struct swap_meta {
        char orig[65], fault[65];
        unsigned mode, uid, gid;
} swap_meta;

static void sha256_hex(const void *data, size_t len, char hex[65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        hex[0] = 0;
        if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
                return;
        hex_encode(md, n < 32 ? n : 32, hex);
}

/* <state_dir>/drill-faults/<sha256 of target>.SUFFIX (suffix NULL: the directory) */
static int backup_path(const action_env *env, const char *target, const char *suffix, char *buf, size_t size) {
        char h[65];

        if (!env->state_dir)
                return -ENOENT;
        sha256_hex(target, strlen(target), h);
        (void) snprintf(buf, size, "%.4000s/drill-faults%s%s%s%s", env->state_dir, suffix ? "/" : "", suffix ? h : "",
                        suffix ? "." : "", suffix ?: "");
        return 0;
}

static int meta_read(const action_env *env, const char *target, swap_meta *ret) {
        _cleanup_(freep) char *text = NULL;
        char path[4200];
        int r = backup_path(env, target, "meta", path, sizeof(path));

        if (r < 0 || (r = atomic_file_read(path, 1024, &text, NULL)) < 0)
                return r;
        if (sscanf(text, "%64s %o %u %u %64s", ret->orig, &ret->mode, &ret->uid, &ret->gid, ret->fault) != 5)
                return -EBADMSG;
        return 0;
}

static void backup_remove(const action_env *env, const char *target) {
        char path[4200];

        /* the record first: without it a half-removed backup is not taken for one */
        if (backup_path(env, target, "meta", path, sizeof(path)) >= 0)
                (void) unlink(path);
        if (backup_path(env, target, "orig", path, sizeof(path)) >= 0)
                (void) unlink(path);
}

/* The target's hash now ("-": absent), and its bytes, mode and owner. */
static int current(const char *target, char hex[65], char **data, size_t *len, struct stat *st) {
        int r = atomic_file_read(target, FILE_SWAP_MAX, data, len);

        if (r == -ENOENT) {
                (void) snprintf(hex, 65, "-");
                return 0;
        }
        if (r < 0 || stat(target, st) < 0)
                return r < 0 ? r : -errno;
        sha256_hex(*data, *len, hex);
        return 0;
}

static int remove_file(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        _cleanup_(closep) int fd = -1;

        if (!copy)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata);

static void on_reauth(fault_reauth *ra, int r, void *userdata) {
        file_swap *s = userdata;

        action_call_set_detail(s->call, "%s; %s", s->detail, ra->detail);
        action_call_done(s->call, r);
}

/* The next load command, or the end of the operation. */
static void load_next(file_swap *s) {
        const action_env *env = action_call_env(s->call);
        const file_swap_load *l = &s->loads[s->next];
        int r;

        if (!l->what) {
                if (s->drop_backup)
                        backup_remove(env, s->target);
                if (s->reauth) {
                        s->reauth = false;
                        if ((r = fault_reauth_start(&s->ra, env->vici, on_reauth, s)) < 0) {
                                action_call_set_detail(s->call, "%s; %s", s->detail, s->ra.detail);
                                action_call_done(s->call, r);
                        }
                        return;
                }
                action_call_set_detail(s->call, "%s", s->detail);
                action_call_done(s->call, 0);
                return;
        }
        r = swanctl_load(&s->child, env, SWANCTL_DEFAULT, l->what, s->swanctl_dir,
                         env->check_param ? env->check_param(env->check_userdata, "config", "strongswan_conf") : NULL,
                         l->clear, on_loaded, s);
        if (r < 0) {
                action_call_set_detail(s->call, "%s; cannot run swanctl %s: %s", s->detail, l->what, strerror(-r));
                action_call_done(s->call, r);
        }
}

#define KEEP 300

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        static const char *const complaints[] = { "syntax error", "invalid config", "failed" };
        file_swap *s = userdata;
        const file_swap_load *l = &s->loads[s->next++];
        bool bad = swanctl_failed(code, status, out);
        size_t w = strlen(s->detail);

        /* keep what matters of swanctl's answer: its complaint if any, else how it ended */
        const char *c = NULL;
        for (size_t i = 0; !c && i < ELEMENTSOF(complaints); i++)
                c = strcasestr(out, complaints[i]);
        if (!c)
                c = strlen(out) > KEEP ? out + strlen(out) - KEEP : out;
        (void) snprintf(s->detail + w, sizeof(s->detail) - w, "; swanctl %s%s: %s%.*s", l->what, l->clear ? " --clear" : "",
                        !bad ? "" : s->strict ? "FAILED: " : "refused, as the fault intends: ", (int) KEEP, c);
        s->child = spawn_free(s->child); /* out is its buffer */
        if (bad && s->strict) {
                action_call_set_detail(s->call, "%s", s->detail);
                action_call_done(s->call, -EPROTO);
                return;
        }
        load_next(s);
}

static void begin(file_swap *s, action_call *call, const char *target, const char *swanctl_dir, const file_swap_load *loads) {
        *s = (file_swap){ .call = call, .loads = loads };
        (void) snprintf(s->target, sizeof(s->target), "%s", target);
        (void) snprintf(s->swanctl_dir, sizeof(s->swanctl_dir), "%s", swanctl_dir);
}

int file_swap_apply(file_swap *s, action_call *call, const char *target, const void *data, size_t len,
                    const char *swanctl_dir, const file_swap_load *loads, unsigned flags, const char *what) {
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *now = NULL;
        char dir[4200], orig[4200], meta[4200], rec[256], hex[65];
        struct stat st = { .st_mode = 0644 };
        size_t now_len = 0;
        swap_meta m;
        int r;

        begin(s, call, target, swanctl_dir, loads);
        s->strict = flags & FILE_SWAP_STRICT;
        s->reauth = flags & FILE_SWAP_REAUTH;
        if (backup_path(env, target, NULL, dir, sizeof(dir)) < 0) {
                action_call_set_detail(call, "no state directory to keep %s in: nothing changed", target);
                return -ENOENT;
        }
        (void) backup_path(env, target, "orig", orig, sizeof(orig));
        (void) backup_path(env, target, "meta", meta, sizeof(meta));
        if ((r = current(target, hex, &now, &now_len, &st)) < 0) {
                action_call_set_detail(call, "cannot read %s: %s; nothing changed", target, strerror(-r));
                return r;
        }
        /* the fault in place already (a repeated apply): the backup holds the real original */
        bool again = meta_read(env, target, &m) >= 0 && strcmp(m.fault, hex) == 0;
        if (!again) {
                char fault[65] = "-";
                if (data)
                        sha256_hex(data, len, fault);
                (void) snprintf(rec, sizeof(rec), "%s %04o %u %u %s\n", hex, (unsigned) (st.st_mode & 07777),
                                (unsigned) st.st_uid, (unsigned) st.st_gid, fault);
                if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
                    (r = now ? atomic_file_write(orig, now, now_len, 0600) : remove_file(orig)) < 0 ||
                    (r = atomic_file_write(meta, rec, strlen(rec), 0600)) < 0) {
                        r = r < 0 ? r : -errno;
                        action_call_set_detail(call, "cannot keep %s in %s: %s; nothing changed", target, dir, strerror(-r));
                        return r;
                }
        }
        r = data ? atomic_file_write_owned(target, data, len, st.st_mode & 07777, st.st_uid, st.st_gid) : remove_file(target);
        if (r < 0) {
                action_call_set_detail(call, "cannot write %s: %s (the original is kept in %s)", target, strerror(-r), orig);
                return r;
        }
        (void) snprintf(s->detail, sizeof(s->detail), "%.300s (original kept in %.200s)", what, orig);
        load_next(s);
        return 0;
}

int file_swap_revert(file_swap *s, action_call *call, const char *target, const char *swanctl_dir,
                     const file_swap_load *loads) {
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *now = NULL, *old = NULL;
        char orig[4200], hex[65], ohex[65];
        struct stat st = { 0 };
        size_t now_len = 0, old_len = 0;
        swap_meta m;
        int r;

        begin(s, call, target, swanctl_dir, loads);
        s->strict = true;
        if (meta_read(env, target, &m) < 0) {
                action_call_set_detail(call, "nothing to put back: no fault recorded for %s", target);
                action_call_done(call, 0);
                return 0;
        }
        if ((r = current(target, hex, &now, &now_len, &st)) < 0) {
                action_call_set_detail(call, "cannot read %s: %s", target, strerror(-r));
                return r;
        }
        if (strcmp(hex, m.orig) == 0)
                /* put back by an earlier revert whose load failed: load again */
                (void) snprintf(s->detail, sizeof(s->detail), "%.300s holds its original already", target);
        else if (strcmp(hex, m.fault) != 0) {
                backup_remove(env, target);
                action_call_set_detail(call, "%s was changed since the fault (repaired?): left as it is", target);
                action_call_done(call, 0);
                return 0;
        } else if (strcmp(m.orig, "-") == 0) {
                if ((r = remove_file(target)) < 0)
                        return r;
                (void) snprintf(s->detail, sizeof(s->detail), "%.300s removed (there was none before the fault)", target);
        } else {
                (void) backup_path(env, target, "orig", orig, sizeof(orig));
                ohex[0] = 0;
                if (atomic_file_read(orig, FILE_SWAP_MAX, &old, &old_len) >= 0)
                        sha256_hex(old, old_len, ohex);
                if (strcmp(ohex, m.orig) != 0) {
                        action_call_set_detail(call, "the backup %s of %s is missing or damaged: nothing changed", orig, target);
                        return -EBADMSG;
                }
                r = atomic_file_write_owned(target, old, old_len, m.mode & 07777, m.uid, m.gid);
                if (r < 0) {
                        action_call_set_detail(call, "cannot put %s back: %s", target, strerror(-r));
                        return r;
                }
                (void) snprintf(s->detail, sizeof(s->detail), "%.300s put back as it was", target);
        }
        s->drop_backup = true;
        load_next(s);
        return 0;
}

int file_swap_verify(action_call *call, const char *target) {
        _cleanup_(freep) char *now = NULL;
        char hex[65];
        struct stat st;
        size_t len = 0;
        swap_meta m;
        int r;

        if (meta_read(action_call_env(call), target, &m) < 0) {
                action_call_set_detail(call, "no fault recorded for %s", target);
                r = -ENOENT;
        } else if ((r = current(target, hex, &now, &len, &st)) >= 0) {
                r = strcmp(hex, m.fault) == 0 ? 0 : -EPROTO;
                action_call_set_detail(call, "%s %s", target, r == 0 ? "holds the fault" : "no longer holds the fault");
        }
        action_call_done(call, r);
        return 0;
}

int file_swap_base(const action_env *env, const char *target, char **ret, size_t *ret_len) {
        _cleanup_(freep) char *now = NULL;
        char hex[65], orig[4200];
        struct stat st;
        size_t len = 0;
        swap_meta m;
        int r = current(target, hex, &now, &len, &st);

        if (r < 0)
                return r;
        if (meta_read(env, target, &m) >= 0 && strcmp(m.fault, hex) == 0) {
                if (strcmp(m.orig, "-") == 0)
                        return -ENOENT;
                (void) backup_path(env, target, "orig", orig, sizeof(orig));
                return atomic_file_read(orig, FILE_SWAP_MAX, ret, ret_len);
        }
        if (!now)
                return -ENOENT;
        *ret = TAKE_PTR(now);
        *ret_len = len;
        return 0;
}

void file_swap_cancel(void *state) {
        file_swap *s = state;
        s->child = spawn_free(s->child);
        fault_reauth_cancel(&s->ra);
}

bool file_swap_supports(const action_params *p, action_op op) {
        return true;
}

const char *file_swap_tree(const action_env *env, const char *target, unsigned up, char *buf, size_t size) {
        const char *d = env->check_param ? env->check_param(env->check_userdata, "config", "swanctl_dir") : NULL;
        char *slash;

        if (d)
                return d;
        (void) snprintf(buf, size, "%s", target);
        for (unsigned i = 0; i < up && (slash = strrchr(buf, '/')); i++)
                *(slash == buf ? slash + 1 : slash) = 0;
        return buf;
}

int file_swap_plan(const action_env *env, const char *target, const char *tree, const file_swap_load *loads, action_op op,
                   action_plan *out) {
        char b[4200] = "?";

        (void) backup_path(env, target, "orig", b, sizeof(b));
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  %s must still hold the fault (SHA-256 recorded at apply)", target);
        if (op == ACTION_APPLY)
                (void) action_plan_add(out, "  keep %s (bytes, mode, owner) in %s first (fsynced)", target, b);
        else
                (void) action_plan_add(out, "  if %s still holds the fault: put back %s (mode, owner); if it was changed "
                                       "since: leave it", target, b);
        for (size_t i = 0; loads[i].what; i++)
                (void) action_plan_add(out, "  then swanctl %s%s (SWANCTL_DIR=%s) against %s", loads[i].what,
                                       loads[i].clear ? " --clear" : "", tree, env->vici_socket ?: "charon's default socket");
        return 0;
}
