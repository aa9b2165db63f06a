/* nft_ruleset_from_file() (common/nft_ruleset.h): a saved dump read through a small buffer gives
 * what nft_ruleset_from_messages() gives for the same bytes — the fuzz corpus's rulesets, each
 * whole, cut short, and as a stream of several copies of a message larger than its buffer —
 * and a file past its limit is refused. No root needed (no kernel). */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft_ruleset.h"
#include "tap.h"

static const char *const seeds[] = { "good.bin", "jump.bin", "many-exprs.bin", "only500.bin", "prerouting-drop.bin", "reject.bin" };

static int put(const char *path, const uint8_t *buf, size_t len) {
        FILE *f = fopen(path, "we");
        int r = f && fwrite(buf, 1, len, f) == len ? 0 : -EIO;
        if (f && fclose(f) != 0)
                r = -EIO;
        return r;
}

/* Both readers on the same bytes: the same result, and the same ruleset when it is one. */
static bool same(const char *path, const uint8_t *buf, size_t len, int *ret_r) {
        nft_ruleset *a = NULL, *b = NULL;
        char ha[2 * NFT_RULESET_HASH_SIZE + 1] = "", hb[2 * NFT_RULESET_HASH_SIZE + 1] = "";
        int ra = nft_ruleset_from_messages(buf, len, &a), rb = put(path, buf, len) < 0 ? -EIO : nft_ruleset_from_file(path, 1u << 20, &b);
        bool ok = (ra < 0) == (rb < 0) && (ra < 0 || (nft_ruleset_hash_hex(a, ha) == 0 && nft_ruleset_hash_hex(b, hb) == 0 && strcmp(ha, hb) == 0));

        *ret_r = rb;
        nft_ruleset_free(a);
        nft_ruleset_free(b);
        return ok;
}

int main(void) {
        char dir[64] = "/tmp/ikh-nftfile-XXXXXX", path[128], seed[256];

        if (!mkdtemp(dir))
                return 1;
        (void) snprintf(path, sizeof(path), "%s/dump.bin", dir);
        for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
                _cleanup_(freep) uint8_t *buf = NULL;
                size_t len = 0;
                FILE *f;
                int r;

                (void) snprintf(seed, sizeof(seed), "tests/fuzz/corpus/nft-ruleset/%s", seeds[i]);
                if (!(f = fopen(seed, "re"))) {
                        CHECK(false, "%s: readable", seed);
                        continue;
                }
                buf = malloc(1u << 16);
                len = buf ? fread(buf, 1, 1u << 16, f) : 0;
                (void) fclose(f);
                CHECK(same(path, buf, len, &r) && r == 0, "%s: the same ruleset read whole or message by message (%d)", seeds[i], r);
                CHECK(same(path, buf, len - 3, &r) && r == -EBADMSG, "%s cut short: refused by both (%d)", seeds[i], r);
        }
        {
                /* many copies of one large NEWGEN-like message pass through a buffer of 64 KiB: each
                 * is refused the same way by both, however the reads fall */
                size_t one = 70000, len = 3 * one;
                _cleanup_(freep) uint8_t *buf = calloc(1, len);
                int r = 0;
                for (size_t k = 0; buf && k < 3; k++) {
                        struct nlmsghdr h = { .nlmsg_len = (uint32_t) one, .nlmsg_type = 0xffff };
                        memcpy(buf + k * one, &h, sizeof(h));
                }
                CHECK(buf && same(path, buf, len, &r), "messages larger than the buffer: the same answer as read whole (%d)", r);
        }
        {
                nft_ruleset *rs = NULL;
                CHECK(nft_ruleset_from_file(path, 1000, &rs) == -EFBIG && !rs, "a file past the limit: -EFBIG");
                CHECK(nft_ruleset_from_file(dir, 1u << 20, &rs) == -EISDIR, "a directory: refused");
        }
        (void) unlink(path);
        (void) rmdir(dir);
        return TAP_END();
}
