/* The nftables transaction module against the kernel, in a network namespace of its own: a
 * batch is applied whole; a batch computed for an older ruleset generation is refused with
 * -ERESTART and changes nothing; a failing message is named by its label and the whole batch is
 * rolled back; a 10,000-rule batch is applied and answered; and when the kernel's answers are lost
 * (a receive buffer far too small for an acknowledgement per message: ENOBUFS, for real) the
 * commit says the outcome is unknown — the ruleset then shows it applied — never "refused".
 * Needs root and `ip` (skipped otherwise). */
#include <arpa/inet.h> /* before the linux/ headers, which defer to it */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libnftnl/rule.h>

#include "actions/nft_batch.h"
#include "actions/nft_expr.h"
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

static int add_chain(nft_batch *b, const char *table, const char *chain) {
        struct nlmsghdr *nlh = nft_batch_begin_msg(b, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, "create chain");
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
        mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain);
        return nft_batch_end_msg(b, nlh);
}

/* n rules "udp dport <port> accept" appended to table/chain */
static int add_rules(nft_batch *b, const char *table, const char *chain, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                struct nftnl_rule *r = nftnl_rule_alloc();
                uint8_t proto = 17;
                uint16_t port = htons((uint16_t) (10000 + i % 50000));
                struct nlmsghdr *nlh;
                int k;
                if (!r)
                        return -ENOMEM;
                nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
                nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
                nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
                nft_expr_l4proto(r);
                nft_expr_cmp_eq(r, &proto, 1);
                nft_expr_th_dport(r);
                nft_expr_cmp_eq(r, &port, 2);
                nft_expr_verdict(r, NF_ACCEPT);
                nlh = nft_batch_begin_msg(b, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND, "add rule");
                if (!nlh) {
                        nftnl_rule_free(r);
                        return -ENOMEM;
                }
                nftnl_rule_nlmsg_build_payload(nlh, r);
                nftnl_rule_free(r);
                if ((k = nft_batch_end_msg(b, nlh)) < 0)
                        return k;
        }
        return 0;
}

static size_t rules(void) {
        nft_ruleset *rs = NULL;
        size_t n = nft_ruleset_dump(ns, NULL, NULL, &rs) < 0 ? (size_t) -1 : rs->n_rules_total;
        nft_ruleset_free(rs);
        return n;
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

        /* a gateway's 10,000-rule ruleset in one batch: applied, and answered as such */
        CHECK(nft_generation(ns, &gen) == 0 && nft_batch_new(&b, gen) == 0 && add_table(b, "big") == 0 &&
                      add_chain(b, "big", "c") == 0 && add_rules(b, "big", "c", 10000) == 0,
              "batch of 10000 rules");
        r = nft_batch_commit(b, ns, why, sizeof(why));
        CHECK(r == 0 && rules() == 10000, "10000 rules applied and acknowledged (%d %s)", r, why);
        b = nft_batch_free(b);

        /* answers lost for real: an ack asked for every message, into a tiny receive buffer */
        nft_batch_test_knobs(4096, true);
        CHECK(nft_generation(ns, &gen) == 0 && nft_batch_new(&b, gen) == 0 && add_table(b, "big2") == 0 &&
                      add_chain(b, "big2", "c") == 0 && add_rules(b, "big2", "c", 2000) == 0,
              "batch of 2000 rules, an ack for each");
        r = nft_batch_commit(b, ns, why, sizeof(why));
        CHECK(r == NFT_BATCH_UNKNOWN && strstr(why, "outcome is unknown"), "answers lost: outcome unknown, not refused (%d %s)", r,
              why);
        CHECK(rules() == 12000, "and the kernel had applied it (%zu rules)", rules());
        nft_batch_test_knobs(0, false);
        b = nft_batch_free(b);

        (void) snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove namespace %s\n", ns);
        return TAP_END();
}
