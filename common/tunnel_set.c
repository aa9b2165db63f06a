/* See tunnel_set.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tunnel_set.h"
#include "macro.h"

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

static bool name_ok(const char *s, size_t len) {
        if (len == 0 || len >= TUNNEL_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] <= ' ' || s[i] == '/' || s[i] == 0x7f)
                        return false;
        return true;
}

int tunnel_name_split(const char *s, char conn[TUNNEL_NAME_MAX], char child[TUNNEL_NAME_MAX]) {
        const char *slash = s ? strchr(s, '/') : NULL;

        if (!slash || !name_ok(s, (size_t) (slash - s)) || !name_ok(slash + 1, strlen(slash + 1)))
                return -EINVAL;
        memcpy(conn, s, (size_t) (slash - s));
        conn[slash - s] = 0;
        (void) snprintf(child, TUNNEL_NAME_MAX, "%s", slash + 1);
        return 0;
}

tunnel *tunnel_set_find(tunnel_set *s, const char *conn, const char *child) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->t[i].conn, conn) == 0 && strcmp(s->t[i].child, child) == 0)
                        return &s->t[i];
        return NULL;
}

int tunnel_set_add(tunnel_set *s, const char *conn, const char *child, unsigned origin) {
        tunnel *t;

        if (!name_ok(conn, strlen(conn)) || !name_ok(child, strlen(child)))
                return -EINVAL;
        if ((t = tunnel_set_find(s, conn, child))) {
                t->origin |= origin;
                return 0;
        }
        if (s->n >= TUNNELS_MAX) {
                s->dropped++;
                return -E2BIG;
        }
        t = &s->t[s->n++];
        *t = (tunnel){ .origin = origin, .idle_in = TUNNEL_NEVER, .idle_out = TUNNEL_NEVER,
                       .installed_for = TUNNEL_NEVER };
        (void) snprintf(t->conn, sizeof(t->conn), "%s", conn);
        (void) snprintf(t->child, sizeof(t->child), "%s", child);
        return 0;
}

void tunnel_set_from_swanctl(tunnel_set *s, const swconf *c) {
        const char *conns[TUNNELS_MAX], *children[TUNNELS_MAX];
        char key[3 * 256];

        size_t nc = min_size(swconf_children(c, "connections", conns, TUNNELS_MAX), TUNNELS_MAX);
        for (size_t i = 0; i < nc; i++) {
                (void) snprintf(key, sizeof(key), "connections.%s.children", conns[i]);
                size_t nk = min_size(swconf_children(c, key, children, TUNNELS_MAX), TUNNELS_MAX);
                for (size_t k = 0; k < nk; k++) {
                        (void) snprintf(key, sizeof(key), "connections.%s.children.%s.start_action", conns[i],
                                        children[k]);
                        const char *a = swconf_get(c, key);
                        unsigned origin = (a && strstr(a, "start") ? TUNNEL_FROM_START : 0) |
                                          (a && strstr(a, "trap") ? TUNNEL_FROM_TRAP : 0);
                        if (origin)
                                (void) tunnel_set_add(s, conns[i], children[k], origin);
                }
        }
}

void tunnel_set_reset(tunnel_set *s) {
        for (size_t i = 0; i < s->n; i++) {
                tunnel *t = &s->t[i];
                t->loaded = t->installed = t->trapped = false;
                t->peer_id[0] = t->peer_addr[0] = 0;
                t->ike = TUNNEL_IKE_NONE;
                t->children = 0;
                t->encap = false;
                t->bytes_in = t->bytes_out = t->packets_in = t->packets_out = 0;
                t->idle_in = t->idle_out = t->installed_for = TUNNEL_NEVER;
        }
}

/* A node's name as a bounded C string; NULL if it has none or it does not fit. */
static const char *node_name(const vici_node *n, char *buf, size_t size) {
        if (!n->name || strlen(n->name) >= size)
                return NULL;
        (void) snprintf(buf, size, "%s", n->name);
        return buf;
}

static void copy_str(char *dst, size_t size, const char *src) {
        if (src)
                (void) snprintf(dst, size, "%s", src);
}

/* The first item of a list (remote_addrs = [ 192.0.2.1 ]); NULL if none. */
static const char *first_item(const vici_node *sec, const char *key) {
        const vici_node *l = vici_node_get(sec, key);
        if (!l || l->type != VICI_NODE_LIST || !l->child || l->child->type != VICI_NODE_VALUE || !l->child->value ||
            strlen(l->child->value) != l->child->len)
                return NULL;
        return l->child->value;
}

