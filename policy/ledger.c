/* The ledger (see ledger.h): per failure signature, rings of the last LEDGER_HISTORY automatic
 * run and incident opening times, a circuit breaker and a flapping hold. Everything is decided
 * from those times and the policy at the moment of asking, so a policy reload applies at once.
 *
 * A breaker that closes (health or resume) also forgets the runs that tripped it: otherwise a
 * budget window longer than breaker_reset would trip it again on the very next check, and the
 * heal would be a no-op. Times that lie in the future (the realtime clock stepped back) count as
 * recent: the wrong way round would let a clock step buy a fresh budget. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "policy/ledger.h"

typedef struct ring {
        uint64_t t[LEDGER_HISTORY];
        unsigned start, n; /* oldest at start; t[(start + i) % LEDGER_HISTORY] */
} ring;

typedef struct entry {
        char sig[LEDGER_SIGNATURE_MAX + 1];
        ring runs, opens;
        bool breaker, flapping;
        uint64_t tripped_usec; /* breaker: when it tripped, */
        uint32_t tripped_runs; /* and with how many runs in the window */
        uint64_t touched_usec; /* last note or trip: eviction picks the oldest idle */
        char reason[160];      /* a trip by policy_ledger_trip(): why (else the budget) */
} entry;

struct policy_ledger {
        entry *e;
        size_t n, allocated;
};

static void ring_push(ring *r, uint64_t t) {
        if (r->n < LEDGER_HISTORY)
                r->t[(r->start + r->n++) % LEDGER_HISTORY] = t;
        else {
                r->t[r->start] = t;
                r->start = (r->start + 1) % LEDGER_HISTORY;
        }
}

static uint64_t ring_at(const ring *r, unsigned i) {
        return r->t[(r->start + i) % LEDGER_HISTORY];
}

static uint64_t ring_last(const ring *r) {
        return r->n ? ring_at(r, r->n - 1) : 0;
}

static bool recent(uint64_t t, uint64_t now, uint64_t window) {
        return t > now || now - t < window;
}

static unsigned ring_count_within(const ring *r, uint64_t now, uint64_t window) {
        unsigned c = 0;

        for (unsigned i = 0; i < r->n; i++)
                c += recent(ring_at(r, i), now, window);
        return c;
}

