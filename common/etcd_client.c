/* See etcd_client.h. Request bodies are proto3 JSON: keys and values in base64, 64-bit numbers
 * as decimal strings. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "curl_glue.h"
#include "etcd_client.h"

typedef struct request request;

struct etcd_client {
        ev_loop *event;
        curl_glue *glue;
        char *endpoints[ETCD_ENDPOINTS_MAX];
        size_t n_endpoints;
        uint64_t timeout_usec;
        uint64_t requests;
        unsigned seed; /* rand_r(): which free slot to try (per client, not the process's) */
        request *head;
        etcd_watch *watches;
};

struct request {
        etcd_client *client;
        request *prev, *next;
        CURL *easy;
        char *path, *body;
        char *reply;
        size_t len;
        bool too_big;
        size_t tried; /* endpoints tried so far */
        etcd_cb cb;
        void *userdata;
        void (*abandon)(void *userdata); /* frees userdata when the client goes first */
};

static void request_free(request *q) {
        if (!q)
                return;
        if (q->easy) {
                curl_glue_remove(q->client->glue, q->easy);
                curl_easy_cleanup(q->easy);
        }
        if (q->prev)
                q->prev->next = q->next;
        else if (q->client->head == q)
                q->client->head = q->next;
        if (q->next)
                q->next->prev = q->prev;
        free(q->path);
        free(q->body);
        free(q->reply);
        free(q);
}

int etcd_client_new(etcd_client **ret, ev_loop *e, char *const *endpoints, uint64_t timeout_usec) {
        etcd_client *c;
        int r;

        if (!endpoints || !endpoints[0])
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = ev_ref(e);
        c->timeout_usec = timeout_usec ? timeout_usec : 5 * 1000000ULL;
        c->seed = (unsigned) getpid() ^ (unsigned) (uintptr_t) c ^ (unsigned) time(NULL);
        for (size_t i = 0; endpoints[i]; i++) {
                if (i >= ETCD_ENDPOINTS_MAX || (strncmp(endpoints[i], "http://", 7) && strncmp(endpoints[i], "https://", 8))) {
                        etcd_client_free(c);
                        return -EINVAL;
                }
                if (!(c->endpoints[i] = strdup(endpoints[i]))) {
                        etcd_client_free(c);
                        return -ENOMEM;
                }
                c->n_endpoints++;
        }
        if ((r = curl_glue_new(&c->glue, e)) < 0) {
                etcd_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

etcd_client *etcd_client_free(etcd_client *c) {
        if (!c)
                return NULL;
        while (c->watches)
                etcd_watch_close(c->watches);
        while (c->head) {
                if (c->head->abandon)
                        c->head->abandon(c->head->userdata);
                request_free(c->head);
        }
        c->glue = curl_glue_free(c->glue);
        for (size_t i = 0; i < c->n_endpoints; i++)
                free(c->endpoints[i]);
        ev_unref(c->event);
        free(c);
        return NULL;
}

uint64_t etcd_client_requests(const etcd_client *c) {
        return c->requests;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata) {
        request *q = userdata;
        size_t add = size * n;
        if (q->too_big || q->len + add > ETCD_REPLY_MAX) {
                q->too_big = true;
                return add;
        }
        char *b = realloc(q->reply, q->len + add + 1);
        if (!b)
                return 0;
        memcpy(b + q->len, ptr, add);
        q->len += add;
        b[q->len] = 0;
        q->reply = b;
        return add;
}

static int send_next(request *q);

static void finish(request *q, int error, const etcd_reply *reply, const char *why) {
        etcd_cb cb = q->cb;
        void *ud = q->userdata;
        etcd_client *c = q->client;
        request_free(q);
        cb(c, error, reply, why, ud);
}

static void on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        request *q = userdata;
        _cleanup_(etcd_reply_freep) etcd_reply *rep = NULL;
        char why[ETCD_ERROR_MAX + 64];
        long code = 0;
        int r;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(easy);
        q->easy = NULL;
        if (result != CURLE_OK) {
                (void) snprintf(why, sizeof(why), "%s: %s", q->client->endpoints[(q->tried - 1) % q->client->n_endpoints],
                                curl_easy_strerror(result));
                if (q->tried < q->client->n_endpoints && send_next(q) >= 0)
                        return;
                finish(q, result == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH, NULL, why);
                return;
        }
        if (q->too_big) {
                finish(q, -EMSGSIZE, NULL, "reply larger than the limit");
                return;
        }
        char err[ETCD_ERROR_MAX];
        r = etcd_reply_parse(q->reply ? q->reply : "", q->len, &rep, err);
        if (r < 0) {
                (void) snprintf(why, sizeof(why), "HTTP %ld, reply does not parse: %s", code, err);
                finish(q, r, NULL, why);
                return;
        }
        /* a member that cannot serve (no leader, no quorum) says so: another one may */
        if (rep->is_error && rep->code == 14 && q->tried < q->client->n_endpoints) {
                free(q->reply);
                q->reply = NULL;
                q->len = 0;
                if (send_next(q) >= 0)
                        return;
        }
        finish(q, 0, rep, rep->is_error ? rep->message : "");
}

static int send_next(request *q) {
        etcd_client *c = q->client;
        char url[512];
        int r;

        if (!(q->easy = curl_easy_init()))
                return -ENOMEM;
        (void) snprintf(url, sizeof(url), "%s%s", c->endpoints[q->tried % c->n_endpoints], q->path);
        q->tried++;
        c->requests++;
        (void) curl_easy_setopt(q->easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body);
        (void) curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
        (void) curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, (long) (c->timeout_usec / 1000));
        if ((r = curl_glue_add(c->glue, q->easy, on_done, q)) < 0) {
                curl_easy_cleanup(q->easy);
                q->easy = NULL;
                return r;
        }
        return 0;
}

