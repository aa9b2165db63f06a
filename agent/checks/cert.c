/* The certificate check (kind "certificate"): the gateway's own certificates and keys in the
 * swanctl tree (params `swanctl_dir`, default /etc/swanctl: x509/ the gateway's certificates,
 * x509ca/ its CAs and intermediates, private/ rsa/ ecdsa/ pkcs8/ its keys), and the standby
 * material a switch-over would use (params `standby`: files). For each certificate:
 *
 *   validity       expired / not yet valid (FAIL; fact clock_sensitive=yes, so that a skewed
 *                  clock is blamed first), days left under `crit_days` (FAIL reason expiring)
 *                  or `warn_days` (WARN reason expires_soon). A run arms a timer at the next of
 *                  these instants of any certificate (notBefore, notAfter, the crit and warn
 *                  thresholds), so a certificate is seen expiring when it does, not at the next
 *                  interval.
 *   chain          to a self-signed CA of x509ca/ through the intermediates there, checked
 *                  without the time (an expired leaf must not hide a missing intermediate):
 *                  reason chain_incomplete, naming the missing issuer
 *   usage          Key Usage, when present, allows digitalSignature (FAIL reason bad_usage);
 *                  Extended Key Usage, when present, has serverAuth or ikeIntermediate — charon
 *                  itself does not need them, some peers do: WARN reason eku_missing
 *   key            a private key in the tree matches the certificate (reason key_missing), key
 *                  files parse; a key file not owned by `key_owner_uid` (0) or group/other
 *                  accessible still works: WARN reason key_permissions (fact key_path)
 *
 * Standby problems are WARN with facts prefixed "standby_" (the service is not down, but the
 * fallback is broken). A file that cannot be read is evidence; with nothing readable at all the
 * verdict is UNKNOWN. The survey — reading the files (common/x509_file.h bounds them) and every
 * OpenSSL call — runs in a child process (agent/checks/check_child.h): OpenSSL's certificate,
 * key and verification code and its caches stay out of the resident agent (~0.75 MiB of RSS),
 * and a file that crashes the parser costs one run (UNKNOWN, with the signal), not the agent.
 * A survey stands while no file it reads has changed and no verdict can have changed with the
 * time (agent/checks/cert_cache.h): a run then costs a few stat() calls, not a child. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/cert.h"
#include "agent/checks/cert_cache.h"
#include "agent/checks/check_child.h"
#include "agent/checks/check_debounce.h"
#include "x509_file.h"
#include "yaml_bind.h"

#define CERTS_MAX 64u
#define KEYS_MAX 64u

typedef struct cert_state {
        char *swanctl_dir;
        char **standby;
        uint32_t warn_days, crit_days, key_owner_uid;

        check *check;
        const check_env *env;
        int inotify_fd;
        ev_source *watch;
        check_debounce debounce;
        ev_source *instant; /* the next validity instant of any certificate */
        check_child *child; /* the run's survey, in a child process */
        check_run *run;
        time_t survey_now;        /* the clock the survey judges by */
        uint64_t survey_fingerprint; /* of the files, taken before the survey read them */
        cert_cache cache;
} cert_state;

#define WATCH_DEBOUNCE_USEC (100 * USEC_PER_MSEC)

#define COFF(f) offsetof(cert_state, f)

static const yfield cert_fields[] = {
        { "swanctl_dir", YF_PATH, COFF(swanctl_dir), .max = 4096 },
        { "standby", YF_STRV, COFF(standby), .max = 16 },
        { "warn_days", YF_U32, COFF(warn_days), .min = 1, .max = 3650 },
        { "crit_days", YF_U32, COFF(crit_days), .max = 3650 },
        { "key_owner_uid", YF_U32, COFF(key_owner_uid), .max = 4294967294u },
        {}
};