int policy_ledger_new(policy_ledger **ret) {
        policy_ledger *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

policy_ledger *policy_ledger_free(policy_ledger *l) {
        if (l)
                free(l->e);
        free(l);
        return NULL;
}

const char *policy_signature(char *buf, size_t size, const char *check, const char *cls,
                             const char *peer) {
        if (size > LEDGER_SIGNATURE_MAX + 1)
                size = LEDGER_SIGNATURE_MAX + 1;
        if (size == 0)
                return buf;
        snprintf(buf, size, "%s|%s|%s", check ? check : "", cls ? cls : "", peer ? peer : "");
        return buf;
}

/* Signatures longer than the limit are cut the way policy_signature() cuts them, so a caller
 * passing either form finds the same entry. */
static size_t sig_len(const char *sig) {
        return strnlen(sig, LEDGER_SIGNATURE_MAX);
}

static entry *find(const policy_ledger *l, const char *sig) {
        size_t len = sig_len(sig);

        for (size_t i = 0; i < l->n; i++)
                if (strlen(l->e[i].sig) == len && memcmp(l->e[i].sig, sig, len) == 0)
                        return &l->e[i];
        return NULL;
}

/* A slot for a new signature: a fresh one while under the limit, else the least recently
 * touched without an open breaker (an open breaker is a human's to close, never forgotten). */
static int get_or_add(policy_ledger *l, const char *sig, entry **ret) {
        entry *e = find(l, sig);
        size_t len = sig_len(sig);

        if (!e) {
                if (len == 0)
                        return -EINVAL;
                if (l->n < LEDGER_SIGNATURES_MAX) {
                        if (l->n == l->allocated) {
                                size_t a = l->allocated ? l->allocated * 2 : 16;
                                entry *ne = realloc(l->e, a * sizeof(*ne));
                                if (!ne)
                                        return -ENOMEM;
                                l->e = ne;
                                l->allocated = a;
                        }
                        e = &l->e[l->n++];
                } else {
                        for (size_t i = 0; i < l->n; i++)
                                if (!l->e[i].breaker &&
                                    (!e || l->e[i].touched_usec < e->touched_usec))
                                        e = &l->e[i];
                        if (!e)
                                return -ENOSPC;
                }
                *e = (entry){};
                memcpy(e->sig, sig, len);
        }
        *ret = e;
        return 0;
}

int policy_ledger_note_open(policy_ledger *l, const char *sig, uint64_t now_usec) {
        entry *e;
        int r = get_or_add(l, sig, &e);

        if (r < 0)
                return r;
        ring_push(&e->opens, now_usec);
        e->touched_usec = now_usec;
        return 0;
}

int policy_ledger_note_run(policy_ledger *l, const char *sig, uint64_t now_usec) {
        entry *e;
        int r = get_or_add(l, sig, &e);

        if (r < 0)
                return r;
        ring_push(&e->runs, now_usec);
        e->touched_usec = now_usec;
        return 0;
}

static void breaker_why(const entry *e, const policy_config *p, char *why, size_t size) {
        char w[32], w2[32];

        if (e->reason[0]) {
                snprintf(why, size, "%s; circuit breaker open until %s of health", e->reason,
                         duration_format(p->breaker_reset_usec, w2, sizeof(w2)));
                return;
        }
        snprintf(why, size,
                 "budget spent: %" PRIu32 " automatic runs of %s within %s (policy budget %" PRIu32
                 "/%s); circuit breaker open until %s of health",
                 e->tripped_runs, e->sig, duration_format(p->budget_window_usec, w, sizeof(w)),
                 p->budget_runs, w, duration_format(p->breaker_reset_usec, w2, sizeof(w2)));
}

ledger_verdict policy_ledger_check(policy_ledger *l, const policy_config *p, const char *sig,
                                   uint64_t now_usec, char *why, size_t why_size) {
        char w[32];
        unsigned runs, opens;
        entry *e = find(l, sig);

        if (why && why_size)
                why[0] = 0;
        else
                why = NULL;
        if (!e)
                return LEDGER_ALLOW;
        if (!e->breaker) {
                runs = ring_count_within(&e->runs, now_usec, p->budget_window_usec);
                if (runs >= p->budget_runs) {
                        e->breaker = true;
                        e->tripped_usec = now_usec;
                        e->tripped_runs = runs;
                        e->touched_usec = now_usec;
                }
        }
        if (e->breaker) {
                if (why)
                        breaker_why(e, p, why, why_size);
                return LEDGER_BREAKER_OPEN;
        }

        /* Flapping starts above the threshold and ends only after a whole quiet window, so a
         * fault that keeps returning just often enough to stay under the count is still held. */
        opens = ring_count_within(&e->opens, now_usec, p->flap_window_usec);
        if (opens > p->flap_opens)
                e->flapping = true;
        else if (e->flapping && !recent(ring_last(&e->opens), now_usec, p->flap_window_usec))
                e->flapping = false;
        if (!e->flapping)
                return LEDGER_ALLOW;
        if (why)
                snprintf(why, why_size,
                         "flapping: %u openings within %s (policy flap %" PRIu32
                         "/%s); held until quiet for %s",
                         opens, duration_format(p->flap_window_usec, w, sizeof(w)), p->flap_opens,
                         w, w);
        return LEDGER_FLAPPING;
}

void policy_ledger_trip(policy_ledger *l, const char *sig, uint64_t now_usec, const char *why) {
        entry *e;

        if (get_or_add(l, sig, &e) < 0)
                return;
        e->breaker = true;
        e->tripped_usec = now_usec;
        e->tripped_runs = ring_count_within(&e->runs, now_usec, UINT64_MAX);
        e->touched_usec = now_usec;
        snprintf(e->reason, sizeof(e->reason), "%s", why ? why : "tripped");
}

size_t policy_ledger_heal(policy_ledger *l, const policy_config *p, uint64_t now_usec) {
        size_t closed = 0;

        for (size_t i = 0; i < l->n; i++) {
                entry *e = &l->e[i];
                uint64_t quiet_since = e->tripped_usec;

                if (e->flapping && !recent(ring_last(&e->opens), now_usec, p->flap_window_usec))
                        e->flapping = false;
                if (!e->breaker)
                        continue;
                if (ring_last(&e->opens) > quiet_since)
                        quiet_since = ring_last(&e->opens);
                if (recent(quiet_since, now_usec, p->breaker_reset_usec))
                        continue;
                e->breaker = false;
                e->reason[0] = 0;
                e->runs = (ring){};
                closed++;
        }
        return closed;
}

void policy_ledger_reset(policy_ledger *l) {
        for (size_t i = 0; i < l->n; i++) {
                entry *e = &l->e[i];

                e->breaker = e->flapping = false;
                e->reason[0] = 0;
                e->runs = e->opens = (ring){};
        }
}

bool policy_ledger_breaker_open(const policy_ledger *l, const char *sig) {
        const entry *e = find(l, sig);

        return e && e->breaker;
}

size_t policy_ledger_count_open(const policy_ledger *l) {
        size_t n = 0;

        for (size_t i = 0; i < l->n; i++)
                n += l->e[i].breaker || l->e[i].flapping;
        return n;
}

static void ring_to_vici(const ring *r, vici_builder *b, const char *name) {
        char buf[24];

        vici_builder_begin_list(b, name);
        for (unsigned i = 0; i < r->n; i++) {
                snprintf(buf, sizeof(buf), "%" PRIu64, ring_at(r, i));
                vici_builder_add_list_item(b, buf);
        }
        vici_builder_end_list(b);
}

/* Per signature: lists "runs" and "opens" (oldest first), "touched", and when set "breaker"
 * (the trip time), "tripped_runs", "flapping" (1). */
void policy_ledger_to_vici(const policy_ledger *l, vici_builder *b) {
        vici_builder_begin_section(b, "ledger");
        for (size_t i = 0; i < l->n; i++) {
                const entry *e = &l->e[i];

                vici_builder_begin_section(b, e->sig);
                ring_to_vici(&e->runs, b, "runs");
                ring_to_vici(&e->opens, b, "opens");
                vici_builder_add_fmt(b, "touched", "%" PRIu64, e->touched_usec);
                if (e->breaker) {
                        vici_builder_add_fmt(b, "breaker", "%" PRIu64, e->tripped_usec);
                        vici_builder_add_fmt(b, "tripped_runs", "%" PRIu32, e->tripped_runs);
                        if (e->reason[0])
                                vici_builder_add_str(b, "reason", e->reason);
                }
                if (e->flapping)
                        vici_builder_add_str(b, "flapping", "1");
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
}

/* Digits only, no sign or blanks, no overflow: anything else is a corrupt file, not a guess. */
static int value_u64(const vici_node *v, uint64_t *ret) {
        uint64_t x = 0;

        if (v->type != VICI_NODE_VALUE || v->len == 0 || v->len > 20)
                return -EBADMSG;
        for (size_t i = 0; i < v->len; i++) {
                unsigned d = (unsigned char) v->value[i] - '0';
                if (d > 9 || x > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                x = x * 10 + d;
        }
        *ret = x;
        return 0;
}

static int ring_from_vici(const vici_node *list, ring *r) {
        if (list->type != VICI_NODE_LIST)
                return -EBADMSG;
        *r = (ring){};
        for (const vici_node *c = list->child; c; c = c->next) {
                uint64_t t;

                if (r->n >= LEDGER_HISTORY || value_u64(c, &t) < 0)
                        return -EBADMSG;
                ring_push(r, t);
        }
        return 0;
}

static int entry_from_vici(const vici_node *s, entry *e) {
        unsigned seen = 0;

        if (s->type != VICI_NODE_SECTION || !s->name || s->name[0] == 0 ||
            strlen(s->name) > LEDGER_SIGNATURE_MAX)
                return -EBADMSG;
        *e = (entry){};
        memcpy(e->sig, s->name, strlen(s->name));
        for (const vici_node *c = s->child; c; c = c->next) {
                static const char *const keys[] = {"runs",    "opens",        "touched",
                                                   "breaker", "tripped_runs", "flapping", "reason"};
                uint64_t v = 0;
                unsigned k;
                int r;

                for (k = 0; k < ELEMENTSOF(keys) && strcmp(c->name ? c->name : "", keys[k]) != 0;
                     k++)
                        ;
                if (k == ELEMENTSOF(keys) || (seen & (1u << k)))
                        return -EBADMSG;
                seen |= 1u << k;
                if (k <= 1)
                        r = ring_from_vici(c, k == 0 ? &e->runs : &e->opens);
                else if (k == 6) {
                        if (c->type != VICI_NODE_VALUE || c->len == 0 || c->len >= sizeof(e->reason) ||
                            memchr(c->value, 0, c->len))
                                return -EBADMSG;
                        memcpy(e->reason, c->value, c->len);
                        continue;
                } else
                        r = value_u64(c, &v);
                if (r < 0)
                        return r;
                switch (k) {
                case 2:
                        e->touched_usec = v;
                        break;
                case 3:
                        e->breaker = true;
                        e->tripped_usec = v;
                        break;
                case 4:
                        if (v > UINT32_MAX)
                                return -EBADMSG;
                        e->tripped_runs = (uint32_t) v;
                        break;
                case 5:
                        if (v != 1)
                                return -EBADMSG;
                        e->flapping = true;
                        break;
                }
        }
        /* Each list is mandatory, and a trip count without a breaker is not something we write. */
        if ((seen & 3u) != 3u || (seen & (1u << 2)) == 0 || (!e->breaker && (seen & (1u << 4 | 1u << 6))))
                return -EBADMSG;
        return 0;
}

int policy_ledger_from_vici(policy_ledger *l, const vici_node *section) {
        entry *ne = NULL;
        size_t n = 0;
        int r = 0;

        free(l->e);
        *l = (policy_ledger){};
        if (!section)
                return 0;
        if (section->type != VICI_NODE_SECTION)
                return -EBADMSG;
        for (const vici_node *c = section->child; c; c = c->next)
                if (++n > LEDGER_SIGNATURES_MAX)
                        return -EBADMSG;
        if (n == 0)
                return 0;
        ne = calloc(n, sizeof(*ne));
        if (!ne)
                return -ENOMEM;
        n = 0;
        for (const vici_node *c = section->child; c && r >= 0; c = c->next) {
                r = entry_from_vici(c, &ne[n]);
                if (r >= 0 && find(&(policy_ledger){.e = ne, .n = n}, ne[n].sig))
                        r = -EBADMSG; /* the same signature twice */
                n++;
        }
        if (r < 0) {
                free(ne);
                return r;
        }
        *l = (policy_ledger){.e = ne, .n = n, .allocated = n};
        return 0;
}
