/* The revocation check (kind "revocation"): can peers (and we) still learn that the gateway's
 * certificates are not revoked? A stale CRL or an unreachable OCSP responder makes charon
 * refuse certificates that are fine — a whole gateway down for an HTTP server.
 *
 *  - CRL files: the swanctl tree's x509crl/ and params `crls`: nextUpdate passed → FAIL
 *    crl_stale; within `crl_warn` (default 1h) → WARN crl_expiring; signature checked against
 *    its issuer in x509ca/ (FAIL crl_bad_signature).
 *  - CRL distribution points (the certificates' CDP URLs and params `crl_urls`): fetched over
 *    HTTP (libcurl multi on the loop: common/curl_glue.h; size-capped) → unreachable or HTTP
 *    error → FAIL crl_unreachable; a fetched CRL that is stale → FAIL crl_stale. While a
 *    fresh CRL of the same issuer is cached locally (x509crl/ or `crls`; for a `crl_urls` URL,
 *    whose issuer is unknown until fetched, any fresh local CRL), charon still checks
 *    revocation with it: WARN crl_unreachable_cached, with the time the cache has left (fact
 *    cached_crl_left_s) — the distribution point has that long to come back.
 *  - Local CRLs change verdict with time alone: a run arms a timer at the next nextUpdate (and
 *    nextUpdate − crl_warn) of any of them, so staleness is seen when it happens.
 *  - OCSP: for each certificate of x509/ with its issuer in x509ca/, a real OCSP request
 *    (OpenSSL: CertID, nonce) POSTed to the AIA responder or params `ocsp_url`; the response is
 *    verified against the CA store, the status read and its times checked → revoked (FAIL),
 *    unknown (WARN ocsp_unknown), unreachable (FAIL ocsp_unreachable), bad (FAIL ocsp_error).
 *
 * The HTTP part is bounded by `http_timeout` (default 5s) per transfer. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/checks/revocation.h"
#include "curl_glue.h"
#include "duration.h"
#include "x509_file.h"
#include "yaml_bind.h"

#define BODY_MAX (4u * 1024u * 1024u)
#define TASKS_MAX 32u
#define CERTS_MAX 32u
#define CACHED_MAX 32u

typedef enum task_kind { TASK_CRL, TASK_OCSP } task_kind;

typedef struct task {
        struct revocation_state *owner;
        task_kind kind;
        char url[512];
        CURL *easy;
        struct curl_slist *headers;
        uint8_t *req;   /* OCSP request DER */
        long req_len;
        uint8_t *body;
        size_t body_len;
        bool overflow, done;
        CURLcode result;
        long http_status;
        double seconds;
        OCSP_CERTID *id;   /* TASK_OCSP */
        X509 *cert, *issuer; /* TASK_CRL: cert is the certificate naming the CDP (NULL: crl_urls) */
} task;

/* A fresh CRL on disk, which charon uses while its distribution point is down. */
typedef struct cached_crl {
        X509_NAME *issuer;
        time_t next_update;
} cached_crl;

typedef struct revocation_state {
        char *swanctl_dir;
        char **crls, **crl_urls;
        char *ocsp_url;
        uint64_t crl_warn_usec, http_timeout_usec;

        curl_glue *glue;
        task tasks[TASKS_MAX];
        size_t n_tasks, n_pending;
        X509 *certs[CERTS_MAX], *cas[CERTS_MAX];
        size_t n_certs, n_cas;
        check_run *run;
        finding *f;
        check_status status;
        char reason[48];
        cached_crl cached[CACHED_MAX];
        size_t n_cached;
        time_t cache_left_min; /* the least time a cache that stood in for a CDP has left (-1: none) */
        time_t next;           /* the next instant a local CRL's verdict changes (0: none) */

        check *check;
        ev_source *instant;
} revocation_state;

#define ROFF(f) offsetof(revocation_state, f)