static int cert_parse(void *state, const ynode *params, ydiag *d) {
        cert_state *s = state;
        int r;

        s->warn_days = 30;
        s->crit_days = 7;
        s->inotify_fd = -1;
        r = ybind(params, cert_fields, s, d);
        if (r < 0)
                return r;
        if (!s->swanctl_dir && !(s->swanctl_dir = strdup("/etc/swanctl")))
                return -ENOMEM;
        if (s->crit_days > s->warn_days) {
                ydiag_add(d, ynode_get(params, "crit_days"), "crit_days is larger than warn_days");
                return -EINVAL;
        }
        return 0;
}

/* ---- loading ---- */

typedef struct material {
        X509 *certs[CERTS_MAX];
        char *cert_paths[CERTS_MAX];
        size_t n_certs;
        X509 *cas[CERTS_MAX];
        size_t n_cas;
        EVP_PKEY *keys[KEYS_MAX];
        char *key_paths[KEYS_MAX];
        size_t n_keys;
        unsigned unreadable;
} material;

static void material_done(material *m) {
        for (size_t i = 0; i < m->n_certs; i++) {
                X509_free(m->certs[i]);
                free(m->cert_paths[i]);
        }
        for (size_t i = 0; i < m->n_cas; i++)
                X509_free(m->cas[i]);
        for (size_t i = 0; i < m->n_keys; i++) {
                EVP_PKEY_free(m->keys[i]);
                free(m->key_paths[i]);
        }
        *m = (material){};
}

/* Every regular file of DIR, sorted, to cb. */
static void each_file(const char *dir, void (*cb)(const char *path, void *ud), void *ud) {
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort);

        for (int i = 0; i < n; i++) {
                char path[4200];
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
                if (list[i]->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
                        cb(path, ud);
                free(list[i]);
        }
        free(list);
}

typedef struct load_ctx {
        material *m;
        finding *f;
        bool ca;
        const cert_state *s;
        bool key_perm_bad;
        char key_perm_path[512];
} load_ctx;

static void add_cert(const char *path, void *ud) {
        load_ctx *c = ud;
        X509 *x = x509_file_cert(path);

        if (!x) {
                c->m->unreadable++;
                (void) finding_evidence(c->f, "%s: not a certificate OpenSSL can read", path);
                return;
        }
        if (c->ca) {
                if (c->m->n_cas < CERTS_MAX)
                        c->m->cas[c->m->n_cas++] = x;
                else
                        X509_free(x);
                return;
        }
        if (c->m->n_certs >= CERTS_MAX) {
                X509_free(x);
                return;
        }
        c->m->cert_paths[c->m->n_certs] = strdup(path);
        c->m->certs[c->m->n_certs++] = x;
}

static void add_key(const char *path, void *ud) {
        load_ctx *c = ud;
        struct stat st;
        EVP_PKEY *k;

        if (stat(path, &st) == 0 && ((st.st_mode & 077) || st.st_uid != c->s->key_owner_uid) && !c->key_perm_bad) {
                c->key_perm_bad = true;
                snprintf(c->key_perm_path, sizeof(c->key_perm_path), "%s", path);
                (void) finding_evidence(c->f, "%s: mode %04o, owner uid %u (wanted no group/other access, uid %u)",
                                        path, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                                        c->s->key_owner_uid);
        }
        k = x509_file_key(path);
        if (!k) {
                c->m->unreadable++;
                (void) finding_evidence(c->f, "%s: not a private key OpenSSL can read (encrypted?)", path);
                return;
        }
        if (c->m->n_keys >= KEYS_MAX) {
                EVP_PKEY_free(k);
                return;
        }
        c->m->key_paths[c->m->n_keys] = strdup(path);
        c->m->keys[c->m->n_keys++] = k;
}

/* ---- one certificate ---- */

typedef struct verdict {
        check_status status;
        const char *reason;
        char detail[512];
        bool clock_sensitive;
        long days_left;
        long long seconds_left; /* to notAfter (< 0: expired) */
        time_t next; /* the next instant its verdict changes by time alone (0: none) */
} verdict;

