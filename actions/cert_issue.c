/* The `cert_issue` action: a short-lived certificate for the gateway from an on-box standby CA,
 * for when the main CA is the problem (expired, revoked, unreachable for renewal) and the peers
 * also trust the standby CA. The live certificate's subject, subjectAltNames and key are kept;
 * the new certificate is valid from five minutes ago for `lifetime` (default 7 days), with a
 * random serial and the EKUs an IKE responder needs (serverAuth, ikeIntermediate), signed with
 * OpenSSL by `ca_cert`/`ca_key`. It replaces the live certificate atomically (the old one kept
 * for the revert); the standby CA is added to x509ca/ when missing; credentials and connections
 * are reloaded. Verify: the live certificate is valid now and chains to x509ca/. */
#include <errno.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
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
#include "duration.h"
#include "x509_file.h"

enum { P_CA_CERT, P_CA_KEY, P_LIFETIME, P_CHECK, P_SWANCTL, _P_MAX };

static const action_param_spec params[] = {
        [P_CA_CERT] = { "ca_cert", AP_PATH, true },
        [P_CA_KEY] = { "ca_key", AP_PATH, true },
        [P_LIFETIME] = { "lifetime", AP_DURATION, false, 3600 * USEC_PER_SEC, 90 * 24 * 3600 * USEC_PER_SEC },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [_P_MAX] = { 0 },
};

typedef struct issue_state {
        action_call *call;
        spawn *child;
        char detail[700];
} issue_state;

static const char *swanctl_dir(const action_params *p, const action_env *env) {
        const char *const order[] = { p->v[P_CHECK].set ? p->v[P_CHECK].str : "certificate", "config" };
        for (size_t i = 0; env->check_param && i < ELEMENTSOF(order); i++) {
                const char *d = env->check_param(env->check_userdata, order[i], "swanctl_dir");
                if (d)
                        return d;
        }
        return "/etc/swanctl";
}

static uint64_t lifetime_of(const action_params *p) {
        return p->v[P_LIFETIME].set ? p->v[P_LIFETIME].num : 7 * 24 * 3600 * USEC_PER_SEC;
}

/* The live certificate with a private key in the tree: the gateway's own. */
static int live(const char *dir, char *cert_path, size_t n, X509 **ret_cert, EVP_PKEY **ret_key) {
        static const char *const keydirs[] = { "private", "rsa", "ecdsa", "pkcs8" };
        char d[4200];
        struct dirent **list = NULL;
        int k;

        (void) snprintf(d, sizeof(d), "%.4000s/x509", dir);
        k = scandir(d, &list, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                char path[4500];
                X509 *x;
                (void) snprintf(path, sizeof(path), "%.4100s/%.255s", d, list[i]->d_name);
                if (!*ret_cert && list[i]->d_name[0] != '.' && (x = x509_file_cert(path))) {
                        for (size_t kd = 0; !*ret_key && kd < ELEMENTSOF(keydirs); kd++) {
                                char kdir[4200];
                                struct dirent **kl = NULL;
                                (void) snprintf(kdir, sizeof(kdir), "%.4000s/%s", dir, keydirs[kd]);
                                int kn = scandir(kdir, &kl, NULL, alphasort);
                                for (int j = 0; j < kn; j++) {
                                        char kp[4500];
                                        EVP_PKEY *key;
                                        (void) snprintf(kp, sizeof(kp), "%.4100s/%.255s", kdir, kl[j]->d_name);
                                        if (!*ret_key && kl[j]->d_name[0] != '.' && (key = x509_file_key(kp))) {
                                                if (X509_check_private_key(x, key) == 1)
                                                        *ret_key = key;
                                                else
                                                        EVP_PKEY_free(key);
                                        }
                                        free(kl[j]);
                                }
                                free(kl);
                        }
                        if (*ret_key) {
                                *ret_cert = x;
                                (void) snprintf(cert_path, n, "%s", path);
                        } else
                                X509_free(x);
                }
                free(list[i]);
        }
        free(list);
        return *ret_cert ? 0 : -ENOENT;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509_EXTENSION *e;

        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!e)
                return -EINVAL;
        int r = X509_add_ext(x, e, -1) == 1 ? 0 : -EINVAL;
        X509_EXTENSION_free(e);
        return r;
}

