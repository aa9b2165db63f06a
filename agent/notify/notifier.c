/* See notifier.h. Runbook events leave the gateway here, as HTTP POSTs to webhooks on the
 * agent's loop through curl_glue: a dead or slow endpoint costs a timeout, never a stall.
 *
 * Every (message, webhook) pair is one delivery in a single FIFO queue. A delivery carries its
 * own copy of the target and the rendered body, so a reload that replaces the configuration
 * never pulls the rug from under a message already queued. Per webhook one delivery is in
 * flight (or waiting for its retry) at a time, oldest first: messages arrive in the order they
 * happened ("started" before "failed"), and a dead endpoint sees one connection at a time rather
 * than a storm. The queue is bounded by queue_max; when it is full the oldest undelivered
 * delivery goes (counted, logged): during an outage the newest news is the most useful.
 *
 * Stats are counters since notifier_new(): queued = delivered + failed + dropped + pending.
 *
 * libcurl (common/curl_lib.h) and the multi handle are set up only once there is a webhook to
 * send to: with none configured the notifier costs no HTTP machinery at all. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_glue.h"
#include "curl_lib.h"
#include "agent/notify/notifier.h"
#include "jsonc_lib.h"
#include "log.h"

#define QUEUE_MAX_DEFAULT 64u

typedef struct delivery delivery;
struct delivery {
        notifier *owner;
        delivery *prev, *next;
        char *webhook, *url, *event, *body; /* copies: the config may be replaced meanwhile */
        struct curl_slist *headers;         /* the common ones and its own (NULL: none of its own) */
        char *extra;                        /* its own header: a signature, a bearer token */
        uint64_t timeout_usec, backoff_usec;
        uint32_t retries, attempt; /* attempt: retries started so far */
        CURL *easy;                /* in flight */
        ev_source *retry;    /* waiting for the next attempt */
        char error[CURL_ERROR_SIZE];
};

struct notifier {
        ev_loop *event;
        curl_glue *glue;
        notify_config cfg;
        struct curl_slist *headers;
        delivery *head, *tail;
        size_t n_queued;
        notifier_stats stats;
};

static void pump(notifier *n);

static int config_copy(notify_config *dst, const notify_config *src) {
        notify_config c;

        notify_config_init(&c);
        if (src) {
                c.queue_max = src->queue_max ? src->queue_max : QUEUE_MAX_DEFAULT;
                if (src->n_webhooks && !(c.webhooks = calloc(src->n_webhooks, sizeof(*c.webhooks))))
                        return -ENOMEM;
                for (; c.n_webhooks < src->n_webhooks; c.n_webhooks++) {
                        notify_webhook *w = &c.webhooks[c.n_webhooks];
                        *w = src->webhooks[c.n_webhooks];
                        w->name = strdup(w->name);
                        w->url = strdup(w->url);
                        w->key_file = NULL; /* the key is what deliveries use */
                        if (w->key) {
                                unsigned char *k = malloc(w->key_len);
                                if (k)
                                        memcpy(k, w->key, w->key_len);
                                w->key = k;
                        }
                        if (!w->name || !w->url || (src->webhooks[c.n_webhooks].key && !w->key)) {
                                c.n_webhooks++;
                                notify_config_done(&c);
                                return -ENOMEM;
                        }
                }
                const notify_alertmanager *sa = &src->alertmanager;
                notify_alertmanager *a = &c.alertmanager;
                *a = *sa;
                a->token_file = NULL;
                a->url = sa->url ? strdup(sa->url) : NULL;
                a->token = sa->token ? strdup(sa->token) : NULL;
                a->instance = sa->instance ? strdup(sa->instance) : NULL;
                if ((sa->url && !a->url) || (sa->token && !a->token) || (sa->instance && !a->instance)) {
                        notify_config_done(&c);
                        return -ENOMEM;
                }
        }
        *dst = c;
        return 0;
}

