/* The tunnels a gateway must keep up, from swanctl.conf's start_action and a list, matched
 * against charon's list-conns and list-sas messages (built with the VICI builder and decoded
 * as the agent decodes them): which are loaded, to which peer, the IKE_SA's state, INSTALLED
 * CHILD_SAs and their counters summed over a rekey's overlap, trap policies; names checked, the
 * set bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel_set.h"
#include "swconf.h"
#include "tap.h"
#include "vici_msg.h"

static bool with_encap; /* the CHILD_SAs sa_item builds carry ESP in UDP */

static vici_node *decode(vici_builder *b) {
        uint8_t *buf = NULL;
        size_t len = 0;
        vici_node *n = NULL;
        if (vici_builder_finish(b, &buf, &len) < 0 || vici_msg_parse(buf, len, &n) < 0)
                abort();
        free(buf);
        return n;
}

static vici_node *conn_item(const char *conn, const char *addr, const char *id, const char *child) {
        vici_builder *b = NULL;
        if (vici_builder_new(&b) < 0)
                abort();
        vici_builder_begin_section(b, conn);
        vici_builder_begin_list(b, "remote_addrs");
        vici_builder_add_list_item(b, addr);
        vici_builder_end_list(b);
        vici_builder_begin_section(b, "local-1");
        vici_builder_add_str(b, "id", "gw.example.org");
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "remote-1");
        if (id)
                vici_builder_add_str(b, "id", id);
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "children");
        vici_builder_begin_section(b, child);
        vici_builder_add_str(b, "mode", "TUNNEL");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        return decode(b);
}

