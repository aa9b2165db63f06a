/* The `cert_standby` action: switch the gateway to its standby certificate and key.
 *
 * The standby material (params `cert` and `key`, else the certificate check's `standby` list)
 * is validated first — valid now, its key matching, an EKU fit for an IKE responder (none, or
 * serverAuth, or ikeIntermediate), a chain to a CA of the swanctl tree's x509ca/ (the CAs the
 * peers trust) — and only then swapped in: the live certificate is the one in x509/ with the
 * standby's subject, the live key the one in the key directories matching that certificate.
 * Both are replaced atomically (temporary file, fsync, rename; modes and owners kept), the
 * replaced pair is kept under <state_dir>/standby-prev/ for the revert, and credentials AND
 * connections are reloaded (`swanctl --load-all --clear`: a certificate is bound when a
 * connection is loaded). Verify: the live pair is the standby's and valid now. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/swanctl.h"
#include "atomic_file.h"
#include "x509_file.h"

enum { P_CERT, P_KEY, P_CHECK, P_SWANCTL, _P_MAX };

static const action_param_spec params[] = {
        [P_CERT] = { "cert", AP_PATH, false },
        [P_KEY] = { "key", AP_PATH, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [_P_MAX] = { 0 },
};

typedef struct standby_state {
        action_call *call;
        spawn *child;
        char detail[700];
} standby_state;

typedef struct pair {
        char cert_path[4600], key_path[4600]; /* standby: its files; live: the files to replace */
} pair;

static const char *check_of(const action_params *p) {
        return p->v[P_CHECK].set ? p->v[P_CHECK].str : "certificate";
}

static const char *cparam(const action_params *p, const action_env *env, const char *key) {
        return env->check_param ? env->check_param(env->check_userdata, check_of(p), key) : NULL;
}

static const char *swanctl_dir(const action_params *p, const action_env *env) {
        return cparam(p, env, "swanctl_dir") ?: "/etc/swanctl";
}

/* The standby cert and key: the params, else the check's `standby` list (sorted by content). */
static int standby_files(const action_params *p, const action_env *env, pair *ret, char *why, size_t n) {
        *ret = (pair){ 0 };
        if (p->v[P_CERT].set)
                (void) snprintf(ret->cert_path, sizeof(ret->cert_path), "%.4500s", p->v[P_CERT].str);
        if (p->v[P_KEY].set)
                (void) snprintf(ret->key_path, sizeof(ret->key_path), "%.4500s", p->v[P_KEY].str);
        for (int i = 0; i < 16 && (!ret->cert_path[0] || !ret->key_path[0]); i++) {
                char k[32];
                const char *f;
                X509 *x;
                (void) snprintf(k, sizeof(k), "standby.%d", i);
                if (!(f = cparam(p, env, k)))
                        break;
                if ((x = x509_file_cert(f))) {
                        X509_free(x);
                        if (!ret->cert_path[0])
                                (void) snprintf(ret->cert_path, sizeof(ret->cert_path), "%.4500s", f);
                } else if (!ret->key_path[0])
                        (void) snprintf(ret->key_path, sizeof(ret->key_path), "%.4500s", f);
        }
        if (!ret->cert_path[0] || !ret->key_path[0]) {
                (void) snprintf(why, n, "no standby %.300s (params cert/key, or the %.300s check's standby list)",
                                ret->cert_path[0] ? "key" : "certificate", check_of(p));
                return -ENOENT;
        }
        return 0;
}

static void add_dir_to_store(X509_STORE *st, STACK_OF(X509) *chain, const char *dir) {
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                char path[4600];
                X509 *x;
                (void) snprintf(path, sizeof(path), "%.4300s/%.255s", dir, list[i]->d_name);
                if (list[i]->d_name[0] != '.' && (x = x509_file_cert(path))) {
                        /* self-signed: a trust anchor; else an intermediate for the chain */
                        if (X509_check_issued(x, x) == X509_V_OK)
                                (void) X509_STORE_add_cert(st, x);
                        else
                                (void) sk_X509_push(chain, X509_dup(x));
                        X509_free(x);
                }
                free(list[i]);
        }
        free(list);
}

/* No EKU, or one allowing an IKE responder: serverAuth, ikeIntermediate (1.3.6.1.5.5.8.2.2, as
 * strongSwan's pki --flag ikeIntermediate sets it), or anyExtendedKeyUsage. */
