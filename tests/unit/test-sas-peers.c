/* Unit test of the per-peer CHILD SA rows (agent/checks/sas_peers.c): one row per (connection,
 * peer, CHILD_SA name) however often it is asked for, names cut as the row keeps them, and the
 * rows still found after the index grew past thousands of peers. */
#include <stdio.h>
#include <string.h>

#include "agent/checks/sas_peers.h"
#include "tap.h"

int main(void) {
        sas_peers p = { 0 };
        sas_peer *a, *b;
        char peer[64], longname[400];
        size_t bad = 0;

        a = sas_peers_row(&p, "rw", "CN=client1", "net");
        b = sas_peers_row(&p, "rw", "CN=client1", "net");
        CHECK(a && a == b && p.n == 1, "the same key is the same row (a rekey sums into one)");
        b = sas_peers_row(&p, "rw", "CN=client1", "net2");
        CHECK(b && b != a && p.n == 2, "another CHILD_SA name: another row");
        b = sas_peers_row(&p, "rw2", "CN=client1", "net");
        CHECK(b && b != a && p.n == 3, "another connection: another row");

        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        a = sas_peers_row(&p, "rw", longname, "net");
        longname[300] = 'y'; /* past what a row keeps: the same row */
        b = sas_peers_row(&p, "rw", longname, "net");
        CHECK(a && a == b && strlen(a->peer) == sizeof(a->peer) - 1, "a long identity is cut, and found cut");

        for (unsigned i = 0; i < 3000; i++) {
                snprintf(peer, sizeof(peer), "CN=peer%u", i);
                a = sas_peers_row(&p, "rw", peer, "net");
                if (!a)
                        bad++;
                else
                        a->bytes_in += i;
        }
        for (unsigned i = 0; i < 3000; i++) {
                snprintf(peer, sizeof(peer), "CN=peer%u", i);
                a = sas_peers_row(&p, "rw", peer, "net");
                if (!a || a->bytes_in != i || strcmp(a->peer, peer) != 0)
                        bad++;
        }
        CHECK(bad == 0 && p.n == 3004 && p.dropped == 0, "3000 peers: each its own row, found again after the index grew (%zu bad)",
              bad);

        sas_peers_reset(&p);
        a = sas_peers_row(&p, "rw", "CN=peer7", "net");
        CHECK(p.n == 1 && a && a->bytes_in == 0, "reset: rows gone, a new one starts at 0");
        sas_peers_done(&p);
        return TAP_END();
}
