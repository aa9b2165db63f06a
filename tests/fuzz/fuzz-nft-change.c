/* Fuzz the model that follows nftables change notifications (common/nft_change.h): the input is
 * netlink messages back to back. Those up to the first NEWGEN after some content are a dump
 * (nft_ruleset_add_nlmsg(), as the watch's full read); every message after them is a
 * notification, applied with nft_change_apply(), and each NEWGEN ends a transaction
 * (nft_change_finish()). The corpus holds real streams: a dump saved with `nft-view
 * --save-messages`, then what the nftables multicast group carried while nft changed that
 * ruleset (rules inserted, appended, placed and deleted, chains flushed and renamed, tables,
 * sets and elements added and removed). After each transaction the model must hold together
 * (its counts, every chain's and set's table) and is evaluated, formatted and hashed; -ESTALE
 * ends the run, as the watch would read again.
 * fuzz-sources: below is read by the Makefile. */
/* fuzz-sources: common/nft_ruleset.c common/nft_expr_pool.c common/nft_ruleset_parse.c common/nft_ruleset_format.c common/nft_ruleset_dump.c common/nft_ruleset_edit.c common/nft_change.c common/nft_verdict.c common/nft_verdict_rule.c common/netns.c common/hex.c */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft_change.h"
#include "nft_ruleset.h"
#include "nft_verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void holds_together(const nft_ruleset *rs) {
        size_t rules = 0, elems = 0;
        char *text = NULL;
        uint8_t hash[NFT_RULESET_HASH_SIZE];

        for (size_t i = 0; i < rs->n_chains; i++) {
                if (rs->chains[i].table >= rs->n_tables)
                        abort();
                rules += rs->chains[i].n_rules;
        }
        for (size_t i = 0; i < rs->n_sets; i++) {
                if (rs->sets[i].table >= rs->n_tables)
                        abort();
                elems += rs->sets[i].n_elems;
        }
        if (rules != rs->n_rules_total || elems != rs->n_elems_total)
                abort();
        for (int fam = 0; fam < 2; fam++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        nft_verdict_packet pkt;
                        nft_verdict_result r;

                        nft_verdict_packet_for((nft_verdict_probe) p, fam ? NFPROTO_IPV6 : NFPROTO_IPV4, &pkt);
                        (void) nft_verdict_eval(rs, &pkt, &r);
                }
        if (nft_ruleset_format(rs, 0, &text) == 0)
                free(text);
        (void) nft_ruleset_hash(rs, hash);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        nft_change_batch b = {};
        nft_ruleset *rs = NULL;
        bool dumped = false, content = false;
        size_t off = 0;
        int r = 0;

        if (nft_ruleset_new(&rs) < 0)
                return 0;
        while (size - off >= sizeof(struct nlmsghdr) && r != -ESTALE) {
                struct nlmsghdr h;
                struct nlmsghdr *copy;
                bool gen;

                memcpy(&h, data + off, sizeof(h));
                /* the framing is the socket's job; the contents are ours */
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > size - off)
                        break;
                /* an exact-size heap copy: ASan sees a read one byte past it */
                if (!(copy = malloc(h.nlmsg_len)))
                        break;
                memcpy(copy, data + off, h.nlmsg_len);
                gen = NFNL_SUBSYS_ID(h.nlmsg_type) == NFNL_SUBSYS_NFTABLES && NFNL_MSG_TYPE(h.nlmsg_type) == NFT_MSG_NEWGEN;
                if (!dumped) {
                        (void) nft_ruleset_add_nlmsg(rs, copy);
                        if (gen && content) {
                                dumped = true;
                                holds_together(rs);
                        }
                        content |= !gen;
                } else if (gen) {
                        r = nft_change_finish(rs, &b);
                        b = (nft_change_batch){};
                        holds_together(rs);
                } else
                        r = nft_change_apply(rs, copy, &b);
                free(copy);
                off += NLMSG_ALIGN(h.nlmsg_len);
                if (off > size)
                        break;
        }
        nft_change_batch_done(&b);
        if (r != -ESTALE)
                holds_together(rs);
        nft_ruleset_free(rs);
        return 0;
}