/* The new certificate as PEM (malloc'ed). */
static int issue(X509 *old, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, uint64_t lifetime, char **ret, size_t *ret_len) {
        X509 *x = X509_new();
        ASN1_INTEGER *serial = ASN1_INTEGER_new();
        BIGNUM *bn = BN_new();
        BIO *bio = BIO_new(BIO_s_mem());
        int r = -EIO;

        if (!x || !serial || !bn || !bio || BN_rand(bn, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
            !BN_to_ASN1_INTEGER(bn, serial) || X509_set_version(x, 2) != 1 || X509_set_serialNumber(x, serial) != 1 ||
            X509_set_subject_name(x, X509_get_subject_name(old)) != 1 || X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
            !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), (long) (lifetime / USEC_PER_SEC)) || X509_set_pubkey(x, key) != 1)
                goto out;
        int san = X509_get_ext_by_NID(old, NID_subject_alt_name, -1);
        if (san >= 0 && X509_add_ext(x, X509_get_ext(old, san), -1) != 1)
                goto out;
        if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_ext(x, ca, NID_ext_key_usage, "serverAuth,1.3.6.1.5.5.8.2.2") < 0 ||
            add_ext(x, ca, NID_authority_key_identifier, "keyid") < 0 || X509_sign(x, ca_key, EVP_sha256()) <= 0 ||
            PEM_write_bio_X509(bio, x) != 1)
                goto out;
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        if (n <= 0 || !(*ret = malloc((size_t) n)))
                goto out;
        memcpy(*ret, data, (size_t) n);
        *ret_len = (size_t) n;
        r = 0;
out:
        BIO_free(bio);
        BN_free(bn);
        ASN1_INTEGER_free(serial);
        X509_free(x);
        return r;
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        issue_state *s = userdata;
        bool bad = swanctl_failed(code, status, out);
        action_call_set_detail(s->call, "%s; swanctl --load-all --clear: %s%s", s->detail, bad ? "FAILED: " : "", out);
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static int reload(issue_state *s, const action_params *p, const action_env *env) {
        return swanctl_load_all(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                                swanctl_dir(p, env),
                                env->check_param ? env->check_param(env->check_userdata, "config", "strongswan_conf") : NULL,
                                true, on_loaded, s);
}

static char *state_path(const action_env *env, const char *name) {
        char *s;
        return !env->state_dir || asprintf(&s, "%s/cert-issue-%s", env->state_dir, name) < 0 ? NULL : s;
}

