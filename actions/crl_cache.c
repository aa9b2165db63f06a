/* The `crl_cache` action: keep a fresh CRL where charon reads CRLs, so revocation checking goes
 * on when the distribution point is unreachable — charon uses the cached CRL from the swanctl
 * tree's x509crl/ instead of fetching it.
 *
 * The CRL is fetched (libcurl's multi interface on the loop, common/curl_glue.h) from `url`, else
 * from each CRL distribution point of the certificates in x509/ (the CA that issued the
 * gateway's certificate usually issued the peers' too), until one answers. Only a CRL that is
 * signed by a CA of x509ca/ and fresh (nextUpdate ahead) is installed — atomically, as
 * x509crl/ikeheal-<issuer hash>.crl — and credentials are reloaded (swanctl --load-creds). The
 * file it replaced is kept for the revert. Verify: the installed CRL is still fresh. */
#include <errno.h>
#include <dirent.h>
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
#include "curl_glue.h"
#include "atomic_file.h"
#include "x509_file.h"

enum { P_URL, P_CHECK, P_SWANCTL, P_TIMEOUT, _P_MAX };

static const action_param_spec params[] = {
        [P_URL] = { "url", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [P_TIMEOUT] = { "fetch_timeout", AP_DURATION, false, 100 * USEC_PER_MSEC, 60 * USEC_PER_SEC },
        [_P_MAX] = { 0 },
};

#define CRL_MAX (4u * 1024u * 1024u)
#define URLS_MAX 8u

typedef struct crl_state {
        action_call *call;
        curl_glue *glue;
        CURL *easy;
        spawn *child;
        char *urls[URLS_MAX];
        size_t n_urls, next;
        char *body;
        size_t len;
        bool too_big;
        char installed[4400];
        char detail[700];
        char errors[600];
} crl_state;

static const char *swanctl_dir(const action_params *p, const action_env *env) {
        const char *const order[] = { p->v[P_CHECK].set ? p->v[P_CHECK].str : "revocation", "certificate", "config" };
        for (size_t i = 0; env->check_param && i < ELEMENTSOF(order); i++) {
                const char *d = env->check_param(env->check_userdata, order[i], "swanctl_dir");
                if (d)
                        return d;
        }
        return "/etc/swanctl";
}

static void add_url(crl_state *s, const char *u) {
        for (size_t i = 0; i < s->n_urls; i++)
                if (strcmp(s->urls[i], u) == 0)
                        return;
        if (s->n_urls >= URLS_MAX || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
                return;
        if ((s->urls[s->n_urls] = strdup(u)))
                s->n_urls++;
}

/* The CDPs of the certificates in x509/. */
static void cdps(crl_state *s, const char *dir) {
        char d[4200];
        struct dirent **list = NULL;
        int n;

        (void) snprintf(d, sizeof(d), "%.4000s/x509", dir);
        n = scandir(d, &list, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                char path[4500];
                X509 *x;
                (void) snprintf(path, sizeof(path), "%.4100s/%.255s", d, list[i]->d_name);
                if (list[i]->d_name[0] != '.' && (x = x509_file_cert(path))) {
                        STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
                        for (int j = 0; dps && j < sk_DIST_POINT_num(dps); j++) {
                                DIST_POINT *dp = sk_DIST_POINT_value(dps, j);
                                for (int k = 0; dp->distpoint && dp->distpoint->type == 0 &&
                                                k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
                                     k++) {
                                        GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);
                                        if (g->type == GEN_URI)
                                                add_url(s, (const char *) ASN1_STRING_get0_data(g->d.uniformResourceIdentifier));
                                }
                        }
                        sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
                        X509_free(x);
                }
                free(list[i]);
        }
        free(list);
}

/* The CA of x509ca/ that signed crl, or NULL. */
static X509 *issuer_of(X509_CRL *crl, const char *dir) {
        char d[4200];
        struct dirent **list = NULL;
        X509 *found = NULL;
        int n;

        (void) snprintf(d, sizeof(d), "%.4000s/x509ca", dir);
        n = scandir(d, &list, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                char path[4500];
                X509 *x;
                (void) snprintf(path, sizeof(path), "%.4100s/%.255s", d, list[i]->d_name);
                if (!found && list[i]->d_name[0] != '.' && (x = x509_file_cert(path))) {
                        if (X509_NAME_cmp(X509_get_subject_name(x), X509_CRL_get_issuer(crl)) == 0 &&
                            X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1)
                                found = x;
                        else
                                X509_free(x);
                }
                free(list[i]);
        }
        free(list);
        return found;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        crl_state *s = userdata;
        size_t n = size * nmemb;
        if (s->len + n > CRL_MAX) {
                s->too_big = true;
                return 0;
        }
        char *b = realloc(s->body, s->len + n);
        if (!b)
                return 0;
        memcpy(b + s->len, ptr, n);
        s->body = b;
        s->len += n;
        return n;
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        crl_state *s = userdata;
        bool bad = swanctl_failed(code, status, out);
        action_call_set_detail(s->call, "%s; swanctl --load-creds: %s%s", s->detail, bad ? "FAILED: " : "", out);
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static char *prev_path(const action_env *env) {
        char *p;
        return !env->state_dir || asprintf(&p, "%s/crl-prev", env->state_dir) < 0 ? NULL : p;
}

/* A CRL of the same issuer already in x509crl/ (a stale one charon would use): the fresh one
 * replaces it, rather than lying beside it. */
static void same_issuer(const char *dir, X509_NAME *issuer, char *path, size_t n) {
        char d[4200];
        struct dirent **list = NULL;
        bool found = false;

        (void) snprintf(d, sizeof(d), "%.4000s/x509crl", dir);
        int k = scandir(d, &list, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                char p[4500];
                X509_CRL *c;
                (void) snprintf(p, sizeof(p), "%.4100s/%.255s", d, list[i]->d_name);
                if (!found && list[i]->d_name[0] != '.' && (c = x509_file_crl(p))) {
                        if (X509_NAME_cmp(X509_CRL_get_issuer(c), issuer) == 0) {
                                (void) snprintf(path, n, "%.4300s", p);
                                found = true;
                        }
                        X509_CRL_free(c);
                }
                free(list[i]);
        }
        free(list);
}

/* A fetched CRL: judged, then installed and loaded. <0: try the next URL. */
static int install(crl_state *s, const char *url) {
        const action_params *p = action_call_params(s->call);
        const action_env *env = action_call_env(s->call);
        X509_CRL *crl = x509_file_crl_parse(s->body, s->len);
        X509 *ca = crl ? issuer_of(crl, swanctl_dir(p, env)) : NULL;
        _cleanup_(freep) char *prev = prev_path(env), *old = NULL;
        char path[4400], where[4500];
        size_t old_len = 0;
        int r;

        if (!crl || !ca || !X509_CRL_get0_nextUpdate(crl) || X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) <= 0) {
                size_t w = strlen(s->errors);
                (void) snprintf(s->errors + w, sizeof(s->errors) - w, "%s%.150s: %s", w ? "; " : "", url,
                                !crl ? "not a CRL" : !ca ? "not signed by a CA of x509ca/" : "stale (nextUpdate passed)");
                X509_CRL_free(crl);
                X509_free(ca);
                return -EBADMSG;
        }
        (void) snprintf(path, sizeof(path), "%.4000s/x509crl/ikeheal-%08lx.crl", swanctl_dir(p, env),
                        X509_NAME_hash_ex(X509_CRL_get_issuer(crl), NULL, NULL, NULL));
        same_issuer(swanctl_dir(p, env), X509_CRL_get_issuer(crl), path, sizeof(path));
        X509_CRL_free(crl);
        X509_free(ca);
        (void) snprintf(where, sizeof(where), "%.4000s/x509crl", swanctl_dir(p, env));
        (void) mkdir(where, 0755);
        /* what it replaces (or that there was nothing) is kept for the revert, with where */
        if (prev) {
                _cleanup_(freep) char *wpath = NULL;
                r = atomic_file_read(path, CRL_MAX, &old, &old_len);
                (void) unlink(prev);
                if (r >= 0 && atomic_file_write(prev, old, old_len, 0600) < 0)
                        return -EIO;
                if (asprintf(&wpath, "%s.where", prev) < 0 || atomic_file_write(wpath, path, strlen(path), 0600) < 0)
                        return -EIO;
        }
        if ((r = atomic_file_write(path, s->body, s->len, 0644)) < 0)
                return r;
        (void) snprintf(s->installed, sizeof(s->installed), "%s", path);
        (void) snprintf(s->detail, sizeof(s->detail), "fresh CRL from %.200s (signed by a CA of x509ca/) installed as %.300s", url,
                        path);
        r = swanctl_load_creds(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT, swanctl_dir(p, env),
                               env->check_param ? env->check_param(env->check_userdata, "config", "strongswan_conf") : NULL,
                               on_loaded, s);
        return r < 0 ? r : 0;
}

static void fetch_next(crl_state *s);

static void on_fetched(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        crl_state *s = userdata;
        const char *url = s->urls[s->next - 1];
        long code = 0;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(easy);
        s->easy = NULL;
        if (result == CURLE_OK && code / 100 == 2 && !s->too_big && install(s, url) >= 0)
                return;
        if (result != CURLE_OK || code / 100 != 2) {
                size_t w = strlen(s->errors);
                (void) snprintf(s->errors + w, sizeof(s->errors) - w, "%s%.150s: %s", w ? "; " : "", url,
                                result != CURLE_OK ? curl_easy_strerror(result) : "HTTP error");
        }
        fetch_next(s);
}

static void fetch_next(crl_state *s) {
        const action_params *p = action_call_params(s->call);

        free(s->body);
        s->body = NULL;
        s->len = 0;
        s->too_big = false;
        if (s->next >= s->n_urls || !(s->easy = curl_easy_init())) {
                action_call_set_detail(s->call, "no fresh CRL could be fetched: %s", s->errors[0] ? s->errors : "no URL");
                action_call_done(s->call, -ENODATA);
                return;
        }
        const char *url = s->urls[s->next++];
        (void) curl_easy_setopt(s->easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        (void) curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS,
                                (long) ((p->v[P_TIMEOUT].set ? p->v[P_TIMEOUT].num : 5 * USEC_PER_SEC) / USEC_PER_MSEC));
        if (curl_glue_add(s->glue, s->easy, on_fetched, s) < 0) {
                curl_easy_cleanup(s->easy);
                s->easy = NULL;
                action_call_done(s->call, -EIO);
        }
}

/* Where to fetch from: `url`, else the revocation check's crl_urls, then the distribution points
 * of x509/. */
static void gather_urls(crl_state *s, const action_params *p, const action_env *env) {
        if (p->v[P_URL].set) {
                add_url(s, p->v[P_URL].str);
                return;
        }
        for (int i = 0; env->check_param && i < (int) URLS_MAX; i++) {
                char k[32];
                const char *u;
                (void) snprintf(k, sizeof(k), "crl_urls.%d", i);
                if (!(u = env->check_param(env->check_userdata, "revocation", k)))
                        break;
                add_url(s, u);
        }
        cdps(s, swanctl_dir(p, env));
}

/* Nowhere to fetch a CRL from: the step could only fail. */
static int crl_precondition(const action_params *p, const action_env *env, char *why, size_t n) {
        crl_state s = { 0 };
        size_t urls;

        gather_urls(&s, p, env);
        urls = s.n_urls;
        for (size_t i = 0; i < s.n_urls; i++)
                free(s.urls[i]);
        if (urls)
                return 0;
        (void) snprintf(why, n, "no CRL distribution point to fetch from (no url, no crl_urls, no CDP in the certificates of %s/x509)",
                        swanctl_dir(p, env));
        return -ENOENT;
}

static int crl_start(void *state, action_call *call, action_op op) {
        crl_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        int r;

        *s = (crl_state){ .call = call };
        if (op == ACTION_REVERT) {
                /* put back what the last install replaced, or remove it if it replaced nothing */
                _cleanup_(freep) char *prev = prev_path(env), *old = NULL, *wpath = NULL, *where = NULL;
                size_t len = 0, wl = 0;
                if (!prev || asprintf(&wpath, "%s.where", prev) < 0)
                        return -ENOMEM;
                if (atomic_file_read(wpath, 4500, &where, &wl) < 0) {
                        action_call_set_detail(call, "nothing to put back: no CRL was cached");
                        action_call_done(call, 0);
                        return 0;
                }
                bool had = atomic_file_read(prev, CRL_MAX, &old, &len) >= 0;
                r = had ? atomic_file_write(where, old, len, 0644) : (unlink(where) < 0 && errno != ENOENT ? -errno : 0);
                if (r < 0)
                        return r;
                (void) unlink(prev);
                (void) unlink(wpath);
                (void) snprintf(s->detail, sizeof(s->detail), "%s %.300s", had ? "restored" : "removed", where);
                return swanctl_load_creds(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                                          swanctl_dir(p, env), NULL, on_loaded, s);
        }
        if (op == ACTION_VERIFY) {
                _cleanup_(freep) char *prev = prev_path(env), *wpath = NULL, *where = NULL;
                size_t wl = 0;
                X509_CRL *c = NULL;
                bool fresh = prev && asprintf(&wpath, "%s.where", prev) >= 0 && atomic_file_read(wpath, 4500, &where, &wl) >= 0 &&
                             (c = x509_file_crl(where)) && X509_CRL_get0_nextUpdate(c) &&
                             X509_cmp_current_time(X509_CRL_get0_nextUpdate(c)) > 0;
                X509_CRL_free(c);
                action_call_set_detail(call, fresh ? "the cached CRL is fresh" : "no fresh cached CRL");
                action_call_done(call, fresh ? 0 : -EPROTO);
                return 0;
        }
        gather_urls(s, p, env);
        if ((r = curl_glue_new(&s->glue, env->event)) < 0)
                return r;
        fetch_next(s);
        return 0;
}

static void crl_cancel(void *state) {
        crl_state *s = state;
        if (s->easy && s->glue) {
                curl_glue_remove(s->glue, s->easy);
                curl_easy_cleanup(s->easy);
        }
        s->easy = NULL;
        s->glue = curl_glue_free(s->glue);
        s->child = spawn_free(s->child);
        for (size_t i = 0; i < s->n_urls; i++)
                free(s->urls[i]);
        s->n_urls = 0;
        free(s->body);
        s->body = NULL;
}

static int crl_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  put back (or remove) the cached CRL in %s/x509crl, then swanctl --load-creds",
                                       swanctl_dir(p, env));
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  a fresh ikeheal-*.crl must be in %s/x509crl", swanctl_dir(p, env));
        return action_plan_add(out, "  fetch the CRL from %s, check it is signed by a CA of %s/x509ca and fresh, install it in "
                               "x509crl/, then swanctl --load-creds",
                               p->v[P_URL].set ? p->v[P_URL].str : "the distribution points of the certificates in x509/",
                               swanctl_dir(p, env));
}

static bool crl_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_crl_cache = {
        .kind = "crl_cache",
        .description = "fetch a fresh CRL, check it, and cache it where charon reads CRLs",
        .params = params,
        .effects = true,
        .state_size = sizeof(crl_state),
        .precondition = crl_precondition,
        .plan = crl_plan,
        .start = crl_start,
        .cancel = crl_cancel,
        .done = crl_cancel,
        .supports = crl_supports,
};