/* Unlink and free; a transfer in flight is abandoned without its callback. */
static void delivery_free(delivery *d) {
        notifier *n = d->owner;

        if (d->easy) {
                curl_glue_remove(n->glue, d->easy);
                curl_easy_cleanup(d->easy);
        }
        ev_source_disable_unref(d->retry);
        *(d->prev ? &d->prev->next : &n->head) = d->next;
        *(d->next ? &d->next->prev : &n->tail) = d->prev;
        n->n_queued--;
        free(d->webhook);
        free(d->url);
        free(d->event);
        free(d->body);
        if (d->extra)
                explicit_bzero(d->extra, strlen(d->extra)); /* it may hold a bearer token */
        free(d->extra);
        curl_slist_free_all(d->headers);
        free(d);
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *userdata) {
        return size * nmemb; /* the status is the answer; the timeout bounds a chatty endpoint */
}

static void on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata);

/* The HTTP side (libcurl loaded, the multi handle on the loop, the headers), made on first
 * need and kept. */
static int http_setup(notifier *n) {
        struct curl_slist *h;
        int r;

        if (n->glue)
                return 0;
        r = curl_lib_load();
        if (r < 0)
                return r;
        /* "Expect:" keeps curl from waiting for a 100 Continue on larger bodies */
        h = curl_slist_append(NULL, "Content-Type: application/json");
        n->headers = h ? curl_slist_append(h, "Expect:") : NULL;
        if (!n->headers) {
                curl_slist_free_all(h);
                return -ENOMEM;
        }
        r = curl_glue_new(&n->glue, n->event);
        if (r < 0) {
                curl_slist_free_all(n->headers);
                n->headers = NULL;
        }
        return r;
}

static int attempt_start(delivery *d) {
        CURL *easy;
        int r;

        r = http_setup(d->owner);
        if (r < 0)
                return r;
        easy = curl_easy_init();
        if (!easy)
                return -ENOMEM;
        d->error[0] = 0;
        (void) curl_easy_setopt(easy, CURLOPT_URL, d->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
        (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        (void) curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION,
                                0L); /* a redirect is a failure, not a new target */
        (void) curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        /* at least 1ms: 0 would mean no timeout at all */
        (void) curl_easy_setopt(
                easy, CURLOPT_TIMEOUT_MS,
                d->timeout_usec < USEC_PER_MSEC ? 1L : (long) (d->timeout_usec / USEC_PER_MSEC));
        if (d->extra && !d->headers) {
                /* the common headers and its own, for this delivery */
                for (struct curl_slist *h = d->owner->headers; h; h = h->next) {
                        struct curl_slist *x = curl_slist_append(d->headers, h->data);
                        if (!x) {
                                curl_easy_cleanup(easy);
                                return -ENOMEM;
                        }
                        d->headers = x;
                }
                struct curl_slist *x = curl_slist_append(d->headers, d->extra);
                if (!x) {
                        curl_easy_cleanup(easy);
                        return -ENOMEM;
                }
                d->headers = x;
        }
        (void) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, d->headers ?: d->owner->headers);
        (void) curl_easy_setopt(easy, CURLOPT_POSTFIELDS, d->body);
        (void) curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(d->body));
        (void) curl_easy_setopt(easy, CURLOPT_USERAGENT, "ikeheal/" IKEHEAL_VERSION);
        (void) curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
        (void) curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, d->error);
        r = curl_glue_add(d->owner->glue, easy, on_done, d);
        if (r < 0) {
                curl_easy_cleanup(easy);
                return r;
        }
        d->easy = easy;
        return 0;
}

static int on_retry(ev_source *s, uint64_t usec, void *userdata);

static const char *start_error(int r) {
        return curl_lib_error() ?: strerror(-r);
}

/* An attempt failed: schedule the next one after backoff × 2^attempt, or give up. Returns
 * false when the delivery is gone. */
static bool attempt_failed(delivery *d, const char *why) {
        notifier *n = d->owner;

        if (d->attempt < d->retries) {
                uint64_t delay = d->backoff_usec
                                 << d->attempt; /* retries ≤ 10, backoff ≤ 1h: no overflow */
                int r = ev_add_time_relative(n->event, &d->retry, CLOCK_MONOTONIC, delay,
                                                   USEC_PER_MSEC, on_retry, d);
                if (r >= 0) {
                        log_debug("notify: webhook %s: %s failed (%s), retrying in %llums",
                                  d->webhook, d->event, why,
                                  (unsigned long long) (delay / USEC_PER_MSEC));
                        return true;
                }
                log_warning_errno(r, "notify: webhook %s: cannot schedule a retry", d->webhook);
        }
        log_warning("notify: webhook %s: event %s not delivered after %u attempt%s (last error: "
                    "%s), giving up",
                    d->webhook, d->event, d->attempt + 1, d->attempt ? "s" : "", why);
        n->stats.failed++;
        delivery_free(d);
        return false;
}