/* Takes body (malloc'ed). */
static int submit(etcd_client *c, const char *path, char *body, etcd_cb cb, void *userdata) {
        request *q;
        int r;

        if (!body)
                return -ENOMEM;
        q = calloc(1, sizeof(*q));
        if (!q || !(q->path = strdup(path))) {
                free(q);
                free(body);
                return -ENOMEM;
        }
        q->client = c;
        q->body = body;
        q->cb = cb;
        q->userdata = userdata;
        q->next = c->head;
        if (c->head)
                c->head->prev = q;
        c->head = q;
        if ((r = send_next(q)) < 0) {
                request_free(q);
                return r;
        }
        return 0;
}

static char *b64(const char *s) {
        char *out = NULL;
        return base64_encode(s, strlen(s), &out) < 0 ? NULL : out;
}

static char *printf_alloc(const char *fmt, ...) _printf_(1, 2);
static char *printf_alloc(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int k = vasprintf(&s, fmt, ap);
        va_end(ap);
        return k < 0 ? NULL : s;
}

int etcd_lease_grant(etcd_client *c, int64_t ttl_sec, etcd_cb cb, void *userdata) {
        return submit(c, "/v3/lease/grant", printf_alloc("{\"TTL\":\"%" PRId64 "\"}", ttl_sec), cb, userdata);
}

int etcd_lease_keepalive(etcd_client *c, int64_t id, etcd_cb cb, void *userdata) {
        return submit(c, "/v3/lease/keepalive", printf_alloc("{\"ID\":\"%" PRId64 "\"}", id), cb, userdata);
}

int etcd_lease_revoke(etcd_client *c, int64_t id, etcd_cb cb, void *userdata) {
        return submit(c, "/v3/lease/revoke", printf_alloc("{\"ID\":\"%" PRId64 "\"}", id), cb, userdata);
}

int etcd_put(etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *k = b64(key), *v = b64(value);
        if (!k || !v)
                return -ENOMEM;
        return submit(c, "/v3/kv/put", printf_alloc("{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" PRId64 "\"}", k, v, lease),
                      cb, userdata);
}

/* The end of a prefix's range: the prefix with its last byte incremented. */
static char *prefix_end(const char *prefix) {
        size_t n = strlen(prefix);
        char *e = strdup(prefix);
        while (e && n > 0) {
                if ((unsigned char) e[n - 1] < 0xff) {
                        e[n - 1]++;
                        e[n] = 0;
                        return e;
                }
                n--;
        }
        free(e);
        return strdup("\\0"); /* not reached for the prefixes used here */
}

int etcd_get_prefix(etcd_client *c, const char *prefix, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *end = prefix_end(prefix), *k = b64(prefix), *e = end ? b64(end) : NULL;
        if (!k || !e)
                return -ENOMEM;
        return submit(c, "/v3/kv/range", printf_alloc("{\"key\":\"%s\",\"range_end\":\"%s\"}", k, e), cb, userdata);
}

int etcd_count_prefix(etcd_client *c, const char *prefix, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *end = prefix_end(prefix), *k = b64(prefix), *e = end ? b64(end) : NULL;
        if (!k || !e)
                return -ENOMEM;
        return submit(c, "/v3/kv/range",
                      printf_alloc("{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}", k, e), cb, userdata);
}