static const yfield revocation_fields[] = {
        { "swanctl_dir", YF_PATH, ROFF(swanctl_dir), .max = 4096 },
        { "crls", YF_STRV, ROFF(crls), .max = 16 },
        { "crl_urls", YF_STRV, ROFF(crl_urls), .max = 16 },
        { "ocsp_url", YF_STRING, ROFF(ocsp_url), .max = 500 },
        { "crl_warn", YF_DURATION, ROFF(crl_warn_usec), .max = 30 * 86400 * USEC_PER_SEC },
        { "http_timeout", YF_DURATION, ROFF(http_timeout_usec), .min = 100 * USEC_PER_MSEC, .max = 120 * USEC_PER_SEC },
        {}
};

static int revocation_parse(void *state, const ynode *params, ydiag *d) {
        revocation_state *s = state;
        int r;

        s->crl_warn_usec = 3600 * USEC_PER_SEC;
        s->http_timeout_usec = 5 * USEC_PER_SEC;
        r = ybind(params, revocation_fields, s, d);
        if (r < 0)
                return r;
        if (s->ocsp_url && strncmp(s->ocsp_url, "http://", 7) != 0 && strncmp(s->ocsp_url, "https://", 8) != 0) {
                ydiag_add(d, ynode_get(params, "ocsp_url"), "ocsp_url: expected an http:// or https:// URL");
                return -EINVAL;
        }
        if (!s->swanctl_dir && !(s->swanctl_dir = strdup("/etc/swanctl")))
                return -ENOMEM;
        return 0;
}

/* ---- verdict bookkeeping ---- */

static void note(revocation_state *s, check_status st, const char *reason, const char *fmt, ...) _printf_(4, 5);
static void note(revocation_state *s, check_status st, const char *reason, const char *fmt, ...) {
        char line[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        (void) finding_evidence(s->f, "%s", line);
        if (st != CHECK_OK && (s->status == CHECK_OK || check_status_worst(s->status, st) != s->status)) {
                s->status = st;
                snprintf(s->reason, sizeof(s->reason), "%s", reason);
                (void) finding_set(s->f, st, "%s", line);
        }
}

/* ---- loading ---- */

static void load_dir(const char *dir, X509 **out, size_t *n) {
        char pat[4200];
        struct dirent **list = NULL;
        int k = scandir(dir, &list, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                X509 *x;
                snprintf(pat, sizeof(pat), "%s/%s", dir, list[i]->d_name);
                if (list[i]->d_name[0] != '.' && *n < CERTS_MAX && (x = x509_file_cert(pat)))
                        out[(*n)++] = x;
                free(list[i]);
        }
        free(list);
}

static X509 *issuer_of(revocation_state *s, X509 *x) {
        for (size_t i = 0; i < s->n_cas; i++)
                if (X509_check_issued(s->cas[i], x) == X509_V_OK)
                        return s->cas[i];
        return NULL;
}


static void next_instant(revocation_state *s, time_t now, time_t t) {
        if (t > now && (!s->next || t < s->next))
                s->next = t;
}

/* Judge a CRL; a local one (a file charon reads) that is fresh is remembered as the cache
 * charon falls back on, and its nextUpdate (and the warning before it) become instants. */
static void judge_crl(revocation_state *s, X509_CRL *crl, const char *where, bool local) {
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        time_t now = x509_file_now(), warn = now + (time_t) (s->crl_warn_usec / USEC_PER_SEC);
        time_t next_t = x509_file_time(next);
        char issuer[256];

        X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
        for (size_t i = 0; i < s->n_cas; i++)
                if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(s->cas[i])) == 0 &&
                    X509_CRL_verify(crl, X509_get0_pubkey(s->cas[i])) != 1) {
                        note(s, CHECK_FAIL, "crl_bad_signature", "%s: CRL of %s has a bad signature", where, issuer);
                        ERR_clear_error();
                        return;
                }
        if (local && next_t) {
                next_instant(s, now, next_t);
                next_instant(s, now, next_t - (time_t) (s->crl_warn_usec / USEC_PER_SEC));
                if (next_t > now && s->n_cached < CACHED_MAX &&
                    (s->cached[s->n_cached].issuer = X509_NAME_dup(X509_CRL_get_issuer(crl))))
                        s->cached[s->n_cached++].next_update = next_t;
        }
        if (!next)
                note(s, CHECK_WARN, "crl_no_next_update", "%s: CRL of %s has no nextUpdate", where, issuer);
        else if (X509_cmp_time(next, &now) < 0)
                note(s, CHECK_FAIL, "crl_stale",
                     "%s: CRL of %s is stale (nextUpdate passed): charon rejects certificates it should cover", where,
                     issuer);
        else if (X509_cmp_time(next, &warn) < 0)
                note(s, CHECK_WARN, "crl_expiring", "%s: CRL of %s expires soon (nextUpdate within %llus)", where,
                     issuer, (unsigned long long) (s->crl_warn_usec / USEC_PER_SEC));
        else
                note(s, CHECK_OK, "", "%s: CRL of %s is fresh", where, issuer);
        ERR_clear_error();
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        task *t = userdata;
        size_t n = size * nmemb;

        if (t->body_len + n > BODY_MAX) {
                t->overflow = true;
                return 0; /* abort the transfer */
        }
        uint8_t *p = realloc(t->body, t->body_len + n);
        if (!p)
                return 0;
        t->body = p;
        memcpy(t->body + t->body_len, data, n);
        t->body_len += n;
        return n;
}

