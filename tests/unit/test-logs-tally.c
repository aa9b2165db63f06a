/* The logs check's tally of failing peers (agent/checks/logs_tally.c): exact counts and names
 * while few peers fail, a bounded table and a distinct-peer estimate within 15 % when 20,000
 * peers flood it, the window sliding, success and retry windows ending a peer's failure, and
 * forget keeping only the peers whose credential the gateway refused. */
#include <stdio.h>
#include <string.h>

#include "agent/checks/logs_tally.h"
#include "tap.h"

#define S 1000000ull

static logs_tally t; /* large: not on the stack */

int main(void) {
        const logs_tally_peer *p[LOGS_TALLY_TOP];
        char name[LOGS_TALLY_NAME_MAX];
        uint64_t now = 1000 * S, quiet = 0;
        bool exact;
        unsigned news;

        logs_tally_init(&t, 60 * S);
        news = logs_tally_add(&t, FAULT_AUTHENTICATION, 2, "198.18.0.2", "", true, now);
        CHECK(news == (LOGS_TALLY_NEW_CLASS | LOGS_TALLY_NEW_PEER), "first failure is news: %u", news);
        news = logs_tally_add(&t, FAULT_AUTHENTICATION, 2, "198.18.0.2", "client1.lab.test", true, now + 10 * S);
        CHECK(news == LOGS_TALLY_NAMED, "identity learned later names the peer: %u", news);
        news = logs_tally_add(&t, FAULT_AUTHENTICATION, 2, "", "client1.lab.test", true, now + 20 * S);
        CHECK(news == 0, "the same peer by identity only is no news: %u", news);
        CHECK(logs_tally_count(&t, FAULT_AUTHENTICATION, now + 20 * S) == 3, "count 3");
        CHECK(logs_tally_distinct(&t, FAULT_AUTHENTICATION, now + 20 * S, &exact) == 1 && exact, "one peer, exact");
        CHECK(logs_tally_peers(&t, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP) == 1, "one tracked");
        logs_tally_name(p[0], name, sizeof(name));
        CHECK(strcmp(name, "client1.lab.test@198.18.0.2") == 0, "named by identity and address: %s", name);
        CHECK(p[0]->count == 3 && p[0]->gap_max == 10 * S, "count %llu, gap %llu",
              (unsigned long long) p[0]->count, (unsigned long long) p[0]->gap_max);
        CHECK(logs_tally_quiet(&t, p[0]) == 60 * S, "retry window: the window (3 × 10 s < 60 s)");

        /* the window slides: the counts go, the sticky peer stays until its retry window ends */
        now += 20 * S;
        CHECK(logs_tally_count(&t, FAULT_AUTHENTICATION, now + 80 * S) == 0, "counts leave the window");
        CHECK(logs_tally_expire(&t, now + 50 * S, name, sizeof(name), &quiet) == 0, "still within its retry window");
        CHECK(logs_tally_peers(&t, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP) == 1, "held");
        logs_tally_forget(&t);
        CHECK(logs_tally_peers(&t, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP) == 1, "forget keeps a refused credential");
        CHECK(logs_tally_expire(&t, now + 61 * S, name, sizeof(name), &quiet) == 1 && quiet == 60 * S,
              "stopped trying after its retry window: %s", name);
        CHECK(logs_tally_peers(&t, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP) == 0, "gone");

        /* success ends a failure and takes its count out of the window */
        now += 100 * S;
        (void) logs_tally_add(&t, FAULT_PROPOSAL, 1, "198.18.0.3", "", false, now);
        (void) logs_tally_add(&t, FAULT_PROPOSAL, 1, "198.18.0.4", "", false, now);
        CHECK(logs_tally_success(&t, "198.18.0.3", "client2", name, sizeof(name)) && strcmp(name, "198.18.0.3") == 0,
              "success of a failing peer: %s", name);
        CHECK(logs_tally_count(&t, FAULT_PROPOSAL, now) == 1, "its failure left the count");
        CHECK(!logs_tally_success(&t, "198.18.0.9", "", name, sizeof(name)), "success of another peer: nothing");
        (void) logs_tally_add(&t, FAULT_PROPOSAL, 1, "198.18.0.4", "natted-a", false, now);
        (void) logs_tally_add(&t, FAULT_PROPOSAL, 1, "198.18.0.4", "natted-b", false, now);
        CHECK(logs_tally_peers(&t, FAULT_PROPOSAL, p, LOGS_TALLY_TOP) == 2,
              "two identities behind one address: the unnamed entry named by the first, the second apart");
        CHECK(logs_tally_success(&t, "198.18.0.4", "natted-b", name, sizeof(name)) &&
                      strcmp(name, "natted-b@198.18.0.4") == 0 && logs_tally_peers(&t, FAULT_PROPOSAL, p, LOGS_TALLY_TOP) == 1,
              "one of them establishing leaves the other failing");
        logs_tally_forget(&t);
        CHECK(logs_tally_peers(&t, FAULT_PROPOSAL, p, LOGS_TALLY_TOP) == 0 &&
                      logs_tally_count(&t, FAULT_PROPOSAL, now) == 0,
              "forget drops what was not refused by the gateway");

        /* a flood: 1,000,000 failures from 20,000 identities, two heavy hitters among them */
        now += 100 * S;
        for (unsigned i = 0; i < 1000000; i++) {
                char id[32];
                unsigned k = i % 10 == 0 ? 1 : i % 10 == 1 ? 2 : 3 + (i * 7919u) % 19998;
                snprintf(id, sizeof(id), "flood%u.example", k);
                (void) logs_tally_add(&t, FAULT_AUTHENTICATION, 2, "", id, true, now + i * 20);
        }
        now += 1000000 * 20;
        uint64_t d = logs_tally_distinct(&t, FAULT_AUTHENTICATION, now, &exact);
        CHECK(!exact && d > 17000 && d < 23000, "distinct estimate %llu of 20000", (unsigned long long) d);
        CHECK(logs_tally_count(&t, FAULT_AUTHENTICATION, now) == 1000000, "count exact");
        size_t n = logs_tally_peers(&t, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP);
        bool h1 = false, h2 = false;
        for (size_t i = 0; i < n; i++) {
                h1 |= strcmp(p[i]->id, "flood1.example") == 0 && p[i]->count - p[i]->err >= 100000;
                h2 |= strcmp(p[i]->id, "flood2.example") == 0;
        }
        CHECK(n == LOGS_TALLY_TOP && h1 && h2, "bounded table keeps the heavy hitters (%zu tracked)", n);
        printf("figure: sizeof(logs_tally) %zu bytes\n", sizeof(logs_tally));
        return TAP_END();
}
