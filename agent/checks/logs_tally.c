/* See logs_tally.h. The table is Metwally's space-saving scheme: while it has room every peer
 * gets an exact counter; once full, a new peer replaces the one with the fewest failures and
 * inherits its count as a possible over-count (err). Heavy hitters stay; a flood of one-off
 * peers churns through the least-counted slot only. The distinct-peer estimate is HyperLogLog
 * with LOGS_TALLY_HLL one-byte registers per time slice, merged over the live slices, with the
 * linear-counting correction for small numbers. */
#include <stdio.h>
#include <string.h>

#include "agent/checks/logs_tally.h"
#include "macro.h"

/* ln(x) for x > 0, without libm: x = m·2^k with m in [1, 2), ln m = 2·atanh((m-1)/(m+1)). */
static double ln(double x) {
        int k = 0;
        while (x >= 2) {
                x /= 2;
                k++;
        }
        while (x < 1) {
                x *= 2;
                k--;
        }
        double y = (x - 1) / (x + 1), y2 = y * y, term = y, sum = 0;
        for (int i = 1; i < 30; i += 2) {
                sum += term / i;
                term *= y2;
        }
        return 2 * sum + k * 0.69314718055994530942;
}

static uint64_t hash_str(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a, then a final mix for HLL's bits */
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(1099511628211);
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        return h;
}

void logs_tally_init(logs_tally *t, uint64_t window) {
        *t = (logs_tally){ .window = window ? window : 1 };
        t->slot_len = t->window / LOGS_TALLY_SLOTS ? t->window / LOGS_TALLY_SLOTS : 1;
}

uint64_t logs_tally_quiet(const logs_tally *t, const logs_tally_peer *p) {
        uint64_t q = p->gap_max > LOGS_TALLY_QUIET_MAX / 3 ? LOGS_TALLY_QUIET_MAX : 3 * p->gap_max;
        if (!p->sticky || q < t->window)
                q = t->window;
        return q;
}

void logs_tally_name(const logs_tally_peer *p, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s%s%s", p->id, p->id[0] && p->addr[0] ? "@" : "", p->addr);
}

/* The slice of time now falls in, emptied first if it last held an older slice. */
static size_t slot_at(logs_tally *t, logs_tally_class *c, uint64_t now) {
        uint64_t epoch = now / t->slot_len;
        size_t i = (size_t) (epoch % LOGS_TALLY_SLOTS);
        if (c->slot_epoch[i] != epoch) {
                c->slot_epoch[i] = epoch;
                c->slot_count[i] = 0;
                memset(c->hll[i], 0, sizeof(c->hll[i]));
        }
        return i;
}

static bool slot_live(const logs_tally *t, const logs_tally_class *c, size_t i, uint64_t now) {
        uint64_t epoch = now / t->slot_len;
        return c->slot_count[i] && c->slot_epoch[i] <= epoch && epoch - c->slot_epoch[i] < LOGS_TALLY_SLOTS;
}

static bool same_peer(const logs_tally_peer *e, const char *addr, const char *id) {
        /* two identities behind one address (a NAT) are two peers */
        if (id[0] && e->id[0] && strcmp(id, e->id) != 0)
                return false;
        if (addr[0] && e->addr[0])
                return strcmp(addr, e->addr) == 0;
        return id[0] && e->id[0] && strcmp(id, e->id) == 0;
}

static logs_tally_peer *peer_find(logs_tally_class *c, uint64_t h, const char *addr, const char *id) {
        for (size_t i = 0; i < c->n_top; i++) {
                logs_tally_peer *e = &c->top[i];
                /* the hash decides fast for the common case (same key as stored) */
                if ((e->hash == h || e->hash == 0 || !addr[0] || !e->addr[0]) && same_peer(e, addr, id))
                        return e;
        }
        return NULL;
}

/* Room for a new peer: a free entry, else the least-counted one (a non-sticky one first). */
static logs_tally_peer *peer_slot(logs_tally_class *c, uint64_t now, uint64_t *ret_err) {
        logs_tally_peer *min = NULL;

        *ret_err = 0;
        if (c->n_top < LOGS_TALLY_TOP)
                return &c->top[c->n_top++];
        for (size_t i = 0; i < c->n_top; i++) {
                logs_tally_peer *e = &c->top[i];
                if (!min || (min->sticky && !e->sticky) ||
                    (min->sticky == e->sticky && e->count < min->count))
                        min = e;
        }
        *ret_err = min->count;
        c->last_evict = now;
        return min; /* replaced in place: the listing orders by first-seen time */
}