static void task_free(task *t) {
        if (t->easy)
                curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->headers);
        OPENSSL_free(t->req);
        free(t->body);
        OCSP_CERTID_free(t->id);
        *t = (task){};
}

static void judge_ocsp(revocation_state *s, task *t) {
        const uint8_t *p = t->body;
        OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long) t->body_len);
        OCSP_BASICRESP *bs = NULL;
        X509_STORE *store = NULL;
        STACK_OF(X509) *chain = NULL;
        int status, reason;
        ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
        char subject[256];

        X509_NAME_oneline(X509_get_subject_name(t->cert), subject, sizeof(subject));
        if (!resp || OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
            !(bs = OCSP_response_get1_basic(resp))) {
                note(s, CHECK_FAIL, "ocsp_error", "OCSP %s for %s: no usable response (status %d)", t->url, subject,
                     resp ? OCSP_response_status(resp) : -1);
                goto out;
        }
        store = X509_STORE_new();
        chain = sk_X509_new_null();
        for (size_t i = 0; store && chain && i < s->n_cas; i++) {
                (void) X509_STORE_add_cert(store, s->cas[i]);
                (void) sk_X509_push(chain, s->cas[i]);
        }
        if (!store || OCSP_basic_verify(bs, chain, store, 0) != 1) {
                note(s, CHECK_FAIL, "ocsp_error", "OCSP %s for %s: response signature does not verify", t->url, subject);
                goto out;
        }
        if (!OCSP_resp_find_status(bs, t->id, &status, &reason, &rev, &thisupd, &nextupd)) {
                note(s, CHECK_FAIL, "ocsp_error", "OCSP %s for %s: the response does not cover this certificate",
                     t->url, subject);
                goto out;
        }
        if (!OCSP_check_validity(thisupd, nextupd, 300, -1)) {
                note(s, CHECK_FAIL, "ocsp_error", "OCSP %s for %s: response outside its validity", t->url, subject);
                goto out;
        }
        if (status == V_OCSP_CERTSTATUS_REVOKED)
                note(s, CHECK_FAIL, "revoked", "OCSP %s: %s is REVOKED", t->url, subject);
        else if (status == V_OCSP_CERTSTATUS_UNKNOWN)
                note(s, CHECK_WARN, "ocsp_unknown", "OCSP %s: %s unknown to the responder", t->url, subject);
        else
                note(s, CHECK_OK, "", "OCSP %s: %s good (%.0f ms)", t->url, subject, t->seconds * 1000);
out:
        sk_X509_free(chain);
        X509_STORE_free(store);
        OCSP_BASICRESP_free(bs);
        OCSP_RESPONSE_free(resp);
        ERR_clear_error();
}