static int on_retry(ev_source *s, uint64_t usec, void *userdata) {
        delivery *d = userdata;
        notifier *n = d->owner;
        int r;

        d->retry = ev_source_disable_unref(d->retry);
        d->attempt++;
        n->stats.retried++;
        r = attempt_start(d);
        if (r < 0)
                (void) attempt_failed(d, start_error(r));
        pump(n); /* in case it is gone: the next one for this webhook */
        return 0;
}

static void on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        delivery *d = userdata;
        notifier *n = d->owner;
        long status = 0;
        char why[CURL_ERROR_SIZE + 32];

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(easy);
        d->easy = NULL;
        if (result == CURLE_OK && status >= 200 && status < 300) {
                log_debug("notify: webhook %s: %s delivered (HTTP %ld)", d->webhook, d->event,
                          status);
                n->stats.delivered++;
                delivery_free(d);
        } else {
                if (result != CURLE_OK)
                        snprintf(why, sizeof(why), "%s",
                                 d->error[0] ? d->error : curl_easy_strerror(result));
                else
                        snprintf(why, sizeof(why), "HTTP status %ld", status);
                (void) attempt_failed(d, why);
        }
        pump(n);
}

/* Start every delivery whose webhook has nothing older queued. */
static void pump(notifier *n) {
        delivery *next;

        for (delivery *d = n->head; d; d = next) {
                bool behind = false;
                int r;

                next = d->next;
                if (d->easy || d->retry)
                        continue;
                for (delivery *o = d->prev; o && !behind; o = o->prev)
                        behind = strcmp(o->webhook, d->webhook) == 0;
                if (behind)
                        continue;
                r = attempt_start(d);
                if (r < 0)
                        (void) attempt_failed(d, start_error(r));
        }
}

static void drop_oldest(notifier *n) {
        delivery *d = n->head;

        log_warning(
                "notify: queue full (%zu undelivered), dropping the oldest: event %s to webhook %s",
                n->n_queued, d->event, d->webhook);
        n->stats.dropped++;
        delivery_free(d);
}

/* Queue body for target; extra: its own header (copied; NULL: none). */
static int enqueue_body(notifier *n, const char *target, const char *url, const char *event, const char *body,
                        const char *extra, uint64_t timeout_usec, uint32_t retries, uint64_t backoff_usec) {
        delivery *d = calloc(1, sizeof(*d));

        if (!d)
                return -ENOMEM;
        d->owner = n;
        d->webhook = strdup(target);
        d->url = strdup(url);
        d->event = strdup(event);
        d->body = strdup(body);
        d->extra = extra ? strdup(extra) : NULL;
        d->timeout_usec = timeout_usec ? timeout_usec : 5 * USEC_PER_SEC;
        d->backoff_usec = backoff_usec;
        d->retries = retries;
        if (!d->webhook || !d->url || !d->event || !d->body || (extra && !d->extra)) {
                free(d->webhook);
                free(d->url);
                free(d->event);
                free(d->body);
                free(d->extra);
                free(d);
                return -ENOMEM;
        }
        while (n->head && n->n_queued >= n->cfg.queue_max)
                drop_oldest(n);
        d->prev = n->tail;
        *(n->tail ? &n->tail->next : &n->head) = d;
        n->tail = d;
        n->n_queued++;
        n->stats.queued++;
        return 0;
}

static int enqueue(notifier *n, const notify_webhook *w, const notify_message *m,
                   const char *body) {
        char sig[72], header[sizeof(NOTIFY_SIGNATURE_HEADER) + 2 + sizeof(sig)];
        int r;

        if (w->key) {
                r = notify_sign(w->key, w->key_len, body, strlen(body), sig);
                if (r < 0)
                        return r;
                (void) snprintf(header, sizeof(header), NOTIFY_SIGNATURE_HEADER ": %s", sig);
        }
        return enqueue_body(n, w->name, w->url, m->event, body, w->key ? header : NULL, w->timeout_usec, w->retries,
                            w->backoff_usec);
}

/* With webhooks configured, set HTTP up now rather than at the first incident, so that a
 * libcurl that cannot be loaded is in the log from the start. */