static bool eku_fit(X509 *x) {
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
        bool fit = !eku;

        for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
                ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
                char txt[64];
                int nid = OBJ_obj2nid(o);
                (void) OBJ_obj2txt(txt, sizeof(txt), o, 1);
                fit |= nid == NID_server_auth || nid == NID_anyExtendedKeyUsage || strcmp(txt, "1.3.6.1.5.5.8.2.2") == 0;
        }
        EXTENDED_KEY_USAGE_free(eku);
        return fit;
}

/* Is the standby fit to serve? */
static int judge(const action_params *p, const action_env *env, const pair *sb, char *why, size_t n) {
        X509 *x = x509_file_cert(sb->cert_path);
        EVP_PKEY *k = x509_file_key(sb->key_path);
        X509_STORE *st = X509_STORE_new();
        STACK_OF(X509) *chain = sk_X509_new_null();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        char dir[4300];
        int r = -EINVAL;

        if (!x || !k || !st || !chain || !ctx) {
                (void) snprintf(why, n, "standby %.300s does not load", !x ? sb->cert_path : sb->key_path);
                goto out;
        }
        if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 || X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
                (void) snprintf(why, n, "standby certificate %.300s is not valid now", sb->cert_path);
                goto out;
        }
        if (X509_check_private_key(x, k) != 1) {
                (void) snprintf(why, n, "standby key %.300s does not match %.300s", sb->key_path, sb->cert_path);
                goto out;
        }
        if (!eku_fit(x)) {
                (void) snprintf(why, n, "standby certificate %.300s has an EKU without serverAuth or ikeIntermediate",
                                sb->cert_path);
                goto out;
        }
        (void) snprintf(dir, sizeof(dir), "%.4000s/x509ca", swanctl_dir(p, env));
        add_dir_to_store(st, chain, dir);
        if (X509_STORE_CTX_init(ctx, st, x, chain) != 1 || X509_verify_cert(ctx) != 1) {
                (void) snprintf(why, n, "standby certificate %.300s does not chain to a CA of %.300s: %.300s", sb->cert_path, dir,
                                X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
                goto out;
        }
        r = 0;
out:
        X509_STORE_CTX_free(ctx);
        sk_X509_pop_free(chain, X509_free);
        X509_STORE_free(st);
        EVP_PKEY_free(k);
        X509_free(x);
        return r;
}

/* The live pair the standby replaces: the x509/ cert with its subject, the key of that cert. */
static int live_pair(const action_params *p, const action_env *env, const pair *sb, pair *ret, char *why, size_t n) {
        static const char *const keydirs[] = { "private", "rsa", "ecdsa", "pkcs8" };
        X509 *s = x509_file_cert(sb->cert_path), *live = NULL;
        struct dirent **list = NULL;
        char dir[4300];
        int k;

        *ret = (pair){ 0 };
        (void) snprintf(dir, sizeof(dir), "%.4000s/x509", swanctl_dir(p, env));
        k = s ? scandir(dir, &list, NULL, alphasort) : 0;
        for (int i = 0; i < k; i++) {
                char path[4600];
                X509 *x;
                (void) snprintf(path, sizeof(path), "%.4300s/%.255s", dir, list[i]->d_name);
                if (!ret->cert_path[0] && list[i]->d_name[0] != '.' && (x = x509_file_cert(path))) {
                        if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(s)) == 0) {
                                (void) snprintf(ret->cert_path, sizeof(ret->cert_path), "%s", path);
                                live = x;
                        } else
                                X509_free(x);
                }
                free(list[i]);
        }
        free(list);
        for (size_t d = 0; live && !ret->key_path[0] && d < ELEMENTSOF(keydirs); d++) {
                (void) snprintf(dir, sizeof(dir), "%.4000s/%s", swanctl_dir(p, env), keydirs[d]);
                list = NULL;
                k = scandir(dir, &list, NULL, alphasort);
                for (int i = 0; i < k; i++) {
                        char path[4600];
                        EVP_PKEY *key;
                        (void) snprintf(path, sizeof(path), "%.4300s/%.255s", dir, list[i]->d_name);
                        if (!ret->key_path[0] && list[i]->d_name[0] != '.' && (key = x509_file_key(path))) {
                                if (X509_check_private_key(live, key) == 1)
                                        (void) snprintf(ret->key_path, sizeof(ret->key_path), "%s", path);
                                EVP_PKEY_free(key);
                        }
                        free(list[i]);
                }
                free(list);
        }
        X509_free(live);
        X509_free(s);
        if (!ret->cert_path[0] || !ret->key_path[0]) {
                (void) snprintf(why, n, "no live %.300s to replace in %.300s (same subject as the standby)",
                                ret->cert_path[0] ? "key matching the certificate" : "certificate", swanctl_dir(p, env));
                return -ENOENT;
        }
        return 0;
}