static void finish(revocation_state *s) {
        check_run *run = TAKE_PTR(s->run);
        finding *f = TAKE_PTR(s->f);
        size_t n_ocsp = 0, n_crl = 0;

        for (size_t i = 0; i < s->n_tasks; i++) {
                n_ocsp += s->tasks[i].kind == TASK_OCSP;
                n_crl += s->tasks[i].kind == TASK_CRL;
                task_free(&s->tasks[i]);
        }
        s->n_tasks = 0;
        for (size_t i = 0; i < s->n_certs; i++)
                X509_free(s->certs[i]);
        for (size_t i = 0; i < s->n_cas; i++)
                X509_free(s->cas[i]);
        s->n_certs = s->n_cas = 0;
        for (size_t i = 0; i < s->n_cached; i++)
                X509_NAME_free(s->cached[i].issuer);
        s->n_cached = 0;
        if (!f)
                return;
        if (s->cache_left_min >= 0)
                (void) finding_fact_set(f, "cached_crl_left_s", "%lld", (long long) s->cache_left_min);
        if (s->next)
                (void) finding_fact_set(f, "next_change_usec", "%llu", (unsigned long long) s->next * USEC_PER_SEC);
        (void) finding_fact_set(f, "ocsp_requests", "%zu", n_ocsp);
        (void) finding_fact_set(f, "crl_downloads", "%zu", n_crl);
        if (s->status == CHECK_OK)
                (void) finding_set(f, CHECK_OK, "revocation information reachable and fresh%s",
                                   f->n_evidence ? "" : " (none configured: no CRL, CDP or OCSP)");
        else {
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "revocation");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", s->reason);
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        }
        if (run)
                check_run_done(run, f);
        else
                finding_free(f);
}

/* The fresh local CRL that stands in for the distribution point of t while it is down (the
 * one with the least time left), or NULL. */
static const cached_crl *cache_for(const revocation_state *s, const task *t) {
        const cached_crl *best = NULL;

        for (size_t i = 0; i < s->n_cached; i++)
                if ((!t->cert || X509_NAME_cmp(s->cached[i].issuer, X509_get_issuer_name(t->cert)) == 0) &&
                    (!best || s->cached[i].next_update < best->next_update))
                        best = &s->cached[i];
        return best;
}

static void on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        task *t = userdata;
        revocation_state *s = t->owner;
        const cached_crl *c;
        time_t now = x509_file_now();

        t->done = true;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->http_status);
        (void) curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &t->seconds);
        if ((result != CURLE_OK || t->http_status != 200) && t->kind == TASK_CRL && (c = cache_for(s, t)) &&
            c->next_update > now) {
                /* charon still checks revocation with the cached CRL: a deadline, not an outage */
                time_t left = c->next_update - now;
                char d[32], issuer[256];
                X509_NAME_oneline(c->issuer, issuer, sizeof(issuer));
                if (s->cache_left_min < 0 || left < s->cache_left_min)
                        s->cache_left_min = left;
                note(s, CHECK_WARN, "crl_unreachable_cached",
                     "CRL distribution point %s: %s; the cached CRL of %s is fresh for another %s", t->url,
                     result != CURLE_OK ? curl_easy_strerror(result) : "unexpected HTTP status", issuer,
                     duration_format((uint64_t) (left >= 60 ? left / 60 * 60 : left) * USEC_PER_SEC, d, sizeof(d)));
        } else if (result != CURLE_OK || t->http_status != 200)
                note(s, CHECK_FAIL, t->kind == TASK_OCSP ? "ocsp_unreachable" : "crl_unreachable",
                     "%s %s: %s", t->kind == TASK_OCSP ? "OCSP responder" : "CRL distribution point", t->url,
                     result != CURLE_OK ? curl_easy_strerror(result) : "unexpected HTTP status");
        else if (t->kind == TASK_CRL) {
                X509_CRL *crl = x509_file_crl_parse(t->body, t->body_len);
                if (!crl)
                        note(s, CHECK_FAIL, "crl_unreachable", "CRL distribution point %s: not a CRL", t->url);
                else {
                        judge_crl(s, crl, t->url, false);
                        X509_CRL_free(crl);
                }
        } else
                judge_ocsp(s, t);
        if (--s->n_pending == 0)
                finish(s);
}