static void http_setup_configured(notifier *n) {
        int r;

        if (n->cfg.n_webhooks == 0 && !n->cfg.alertmanager.url)
                return;
        r = http_setup(n);
        if (r < 0)
                log_warning_errno(r, "notify: %s: webhooks cannot be delivered, ignoring",
                                  curl_lib_error() ?: "cannot set up HTTP");
        /* every body is JSON: a json-c that cannot be loaded is said now, not at the first incident */
        r = jsonc_lib_load();
        if (r < 0)
                log_warning_errno(r, "notify: %s: webhooks and alerts cannot be written, ignoring", jsonc_lib_error());
}

static bool targeted(const char *const *targets, const char *name) {
        if (!targets)
                return true;
        for (; *targets; targets++)
                if (strcmp(*targets, name) == 0)
                        return true;
        return false;
}

int notifier_send(notifier *n, const char *const *targets, const notify_message *m) {
        char host[HOST_NAME_MAX + 1] = "";
        char *bodies[2] = {};
        int r = 0, queued = 0;

        if (!n || !m || !m->event || !m->text)
                return -EINVAL;
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "localhost");
        for (size_t i = 0; i < n->cfg.n_webhooks; i++) {
                const notify_webhook *w = &n->cfg.webhooks[i];
                size_t f = w->format == NOTIFY_SLACK;

                if (!targeted(targets, w->name))
                        continue;
                if (!bodies[f] && !(bodies[f] = notify_render(w->format, host, m))) {
                        r = jsonc_lib_load(); /* json-c missing, or out of memory */
                        if (r >= 0)
                                r = -ENOMEM;
                        break;
                }
                r = enqueue(n, w, m, bodies[f]);
                if (r < 0)
                        break;
                queued++;
        }
        free(bodies[0]);
        free(bodies[1]);
        pump(n);
        return r < 0 ? r : queued;
}

int notifier_set_config(notifier *n, const notify_config *cfg) {
        notify_config c;
        int r = config_copy(&c, cfg);

        if (r < 0)
                return r;
        notify_config_done(&n->cfg);
        n->cfg = c;
        while (n->head && n->n_queued > n->cfg.queue_max) /* a smaller bound applies at once */
                drop_oldest(n);
        http_setup_configured(n);
        return 0;
}

int notifier_new(notifier **ret, ev_loop *e, const notify_config *cfg) {
        notifier *n = calloc(1, sizeof(*n));
        int r;

        if (!n)
                return -ENOMEM;
        notify_config_init(&n->cfg);
        n->event = ev_ref(e);
        r = config_copy(&n->cfg, cfg);
        if (r < 0)
                goto fail;
        http_setup_configured(n);
        *ret = n;
        return 0;
fail:
        notifier_free(n);
        return r;
}

notifier *notifier_free(notifier *n) {
        if (!n)
                return NULL;
        while (n->head)
                delivery_free(n->head);
        curl_glue_free(n->glue);
        curl_slist_free_all(n->headers);
        notify_config_done(&n->cfg);
        ev_unref(n->event);
        free(n);
        return NULL;
}

void notifier_get_stats(const notifier *n, notifier_stats *ret) {
        *ret = n->stats;
}

const notify_alertmanager *notifier_alertmanager(const notifier *n) {
        return n && n->cfg.alertmanager.url ? &n->cfg.alertmanager : NULL;
}

int notifier_alertmanager_post(notifier *n, const char *what, const char *body) {
        const notify_alertmanager *a = notifier_alertmanager(n);
        _cleanup_(freep) char *url = NULL, *auth = NULL;
        size_t l;
        int r;

        if (!a)
                return -ENOENT;
        l = strlen(a->url);
        if (asprintf(&url, "%s%s", a->url, a->url[l - 1] == '/' ? "api/v2/alerts" : "/api/v2/alerts") < 0) {
                url = NULL;
                return -ENOMEM;
        }
        if (a->token && asprintf(&auth, "Authorization: Bearer %s", a->token) < 0) {
                auth = NULL;
                return -ENOMEM;
        }
        r = enqueue_body(n, NOTIFY_ALERTMANAGER_TARGET, url, what, body, auth, a->timeout_usec, a->retries,
                         a->backoff_usec);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        if (r >= 0)
                pump(n);
        return r;
}
