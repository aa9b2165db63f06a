/* The logs check's memory across restarts (agent/checks/logs_store.c): the refused peers of a
 * tally written and read back onto another monotonic clock (their ages kept), peers not refused
 * left out, bad lines skipped and counted, a file of another kind refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/checks/logs_store.h"
#include "tap.h"

#define S 1000000ull

static logs_tally a, b;

int main(void) {
        char path[] = "/tmp/ikh-test-logs-store-XXXXXX";
        const logs_tally_peer *p[LOGS_TALLY_TOP];
        uint64_t real = 1800000000 * S;
        size_t bad = 0;
        int fd = mkstemp(path);

        if (fd < 0)
                return 1;
        close(fd);
        logs_tally_init(&a, 60 * S);
        (void) logs_tally_add(&a, FAULT_AUTHENTICATION, 2, "198.18.0.3", "client2.lab.test", true, 100 * S);
        (void) logs_tally_add(&a, FAULT_AUTHENTICATION, 2, "198.18.0.3", "client2.lab.test", true, 110 * S);
        (void) logs_tally_add(&a, FAULT_PROPOSAL, 1, "198.18.0.4", "", false, 110 * S);
        CHECK(logs_store_save(path, &a, 120 * S, real) == 0, "saved");

        /* read back by an agent whose monotonic clock started later: ages are kept */
        logs_tally_init(&b, 60 * S);
        CHECK(logs_store_load(path, &b, 5000 * S, real + 30 * S, &bad) == 1 && bad == 0, "one refused peer restored");
        CHECK(logs_tally_peers(&b, FAULT_AUTHENTICATION, p, LOGS_TALLY_TOP) == 1 && p[0]->sticky &&
                      p[0]->count == 2 && p[0]->gap_max == 10 * S && p[0]->last == 5000 * S - 40 * S &&
                      strcmp(p[0]->id, "client2.lab.test") == 0 && strcmp(p[0]->addr, "198.18.0.3") == 0,
              "count, gap, age, identity and address");
        CHECK(logs_tally_peers(&b, FAULT_PROPOSAL, p, LOGS_TALLY_TOP) == 0, "a peer not refused is not kept");

        /* bad lines */
        FILE *f = fopen(path, "we");
        if (f) {
                fputs("ikeheal-logs-peers 1\n"
                      "authentication 2 3 10 20 0 198.18.0.5 -\n"
                      "authentication 2 3 20 10 0 198.18.0.6 -\n" /* last before first */
                      "nonsense 2 3 10 20 0 198.18.0.7 -\n"
                      "authentication 2 3 10 20 0 - -\n"
                      "authentication 2 3 10 20 0 198.18.0.8\n",
                      f);
                fclose(f);
        }
        logs_tally_init(&b, 60 * S);
        CHECK(logs_store_load(path, &b, 5000 * S, real, &bad) == 1 && bad == 4, "one good line, four skipped (%zu)", bad);
        f = fopen(path, "we");
        if (f) {
                fputs("something else\n", f);
                fclose(f);
        }
        CHECK(logs_store_load(path, &b, 5000 * S, real, &bad) == -EBADMSG, "another kind of file: refused");
        unlink(path);
        CHECK(logs_store_load(path, &b, 5000 * S, real, &bad) == -ENOENT, "no file: -ENOENT");
        return TAP_END();
}