int etcd_delete(etcd_client *c, const char *key, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *k = b64(key);
        if (!k)
                return -ENOMEM;
        return submit(c, "/v3/kv/deleterange", printf_alloc("{\"key\":\"%s\"}", k), cb, userdata);
}

int etcd_create(etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *k = b64(key), *v = b64(value);
        if (!k || !v)
                return -ENOMEM;
        return submit(c, "/v3/kv/txn",
                      printf_alloc("{\"compare\":[{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"0\"}],"
                                   "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" PRId64 "\"}}],"
                                   "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}",
                                   k, k, v, lease, k),
                      cb, userdata);
}

int etcd_put_if(etcd_client *c, const char *key, const char *value, int64_t mod_revision, etcd_cb cb, void *userdata) {
        _cleanup_(freep) char *k = b64(key), *v = value ? b64(value) : NULL, *cmp = NULL, *op = NULL;
        if (!k || (value && !v))
                return -ENOMEM;
        cmp = mod_revision > 0 ? printf_alloc("{\"target\":\"MOD\",\"key\":\"%s\",\"mod_revision\":\"%" PRId64 "\"}", k,
                                              mod_revision)
                               : printf_alloc("{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"0\"}", k);
        op = value ? printf_alloc("{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}", k, v)
                   : printf_alloc("{\"request_delete_range\":{\"key\":\"%s\"}}", k);
        if (!cmp || !op)
                return -ENOMEM;
        return submit(c, "/v3/kv/txn",
                      printf_alloc("{\"compare\":[%s],\"success\":[%s],\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}", cmp,
                                   op, k),
                      cb, userdata);
}

/* ---- slots ----
 *
 * One read of the slot keys, then a create on a free index: two requests when a slot is free,
 * one when none is, whatever K. A create that loses a race (another holder took that index
 * between the read and the create) reads again, a bounded number of times. */

#define SLOT_RACES_MAX 3u

typedef struct slot_try {
        char *prefix, *holder;
        unsigned k, races, trying;
        int64_t lease;
        etcd_slot_cb cb;
        void *userdata;
} slot_try;

static void slot_try_free(slot_try *t) {
        free(t->prefix);
        free(t->holder);
        free(t);
}

static void slot_end(etcd_client *c, slot_try *t, int error, unsigned slot, const char *why) {
        t->cb(c, error, slot, why, t->userdata);
        slot_try_free(t);
}

static int slot_read(etcd_client *c, slot_try *t);

/* A slot's request owns its slot_try until it answers: the client frees it if it goes first
 * (submit() put the request at the head). */
static void slot_try_abandon(void *userdata) {
        slot_try_free(userdata);
}

static int slot_owned(etcd_client *c, int r) {
        if (r >= 0)
                c->head->abandon = slot_try_abandon;
        return r;
}

static void on_created(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        slot_try *t = userdata;

        if (error < 0 || rep->is_error) {
                slot_end(c, t, error < 0 ? error : -EIO, 0, why);
                return;
        }
        if (rep->succeeded) {
                slot_end(c, t, 0, t->trying, "");
                return;
        }
        if (++t->races > SLOT_RACES_MAX) {
                slot_end(c, t, -EBUSY, 0, "every free slot was taken by another holder meanwhile");
                return;
        }
        int r = slot_read(c, t);
        if (r < 0)
                slot_end(c, t, r, 0, "cannot send the request");
}

/* The index a slot key names, or -1 (not one of ours). */
static long slot_index(const slot_try *t, const char *key) {
        size_t n = strlen(t->prefix);
        char *end;
        if (strncmp(key, t->prefix, n) != 0 || !key[n])
                return -1;
        long i = strtol(key + n, &end, 10);
        return *end || i < 0 || i >= (long) t->k ? -1 : i;
}