static void worse(verdict *v, check_status st, const char *reason, bool clock, const char *fmt, ...)
        _printf_(5, 6);
static void worse(verdict *v, check_status st, const char *reason, bool clock, const char *fmt, ...) {
        va_list ap;
        if (check_status_worst(v->status, st) == v->status && v->reason)
                return;
        v->status = st;
        v->reason = reason;
        v->clock_sensitive = clock;
        va_start(ap, fmt);
        vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
        va_end(ap);
}

static bool self_signed(X509 *x) {
        return X509_check_issued(x, x) == X509_V_OK;
}

static bool eku_fits(X509 *x) {
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
        bool fits = false;

        if (!eku)
                return true; /* no EKU: any use */
        for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
                ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
                char oid[64];
                OBJ_obj2txt(oid, sizeof(oid), o, 1);
                if (OBJ_obj2nid(o) == NID_server_auth || strcmp(oid, "1.3.6.1.5.5.8.2.2") == 0)
                        fits = true;
        }
        EXTENDED_KEY_USAGE_free(eku);
        return fits;
}


static void next_instant(verdict *v, time_t now, time_t t) {
        if (t > now && (!v->next || t < v->next))
                v->next = t;
}

/* The instants at which the verdict on x changes with time alone: notBefore, notAfter (a
 * certificate is expired from its notAfter second on), and the seconds after which fewer than
 * crit_days / warn_days whole days are left. */
static void validity_instants(const cert_state *s, X509 *x, time_t now, verdict *v) {
        time_t nb = x509_file_time(X509_get0_notBefore(x)), na = x509_file_time(X509_get0_notAfter(x));

        if (nb)
                next_instant(v, now, nb);
        if (na) {
                next_instant(v, now, na);
                if (s->crit_days) /* crit_days 0: nothing between the warning and the expiry */
                        next_instant(v, now, na - (time_t) s->crit_days * 86400 + 1);
                next_instant(v, now, na - (time_t) s->warn_days * 86400 + 1);
        }
}

static void judge(const cert_state *s, const material *m, size_t i, verdict *v) {
        X509 *x = m->certs[i];
        const char *path = m->cert_paths[i];
        time_t now = s->survey_now;
        int day, sec;
        char subject[256];

        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
        *v = (verdict){ .status = CHECK_OK };
        validity_instants(s, x, now, v);
        ASN1_TIME *from = ASN1_TIME_set(NULL, now); /* the same now as every other verdict here */
        if (from && ASN1_TIME_diff(&day, &sec, from, X509_get0_notAfter(x)) == 1) {
                v->days_left = day;
                v->seconds_left = (long long) day * 86400 + sec;
        }
        ASN1_TIME_free(from);
        if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0)
                worse(v, CHECK_FAIL, "expired", true, "%s (%s) expired %ld days ago", path, subject, -v->days_left);
        else if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0)
                worse(v, CHECK_FAIL, "not_yet_valid", true, "%s (%s) is not valid yet", path, subject);
        else if (v->days_left < (long) s->crit_days)
                worse(v, CHECK_FAIL, "expiring", true, "%s (%s) expires in %ld days", path, subject, v->days_left);
        else if (v->days_left < (long) s->warn_days)
                worse(v, CHECK_WARN, "expires_soon", true, "%s (%s) expires in %ld days", path, subject, v->days_left);

        /* the chain, without the time */
        X509_STORE *store = X509_STORE_new();
        STACK_OF(X509) *untrusted = sk_X509_new_null();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (store && untrusted && ctx) {
                for (size_t k = 0; k < m->n_cas; k++) {
                        if (self_signed(m->cas[k]))
                                (void) X509_STORE_add_cert(store, m->cas[k]);
                        else
                                (void) sk_X509_push(untrusted, m->cas[k]);
                }
                if (X509_STORE_CTX_init(ctx, store, x, untrusted) == 1) {
                        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
                        if (X509_verify_cert(ctx) != 1) {
                                int err = X509_STORE_CTX_get_error(ctx);
                                X509 *at = X509_STORE_CTX_get_current_cert(ctx);
                                char issuer[256] = "?";
                                if (at)
                                        X509_NAME_oneline(X509_get_issuer_name(at), issuer, sizeof(issuer));
                                if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                                    err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
                                        worse(v, CHECK_FAIL, "chain_incomplete", false,
                                              "%s: issuer %s is not in %s/x509ca: peers cannot build the chain",
                                              path, issuer, s->swanctl_dir);
                                else
                                        worse(v, CHECK_FAIL, "chain_invalid", false, "%s: chain does not verify: %s",
                                              path, X509_verify_cert_error_string(err));
                        }
                }
        }
        X509_STORE_CTX_free(ctx);
        sk_X509_free(untrusted);
        X509_STORE_free(store);
        ERR_clear_error();

        if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
                worse(v, CHECK_FAIL, "bad_usage", false, "%s: Key Usage lacks digitalSignature", path);
        if (!eku_fits(x))
                worse(v, CHECK_WARN, "eku_missing", false,
                      "%s: Extended Key Usage has neither serverAuth nor ikeIntermediate: charon uses it, peers "
                      "that demand one of them (Windows, macOS) will refuse it", path);

        bool have_key = false;
        for (size_t k = 0; k < m->n_keys && !have_key; k++)
                have_key = EVP_PKEY_eq(X509_get0_pubkey(x), m->keys[k]) == 1;
        if (!have_key)
                worse(v, CHECK_FAIL, "key_missing", false, "%s: no private key in the tree matches it", path);
}

