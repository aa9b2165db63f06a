/* The guard's roster of peers (agent/guard/guard_peers.c): from charon's `list-sa` items, each
 * ESTABLISHED IKE_SA by remote identity, a site-to-site peer's INSTALLED CHILD_SAs too (not a
 * road warrior's, which has a virtual IP), each once; a roster past its bound counts the rest;
 * the peers of one roster missing from another are named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guard/guard_internal.h"
#include "tap.h"
#include "vici_msg.h"

/* One list-sa item: { NAME { state, remote-id, [remote-vips [VIP]], child-sas { … } } } */
static vici_node *item(const char *name, const char *state, const char *id, const char *vip, const char *child,
                       const char *child_state) {
        vici_builder *b = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        vici_node *n = NULL;

        if (vici_builder_new(&b) < 0)
                return NULL;
        vici_builder_begin_section(b, name);
        vici_builder_add_str(b, "state", state);
        if (id)
                vici_builder_add_str(b, "remote-id", id);
        vici_builder_add_str(b, "remote-host", "198.18.1.9");
        if (vip) {
                vici_builder_begin_list(b, "remote-vips");
                vici_builder_add_list_item(b, vip);
                vici_builder_end_list(b);
        }
        vici_builder_begin_section(b, "child-sas");
        if (child) {
                vici_builder_begin_section(b, "c-1");
                vici_builder_add_str(b, "name", child);
                vici_builder_add_str(b, "state", child_state);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
        vici_builder_end_section(b);
        if (vici_builder_finish(b, &buf, &len) < 0 || vici_msg_parse(buf, len, &n) < 0)
                n = NULL;
        free(buf);
        return n;
}

static void feed(guard_peers *p, vici_node *n) {
        guard_peers_add_sas(p, n);
        vici_node_free(n);
}

int main(void) {
        static guard_peers was, now;
        char missing[256], id[64];

        guard_peers_reset(&was);
        feed(&was, item("rw", "ESTABLISHED", "client1.lab.test", "198.18.2.1", "lan", "INSTALLED"));
        feed(&was, item("rw", "ESTABLISHED", "client1.lab.test", "198.18.2.2", "lan", "INSTALLED"));
        feed(&was, item("rw", "CONNECTING", "client3.lab.test", NULL, NULL, NULL));
        feed(&was, item("s2s", "ESTABLISHED", "C=CH, O=x, CN=gw2", NULL, "net-net", "INSTALLED"));
        feed(&was, item("s2s", "ESTABLISHED", "gw3", NULL, "net-b", "REKEYING"));
        feed(&was, item("s2s", "ESTABLISHED", NULL, NULL, NULL, NULL));
        CHECK(strcmp(was.list, "client1.lab.test\nC=CH, O=x, CN=gw2\nC=CH, O=x, CN=gw2 child net-net\ngw3\n198.18.1.9") ==
                      0,
              "roster: IKE_SAs once each, a site-to-site CHILD_SA, no road warrior's, the host without an id: '%s'",
              was.list);
        CHECK(was.n == 5 && was.untracked == 0, "5 lines, none untracked (%u, %u)", was.n, was.untracked);

        guard_peers_reset(&now);
        feed(&now, item("s2s", "ESTABLISHED", "C=CH, O=x, CN=gw2", NULL, NULL, NULL));
        feed(&now, item("rw", "ESTABLISHED", "client1.lab.test", "198.18.2.7", NULL, NULL));
        feed(&now, item("s2s", "ESTABLISHED", "gw3", NULL, NULL, NULL));
        feed(&now, item("s2s", "ESTABLISHED", NULL, NULL, NULL, NULL));
        CHECK(guard_peers_missing(was.list, &now, missing, sizeof(missing)) == 1 &&
                      strcmp(missing, "C=CH, O=x, CN=gw2 child net-net") == 0,
              "the tunnel that did not come back is named: '%s'", missing);
        CHECK(guard_peers_missing(now.list, &was, missing, sizeof(missing)) == 0 && !missing[0], "nothing lost the other way");
        CHECK(guard_peers_missing("", &now, missing, sizeof(missing)) == 0, "an empty roster misses nothing");
        CHECK(guard_peers_missing("a\nb\nclient1.lab.test", &now, missing, 4) == 2 && strlen(missing) == 3,
              "two missing, the text truncated to its buffer");

        /* "client1.lab.test" must not match a longer line that begins with it */
        guard_peers_reset(&now);
        feed(&now, item("rw", "ESTABLISHED", "client1.lab.test.evil", NULL, NULL, NULL));
        CHECK(guard_peers_missing("client1.lab.test", &now, missing, sizeof(missing)) == 1, "whole lines only");

        guard_peers_reset(&now);
        for (unsigned i = 0; i < 400; i++) {
                (void) snprintf(id, sizeof(id), "road-warrior-number-%u.lab.test", i);
                feed(&now, item("rw", "ESTABLISHED", id, "198.18.2.1", NULL, NULL));
        }
        CHECK(now.len < sizeof(now.list) && now.n > 50 && now.n + now.untracked == 400,
              "bounded: %u tracked, %u counted past the bound", now.n, now.untracked);
        return TAP_END();
}
