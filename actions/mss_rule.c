/* See mss_rule.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h> /* before libnftnl's headers, which use FILE */
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "actions/mss_rule.h"
#include "actions/nft_expr.h"

int mss_net_parse(const char *s, mss_net *n) {
        char buf[80], *slash;
        unsigned max;
        size_t len;

        while (*s == ' ' || *s == '\t')
                s++;
        len = strcspn(s, " \t");
        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = 0;
        *n = (mss_net){ .family = strchr(buf, ':') ? AF_INET6 : AF_INET };
        max = n->family == AF_INET6 ? 128 : 32;
        n->plen = max;
        if ((slash = strchr(buf, '/'))) {
                char *end;
                unsigned long v = strtoul(slash + 1, &end, 10);
                if (slash[1] < '0' || slash[1] > '9' || *end || v > max)
                        return -EINVAL;
                n->plen = (unsigned) v;
                *slash = 0;
        }
        if (inet_pton(n->family, buf, n->addr) != 1)
                return -EINVAL;
        for (unsigned i = 0; i < max / 8; i++) {
                unsigned bits = n->plen > i * 8 ? n->plen - i * 8 : 0;
                n->mask[i] = bits >= 8 ? 0xff : (uint8_t) (0xff << (8 - bits));
                n->addr[i] &= n->mask[i];
        }
        return 0;
}

static size_t addr_len(const mss_net *n) {
        return n->family == AF_INET6 ? 16 : 4;
}

void mss_net_add(mss_net *nets, size_t *k, size_t max, const mss_net *n) {
        for (size_t i = 0; i < *k; i++)
                if (nets[i].family == n->family && nets[i].plen == n->plen && memcmp(nets[i].addr, n->addr, addr_len(n)) == 0)
                        return;
        if (*k < max)
                nets[(*k)++] = *n;
}

const char *mss_nets_text(const mss_net *nets, size_t k, char *buf, size_t size) {
        size_t w = 0;

        buf[0] = 0;
        for (size_t i = 0; i < k && w < size; i++) {
                char a[INET6_ADDRSTRLEN];
                (void) inet_ntop(nets[i].family, nets[i].addr, a, sizeof(a));
                int n = snprintf(buf + w, size - w, "%s%s/%u", i ? ", " : "", a, nets[i].plen);
                w += n > 0 ? (size_t) n : 0;
        }
        return buf;
}

uint32_t mss_for(const mss_net *n, uint32_t mss) {
        return n->family == AF_INET6 ? mss - MSS_RULE_V6_LESS : mss;
}

static void add(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (e)
                nftnl_rule_add_expr(r, e);
}

static void expr_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        }
        add(r, e);
}

static void expr_and(struct nftnl_rule *r, const void *mask, uint32_t len) {
        static const uint8_t zero[16];
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
        }
        add(r, e);
}

/* the TCP option maxseg's size (kind 2, 2 bytes at offset 2): read into, or written from, reg 1 */
static void expr_maxseg(struct nftnl_rule *r, bool write) {
        struct nftnl_expr *e = nftnl_expr_alloc("exthdr");
        if (e) {
                nftnl_expr_set_u32(e, write ? NFTNL_EXPR_EXTHDR_SREG : NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
                nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT);
        }
        add(r, e);
}

static void expr_imm(struct nftnl_rule *r, const void *data, uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
                nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        }
        add(r, e);
}

struct nftnl_rule *mss_rule_new(const mss_net *n, bool daddr, uint32_t mss, const char *tag) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
        bool v6 = n->family == AF_INET6;
        uint8_t proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, tcp = IPPROTO_TCP, syn = 0x02, zero = 0;
        uint16_t be = htons((uint16_t) mss_for(n, mss));
        uint32_t len = (uint32_t) addr_len(n);
        struct nftnl_expr *e;

        if (!r || !u) {
                nftnl_rule_free(r);
                nftnl_udata_buf_free(u);
                return NULL;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, MSS_RULE_TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, MSS_RULE_CHAIN);
        if ((e = nftnl_expr_alloc("meta"))) { /* meta nfproto ipv4 / ipv6 */
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_NFPROTO);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        }
        add(r, e);
        nft_expr_cmp(r, NFT_CMP_EQ, &proto, 1);
        /* IPv4: saddr at 12, daddr at 16; IPv6: saddr at 8, daddr at 24 */
        expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? (daddr ? 24 : 8) : (daddr ? 16 : 12), len);
        if (n->plen < len * 8)
                expr_and(r, n->mask, len);
        nft_expr_cmp(r, NFT_CMP_EQ, n->addr, len);
        nft_expr_l4proto(r);
        nft_expr_cmp(r, NFT_CMP_EQ, &tcp, 1);
        expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1); /* tcp flags */
        expr_and(r, &syn, 1);
        nft_expr_cmp(r, NFT_CMP_NEQ, &zero, 1);
        expr_maxseg(r, false);
        nft_expr_cmp(r, NFT_CMP_GT, &be, 2);
        expr_imm(r, &be, 2);
        expr_maxseg(r, true);
        if (nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, tag))
                nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
        nftnl_udata_buf_free(u);
        return r;
}