/* Load a tree (or the standby list) and judge every end-entity certificate in it. */
static void survey(const cert_state *s, finding *f, char **files, const char *prefix, verdict *worst,
                   size_t *n_certs, unsigned *unreadable, time_t *next) {
        material m = {};
        load_ctx c = { .m = &m, .f = f, .s = s };
        char dir[4200];
        long min_days = 0;

        if (!files) {
                /* x509ca/, x509/, then the keys' directories (cert_cache.h) */
                for (size_t i = 0; i < CERT_TREE_DIRS; i++) {
                        c.ca = i == 0;
                        snprintf(dir, sizeof(dir), "%s/%s", s->swanctl_dir, cert_tree_dirs[i]);
                        each_file(dir, i < CERT_TREE_FIRST_KEY_DIR ? add_cert : add_key, &c);
                }
                c.ca = false;
        } else {
                /* standby: the CAs of the live tree, then the given certs and keys */
                c.ca = true;
                snprintf(dir, sizeof(dir), "%s/x509ca", s->swanctl_dir);
                each_file(dir, add_cert, &c);
                c.ca = false;
                for (size_t i = 0; files[i]; i++) {
                        X509 *x = x509_file_cert(files[i]);
                        if (x) {
                                X509_free(x);
                                add_cert(files[i], &c);
                        } else
                                add_key(files[i], &c);
                }
        }
        for (size_t i = 0; i < m.n_certs; i++) {
                verdict v;
                judge(s, &m, i, &v);
                if (v.status != CHECK_OK)
                        (void) finding_evidence(f, "%s%s", prefix, v.detail);
                if (v.status != CHECK_OK && (!worst->reason || check_status_worst(worst->status, v.status) != worst->status)) {
                        char key[32];
                        *worst = v;
                        snprintf(key, sizeof(key), "%scert", prefix);
                        (void) finding_fact_set(f, key, "%s", m.cert_paths[i]);
                }
                if (i == 0 || v.days_left < min_days)
                        min_days = v.days_left;
                {
                        /* each certificate's time left, for /metrics */
                        char key[300];
                        snprintf(key, sizeof(key), "expiry_s %s", m.cert_paths[i]);
                        (void) finding_fact_set(f, key, "%lld", v.seconds_left);
                }
                if (v.next && (!*next || v.next < *next))
                        *next = v.next;
        }
        if (m.n_certs) {
                char key[32];
                snprintf(key, sizeof(key), "%smin_days_left", prefix);
                (void) finding_fact_set(f, key, "%ld", min_days);
        }
        if (c.key_perm_bad) {
                /* charon still reads it: a risk to fix, not an outage */
                verdict v = { .status = CHECK_WARN, .reason = "key_permissions" };
                char key[32];
                snprintf(v.detail, sizeof(v.detail), "%.400s can be read by others or has the wrong owner", c.key_perm_path);
                snprintf(key, sizeof(key), "%skey_path", prefix);
                (void) finding_fact_set(f, key, "%s", c.key_perm_path);
                if (!worst->reason)
                        *worst = v;
        }
        *n_certs += m.n_certs;
        *unreadable += m.unreadable;
        material_done(&m);
}

