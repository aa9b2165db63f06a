/* See charon_hub.h. Listeners live on a doubly linked list; a dispatch holds a depth count,
 * and removal during a dispatch only marks the listener dead and unlinks it afterwards, so an
 * iteration never steps on freed memory. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/checks/charon_hub.h"
#include "now.h"

struct charon_listener {
        charon_hub *hub;
        charon_listener *prev, *next;
        char *event; /* NULL: all */
        charon_event_cb ecb;
        charon_state_cb scb;
        void *userdata;
        charon_delivery delivery;
        bool dead;
};

struct charon_hub {
        charon_listener *head;
        unsigned depth;  /* dispatches in progress */
        bool have_dead;
        bool connected;
        int last_reason;
        uint64_t since_usec;
        bool deferrable; /* the last answer given to demand() */
        void (*demand)(void *userdata);
        void *demand_userdata;
};

bool charon_hub_events_deferrable(const charon_hub *h) {
        bool asks = false;

        for (const charon_listener *l = h->head; l; l = l->next) {
                if (l->dead || !l->ecb)
                        continue;
                if (l->delivery == CHARON_DELIVER_NOW)
                        return false;
                asks = asks || l->delivery == CHARON_DELIVER_LATER_ASKS;
        }
        return asks;
}

/* Tell the link when the answer of charon_hub_events_deferrable() changed. */
static void demand_update(charon_hub *h) {
        bool d = charon_hub_events_deferrable(h);

        if (d == h->deferrable)
                return;
        h->deferrable = d;
        if (h->demand)
                h->demand(h->demand_userdata);
}

void charon_hub_on_demand(charon_hub *h, void (*cb)(void *userdata), void *userdata) {
        h->demand = cb;
        h->demand_userdata = userdata;
        h->deferrable = charon_hub_events_deferrable(h);
}

void charon_listener_set_delivery(charon_listener *l, charon_delivery d) {
        l->delivery = d;
        demand_update(l->hub);
}

int charon_hub_new(charon_hub **ret) {
        charon_hub *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

static void listener_unlink(charon_listener *l) {
        charon_hub *h = l->hub;
        if (l->prev)
                l->prev->next = l->next;
        else
                h->head = l->next;
        if (l->next)
                l->next->prev = l->prev;
        free(l->event);
        free(l);
}

static void hub_reap(charon_hub *h) {
        if (h->depth > 0 || !h->have_dead)
                return;
        h->have_dead = false;
        for (charon_listener *l = h->head, *n; l; l = n) {
                n = l->next;
                if (l->dead)
                        listener_unlink(l);
        }
}

charon_hub *charon_hub_free(charon_hub *h) {
        if (!h)
                return NULL;
        while (h->head)
                listener_unlink(h->head);
        free(h);
        return NULL;
}

int charon_hub_listen(charon_hub *h, const char *event, charon_event_cb ecb, charon_state_cb scb,
                      void *userdata, charon_listener **ret) {
        charon_listener *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        if (event && !(l->event = strdup(event))) {
                free(l);
                return -ENOMEM;
        }
        l->hub = h;
        l->ecb = ecb;
        l->scb = scb;
        l->userdata = userdata;
        /* appended, so listeners are called in the order they came */
        if (!h->head)
                h->head = l;
        else {
                charon_listener *t = h->head;
                while (t->next)
                        t = t->next;
                t->next = l;
                l->prev = t;
        }
        *ret = l;
        demand_update(h);
        return 0;
}

charon_listener *charon_listener_free(charon_listener *l) {
        charon_hub *h;

        if (!l)
                return NULL;
        h = l->hub;
        if (h->depth > 0) {
                l->dead = true;
                h->have_dead = true;
        } else
                listener_unlink(l);
        demand_update(h);
        return NULL;
}

void charon_hub_emit_event(charon_hub *h, const char *event, const vici_node *msg) {
        h->depth++;
        for (charon_listener *l = h->head; l; l = l->next)
                if (!l->dead && l->ecb && (!l->event || strcmp(l->event, event) == 0))
                        l->ecb(event, msg, l->userdata);
        h->depth--;
        hub_reap(h);
}

void charon_hub_emit_state(charon_hub *h, bool connected, int reason) {
        h->connected = connected;
        h->last_reason = reason;
        h->since_usec = mono_usec();
        h->depth++;
        for (charon_listener *l = h->head; l; l = l->next)
                if (!l->dead && l->scb)
                        l->scb(connected, reason, l->userdata);
        h->depth--;
        hub_reap(h);
}

bool charon_hub_connected(const charon_hub *h) {
        return h->connected;
}

uint64_t charon_hub_state_since(const charon_hub *h) {
        return h->since_usec;
}

int charon_hub_last_reason(const charon_hub *h) {
        return h->last_reason;
}
