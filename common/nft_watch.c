/* See nft_watch.h. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <stdlib.h>
#include <string.h>

#include "nft_watch.h"

struct nft_watch {
        unsigned n_ref;
        bool shared;
        struct nft_watch *next_shared;
        char *netns;
        struct mnl_socket *nl;
        nft_ruleset *rs;

        /* the raw dump of rs */
        uint8_t *raw;
        size_t raw_len, raw_cap, raw_max;
        bool raw_ok, overflow;

        nft_verdict_result verdict[2][_NFT_VERDICT_PROBE_MAX];
        bool have_verdict[2][_NFT_VERDICT_PROBE_MAX];
        char hash[2 * NFT_RULESET_HASH_SIZE + 1];
        bool have_hash;
};

/* The watches shared within this process, one per namespace. */
static nft_watch *shared_list;

static bool same_ns(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int nft_watch_shared(nft_watch **ret, const char *netns, size_t raw_max) {
        nft_watch *w;
        int r;

        for (w = shared_list; w; w = w->next_shared)
                if (same_ns(w->netns, netns)) {
                        if (raw_max > w->raw_max)
                                w->raw_max = raw_max; /* kept from the next read on */
                        w->n_ref++;
                        *ret = w;
                        return 0;
                }
        if ((r = nft_watch_new(&w, netns, raw_max)) < 0)
                return r;
        w->shared = true;
        w->next_shared = shared_list;
        shared_list = w;
        *ret = w;
        return 0;
}

int nft_watch_new(nft_watch **ret, const char *netns, size_t raw_max) {
        nft_watch *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        w->n_ref = 1;
        if (netns && !(w->netns = strdup(netns))) {
                free(w);
                return -ENOMEM;
        }
        w->raw_max = raw_max;
        *ret = w;
        return 0;
}

nft_watch *nft_watch_free(nft_watch *w) {
        if (!w || --w->n_ref > 0)
                return NULL;
        for (nft_watch **p = &shared_list; w->shared && *p; p = &(*p)->next_shared)
                if (*p == w) {
                        *p = w->next_shared;
                        break;
                }
        if (w->nl)
                (void) mnl_socket_close(w->nl);
        nft_ruleset_free(w->rs);
        free(w->raw);
        free(w->netns);
        free(w);
        return NULL;
}

static void keep(const struct nlmsghdr *nlh, void *userdata) {
        nft_watch *w = userdata;
        size_t n;

        if (!nlh) { /* the dump starts over */
                w->raw_len = 0;
                w->overflow = false;
                return;
        }
        n = MNL_ALIGN(nlh->nlmsg_len);
        if (w->overflow || w->raw_len + n > w->raw_max) {
                w->overflow = true;
                return;
        }
        if (w->raw_len + n > w->raw_cap) {
                size_t cap = w->raw_cap ? w->raw_cap * 2 : 65536;
                while (cap < w->raw_len + n)
                        cap *= 2;
                if (cap > w->raw_max)
                        cap = w->raw_max;
                uint8_t *p = realloc(w->raw, cap);
                if (!p) {
                        w->overflow = true;
                        return;
                }
                w->raw = p;
                w->raw_cap = cap;
        }
        memcpy(w->raw + w->raw_len, nlh, n);
        w->raw_len += n;
}

int nft_watch_refresh(nft_watch *w, bool *ret_changed) {
        nft_ruleset *rs = NULL;
        uint32_t gen;
        int r;

        if (ret_changed)
                *ret_changed = false;
        if (!w->nl && (r = nft_ruleset_socket_open(w->netns, &w->nl)) < 0)
                return r;
        r = nft_ruleset_generation(w->nl, &gen);
        if (r >= 0 && w->rs && gen == w->rs->generation)
                return 0;
        /* the old model goes first: at most one model and one dump in memory at any time */
        w->rs = nft_ruleset_free(w->rs);
        w->raw_len = 0;
        w->raw_ok = false;
        w->overflow = false;
        if (r >= 0)
                r = nft_ruleset_dump_socket(w->nl, w->raw_max ? keep : NULL, w, &rs);
        if (r < 0) {
                /* a namespace made anew, a socket overrun: the next refresh starts clean */
                (void) mnl_socket_close(w->nl);
                w->nl = NULL;
                return r;
        }
        w->rs = rs;
        w->raw_ok = w->raw_max && !w->overflow;
        memset(w->have_verdict, 0, sizeof(w->have_verdict));
        w->have_hash = false;
        if (ret_changed)
                *ret_changed = true;
        return 0;
}

const nft_ruleset *nft_watch_ruleset(const nft_watch *w) {
        return w->rs;
}

const uint8_t *nft_watch_raw(const nft_watch *w, size_t *ret_len) {
        if (!w->rs || !w->raw_ok)
                return NULL;
        *ret_len = w->raw_len;
        return w->raw;
}

int nft_watch_verdict(nft_watch *w, uint8_t nfproto, nft_verdict_probe probe, const nft_verdict_result **ret) {
        size_t f = nfproto == NFPROTO_IPV6;
        nft_verdict_packet pkt;
        int r;

        if (!w->rs || (unsigned) probe >= _NFT_VERDICT_PROBE_MAX)
                return -EINVAL;
        if (!w->have_verdict[f][probe]) {
                nft_verdict_packet_for(probe, nfproto, &pkt);
                r = nft_verdict_eval(w->rs, &pkt, &w->verdict[f][probe]);
                if (r < 0)
                        return r;
                w->have_verdict[f][probe] = true;
        }
        *ret = &w->verdict[f][probe];
        return 0;
}

int nft_watch_hash(nft_watch *w, const char **ret_hex) {
        int r;

        if (!w->rs)
                return -EINVAL;
        if (!w->have_hash) {
                r = nft_ruleset_hash_hex(w->rs, w->hash);
                if (r < 0)
                        return r;
                w->have_hash = true;
        }
        *ret_hex = w->hash;
        return 0;
}