/* ---- push: a changed file in the tree runs the check (a replaced certificate is seen before
 * the first peer trips over it) ---- */

static int on_watch(ev_source *src, int fd, uint32_t revents, void *userdata) {
        cert_state *s = userdata;
        char buf[4096];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        check_debounce_kick(&s->debounce, s->env->event, s->check, WATCH_DEBOUNCE_USEC);
        return 0;
}

static int on_instant(ev_source *src, uint64_t usec, void *userdata) {
        cert_state *s = userdata;
        s->instant = ev_source_disable_unref(s->instant);
        (void) check_trigger(s->check);
        return 0;
}

/* A CLOCK_REALTIME timer follows the wall clock (and its steps), as notAfter does. */
static void arm_instant(cert_state *s, const check_env *env, time_t next) {
        s->instant = ev_source_disable_unref(s->instant);
        if (!next || !s->check || !env->event)
                return;
        (void) ev_add_time(env->event, &s->instant, CLOCK_REALTIME, (uint64_t) next * USEC_PER_SEC, USEC_PER_MSEC,
                                 on_instant, s);
}

/* Watch the tree: its directories, the swanctl directory itself (a subdirectory created, or
 * replaced by a rename, as configuration management does), and the standby files. Done at attach
 * and again at every survey: a watch follows an inode, so a directory replaced or created since
 * is watched from the next survey on (adding a watch that exists changes nothing); a run that
 * reuses the last survey found the same directories by their fingerprint. */
static void watch_tree(cert_state *s) {
        char path[4200];

        if (s->inotify_fd < 0)
                return;
        (void) inotify_add_watch(s->inotify_fd, s->swanctl_dir,
                                 IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR);
        for (size_t i = 0; i < CERT_TREE_DIRS; i++) {
                snprintf(path, sizeof(path), "%s/%s", s->swanctl_dir, cert_tree_dirs[i]);
                (void) inotify_add_watch(s->inotify_fd, path,
                                         IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB);
        }
        for (size_t i = 0; s->standby && s->standby[i]; i++)
                (void) inotify_add_watch(s->inotify_fd, s->standby[i], IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF);
}

static int cert_attach(void *state, check *c, const check_env *env) {
        cert_state *s = state;

        s->check = c;
        s->env = env;
        s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->inotify_fd < 0)
                return 0; /* the interval still runs it */
        watch_tree(s);
        return ev_add_io(env->event, &s->watch, s->inotify_fd, EPOLLIN, on_watch, s);
}

/* The survey, in a child process (agent/checks/check_child.h): OpenSSL's certificate, key and
 * verification code, and what it caches, stay out of the resident agent, and a file that
 * crashes the parser costs a run, not the agent. */
