/* The change guard's durable record (agent/guard/guard_store.c): a record round-trips whole; a
 * file that is not a record (garbage, a truncated record, a record missing a field, an unknown
 * state) is -EBADMSG, never half-read; no file is -ENOENT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/guard/guard.h"
#include "atomic_file.h"
#include "tap.h"

int main(void) {
        char dir[] = "/tmp/test-guard-store-XXXXXX", path[256];
        guard_rec rec = { .id = 7, .state = GUARD_VERIFYING, .begun_usec = 1, .confirm_by_usec = 2, .verify_for_usec = 3,
                          .verify_until_usec = 4, .uid = 1000, .paused_engine = true, .user = "alice",
                          .reason = "nft -f x", .packages = "a:all 1 (install)", .mark = "dpkg:42", .outcome = "",
                          .peers = "client1.lab.test\nC=CH, O=x, CN=gw2 child net-net", .peers_untracked = 3 },
                  got;
        char *buf = NULL;
        size_t len = 0;

        if (!mkdtemp(dir))
                return 1;
        (void) snprintf(path, sizeof(path), "%s/guard.rec", dir);
        CHECK(guard_store_load(dir, &got) == -ENOENT, "no record: -ENOENT");
        CHECK(guard_store_save(dir, &rec) == 0, "saved");
        CHECK(guard_store_load(dir, &got) == 0 && memcmp(&got, &rec, sizeof(rec)) == 0, "round trip");
        CHECK(atomic_file_read(path, 65536, &buf, &len) == 0 && len > 10, "read back %zu bytes", len);
        for (size_t cut = 0; buf && cut < len; cut += 7) {
                (void) atomic_file_write(path, buf, cut, 0600);
                int r = guard_store_load(dir, &got);
                if (r != -EBADMSG) {
                        CHECK(false, "truncated at %zu: %d", cut, r);
                        break;
                }
        }
        CHECK(true, "every truncation is -EBADMSG");
        (void) atomic_file_write(path, "garbage", 7, 0600);
        CHECK(guard_store_load(dir, &got) == -EBADMSG, "garbage: -EBADMSG");
        rec.state = _GUARD_STATE_MAX; /* written as "?" */
        CHECK(guard_store_save(dir, &rec) == 0 && guard_store_load(dir, &got) == -EBADMSG, "unknown state: -EBADMSG");
        free(buf);
        (void) unlink(path);
        (void) rmdir(dir);
        return TAP_END();
}