static void copy_key(char *dst, const char *src) {
        size_t n = strnlen(src, LOGS_TALLY_KEY_MAX - 1);
        memcpy(dst, src, n);
        dst[n] = 0;
}

unsigned logs_tally_add(logs_tally *t, fault_class cls, unsigned event, const char *addr, const char *id,
                        bool sticky, uint64_t now) {
        logs_tally_class *c;
        logs_tally_peer *e;
        unsigned news = 0;
        uint64_t h, err;

        if ((unsigned) cls >= _FAULT_CLASS_MAX || cls == FAULT_NONE || (!addr[0] && !id[0]))
                return 0;
        c = &t->cls[cls];
        if (logs_tally_count(t, cls, now) == 0)
                news |= LOGS_TALLY_NEW_CLASS;
        size_t s = slot_at(t, c, now);
        c->slot_count[s]++;
        c->last_event = event;

        /* distinct peers: by identity where one is known (a flood may come from one address) */
        uint64_t hd = hash_str(id[0] ? id : addr);
        uint8_t *reg = &c->hll[s][hd % LOGS_TALLY_HLL];
        uint64_t w = hd / LOGS_TALLY_HLL;
        uint8_t rank = (uint8_t) (w ? __builtin_ctzll(w) + 1 : 58);
        if (rank > *reg)
                *reg = rank;

        h = addr[0] ? hash_str(addr) : hd;
        e = peer_find(c, h, addr, id);
        if (!e) {
                e = peer_slot(c, now, &err);
                *e = (logs_tally_peer){ .hash = h, .count = err, .err = err, .first = now, .last = now };
                copy_key(e->addr, addr);
                copy_key(e->id, id);
                news |= LOGS_TALLY_NEW_PEER;
        } else {
                if (now - e->last > e->gap_max && now > e->last)
                        e->gap_max = now - e->last;
                if ((!e->addr[0] && addr[0]) || (!e->id[0] && id[0])) {
                        if (!e->addr[0]) {
                                copy_key(e->addr, addr);
                                e->hash = h;
                        }
                        if (!e->id[0])
                                copy_key(e->id, id);
                        news |= LOGS_TALLY_NAMED;
                }
                e->last = now;
        }
        e->count++;
        e->event = event;
        e->sticky |= sticky;
        return news;
}

static void drop(logs_tally_class *c, size_t i) {
        memmove(&c->top[i], &c->top[i + 1], (c->n_top - i - 1) * sizeof(c->top[0]));
        c->n_top--;
}

bool logs_tally_success(logs_tally *t, const char *addr, const char *id, char *ret_name, size_t size) {
        bool found = false;

        if (!addr[0] && !id[0])
                return false;
        for (size_t k = 1; k < _FAULT_CLASS_MAX; k++) {
                logs_tally_class *c = &t->cls[k];
                for (size_t i = 0; i < c->n_top;) {
                        logs_tally_peer *e = &c->top[i];
                        if (!same_peer(e, addr, id)) {
                                i++;
                                continue;
                        }
                        if (!found && ret_name)
                                logs_tally_name(e, ret_name, size);
                        found = true;
                        /* its failures leave the window's counts, newest slice first */
                        uint64_t left = e->count - e->err;
                        for (size_t n = 0; n < LOGS_TALLY_SLOTS && left; n++) {
                                size_t best = 0;
                                for (size_t j = 1; j < LOGS_TALLY_SLOTS; j++)
                                        if (c->slot_count[j] && (!c->slot_count[best] || c->slot_epoch[j] > c->slot_epoch[best]))
                                                best = j;
                                uint64_t take = c->slot_count[best] < left ? c->slot_count[best] : left;
                                c->slot_count[best] -= take;
                                left -= take;
                        }
                        drop(c, i);
                }
        }
        return found;
}

size_t logs_tally_expire(logs_tally *t, uint64_t now, char *ret_name, size_t size, uint64_t *ret_quiet) {
        size_t n = 0;

        for (size_t k = 1; k < _FAULT_CLASS_MAX; k++) {
                logs_tally_class *c = &t->cls[k];
                for (size_t i = 0; i < c->n_top;) {
                        logs_tally_peer *e = &c->top[i];
                        uint64_t quiet = logs_tally_quiet(t, e);
                        if (now < e->last || now - e->last <= quiet) {
                                i++;
                                continue;
                        }
                        if (e->sticky) {
                                n++;
                                if (ret_name)
                                        logs_tally_name(e, ret_name, size);
                                if (ret_quiet)
                                        *ret_quiet = quiet;
                        }
                        drop(c, i);
                }
        }
        return n;
}

