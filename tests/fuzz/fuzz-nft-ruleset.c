/* Fuzz the netlink side of the firewall view: the input is a stream of netlink messages back to
 * back, as nft_ruleset_dump() receives them (the corpus holds real dumps captured with
 * `nft-view --save-messages` from the rulesets of tests/integration/nft-ruleset.sh). Each
 * message goes through nft_ruleset_add_nlmsg() — our attribute parser and the model's
 * builders; libnftnl's own parsers are not used, they exit() on malformed input — and whatever
 * model results is then evaluated for the IKE packets (both families), formatted both ways and
 * hashed, so the evaluator's walk over odd models (missing sets, loops, bad registers) is
 * covered too; and compared (common/nft_diff.c) with an empty ruleset and with the model of the
 * first half of the messages: which objects break IKE, the drift, each object's state, the
 * overlay of one model's objects over the other. The same bytes as a saved file, read through a
 * small buffer (nft_ruleset_from_file()), must give what nft_ruleset_from_messages() gives.
 */
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft_diff.h"
#include "nft_ruleset.h"
#include "nft_verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Compare two models every way nft_restore does. */
static void diff(const nft_ruleset *now, const nft_ruleset *good) {
        nft_diff_probes pr = { .esp = true, .ipv6 = true };
        nft_object objs[NFT_DIFF_OBJECTS_MAX];
        char why[NFT_DIFF_OBJECTS_MAX][NFT_VERDICT_WHY_MAX], err[256], st[2 * NFT_RULESET_HASH_SIZE + 1], *text = NULL;
        size_t n = 0, count = 0;
        nft_diff_accepts acc;
        int r = nft_diff_broken(now, good, &pr, objs, &n, why, err, sizeof(err));

        if (n > NFT_DIFF_OBJECTS_MAX)
                abort();
        /* with what good accepts computed beforehand (as the restore keeps it): the same answer */
        if (nft_diff_accepts_of(good, &pr, &acc) == 0) {
                nft_object objs2[NFT_DIFF_OBJECTS_MAX];
                size_t n2 = 0;
                int r2 = nft_diff_broken_for(now, good, &acc, objs2, &n2, why, err, sizeof(err));
                if (r2 != r || n2 != n)
                        abort();
                for (size_t i = 0; i < n; i++)
                        if (objs2[i].kind != objs[i].kind || objs2[i].family != objs[i].family ||
                            strcmp(objs2[i].table, objs[i].table) != 0 || strcmp(objs2[i].name, objs[i].name) != 0)
                                abort();
                if (nft_diff_passes_for(now, good, objs, n, &acc, err, sizeof(err)) !=
                    nft_diff_passes(now, good, objs, n, good, &pr, err, sizeof(err)))
                        abort();
        }
        for (size_t i = 0; i < n; i++)
                (void) nft_diff_object_state(now, &objs[i], st);
        (void) nft_diff_passes(now, good, objs, n, good, &pr, err, sizeof(err));
        if (nft_diff_drift(now, good, objs, n, 4, &text, &count) == 0)
                free(text);
}

/* A saved dump read whole and read from its file: the same answer, the same ruleset. */
static void from_file(const uint8_t *data, size_t size) {
        static char path[64];
        nft_ruleset *a = NULL, *b = NULL;
        uint8_t ha[NFT_RULESET_HASH_SIZE], hb[NFT_RULESET_HASH_SIZE];
        uint8_t *copy = malloc(size ? size : 1); /* aligned, as a file's bytes read into memory */
        FILE *f;
        int ra, rb;

        if (!path[0])
                snprintf(path, sizeof(path), "/tmp/fuzz-nft-ruleset-%d", (int) getpid());
        if (!copy || !(f = fopen(path, "w")))
                abort();
        if (size && fwrite(data, size, 1, f) != 1)
                abort();
        fclose(f);
        memcpy(copy, data, size);
        ra = nft_ruleset_from_messages(copy, size, &a);
        rb = nft_ruleset_from_file(path, 64u << 20, &b);
        if ((ra < 0) != (rb < 0))
                abort();
        if (ra == 0 && (nft_ruleset_hash(a, ha) < 0 || nft_ruleset_hash(b, hb) < 0 || memcmp(ha, hb, sizeof(ha)) != 0))
                abort();
        nft_ruleset_free(a);
        nft_ruleset_free(b);
        free(copy);
        (void) unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        nft_ruleset *rs = NULL, *half = NULL, *empty = NULL;
        size_t off = 0, msgs = 0;
        char *text = NULL;
        uint8_t hash[NFT_RULESET_HASH_SIZE];

        if (nft_ruleset_new(&rs) < 0 || nft_ruleset_new(&half) < 0 || nft_ruleset_new(&empty) < 0)
                goto out;
        while (size - off >= sizeof(struct nlmsghdr)) {
                struct nlmsghdr h;
                void *copy;

                memcpy(&h, data + off, sizeof(h));
                /* the framing is the socket's job (mnl_nlmsg_ok); the contents are ours */
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > size - off)
                        break;
                /* an exact-size, aligned heap copy: ASan sees a read one byte past it */
                copy = malloc(h.nlmsg_len);
                if (!copy)
                        break;
                memcpy(copy, data + off, h.nlmsg_len);
                (void) nft_ruleset_add_nlmsg(rs, copy);
                if (msgs++ % 2 == 0)
                        (void) nft_ruleset_add_nlmsg(half, copy);
                free(copy);
                off += NLMSG_ALIGN(h.nlmsg_len);
                if (off > size)
                        break;
        }

        for (int fam = 0; fam < 2; fam++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        nft_verdict_packet pkt;
                        nft_verdict_result r;

                        nft_verdict_packet_for((nft_verdict_probe) p, fam ? NFPROTO_IPV6 : NFPROTO_IPV4, &pkt);
                        if (nft_verdict_eval(rs, &pkt, &r) == 0) {
                                /* every verdict explains itself */
                                if (!r.why[0] || (unsigned) r.verdict >= _NFT_VERDICT_KIND_MAX ||
                                    r.n_steps > NFT_VERDICT_STEPS_MAX)
                                        abort();
                        }
                }
        if (nft_ruleset_format(rs, 0, &text) == 0)
                free(text);
        (void) nft_ruleset_hash(rs, hash);
        diff(rs, empty);
        diff(rs, half);
        diff(half, rs);
        from_file(data, size);
out:
        nft_ruleset_free(rs);
        nft_ruleset_free(half);
        nft_ruleset_free(empty);
        return 0;
}
