/* The tunnels check's reading of charon's list-conns and list-sas items (agent/checks/
 * tunnel_set.c), fuzzed on VICI messages as the agent decodes them: whatever charon sends, the
 * set stays bounded, every name it keeps fits and is terminated, counters saturate. The first
 * byte picks list-conn or list-sa; the expected tunnels are fixed names plus "a/b" style names
 * cut from the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel_set.h"
#include "vici_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tunnel_set set;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vici_node *n = NULL;
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX], peer[2 * TUNNEL_PEER_MAX + 2], name[128];

        if (size < 1)
                return 0;
        set = (tunnel_set){};
        (void) tunnel_set_add(&set, "s2s", "net", TUNNEL_FROM_LIST);
        (void) tunnel_set_add(&set, "rw", "lan", TUNNEL_FROM_START);
        size_t k = size - 1 < sizeof(name) - 1 ? size - 1 : sizeof(name) - 1;
        memcpy(name, data + 1, k);
        name[k] = 0;
        if (tunnel_name_split(name, conn, child) == 0) {
                if (!conn[0] || !child[0] || strchr(conn, '/') || strchr(child, '/'))
                        abort();
                (void) tunnel_set_add(&set, conn, child, TUNNEL_FROM_LIST);
        }
        if (vici_msg_parse(data + 1, size - 1, &n) < 0)
                return 0;
        /* the item's own section names as expected connections */
        for (const vici_node *c = n->child; c; c = c->next)
                if (c->name && strlen(c->name) < TUNNEL_NAME_MAX)
                        (void) tunnel_set_add(&set, c->name, "net", TUNNEL_FROM_LIST);
        if (data[0] & 1)
                tunnel_set_conn(&set, n);
        else
                tunnel_set_sa(&set, n);
        if (set.n > TUNNELS_MAX)
                abort();
        for (size_t i = 0; i < set.n; i++) {
                const tunnel *t = &set.t[i];
                if (strnlen(t->conn, sizeof(t->conn)) == sizeof(t->conn) ||
                    strnlen(t->peer_id, sizeof(t->peer_id)) == sizeof(t->peer_id) ||
                    strnlen(t->peer_addr, sizeof(t->peer_addr)) == sizeof(t->peer_addr) || t->ike > TUNNEL_IKE_ESTABLISHED)
                        abort();
                tunnel_peer(t, peer, sizeof(peer));
                (void) tunnel_ike_to_string(t->ike);
        }
        tunnel_set_reset(&set);
        vici_node_free(n);
        return 0;
}