static task *task_new(revocation_state *s, task_kind kind, const char *url) {
        task *t;

        for (size_t i = 0; i < s->n_tasks; i++)
                if (s->tasks[i].kind == kind && kind == TASK_CRL && strcmp(s->tasks[i].url, url) == 0)
                        return NULL; /* one download per distribution point */
        if (s->n_tasks >= TASKS_MAX || strlen(url) >= sizeof(t->url))
                return NULL;
        t = &s->tasks[s->n_tasks++];
        *t = (task){ .owner = s, .kind = kind };
        snprintf(t->url, sizeof(t->url), "%s", url);
        t->easy = curl_easy_init();
        if (!t->easy) {
                s->n_tasks--;
                return NULL;
        }
        (void) curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
        (void) curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        (void) curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) (s->http_timeout_usec / USEC_PER_MSEC));
        (void) curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE, (long) BODY_MAX);
        return t;
}

static void add_ocsp(revocation_state *s, X509 *cert, X509 *issuer, const char *url) {
        OCSP_REQUEST *req = OCSP_REQUEST_new();
        task *t;

        if (!req)
                return;
        t = task_new(s, TASK_OCSP, url);
        if (!t)
                goto out;
        t->cert = cert;
        t->issuer = issuer;
        t->id = OCSP_cert_to_id(NULL, cert, issuer);
        OCSP_CERTID *copy = t->id ? OCSP_CERTID_dup(t->id) : NULL;
        if (!copy || !OCSP_request_add0_id(req, copy) || !OCSP_request_add1_nonce(req, NULL, -1) ||
            (t->req_len = i2d_OCSP_REQUEST(req, &t->req)) <= 0) {
                OCSP_CERTID_free(copy);
                task_free(t);
                s->n_tasks--;
                goto out;
        }
        t->headers = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
        (void) curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
        (void) curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req);
        (void) curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, t->req_len);
out:
        OCSP_REQUEST_free(req);
        ERR_clear_error();
}

