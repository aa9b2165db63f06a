/* The nftables transaction module against the kernel, in a network namespace of its own: a
 * batch is applied whole; a batch computed for an older ruleset generation is refused with
 * -ERESTART and changes nothing; a failing message is named by its label and the whole batch is
 * rolled back. Needs root and `ip` (skipped otherwise). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/nft_batch.h"
#include "nft_ruleset.h"
#include "tap.h"

static char ns[64];

static int add_table(nft_batch *b, const char *name) {
        char label[128];
        struct nlmsghdr *nlh;
        (void) snprintf(label, sizeof(label), "create table %s", name);
        nlh = nft_batch_begin_msg(b, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, label);
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
        return nft_batch_end_msg(b, nlh);
}

static int del_table(nft_batch *b, const char *name) {
        char label[128];
        struct nlmsghdr *nlh;
        (void) snprintf(label, sizeof(label), "delete table %s", name);
        nlh = nft_batch_begin_msg(b, NFT_MSG_DELTABLE, NFPROTO_INET, 0, label);
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
        return nft_batch_end_msg(b, nlh);
}

static size_t tables(void) {
        nft_ruleset *rs = NULL;
        size_t n = nft_ruleset_dump(ns, NULL, NULL, &rs) < 0 ? (size_t) -1 : rs->n_tables;
        nft_ruleset_free(rs);
        return n;
}

int main(void) {
        char cmd[128], why[512];
        nft_batch *b = NULL;
        uint32_t gen = 0;
        int r;

        (void) snprintf(ns, sizeof(ns), "ikh-nftb-%d", (int) getpid());
        (void) snprintf(cmd, sizeof(cmd), "ip netns add %s 2>/dev/null", ns);
        if (geteuid() != 0 || system(cmd) != 0) {
                printf("needs root and ip: skipped\n");
                return 77;
        }
        CHECK(nft_generation(ns, &gen) == 0, "generation read: %u", gen);

        CHECK(nft_batch_new(&b, gen) == 0 && add_table(b, "one") == 0 && add_table(b, "two") == 0, "batch of two tables");
        r = nft_batch_commit(b, ns, why, sizeof(why));
        CHECK(r == 0 && tables() == 2, "applied whole (%d %s)", r, why);
        b = nft_batch_free(b);

        /* computed for the generation before that change: refused, nothing applied */
        CHECK(nft_batch_new(&b, gen) == 0 && add_table(b, "three") == 0, "batch for a stale generation");
        r = nft_batch_commit(b, ns, why, sizeof(why));
        CHECK(r == -ERESTART && strstr(why, "changed since it was read") && tables() == 2,
              "stale generation refused with -ERESTART, nothing applied: %s", why);
        b = nft_batch_free(b);

        /* one bad message: named, and the good ones before it rolled back */
        CHECK(nft_generation(ns, &gen) == 0 && nft_batch_new(&b, gen) == 0 && add_table(b, "four") == 0 &&
                      del_table(b, "nosuch") == 0,
              "batch with a bad message");
        r = nft_batch_commit(b, ns, why, sizeof(why));
        CHECK(r < 0 && strstr(why, "delete table nosuch: No such file or directory") && !strstr(why, "create table four") &&
                      tables() == 2,
              "the failing message named, the whole batch undone: %s", why);
        b = nft_batch_free(b);

        (void) snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove namespace %s\n", ns);
        return TAP_END();
}