static int issue_start(void *state, action_call *call, action_op op) {
        issue_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *prev = state_path(env, "prev"), *where = state_path(env, "where"), *pem = NULL, *old = NULL,
                             *ca_pem = NULL;
        size_t ca_len = 0;
        char d[32];
        char cert_path[4500] = "", ca_dst[4500];
        X509 *cert = NULL, *ca = NULL;
        EVP_PKEY *key = NULL, *ca_key = NULL;
        size_t len = 0, old_len = 0;
        int r;

        *s = (issue_state){ .call = call };
        if (!prev || !where)
                return -ENOMEM;
        if (op == ACTION_REVERT) {
                _cleanup_(freep) char *w = NULL;
                if (atomic_file_read(where, 4500, &w, &len) < 0) {
                        action_call_set_detail(call, "nothing to put back: no certificate was replaced");
                        action_call_done(call, 0);
                        return 0;
                }
                if ((r = atomic_file_read(prev, X509_FILE_MAX, &old, &old_len)) < 0 || (r = atomic_file_write(w, old, old_len, 0644)) < 0)
                        return r;
                (void) unlink(where);
                (void) snprintf(s->detail, sizeof(s->detail), "previous certificate put back as %.300s", w);
                return reload(s, p, env);
        }
        r = live(swanctl_dir(p, env), cert_path, sizeof(cert_path), &cert, &key);
        if (op == ACTION_VERIFY) {
                bool ok = r >= 0 && X509_cmp_current_time(X509_get0_notAfter(cert)) > 0 &&
                          X509_cmp_current_time(X509_get0_notBefore(cert)) < 0;
                action_call_set_detail(call, ok ? "the live certificate is valid now" : "the live certificate is not valid now");
                X509_free(cert);
                EVP_PKEY_free(key);
                action_call_done(call, ok ? 0 : -EPROTO);
                return 0;
        }
        if (r < 0) {
                action_call_set_detail(call, "refused: no live certificate with its key in %.300s", swanctl_dir(p, env));
                return r;
        }
        ca = x509_file_cert(p->v[P_CA_CERT].str);
        ca_key = x509_file_key(p->v[P_CA_KEY].str);
        if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1 || X509_check_ca(ca) < 1 ||
            X509_cmp_current_time(X509_get0_notAfter(ca)) <= 0) {
                action_call_set_detail(call, "refused: the standby CA %.200s (key %.200s) is unusable (missing, not a CA, "
                                       "expired, or key mismatch)", p->v[P_CA_CERT].str, p->v[P_CA_KEY].str);
                r = -EINVAL;
                goto out;
        }
        if ((r = issue(cert, key, ca, ca_key, lifetime_of(p), &pem, &len)) < 0) {
                action_call_set_detail(call, "issuing failed");
                goto out;
        }
        /* the certificate it replaces is kept first */
        if ((r = atomic_file_read(cert_path, X509_FILE_MAX, &old, &old_len)) < 0 ||
            (r = atomic_file_write(prev, old, old_len, 0600)) < 0 || (r = atomic_file_write(where, cert_path, strlen(cert_path), 0600)) < 0)
                goto out;
        (void) snprintf(ca_dst, sizeof(ca_dst), "%.4000s/x509ca/ikeheal-standby-ca.pem", swanctl_dir(p, env));
        if (access(ca_dst, F_OK) < 0 && atomic_file_read(p->v[P_CA_CERT].str, X509_FILE_MAX, &ca_pem, &ca_len) >= 0)
                (void) atomic_file_write(ca_dst, ca_pem, ca_len, 0644);
        if ((r = atomic_file_write(cert_path, pem, len, 0644)) < 0)
                goto out;
        (void) snprintf(s->detail, sizeof(s->detail), "%.300s reissued by the standby CA for %s (same subject, names and key)",
                        cert_path, duration_format(lifetime_of(p), d, sizeof(d)));
        r = reload(s, p, env);
out:
        X509_free(cert);
        X509_free(ca);
        EVP_PKEY_free(key);
        EVP_PKEY_free(ca_key);
        return r;
}

static void issue_cancel(void *state) {
        issue_state *s = state;
        s->child = spawn_free(s->child);
}

static int issue_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char d[32];
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  the live certificate must be valid now");
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  put the replaced certificate back, then swanctl --load-all --clear");
        return action_plan_add(out, "  issue a %s certificate for the gateway's subject, names and key, signed by the standby "
                               "CA %s; replace the live one in %s/x509; swanctl --load-all --clear",
                               duration_format(lifetime_of(p), d, sizeof(d)), p->v[P_CA_CERT].str, swanctl_dir(p, env));
}

/* Refused at apply without a live pair to reissue or a usable standby CA: known beforehand. */
static int issue_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        char cert_path[4500] = "";
        X509 *cert = NULL, *ca = NULL;
        EVP_PKEY *key = NULL, *ca_key = NULL;
        int r = live(swanctl_dir(p, env), cert_path, sizeof(cert_path), &cert, &key);

        if (r < 0)
                (void) snprintf(why, n, "no live certificate with its key in %.200s", swanctl_dir(p, env));
        else {
                ca = x509_file_cert(p->v[P_CA_CERT].str);
                ca_key = x509_file_key(p->v[P_CA_KEY].str);
                if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1 || X509_check_ca(ca) < 1 ||
                    X509_cmp_current_time(X509_get0_notAfter(ca)) <= 0) {
                        (void) snprintf(why, n, "the standby CA %.100s (key %.100s) is unusable (missing, not a CA, expired, "
                                        "or key mismatch)", p->v[P_CA_CERT].str, p->v[P_CA_KEY].str);
                        r = -EINVAL;
                }
        }
        X509_free(cert);
        X509_free(ca);
        EVP_PKEY_free(key);
        EVP_PKEY_free(ca_key);
        return r < 0 ? r : 0;
}

static bool issue_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_cert_issue = {
        .kind = "cert_issue",
        .description = "a short-lived gateway certificate from an on-box standby CA",
        .params = params,
        .effects = true,
        .state_size = sizeof(issue_state),
        .precondition = issue_precondition,
        .plan = issue_plan,
        .start = issue_start,
        .cancel = issue_cancel,
        .done = issue_cancel,
        .supports = issue_supports,
};