static void add_cdps(revocation_state *s, X509 *cert) {
        task *t;
        STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
        for (int i = 0; dps && i < sk_DIST_POINT_num(dps); i++) {
                DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
                if (!dp->distpoint || dp->distpoint->type != 0)
                        continue;
                GENERAL_NAMES *names = dp->distpoint->name.fullname;
                for (int k = 0; k < sk_GENERAL_NAME_num(names); k++) {
                        GENERAL_NAME *n = sk_GENERAL_NAME_value(names, k);
                        if (n->type != GEN_URI)
                                continue;
                        const char *u = (const char *) ASN1_STRING_get0_data(n->d.uniformResourceIdentifier);
                        if (u && strncmp(u, "http", 4) == 0 && (t = task_new(s, TASK_CRL, u)))
                                t->cert = cert;
                }
        }
        sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

static int on_instant(ev_source *src, uint64_t usec, void *userdata) {
        revocation_state *s = userdata;
        s->instant = ev_source_disable_unref(s->instant);
        (void) check_trigger(s->check);
        return 0;
}

static void arm_instant(revocation_state *s, const check_env *env) {
        s->instant = ev_source_disable_unref(s->instant);
        if (s->next && s->check && env->event)
                (void) ev_add_time(env->event, &s->instant, CLOCK_REALTIME, (uint64_t) s->next * USEC_PER_SEC,
                                         USEC_PER_MSEC, on_instant, s);
}

static int revocation_attach(void *state, check *c, const check_env *env) {
        revocation_state *s = state;
        s->check = c;
        return 0;
}

static int revocation_start(void *state, const check_env *env, check_run *run) {
        revocation_state *s = state;
        char dir[4200];
        int r;

        r = finding_new(&s->f);
        if (r < 0)
                return r;
        s->status = CHECK_OK;
        s->reason[0] = 0;
        s->cache_left_min = -1;
        s->next = 0;
        snprintf(dir, sizeof(dir), "%s/x509ca", s->swanctl_dir);
        load_dir(dir, s->cas, &s->n_cas);
        snprintf(dir, sizeof(dir), "%s/x509", s->swanctl_dir);
        load_dir(dir, s->certs, &s->n_certs);

        /* CRL files */
        char crldir[4200];
        snprintf(crldir, sizeof(crldir), "%s/x509crl", s->swanctl_dir);
        struct dirent **list = NULL;
        int k = scandir(crldir, &list, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                char path[4500];
                X509_CRL *crl;
                snprintf(path, sizeof(path), "%s/%s", crldir, list[i]->d_name);
                if (list[i]->d_name[0] != '.' && (crl = x509_file_crl(path))) {
                        judge_crl(s, crl, path, true);
                        X509_CRL_free(crl);
                }
                free(list[i]);
        }
        free(list);
        for (size_t i = 0; s->crls && s->crls[i]; i++) {
                X509_CRL *crl = x509_file_crl(s->crls[i]);
                if (!crl)
                        note(s, CHECK_WARN, "crl_unreadable", "%s: cannot read a CRL", s->crls[i]);
                else {
                        judge_crl(s, crl, s->crls[i], true);
                        X509_CRL_free(crl);
                }
        }
        arm_instant(s, env);

        /* HTTP: distribution points and OCSP */
        for (size_t i = 0; s->crl_urls && s->crl_urls[i]; i++)
                (void) task_new(s, TASK_CRL, s->crl_urls[i]);
        for (size_t i = 0; i < s->n_certs; i++) {
                X509 *issuer = issuer_of(s, s->certs[i]);
                add_cdps(s, s->certs[i]);
                if (!issuer)
                        continue;
                STACK_OF(OPENSSL_STRING) *aia = X509_get1_ocsp(s->certs[i]);
                const char *url = s->ocsp_url ? s->ocsp_url : sk_OPENSSL_STRING_num(aia) > 0 ? sk_OPENSSL_STRING_value(aia, 0) : NULL;
                if (url)
                        add_ocsp(s, s->certs[i], issuer, url);
                X509_email_free(aia);
        }
        if (s->n_tasks && !s->glue) {
                r = curl_glue_new(&s->glue, env->event);
                if (r < 0) {
                        s->run = run;
                        finish(s);
                        return 0;
                }
        }
        s->run = run;
        s->n_pending = 0;
        for (size_t i = 0; i < s->n_tasks; i++)
                if (curl_glue_add(s->glue, s->tasks[i].easy, on_done, &s->tasks[i]) >= 0)
                        s->n_pending++;
                else
                        note(s, CHECK_UNKNOWN, "http_error", "%s: cannot start the transfer", s->tasks[i].url);
        if (s->n_pending == 0)
                finish(s);
        return 0;
}

static void revocation_cancel(void *state) {
        revocation_state *s = state;
        for (size_t i = 0; i < s->n_tasks; i++)
                curl_glue_remove(s->glue, s->tasks[i].easy);
        s->n_pending = 0;
        s->run = NULL;
        finish(s);
}

static void revocation_done(void *state) {
        revocation_state *s = state;
        revocation_cancel(s);
        s->instant = ev_source_disable_unref(s->instant);
        s->glue = curl_glue_free(s->glue);
        free(s->swanctl_dir);
        strv_free(s->crls);
        strv_free(s->crl_urls);
        free(s->ocsp_url);
}

const check_ops revocation_check_ops = {
        .kind = "revocation",
        .description = "CRLs fresh and signed, CRL distribution points and OCSP responders reachable",
        .state_size = sizeof(revocation_state),
        .parse = revocation_parse,
        .attach = revocation_attach,
        .start = revocation_start,
        .cancel = revocation_cancel,
        .done = revocation_done,
};
