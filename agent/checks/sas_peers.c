/* Per-peer CHILD SA counts (agent/checks/sas_peers.h). The index is rebuilt when the rows reach
 * half its size, so a lookup stays a probe or two however many peers there are. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/sas_peers.h"

static uint64_t hash(const char *conn, const char *peer, const char *child) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a over the three, NUL-separated */
        for (const char *s[] = { conn, peer, child }, **p = s; p < s + 3; p++) {
                for (const unsigned char *c = (const unsigned char *) *p; *c; c++)
                        h = (h ^ *c) * 1099511628211ull;
                h = h * 1099511628211ull;
        }
        return h;
}

static size_t slot(const sas_peers *p, const char *conn, const char *peer, const char *child, bool *found) {
        size_t mask = p->index_size - 1, i = (size_t) hash(conn, peer, child) & mask;

        for (;; i = (i + 1) & mask) {
                uint32_t k = p->index[i];
                if (k == 0) {
                        *found = false;
                        return i;
                }
                const sas_peer *r = &p->rows[k - 1];
                if (strcmp(r->conn, conn) == 0 && strcmp(r->peer, peer) == 0 && strcmp(r->child, child) == 0) {
                        *found = true;
                        return i;
                }
        }
}

static int reindex(sas_peers *p, size_t size) {
        uint32_t *index = calloc(size, sizeof(*index));
        bool found;

        if (!index)
                return -1;
        free(p->index);
        p->index = index;
        p->index_size = size;
        for (size_t k = 0; k < p->n; k++)
                p->index[slot(p, p->rows[k].conn, p->rows[k].peer, p->rows[k].child, &found)] = (uint32_t) k + 1;
        return 0;
}

sas_peer *sas_peers_row(sas_peers *p, const char *conn, const char *peer, const char *child) {
        char c[sizeof(((sas_peer *) 0)->conn)], e[sizeof(((sas_peer *) 0)->peer)], h[sizeof(((sas_peer *) 0)->child)];
        bool found;
        size_t i;

        /* cut as the row keeps them, so the same cut names find the same row */
        strncpy(c, conn, sizeof(c) - 1)[sizeof(c) - 1] = 0;
        strncpy(e, peer, sizeof(e) - 1)[sizeof(e) - 1] = 0;
        strncpy(h, child, sizeof(h) - 1)[sizeof(h) - 1] = 0;
        if (p->index_size < 2 * (p->n + 1) && reindex(p, p->index_size ? p->index_size * 2 : 64) < 0)
                return NULL;
        i = slot(p, c, e, h, &found);
        if (found)
                return &p->rows[p->index[i] - 1];
        if (p->n >= SAS_PEERS_MAX) {
                p->dropped++;
                return NULL;
        }
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 16;
                sas_peer *n = realloc(p->rows, cap * sizeof(*n));
                if (!n)
                        return NULL;
                p->rows = n;
                p->cap = cap;
        }
        sas_peer *r = &p->rows[p->n++];
        *r = (sas_peer){ 0 };
        memcpy(r->conn, c, sizeof(c));
        memcpy(r->peer, e, sizeof(e));
        memcpy(r->child, h, sizeof(h));
        p->index[i] = (uint32_t) p->n;
        return r;
}

void sas_peers_reset(sas_peers *p) {
        p->n = 0;
        p->dropped = 0;
        if (p->index)
                memset(p->index, 0, p->index_size * sizeof(*p->index));
}

void sas_peers_done(sas_peers *p) {
        free(p->rows);
        free(p->index);
        *p = (sas_peers){ 0 };
}