void tunnel_set_conn(tunnel_set *s, const vici_node *item) {
        char conn[TUNNEL_NAME_MAX];

        for (const vici_node *c = item ? item->child : NULL; c; c = c->next) {
                if (c->type != VICI_NODE_SECTION || !node_name(c, conn, sizeof(conn)))
                        continue;
                const char *addr = first_item(c, "remote_addrs"), *id = NULL;
                /* the remote auth rounds: remote-1, remote-2 … (the first that names an id) */
                for (const vici_node *r = c->child; r && !id; r = r->next)
                        if (r->type == VICI_NODE_SECTION && r->name && strncmp(r->name, "remote", 6) == 0)
                                id = vici_node_str(r, "id");
                const vici_node *children = vici_node_get(c, "children");
                for (size_t i = 0; i < s->n; i++) {
                        tunnel *t = &s->t[i];
                        if (strcmp(t->conn, conn) != 0)
                                continue;
                        for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next)
                                if (ch->type == VICI_NODE_SECTION && ch->name && strcmp(ch->name, t->child) == 0)
                                        t->loaded = true;
                        /* %any is no address to name */
                        if (addr && strcmp(addr, "%any") != 0 && strcmp(addr, "%any6") != 0)
                                copy_str(t->peer_addr, sizeof(t->peer_addr), addr);
                        if (id && strcmp(id, "%any") != 0)
                                copy_str(t->peer_id, sizeof(t->peer_id), id);
                }
        }
}

static tunnel_ike ike_of(const char *state) {
        if (!state)
                return TUNNEL_IKE_OTHER;
        if (strcmp(state, "ESTABLISHED") == 0 || strcmp(state, "REKEYING") == 0 || strcmp(state, "REKEYED") == 0)
                return TUNNEL_IKE_ESTABLISHED;
        if (strcmp(state, "CONNECTING") == 0)
                return TUNNEL_IKE_CONNECTING;
        return TUNNEL_IKE_OTHER;
}

static uint64_t u64_or(const vici_node *sec, const char *key, uint64_t dflt) {
        uint64_t v;
        return vici_node_u64(sec, key, &v) >= 0 ? v : dflt;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void tunnel_set_sa(tunnel_set *s, const vici_node *item) {
        char conn[TUNNEL_NAME_MAX];

        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                if (ike->type != VICI_NODE_SECTION || !node_name(ike, conn, sizeof(conn)))
                        continue;
                tunnel_ike st = ike_of(vici_node_str(ike, "state"));
                const vici_node *children = vici_node_get(ike, "child-sas");
                for (size_t i = 0; i < s->n; i++) {
                        tunnel *t = &s->t[i];
                        if (strcmp(t->conn, conn) != 0)
                                continue;
                        /* several IKE_SAs of one connection (a duplicate, a reauthentication):
                         * the best one stands for the tunnel */
                        if (st > t->ike)
                                t->ike = st;
                        if (!t->peer_id[0])
                                copy_str(t->peer_id, sizeof(t->peer_id), vici_node_str(ike, "remote-id"));
                        if (!t->peer_addr[0])
                                copy_str(t->peer_addr, sizeof(t->peer_addr), vici_node_str(ike, "remote-host"));
                        for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next) {
                                const char *name = vici_node_str(ch, "name"), *cst = vici_node_str(ch, "state");
                                if (ch->type != VICI_NODE_SECTION || !name || strcmp(name, t->child) != 0 || !cst ||
                                    strcmp(cst, "INSTALLED") != 0)
                                        continue;
                                t->installed = true;
                                t->children++;
                                t->encap = t->encap || (vici_node_str(ch, "encap") && strcmp(vici_node_str(ch, "encap"), "yes") == 0);
                                t->bytes_in = sat_add(t->bytes_in, u64_or(ch, "bytes-in", 0));
                                t->bytes_out = sat_add(t->bytes_out, u64_or(ch, "bytes-out", 0));
                                t->packets_in = sat_add(t->packets_in, u64_or(ch, "packets-in", 0));
                                t->packets_out = sat_add(t->packets_out, u64_or(ch, "packets-out", 0));
                                t->idle_in = min_u64(t->idle_in, u64_or(ch, "use-in", TUNNEL_NEVER));
                                t->idle_out = min_u64(t->idle_out, u64_or(ch, "use-out", TUNNEL_NEVER));
                                t->installed_for = min_u64(t->installed_for, u64_or(ch, "install-time", TUNNEL_NEVER));
                        }
                }
        }
}

void tunnel_set_policy(tunnel_set *s, const vici_node *item) {
        for (const vici_node *p = item ? item->child : NULL; p; p = p->next) {
                const char *child = vici_node_str(p, "child"), *ike = vici_node_str(p, "ike");
                tunnel *t;
                if (p->type == VICI_NODE_SECTION && child && ike && (t = tunnel_set_find(s, ike, child)))
                        t->trapped = true;
        }
}

void tunnel_peer(const tunnel *t, char *out, size_t size) {
        if (t->peer_id[0] && t->peer_addr[0])
                (void) snprintf(out, size, "%s@%s", t->peer_id, t->peer_addr);
        else
                (void) snprintf(out, size, "%s", t->peer_id[0] ? t->peer_id : t->peer_addr[0] ? t->peer_addr : "?");
}

const char *tunnel_ike_to_string(tunnel_ike i) {
        switch (i) {
        case TUNNEL_IKE_NONE:
                return "none";
        case TUNNEL_IKE_OTHER:
                return "going";
        case TUNNEL_IKE_CONNECTING:
                return "connecting";
        case TUNNEL_IKE_ESTABLISHED:
                return "established";
        }
        return "?";
}