static void survey_all(void *userdata, finding *f) {
        const cert_state *s = userdata;
        verdict live = { .status = CHECK_OK }, standby = { .status = CHECK_OK };
        size_t n = 0, n_standby = 0;
        unsigned unreadable = 0;
        time_t next = 0;

        survey(s, f, NULL, "", &live, &n, &unreadable, &next);
        if (s->standby)
                survey(s, f, s->standby, "standby_", &standby, &n_standby, &unreadable, &next);
        if (next)
                (void) finding_fact_set(f, "next_change_usec", "%llu", (unsigned long long) next * USEC_PER_SEC);
        (void) finding_fact_set(f, "certs", "%zu", n);
        if (s->standby)
                (void) finding_fact_set(f, "standby_certs", "%zu", n_standby);

        if (live.reason) {
                (void) finding_set(f, live.status, "%s", live.detail);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "certificate");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", live.reason);
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global"); /* the gateway's own */
                (void) finding_fact_set(f, "days_left", "%ld", live.days_left);
                if (live.clock_sensitive)
                        (void) finding_fact_set(f, "clock_sensitive", "yes");
        } else if (n == 0)
                (void) finding_set(f, CHECK_UNKNOWN, "no certificate found in %s/x509%s", s->swanctl_dir,
                                   unreadable ? " that OpenSSL can read" : "");
        else if (standby.reason) {
                (void) finding_set(f, CHECK_WARN, "standby material: %s", standby.detail);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "certificate");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "standby_%s", standby.reason);
        } else
                (void) finding_set(f, CHECK_OK, "%zu certificate(s) valid, chained, usable, with their keys%s", n,
                                   s->standby ? " (standby too)" : "");
}

static void on_survey(check_child *c, finding *f, const char *why, void *userdata) {
        cert_state *s = userdata;
        check_run *run = TAKE_PTR(s->run);
        const char *next;

        s->child = check_child_free(s->child);
        if (f) {
                cert_cache_store(&s->cache, f, s->survey_fingerprint, s->survey_now);
                next = finding_fact_get(f, "next_change_usec");
                arm_instant(s, s->env, next ? (time_t) (strtoull(next, NULL, 10) / USEC_PER_SEC) : 0);
        } else {
                cert_cache_clear(&s->cache);
                if (finding_new(&f) >= 0)
                        (void) finding_set(f, CHECK_UNKNOWN, "the certificate survey did not finish: %s", why);
        }
        if (run && f)
                check_run_done(run, f);
        else
                finding_free(f);
}

static int cert_start(void *state, const check_env *env, check_run *run) {
        cert_state *s = state;
        time_t now = x509_file_now();
        uint64_t fingerprint;
        finding *f = NULL;
        int r;

        fingerprint = cert_cache_fingerprint(s->swanctl_dir, s->standby);
        s->child = check_child_free(s->child);
        /* nothing read has changed, nor any verdict with the time: the last survey stands (its
         * instant timer is still armed, and no directory was replaced: the fingerprint covers
         * them) */
        if (cert_cache_reuse(&s->cache, fingerprint, now, &f) == 0) {
                check_run_done(run, f);
                return 0;
        }
        watch_tree(s);
        s->survey_now = now;
        s->survey_fingerprint = fingerprint;
        r = check_child_start(&s->child, env->event, survey_all, on_survey, s);
        if (r < 0)
                return r;
        s->run = run;
        return 0;
}

static void cert_cancel(void *state) {
        cert_state *s = state;
        s->child = check_child_free(s->child);
        s->run = NULL;
}

static void cert_done(void *state) {
        cert_state *s = state;
        cert_cancel(s);
        cert_cache_clear(&s->cache);
        s->watch = ev_source_disable_unref(s->watch);
        check_debounce_done(&s->debounce);
        s->instant = ev_source_disable_unref(s->instant);
        if (s->inotify_fd >= 0)
                close(s->inotify_fd);
        free(s->swanctl_dir);
        strv_free(s->standby);
}

const check_ops cert_check_ops = {
        .kind = "certificate",
        .description = "the gateway's certificates: validity, chain, usage, keys and their permissions",
        .state_size = sizeof(cert_state),
        .parse = cert_parse,
        .attach = cert_attach,
        .start = cert_start,
        .cancel = cert_cancel,
        .done = cert_done,
};