/* an IKE_SA of conn in state st with CHILD_SAs: (name, state, bytes-in, bytes-out, use-in) … */
static vici_node *sa_item(const char *conn, const char *st, const char *host, size_t n, const char *const *ch) {
        vici_builder *b = NULL;
        if (vici_builder_new(&b) < 0)
                abort();
        vici_builder_begin_section(b, conn);
        vici_builder_add_str(b, "state", st);
        vici_builder_add_str(b, "remote-host", host);
        vici_builder_add_str(b, "remote-id", "peer.example.org");
        vici_builder_begin_section(b, "child-sas");
        for (size_t i = 0; i < n; i++) {
                char key[32];
                snprintf(key, sizeof(key), "%s-%zu", ch[5 * i], i + 1);
                vici_builder_begin_section(b, key);
                vici_builder_add_str(b, "name", ch[5 * i]);
                vici_builder_add_str(b, "state", ch[5 * i + 1]);
                vici_builder_add_str(b, "bytes-in", ch[5 * i + 2]);
                vici_builder_add_str(b, "bytes-out", ch[5 * i + 3]);
                if (ch[5 * i + 4])
                        vici_builder_add_str(b, "use-in", ch[5 * i + 4]);
                if (with_encap)
                        vici_builder_add_str(b, "encap", "yes");
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        return decode(b);
}

int main(void) {
        static tunnel_set s;
        char conn[TUNNEL_NAME_MAX], child[TUNNEL_NAME_MAX], peer[300], err[256] = "";
        swconf *c = NULL;
        const char *conf = "connections {\n"
                           " s2s {\n  children {\n   net {\n    start_action = start\n   }\n"
                           "   voice {\n    start_action = trap\n   }\n"
                           "   manual {\n    start_action = none\n   }\n  }\n }\n"
                           " rw {\n  children {\n   lan {\n   }\n  }\n }\n"
                           "}\n";

        CHECK(tunnel_name_split("s2s/net", conn, child) == 0 && strcmp(conn, "s2s") == 0 && strcmp(child, "net") == 0,
              "s2s/net splits");
        CHECK(tunnel_name_split("s2s", conn, child) == -EINVAL, "no child: refused");
        CHECK(tunnel_name_split("/net", conn, child) == -EINVAL && tunnel_name_split("s2s/", conn, child) == -EINVAL,
              "an empty name: refused");
        CHECK(tunnel_name_split("a/b/c", conn, child) == -EINVAL && tunnel_name_split("a b/c", conn, child) == -EINVAL,
              "a second slash or a blank: refused");

        CHECK(swconf_parse("swanctl.conf", conf, strlen(conf), &c, err, sizeof(err)) == 0, "swanctl.conf parses %s", err);
        if (!c)
                return TAP_END();
        tunnel_set_from_swanctl(&s, c);
        swconf_free(c);
        CHECK(s.n == 2 && tunnel_set_find(&s, "s2s", "net") && tunnel_set_find(&s, "s2s", "voice") &&
                      !tunnel_set_find(&s, "s2s", "manual") && !tunnel_set_find(&s, "rw", "lan"),
              "expected: start and trap children only [%zu]", s.n);
        CHECK(tunnel_set_add(&s, "s2s", "net", TUNNEL_FROM_LIST) == 0 && s.n == 2 &&
                      tunnel_set_find(&s, "s2s", "net")->origin == (TUNNEL_FROM_START | TUNNEL_FROM_LIST),
              "listed again: origins merged, not doubled");
        CHECK(tunnel_set_add(&s, "other", "x", TUNNEL_FROM_LIST) == 0 && s.n == 3, "a listed tunnel");

        vici_node *n = conn_item("s2s", "192.0.2.7", "peer.example.org", "net");
        tunnel_set_conn(&s, n);
        vici_node_free(n);
        tunnel *net = tunnel_set_find(&s, "s2s", "net"), *voice = tunnel_set_find(&s, "s2s", "voice");
        CHECK(net->loaded && !voice->loaded && !tunnel_set_find(&s, "other", "x")->loaded,
              "loaded: the connection's children charon reports, not the others");
        tunnel_peer(net, peer, sizeof(peer));
        CHECK(strcmp(peer, "peer.example.org@192.0.2.7") == 0, "peer: %s", peer);

        /* IKE_SA up, CHILD_SA net missing (another child installed) */
        const char *only_voice[] = { "voice", "INSTALLED", "10", "20", "3" };
        n = sa_item("s2s", "ESTABLISHED", "192.0.2.7", 1, only_voice);
        tunnel_set_sa(&s, n);
        vici_node_free(n);
        CHECK(net->ike == TUNNEL_IKE_ESTABLISHED && !net->installed, "IKE_SA up, CHILD_SA net missing");
        CHECK(voice->installed && voice->bytes_in == 10 && voice->bytes_out == 20 && voice->idle_in == 3 &&
                      voice->idle_out == TUNNEL_NEVER,
              "voice installed, counters read, no use-out: never");
        CHECK(!voice->encap, "no encap=yes: not UDP-encapsulated");

        /* a rekey's overlap: two INSTALLED CHILD_SAs of net, counters summed, the latest use */
        tunnel_set_reset(&s);
        CHECK(!net->installed && net->ike == TUNNEL_IKE_NONE && !net->loaded && strcmp(net->conn, "s2s") == 0,
              "reset forgets charon's answers, keeps the names");
        const char *rekey[] = { "net", "INSTALLED", "100", "200", "9", "net", "INSTALLED", "1", "2", "1",
                                "net", "DELETING", "5000", "5000", "0" };
        with_encap = true;
        n = sa_item("s2s", "ESTABLISHED", "192.0.2.7", 3, rekey);
        with_encap = false;
        tunnel_set_sa(&s, n);
        vici_node_free(n);
        CHECK(net->encap, "encap=yes on its CHILD_SAs: UDP-encapsulated");
        CHECK(net->installed && net->children == 2 && net->bytes_in == 101 && net->bytes_out == 202 && net->idle_in == 1,
              "two INSTALLED: %u, in %llu out %llu idle %llu", net->children, (unsigned long long) net->bytes_in,
              (unsigned long long) net->bytes_out, (unsigned long long) net->idle_in);
        tunnel_peer(net, peer, sizeof(peer));
        CHECK(strcmp(peer, "peer.example.org@192.0.2.7") == 0, "peer from the IKE_SA when list-conns said nothing: %s", peer);

        /* CONNECTING and a bad counter */
        tunnel_set_reset(&s);
        CHECK(!net->encap, "reset forgets encap");
        const char *bad[] = { "net", "INSTALLED", "-1", "x", "9999999999999999999999" };
        n = sa_item("s2s", "CONNECTING", "192.0.2.7", 1, bad);
        tunnel_set_sa(&s, n);
        vici_node_free(n);
        CHECK(net->ike == TUNNEL_IKE_CONNECTING && net->bytes_in == 0 && net->idle_in == TUNNEL_NEVER,
              "connecting; counters that are not numbers count as 0 / never");

        /* a trap policy: { "s2s/voice" { child = voice, ike = s2s, mode = TUNNEL } } */
        vici_builder *b = NULL;
        if (vici_builder_new(&b) < 0)
                abort();
        vici_builder_begin_section(b, "s2s/voice");
        vici_builder_add_str(b, "child", "voice");
        vici_builder_add_str(b, "ike", "s2s");
        vici_builder_add_str(b, "mode", "TUNNEL");
        vici_builder_end_section(b);
        n = decode(b);
        tunnel_set_policy(&s, n);
        vici_node_free(n);
        CHECK(voice->trapped && !net->trapped, "the trap policy of s2s/voice, not of s2s/net");

        /* bounded */
        static tunnel_set full;
        for (unsigned i = 0; i < TUNNELS_MAX; i++) {
                char name[16];
                snprintf(name, sizeof(name), "c%u", i);
                (void) tunnel_set_add(&full, name, "x", TUNNEL_FROM_LIST);
        }
        CHECK(tunnel_set_add(&full, "one-more", "x", TUNNEL_FROM_LIST) == -E2BIG && full.n == TUNNELS_MAX && full.dropped == 1,
              "at most %u tunnels, the rest counted", TUNNELS_MAX);
        return TAP_END();
}