void logs_tally_forget(logs_tally *t) {
        for (size_t k = 1; k < _FAULT_CLASS_MAX; k++) {
                logs_tally_class *c = &t->cls[k];
                memset(c->slot_count, 0, sizeof(c->slot_count));
                memset(c->hll, 0, sizeof(c->hll));
                c->last_evict = 0;
                for (size_t i = 0; i < c->n_top;)
                        if (c->top[i].sticky)
                                i++;
                        else
                                drop(c, i);
        }
}

uint64_t logs_tally_count(const logs_tally *t, fault_class cls, uint64_t now) {
        const logs_tally_class *c;
        uint64_t n = 0;

        if ((unsigned) cls >= _FAULT_CLASS_MAX)
                return 0;
        c = &t->cls[cls];
        for (size_t i = 0; i < LOGS_TALLY_SLOTS; i++)
                if (slot_live(t, c, i, now))
                        n += c->slot_count[i];
        return n;
}

bool logs_tally_exact(const logs_tally *t, fault_class cls, uint64_t now) {
        if ((unsigned) cls >= _FAULT_CLASS_MAX)
                return true;
        return !t->cls[cls].last_evict || now - t->cls[cls].last_evict > t->window;
}

uint64_t logs_tally_distinct(const logs_tally *t, fault_class cls, uint64_t now, bool *ret_exact) {
        const logs_tally_class *c;
        uint8_t merged[LOGS_TALLY_HLL] = {};
        double sum = 0;
        unsigned zeros = 0;

        if ((unsigned) cls >= _FAULT_CLASS_MAX) {
                *ret_exact = true;
                return 0;
        }
        c = &t->cls[cls];
        if (logs_tally_exact(t, cls, now)) {
                *ret_exact = true;
                return c->n_top;
        }
        *ret_exact = false;
        for (size_t i = 0; i < LOGS_TALLY_SLOTS; i++) {
                if (!slot_live(t, c, i, now))
                        continue;
                for (size_t j = 0; j < LOGS_TALLY_HLL; j++)
                        if (c->hll[i][j] > merged[j])
                                merged[j] = c->hll[i][j];
        }
        for (size_t j = 0; j < LOGS_TALLY_HLL; j++) {
                sum += 1.0 / (double) (UINT64_C(1) << merged[j]);
                zeros += merged[j] == 0;
        }
        double m = LOGS_TALLY_HLL, est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
        if (est <= 2.5 * m && zeros)
                est = m * ln(m / zeros);
        /* the table itself holds that many distinct peers for sure */
        return est < (double) c->n_top ? c->n_top : (uint64_t) (est + 0.5);
}

size_t logs_tally_peers(const logs_tally *t, fault_class cls, const logs_tally_peer **ret, size_t max) {
        size_t n = 0;

        if ((unsigned) cls >= _FAULT_CLASS_MAX)
                return 0;
        /* insertion by first-seen time: the table is small, and listing is rare next to adding */
        for (size_t i = 0; i < t->cls[cls].n_top; i++) {
                const logs_tally_peer *e = &t->cls[cls].top[i];
                size_t k = n < max ? n++ : max;
                while (k > 0 && ret[k - 1]->first > e->first) {
                        if (k < max)
                                ret[k] = ret[k - 1];
                        k--;
                }
                if (k < max)
                        ret[k] = e;
        }
        return n;
}

void logs_tally_restore(logs_tally *t, fault_class cls, const logs_tally_peer *p) {
        logs_tally_class *c;
        logs_tally_peer *e;
        uint64_t err;

        if ((unsigned) cls >= _FAULT_CLASS_MAX || cls == FAULT_NONE || (!p->addr[0] && !p->id[0]))
                return;
        c = &t->cls[cls];
        if (peer_find(c, p->addr[0] ? hash_str(p->addr) : hash_str(p->id), p->addr, p->id))
                return;
        e = peer_slot(c, p->last, &err);
        *e = *p;
        e->hash = p->addr[0] ? hash_str(p->addr) : hash_str(p->id);
        e->addr[LOGS_TALLY_KEY_MAX - 1] = e->id[LOGS_TALLY_KEY_MAX - 1] = 0;
        e->sticky = true;
        c->last_evict = 0;
}
