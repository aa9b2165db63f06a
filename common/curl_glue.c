/* See curl_glue.h. The multi handle tells us which sockets to watch (socket callback) and when
 * to call it back (timer callback); we turn those into sd-event io sources and one timer, and
 * hand activity back with curl_multi_socket_action(). Finished transfers are collected after
 * every action. Per-transfer state (callback, userdata) lives in CURLOPT_PRIVATE. */
#include <errno.h>
#include <stdlib.h>

#include "curl_glue.h"
#include "curl_lib.h"

typedef struct transfer transfer;
struct transfer {
        CURL *easy;
        curl_glue_done_cb cb;
        void *userdata;
        transfer *next; /* every transfer running, so free() can remove them (libcurl 7.88 has
                         * no curl_multi_get_handles) */
};

struct curl_glue {
        ev_loop *event;
        CURLM *multi;
        ev_source *timer;
        transfer *running;
};

static void transfer_unlink(curl_glue *g, transfer *t) {
        for (transfer **p = &g->running; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        return;
                }
}

static void collect(curl_glue *g) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(g->multi, &left))) {
                transfer *t = NULL;
                CURL *easy = m->easy_handle;
                CURLcode result = m->data.result;

                if (m->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
                (void) curl_multi_remove_handle(g->multi, easy);
                (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                if (t) {
                        curl_glue_done_cb cb = t->cb;
                        void *ud = t->userdata;
                        transfer_unlink(g, t);
                        free(t);
                        cb(g, easy, result, ud);
                }
        }
}

static int on_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        curl_glue *g = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLPRI | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(g->multi, fd, action, &running);
        collect(g);
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        curl_glue *g = userp;
        ev_source *s = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        ev_source_disable_unref(s);
                        (void) curl_multi_assign(g->multi, fd, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;
        if (s)
                return ev_source_set_io_events(s, events) < 0 ? -1 : 0;
        if (ev_add_io(g->event, &s, fd, events, on_io, g) < 0)
                return -1;
        (void) curl_multi_assign(g->multi, fd, s);
        return 0;
}

static int on_timer(ev_source *s, uint64_t usec, void *userdata) {
        curl_glue *g = userdata;
        int running;

        (void) curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        collect(g);
        return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        curl_glue *g = userp;

        if (timeout_ms < 0) {
                if (g->timer)
                        (void) ev_source_set_enabled(g->timer, EV_OFF);
                return 0;
        }
        uint64_t usec = (uint64_t) timeout_ms * USEC_PER_MSEC;
        if (!g->timer)
                return ev_add_time_relative(g->event, &g->timer, CLOCK_MONOTONIC, usec, USEC_PER_MSEC,
                                                  on_timer, g) < 0 ? -1 : 0;
        if (ev_source_set_time_relative(g->timer, usec) < 0 ||
            ev_source_set_enabled(g->timer, EV_ONESHOT) < 0)
                return -1;
        return 0;
}

int curl_glue_new(curl_glue **ret, ev_loop *e) {
        curl_glue *g;
        int r;

        /* libcurl is loaded here at the latest (common/curl_lib.h): a library that cannot be
         * loaded is that error, not an out-of-memory */
        r = curl_lib_load();
        if (r < 0)
                return r;
        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->multi = curl_multi_init();
        if (!g->multi) {
                free(g);
                return -ENOMEM;
        }
        g->event = ev_ref(e);
        (void) curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        (void) curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
        (void) curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
        (void) curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
        *ret = g;
        return 0;
}

void curl_glue_remove(curl_glue *g, CURL *easy) {
        transfer *t = NULL;

        if (!g || !easy)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
        (void) curl_multi_remove_handle(g->multi, easy);
        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        if (t)
                transfer_unlink(g, t);
        free(t);
}

curl_glue *curl_glue_free(curl_glue *g) {
        if (!g)
                return NULL;
        while (g->running)
                curl_glue_remove(g, g->running->easy);
        curl_multi_cleanup(g->multi); /* its sockets' sources were removed via CURL_POLL_REMOVE */
        ev_source_disable_unref(g->timer);
        ev_unref(g->event);
        free(g);
        return NULL;
}

int curl_glue_add(curl_glue *g, CURL *easy, curl_glue_done_cb cb, void *userdata) {
        transfer *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->easy = easy;
        t->cb = cb;
        t->userdata = userdata;
        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
        if (curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EIO;
        }
        t->next = g->running;
        g->running = t;
        return 0;
}