/* Replace dst by src's bytes, keeping dst's mode and owner (or `mode` for a new file). */
static int replace_file(const char *src, const char *dst, mode_t mode) {
        _cleanup_(freep) char *data = NULL, *tmp = NULL;
        _cleanup_(closep) int fd = -1;
        struct stat st;
        size_t len = 0;
        uid_t uid = 0;
        gid_t gid = 0;
        int r = atomic_file_read(src, X509_FILE_MAX, &data, &len);

        if (r < 0)
                return r;
        if (stat(dst, &st) == 0) {
                mode = st.st_mode & 07777;
                uid = st.st_uid;
                gid = st.st_gid;
        }
        if (asprintf(&tmp, "%s.ikeheal-tmp", dst) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || atomic_file_write_all(fd, data, len) < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 ||
            fsync(fd) < 0 || rename(tmp, dst) < 0) {
                r = -errno ?: -EIO;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

static int prev_paths(const action_env *env, char *cert, char *key, char *where, size_t n) {
        if (!env->state_dir)
                return -ENOENT;
        (void) snprintf(cert, n, "%.4000s/standby-prev/cert", env->state_dir);
        (void) snprintf(key, n, "%.4000s/standby-prev/key", env->state_dir);
        (void) snprintf(where, n, "%.4000s/standby-prev/where", env->state_dir);
        return 0;
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        standby_state *s = userdata;
        bool bad = swanctl_failed(code, status, out);
        action_call_set_detail(s->call, "%s; swanctl --load-all --clear: %s%s", s->detail, bad ? "FAILED: " : "", out);
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static int reload(standby_state *s, const action_params *p, const action_env *env) {
        return swanctl_load_all(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                                swanctl_dir(p, env), env->check_param ? env->check_param(env->check_userdata, "config",
                                                                                          "strongswan_conf")
                                                                      : NULL,
                                true, on_loaded, s);
}

static int apply(standby_state *s, const action_params *p, const action_env *env) {
        char why[1024] = "", pc[4300], pk[4300], pw[4300];
        pair sb, live;
        int r;

        if ((r = standby_files(p, env, &sb, why, sizeof(why))) < 0 || (r = judge(p, env, &sb, why, sizeof(why))) < 0 ||
            (r = live_pair(p, env, &sb, &live, why, sizeof(why))) < 0) {
                action_call_set_detail(s->call, "refused, nothing changed: %s", why);
                return r;
        }
        if ((r = prev_paths(env, pc, pk, pw, sizeof(pc))) < 0)
                return r;
        /* the pair it replaces, kept first: the revert puts exactly that back */
        char where[9300];
        (void) snprintf(where, sizeof(where), "%s\n%s\n", live.cert_path, live.key_path);
        (void) snprintf(pw, sizeof(pw), "%.4000s/standby-prev", env->state_dir);
        if ((mkdir(pw, 0700) < 0 && errno != EEXIST) || (r = replace_file(live.cert_path, pc, 0600)) < 0 ||
            (r = replace_file(live.key_path, pk, 0600)) < 0) {
                action_call_set_detail(s->call, "cannot keep the live pair for the revert: %s", strerror(errno ?: EIO));
                return r < 0 ? r : -EIO;
        }
        (void) snprintf(pw, sizeof(pw), "%.4000s/standby-prev/where", env->state_dir);
        if ((r = atomic_file_write(pw, where, strlen(where), 0600)) < 0)
                return r;
        if ((r = replace_file(sb.key_path, live.key_path, 0600)) < 0 || (r = replace_file(sb.cert_path, live.cert_path, 0644)) < 0) {
                action_call_set_detail(s->call, "swapping in the standby failed: %s", strerror(-r));
                return r;
        }
        (void) snprintf(s->detail, sizeof(s->detail), "standby %.200s now serves as %.200s (key %.200s)", sb.cert_path, live.cert_path,
                        live.key_path);
        return reload(s, p, env);
}

static int revert(standby_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *where = NULL;
        char pc[4400], pk[4400], pw[4400], *nl;
        size_t len = 0;
        int r;

        if ((r = prev_paths(env, pc, pk, pw, sizeof(pc))) < 0)
                return r;
        if (atomic_file_read(pw, 9000, &where, &len) < 0 || !(nl = strchr(where, '\n'))) {
                action_call_set_detail(s->call, "nothing to put back: no pair was replaced");
                action_call_done(s->call, 0);
                return 0;
        }
        *nl = 0;
        char *key = nl + 1;
        key[strcspn(key, "\n")] = 0;
        if ((r = replace_file(pk, key, 0600)) < 0 || (r = replace_file(pc, where, 0644)) < 0) {
                action_call_set_detail(s->call, "putting the previous pair back failed: %s", strerror(-r));
                return r;
        }
        (void) unlink(pw);
        (void) snprintf(s->detail, sizeof(s->detail), "previous certificate %.300s and key %.300s put back", where, key);
        return reload(s, p, env);
}

static int verify(standby_state *s, const action_params *p, const action_env *env) {
        char why[1024] = "";
        pair sb, live;
        int r;

        if ((r = standby_files(p, env, &sb, why, sizeof(why))) >= 0 && (r = live_pair(p, env, &sb, &live, why, sizeof(why))) >= 0) {
                pair now = { 0 };
                memcpy(now.cert_path, live.cert_path, sizeof(now.cert_path));
                memcpy(now.key_path, live.key_path, sizeof(now.key_path));
                r = judge(p, env, &now, why, sizeof(why));
        }
        action_call_set_detail(s->call, "%s", r < 0 ? why : "the live certificate and key are valid, matching and chained");
        action_call_done(s->call, r < 0 ? -EPROTO : 0);
        return 0;
}

static int standby_start(void *state, action_call *call, action_op op) {
        standby_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);

        *s = (standby_state){ .call = call };
        return op == ACTION_APPLY ? apply(s, p, env) : op == ACTION_REVERT ? revert(s, p, env) : verify(s, p, env);
}

static void standby_cancel(void *state) {
        standby_state *s = state;
        s->child = spawn_free(s->child);
}

static int standby_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char why[1024] = "";
        pair sb, live;

        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  the live certificate and key must be valid now, match, and chain to x509ca/");
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  put the replaced certificate and key back, then swanctl --load-all --clear");
        if (standby_files(p, env, &sb, why, sizeof(why)) < 0 || judge(p, env, &sb, why, sizeof(why)) < 0 ||
            live_pair(p, env, &sb, &live, why, sizeof(why)) < 0)
                return action_plan_add(out, "  standby certificate: refused now: %s", why);
        (void) action_plan_add(out, "  replace %s by the standby %s, and %s by %s (validated: valid now, key matches, chains)",
                               live.cert_path, sb.cert_path, live.key_path, sb.key_path);
        return action_plan_add(out, "  then swanctl --load-all --clear (credentials and connections) for %s", swanctl_dir(p, env));
}

/* A standby that is missing, unfit (expired, not matching, not chaining) or has no live pair to
 * replace is refused at apply: known before anyone is asked to approve it. */
static int standby_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        pair sb, live;
        int r;

        if ((r = standby_files(p, env, &sb, why, n)) < 0 || (r = judge(p, env, &sb, why, n)) < 0 ||
            (r = live_pair(p, env, &sb, &live, why, n)) < 0)
                return r;
        return 0;
}

static bool standby_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_cert_standby = {
        .kind = "cert_standby",
        .description = "switch to the validated standby certificate and key, reloading credentials and connections",
        .params = params,
        .effects = true,
        .measure = false,
        .state_size = sizeof(standby_state),
        .precondition = standby_precondition,
        .plan = standby_plan,
        .start = standby_start,
        .cancel = standby_cancel,
        .done = standby_cancel,
        .supports = standby_supports,
};
