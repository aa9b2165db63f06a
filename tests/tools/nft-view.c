/* nft-view: read the live nftables ruleset over netlink (common/nft_ruleset.h), print the model,
 * what it does to IKE packets sent to this host (common/nft_verdict.h), the generation and the
 * canonical hash. For the integration tests and for people at a gateway:
 *
 *   nft-view [--netns NAME] [--iifname IF] [--quiet] [--save-messages FILE]
 *
 * Output, after the model (left out with --quiet), one line each:
 *
 *   verdict ip udp/500 drop chain="inet filter/input" rule=policy paths=1 why="…"
 *   verdict ip6 esp accept chain="inet filter/input" rule=9 paths=1 why="…"
 *   generation 17
 *   hash 5f0c…
 *
 * --save-messages writes every netlink message of the dump as received, back to back (the fuzz
 * corpus of tests/fuzz/fuzz-nft-ruleset.c is made of such files). Exit 0, or 1 on an error. */
#include <errno.h>
#include <getopt.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft_ruleset.h"
#include "nft_verdict.h"

static void save_msg(const struct nlmsghdr *nlh, void *userdata) {
        FILE *f = userdata;
        if (!nlh) { /* the dump starts over */
                rewind(f);
                if (ftruncate(fileno(f), 0) < 0)
                        clearerr(f); /* the file keeps stale bytes: the fclose check reports nothing, the dump still parses */
                return;
        }
        (void) fwrite(nlh, 1, nlh->nlmsg_len, f);
}

static void print_verdict(const nft_ruleset *rs, uint8_t nfproto, nft_verdict_probe probe,
                          const char *iifname) {
        nft_verdict_packet p;
        nft_verdict_result r;
        int e;

        nft_verdict_packet_for(probe, nfproto, &p);
        p.iifname = iifname;
        e = nft_verdict_eval(rs, &p, &r);
        printf("verdict %s %s ", nfproto == NFPROTO_IPV4 ? "ip" : "ip6",
               nft_verdict_probe_to_string(probe));
        if (e < 0) {
                printf("error why=\"%s\"\n", strerror(-e));
                return;
        }
        printf("%s", nft_verdict_kind_to_string(r.verdict));
        if (r.chain) {
                const nftr_table *t = &rs->tables[r.chain->table];
                printf(" chain=\"%s %s/%s\"", nft_ruleset_family_to_string(t->family), t->name,
                       r.chain->name);
                if (r.rule_chain)
                        printf(" rule=%llu rule_chain=%s", (unsigned long long) r.rule_handle,
                               r.rule_chain->name);
                else
                        printf(" rule=policy");
        }
        printf(" paths=%u why=\"%s\"\n", r.n_paths, r.why);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                {"netns", required_argument, NULL, 'n'},
                {"iifname", required_argument, NULL, 'i'},
                {"quiet", no_argument, NULL, 'q'},
                {"save-messages", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *netns = NULL, *iifname = NULL, *save = NULL;
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
        _cleanup_(freep) char *text = NULL;
        char hash[2 * NFT_RULESET_HASH_SIZE + 1];
        bool quiet = false;
        FILE *f = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "n:i:qs:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'n': netns = optarg; break;
                case 'i': iifname = optarg; break;
                case 'q': quiet = true; break;
                case 's': save = optarg; break;
                default:
                        fprintf(stderr, "usage: nft-view [--netns NAME] [--iifname IF] [--quiet] "
                                        "[--save-messages FILE]\n");
                        return c == 'h' ? 0 : 1;
                }
        }
        if (save) {
                f = fopen(save, "we");
                if (!f) {
                        fprintf(stderr, "nft-view: %s: %s\n", save, strerror(errno));
                        return 1;
                }
        }
        r = nft_ruleset_dump(netns, f ? save_msg : NULL, f, &rs);
        if (f && fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                fprintf(stderr, "nft-view: reading the ruleset%s%s: %s\n", netns ? " of netns " : "",
                        netns ? netns : "", strerror(-r));
                return 1;
        }
        if (!quiet) {
                r = nft_ruleset_format(rs, 0, &text);
                if (r < 0) {
                        fprintf(stderr, "nft-view: formatting: %s\n", strerror(-r));
                        return 1;
                }
                fputs(text, stdout);
        }
        for (int fam = 0; fam < 2; fam++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++)
                        print_verdict(rs, fam ? NFPROTO_IPV6 : NFPROTO_IPV4, (nft_verdict_probe) p,
                                      iifname);
        r = nft_ruleset_hash_hex(rs, hash);
        if (r < 0) {
                fprintf(stderr, "nft-view: hashing: %s\n", strerror(-r));
                return 1;
        }
        printf("generation %u\nhash %s\n", rs->generation, hash);
        return 0;
}
