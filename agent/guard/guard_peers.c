/* The peers a guarded change must not lose: charon's `list-sas` streamed over VICI and reduced
 * to a roster, one peer a line — each ESTABLISHED IKE_SA by its remote identity and, for an
 * IKE_SA without a virtual IP (a site-to-site peer: its tunnels are configured, not asked for),
 * each INSTALLED CHILD_SA under it as "<remote identity> child <name>". The guard takes one at
 * its begin and requires every line of it back when the verification ends. The roster is
 * bounded (GUARD_PEERS_MAX): peers past it are counted, not tracked, and the guard says so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/guard/guard_internal.h"
#include "vici.h"

/* Is `line` (len bytes) a line of the roster `list`? */
static bool has_line(const char *list, const char *line, size_t len) {
        for (const char *at = list; at && *at;) {
                const char *end = strchr(at, '\n');
                size_t l = end ? (size_t) (end - at) : strlen(at);
                if (l == len && memcmp(at, line, len) == 0)
                        return true;
                at = end ? end + 1 : NULL;
        }
        return false;
}

/* One line: the peer's identity, and the CHILD_SA's name when it is one (NULL: the IKE_SA). */
static void add(guard_peers *p, const char *id, const char *child) {
        char line[GUARD_PEER_LINE_MAX];
        int k = snprintf(line, sizeof(line), "%s%s%s", id, child ? " child " : "", child ?: "");

        if (k <= 0 || (size_t) k >= sizeof(line) || strchr(line, '\n')) {
                p->untracked++; /* an identity the roster cannot hold as one line */
                return;
        }
        if (has_line(p->list, line, (size_t) k))
                return;
        if (p->len + (size_t) k + 2 > sizeof(p->list)) {
                p->untracked++;
                return;
        }
        p->len += (size_t) snprintf(p->list + p->len, sizeof(p->list) - p->len, "%s%s", p->len ? "\n" : "", line);
        p->n++;
}

void guard_peers_reset(guard_peers *p) {
        p->list[0] = 0;
        p->len = 0;
        p->n = p->untracked = 0;
}

void guard_peers_add_sas(guard_peers *p, const vici_node *item) {
        /* { <ike-sa name> { state, remote-id, remote-vips [ … ], child-sas { <child> { name, state } } } } */
        for (const vici_node *ike = item ? item->child : NULL; ike; ike = ike->next) {
                const char *st = vici_node_str(ike, "state"), *id = vici_node_str(ike, "remote-id");
                const vici_node *vips = vici_node_get(ike, "remote-vips"), *children = vici_node_get(ike, "child-sas");

                if (!st || strcmp(st, "ESTABLISHED") != 0)
                        continue;
                if (!id || !id[0])
                        id = vici_node_str(ike, "remote-host") ?: "?";
                add(p, id, NULL);
                if (vips && vips->child)
                        continue;
                for (const vici_node *ch = children ? children->child : NULL; ch; ch = ch->next) {
                        const char *cst = vici_node_str(ch, "state"), *name = vici_node_str(ch, "name") ?: ch->name;
                        if (cst && strcmp(cst, "INSTALLED") == 0 && name)
                                add(p, id, name);
                }
        }
}

static void on_sa(vici_client *c, const char *event, const vici_node *item, void *userdata) {
        guard_peers_add_sas(userdata, item);
}

static void on_done(vici_client *c, int error, const vici_node *reply, void *userdata) {
        guard_peers *p = userdata;
        const char *ok = reply ? vici_node_str(reply, "success") : NULL;

        p->busy = false;
        if (error >= 0 && ok && strcmp(ok, "no") == 0)
                error = -EPROTO;
        p->done(error < 0 ? error : 0, p, p->userdata);
}

int guard_peers_list(guard_peers *p, vici_client *vici, guard_peers_fn done, void *userdata) {
        int r;

        /* a listing on a client that is gone (a reload replaced it) will never answer */
        if (p->busy && p->vici == vici)
                return -EBUSY;
        p->busy = false;
        if (!vici)
                return -ENXIO;
        if (!vici_client_is_connected(vici))
                return -ENOTCONN;
        guard_peers_reset(p);
        p->done = done;
        p->userdata = userdata;
        r = vici_client_stream(vici, "list-sas", "list-sa", NULL, 0, on_sa, on_done, p);
        if (r < 0)
                return r;
        p->vici = vici;
        p->busy = true;
        return 0;
}

void guard_peers_cancel(guard_peers *p, vici_client *current) {
        /* only the client in use now may be told: one a reload replaced is freed, and took the
         * request (and its callbacks) with it */
        if (p->busy && p->vici == current)
                vici_client_forget(current, p);
        p->busy = false;
}

unsigned guard_peers_missing(const char *was, const guard_peers *now, char *missing, size_t size) {
        unsigned n = 0;
        size_t w = 0;

        if (size)
                missing[0] = 0;
        for (const char *at = was; at && *at;) {
                const char *end = strchr(at, '\n');
                size_t l = end ? (size_t) (end - at) : strlen(at);
                if (!has_line(now->list, at, l)) {
                        n++;
                        if (w < size) {
                                int k = snprintf(missing + w, size - w, "%s%.*s", w ? ", " : "", (int) l, at);
                                w = k < 0 ? size : w + (size_t) k;
                        }
                }
                at = end ? end + 1 : NULL;
        }
        return n;
}