static void on_slots(etcd_client *c, int error, const etcd_reply *rep, const char *why, void *userdata) {
        slot_try *t = userdata;
        bool taken[64] = {};
        char holders[512] = "", key[512];
        int r;

        if (error < 0 || rep->is_error) {
                slot_end(c, t, error < 0 ? error : -EIO, 0, why);
                return;
        }
        for (size_t i = 0; i < rep->n_kvs; i++) {
                long idx = slot_index(t, rep->kvs[i].key);
                if (idx < 0)
                        continue;
                if (strcmp(rep->kvs[i].value, t->holder) == 0 && rep->kvs[i].lease == t->lease) {
                        slot_end(c, t, 0, (unsigned) idx, ""); /* ours already */
                        return;
                }
                taken[idx] = true;
                size_t w = strlen(holders);
                (void) snprintf(holders + w, sizeof(holders) - w, "%sslot %ld: %.64s", w ? ", " : "", idx, rep->kvs[i].value);
        }
        /* a free index at random: many waiters that read the same free slots then mostly try
         * different ones (every create that loses is a write through raft all the same) */
        unsigned free_idx[64], n_free = 0;
        for (unsigned i = 0; i < t->k; i++)
                if (!taken[i])
                        free_idx[n_free++] = i;
        if (n_free > 0) {
                t->trying = free_idx[n_free > 1 ? (unsigned) rand_r(&c->seed) % n_free : 0];
                (void) snprintf(key, sizeof(key), "%s%u", t->prefix, t->trying);
                if ((r = slot_owned(c, etcd_create(c, key, t->holder, t->lease, on_created, t))) < 0)
                        slot_end(c, t, r, 0, "cannot send the request");
                return;
        }
        char msg[600];
        (void) snprintf(msg, sizeof(msg), "all %u slot(s) held (%s)", t->k, holders);
        slot_end(c, t, -EBUSY, 0, msg);
}

static int slot_read(etcd_client *c, slot_try *t) {
        return slot_owned(c, etcd_get_prefix(c, t->prefix, on_slots, t));
}

int etcd_slot_acquire(etcd_client *c, const char *prefix, unsigned k, const char *holder, int64_t lease, etcd_slot_cb cb,
                      void *userdata) {
        slot_try *t;
        int r;

        if (k == 0 || k > 64 || strlen(prefix) > 400)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->prefix = strdup(prefix);
        t->holder = strdup(holder);
        t->k = k;
        t->lease = lease;
        t->cb = cb;
        t->userdata = userdata;
        if (!t->prefix || !t->holder) {
                slot_try_free(t);
                return -ENOMEM;
        }
        if ((r = slot_read(c, t)) < 0)
                slot_try_free(t);
        return r;
}

/* ---- watches ---- */

struct etcd_watch {
        etcd_client *client;
        etcd_watch *prev, *next;
        CURL *easy;
        char *body;
        size_t endpoint;
        etcd_watch_parser *parser;
        /* what libcurl's write callback received, read by a defer source: the callbacks it
         * leads to may send requests, which libcurl refuses from inside its own callbacks */
        char *in;
        size_t in_len, in_cap;
        ev_source *defer;
        etcd_watch_msg_fn on_msg;
        etcd_watch_end_fn on_end;
        void *userdata;
        int end_error;                 /* why the stream was cut from this side */
        char why[ETCD_ERROR_MAX + 64];
};

void etcd_watch_close(etcd_watch *w) {
        if (!w)
                return;
        if (w->easy) {
                curl_glue_remove(w->client->glue, w->easy);
                curl_easy_cleanup(w->easy);
        }
        if (w->prev)
                w->prev->next = w->next;
        else if (w->client->watches == w)
                w->client->watches = w->next;
        if (w->next)
                w->next->prev = w->prev;
        etcd_watch_parser_free(w->parser);
        ev_source_disable_unref(w->defer);
        free(w->in);
        free(w->body);
        free(w);
}

const char *etcd_watch_endpoint(const etcd_watch *w) {
        return w->client->endpoints[w->endpoint];
}

static int watch_on_msg(const etcd_watch_msg *m, void *userdata) {
        etcd_watch *w = userdata;
        if (m->is_error) {
                (void) snprintf(w->why, sizeof(w->why), "%s: etcd ended the watch: %s (code %d)", etcd_watch_endpoint(w),
                                m->message, m->code);
                return w->end_error = -EIO;
        }
        if (m->canceled) {
                (void) snprintf(w->why, sizeof(w->why), "%s: etcd cancelled the watch%s%s", etcd_watch_endpoint(w),
                                m->cancel_reason[0] ? ": " : "", m->cancel_reason);
                return w->end_error = -ECANCELED;
        }
        w->on_msg(w, m, w->userdata);
        return 0;
}

/* Bytes the server sent and not yet read: bounded, a stream that outruns its reader is cut. */
#define WATCH_IN_MAX (2u * ETCD_WATCH_MSG_MAX)

static size_t watch_on_body(char *ptr, size_t size, size_t n, void *userdata) {
        etcd_watch *w = userdata;
        size_t add = size * n;

        if (w->end_error)
                return 0; /* 0: libcurl ends the transfer */
        if (w->in_len + add > WATCH_IN_MAX) {
                (void) snprintf(w->why, sizeof(w->why), "%s: the watch stream sends more than %u bytes unread",
                                etcd_watch_endpoint(w), WATCH_IN_MAX);
                w->end_error = -EMSGSIZE;
                return 0;
        }
        if (w->in_len + add > w->in_cap) {
                size_t cap = w->in_len + add < 4096 ? 4096 : (w->in_len + add) * 2;
                char *b = realloc(w->in, cap);
                if (!b)
                        return 0;
                w->in = b;
                w->in_cap = cap;
        }
        memcpy(w->in + w->in_len, ptr, add);
        w->in_len += add;
        (void) ev_source_set_enabled(w->defer, EV_ONESHOT);
        return add;
}

/* Read what arrived: the messages go to on_msg. */
static void watch_read(etcd_watch *w) {
        char err[ETCD_ERROR_MAX];
        size_t len = w->in_len;

        if (w->end_error || len == 0)
                return;
        w->in_len = 0;
        int r = etcd_watch_parser_feed(w->parser, w->in, len, watch_on_msg, w, err);
        if (r < 0 && !w->end_error) {
                (void) snprintf(w->why, sizeof(w->why), "%s: the watch stream does not parse: %s", etcd_watch_endpoint(w), err);
                w->end_error = r == -ENOMEM ? r : -EBADMSG;
        }
}

static void watch_end(etcd_watch *w, int error) {
        if (w->easy) {
                curl_glue_remove(w->client->glue, w->easy);
                curl_easy_cleanup(w->easy);
                w->easy = NULL;
        }
        w->on_end(w, error, w->why, w->userdata);
        etcd_watch_close(w);
}

static int watch_on_defer(ev_source *s, void *userdata) {
        etcd_watch *w = userdata;
        watch_read(w);
        if (w->end_error)
                watch_end(w, w->end_error);
        return 0;
}

static void watch_on_done(curl_glue *g, CURL *easy, CURLcode result, void *userdata) {
        etcd_watch *w = userdata;

        curl_easy_cleanup(easy);
        w->easy = NULL;
        watch_read(w); /* the stream's last bytes */
        if (!w->end_error) {
                w->end_error = result == CURLE_OK ? -ECONNRESET : -EHOSTUNREACH;
                (void) snprintf(w->why, sizeof(w->why), "%s: %s", etcd_watch_endpoint(w),
                                result == CURLE_OK ? "the server ended the watch stream" : curl_easy_strerror(result));
        }
        watch_end(w, w->end_error);
}

int etcd_watch_open(etcd_client *c, const char *key, unsigned attempt, etcd_watch_msg_fn on_msg, etcd_watch_end_fn on_end,
                    void *userdata, etcd_watch **ret) {
        _cleanup_(freep) char *k = b64(key);
        char url[512];
        etcd_watch *w;
        int r;

        if (!k)
                return -ENOMEM;
        if (!(w = calloc(1, sizeof(*w))))
                return -ENOMEM;
        w->client = c;
        w->on_msg = on_msg;
        w->on_end = on_end;
        w->userdata = userdata;
        w->endpoint = attempt % c->n_endpoints;
        w->next = c->watches;
        if (c->watches)
                c->watches->prev = w;
        c->watches = w;
        if (!(w->body = printf_alloc("{\"create_request\":{\"key\":\"%s\"}}", k)) || etcd_watch_parser_new(&w->parser) < 0 ||
            !(w->easy = curl_easy_init())) {
                etcd_watch_close(w);
                return -ENOMEM;
        }
        if ((r = ev_add_defer(c->event, &w->defer, watch_on_defer, w)) < 0 ||
            (r = ev_source_set_enabled(w->defer, EV_OFF)) < 0) {
                etcd_watch_close(w);
                return r;
        }
        (void) snprintf(url, sizeof(url), "%s/v3/watch", c->endpoints[w->endpoint]);
        c->requests++;
        (void) curl_easy_setopt(w->easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(w->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
        (void) curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watch_on_body);
        (void) curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
        (void) curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(w->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) (c->timeout_usec / 1000));
        (void) curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        (void) curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPIDLE, 10L);
        (void) curl_easy_setopt(w->easy, CURLOPT_TCP_KEEPINTVL, 5L);
        if ((r = curl_glue_add(c->glue, w->easy, watch_on_done, w)) < 0) {
                etcd_watch_close(w);
                return r;
        }
        *ret = w;
        return 0;
}
