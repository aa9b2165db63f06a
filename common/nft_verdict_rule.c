/* The evaluator's single step: one rule's expressions run against the described packet, the
 * packet's unknown bytes tracked through the registers, giving match / no match / maybe and the
 * rule's verdict. See nft_verdict.h for the semantics. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h> /* before the linux/ headers, which defer to it */
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_verdict.h"
#include "nft_verdict_private.h"

void nftv_bprintf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}


void nftv_pkt_init(vpkt *v, const nft_verdict_packet *p) {
        memset(v, 0, sizeof(*v));
        v->p = p;
        if (p->nfproto == NFPROTO_IPV4) {
                v->nh_len = 20;
                v->nh[0] = 0x45; /* version 4, no options */
                v->nh_known[0] = true;
                v->nh[9] = p->l4proto;
                v->nh_known[9] = true;
        } else {
                v->nh_len = 40;
                v->nh[6] = p->l4proto; /* next header: no extension headers */
                v->nh_known[6] = true;
        }
        v->th_len = TH_MAX;
        if (p->l4proto == IPPROTO_UDP || p->l4proto == IPPROTO_TCP) {
                if (p->sport) {
                        v->th[0] = (uint8_t) (p->sport >> 8);
                        v->th[1] = (uint8_t) p->sport;
                        v->th_known[0] = v->th_known[1] = true;
                }
                v->th[2] = (uint8_t) (p->dport >> 8);
                v->th[3] = (uint8_t) p->dport;
                v->th_known[2] = v->th_known[3] = true;
        }
}

/* ---- registers ---- */

/* 4 32-bit slots of verdict, then NFT_REG32_00…15: the kernel's struct nft_regs. */
#define REG_SLOTS 20
#define REG_BYTES (REG_SLOTS * 4)
#define SRC_MAX 48

typedef enum reg_tag {
        TAG_NONE,
        TAG_IIFNAME_NOT_LO, /* an interface name we don't know, but not "lo" */
        TAG_IIF_NOT_LO,     /* an interface index we don't know, but not 1 */
} reg_tag;

typedef struct regs {
        uint8_t v[REG_BYTES];
        bool known[REG_BYTES];
        uint8_t tag[REG_SLOTS];
        /* what was loaded there (NULL: nothing), named only when a fork needs a reason: the
         * common path of ten thousand rules formats nothing */
        const nftr_expr *src[REG_SLOTS];
} regs;

/* Byte offset of register `reg` for `len` bytes, -1 if out of range (the kernel refuses such
 * rules; only hand-built or fuzzed models have them). */
static int reg_off(uint32_t reg, size_t len) {
        uint32_t slot;

        if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
                slot = reg * (NFT_REG_SIZE / NFT_REG32_SIZE);
        else if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
                slot = reg - NFT_REG32_00 + NFT_REG_SIZE / NFT_REG32_SIZE;
        else
                return -1;
        if (len == 0 || len > NFTR_DATA_MAX || slot * 4 + len > REG_BYTES)
                return -1;
        return (int) (slot * 4);
}

/* Store len bytes (NULL value: unknown) and zero the rest of the last slot, as the kernel's
 * loads do. */
static int reg_store(regs *r, uint32_t reg, const uint8_t *val, const bool *known, size_t len,
                     reg_tag tag, const nftr_expr *src) {
        size_t padded = (len + 3) & ~(size_t) 3;
        int off = reg_off(reg, padded);

        if (off < 0)
                return -1;
        for (size_t i = 0; i < padded; i++) {
                bool in = i < len;
                r->v[off + i] = in && val ? val[i] : 0;
                r->known[off + i] = in ? (val && (!known || known[i])) : true;
        }
        for (size_t s = (size_t) off / 4; s < ((size_t) off + padded) / 4; s++) {
                r->tag[s] = (uint8_t) tag;
                r->src[s] = src;
        }
        return 0;
}

static void regs_init(regs *r) {
        memset(r, 0, sizeof(*r));
}

/* What a load expression read, for the operator: "meta l4proto", "ip saddr", … */
static const char *src_name(const nftr_expr *x, uint8_t nfproto, char buf[SRC_MAX]) {
        if (!x)
                return "an unset register";
        switch (x->kind) {
        case NFTR_EXPR_META:
                nftv_bprintf(buf, SRC_MAX, "meta %s", nft_ruleset_meta_key_to_string(x->key));
                break;
        case NFTR_EXPR_CT:
                nftv_bprintf(buf, SRC_MAX, "ct %s", nft_ruleset_ct_key_to_string(x->key));
                break;
        case NFTR_EXPR_PAYLOAD:
                if (x->key == NFT_PAYLOAD_NETWORK_HEADER && nfproto == NFPROTO_IPV4 && x->offset == 12 && x->len <= 4)
                        nftv_bprintf(buf, SRC_MAX, "ip saddr");
                else if (x->key == NFT_PAYLOAD_NETWORK_HEADER && nfproto == NFPROTO_IPV6 && x->offset == 8 && x->len <= 16)
                        nftv_bprintf(buf, SRC_MAX, "ip6 saddr");
                else if (x->key == NFT_PAYLOAD_TRANSPORT_HEADER && x->offset == 0 && x->len == 2)
                        nftv_bprintf(buf, SRC_MAX, "th sport");
                else
                        nftv_bprintf(buf, SRC_MAX, "payload %s+%" PRIu32 "/%" PRIu32,
                                x->key == NFT_PAYLOAD_LL_HEADER ? "ll"
                                : x->key == NFT_PAYLOAD_NETWORK_HEADER ? "nh"
                                : x->key == NFT_PAYLOAD_TRANSPORT_HEADER ? "th" : "?",
                                x->offset, x->len);
                break;
        case NFTR_EXPR_FIB:
                return "fib result";
        case NFTR_EXPR_LOOKUP:
                return "a map's value";
        case NFTR_EXPR_IMMEDIATE:
                return "an immediate value";
        default:
                nftv_bprintf(buf, SRC_MAX, "%s", x->name);
                break;
        }
        return buf;
}


/* The first undecided match of a rule, said in words only when the rule's outcome is used: most
 * rules of a big ruleset stop at a later match that fails, and their reason is never read. */
typedef enum maybe_kind {
        MAYBE_NONE,
        MAYBE_CMP,
        MAYBE_RANGE,
        MAYBE_LOOKUP,
        MAYBE_MAP,
        MAYBE_LIMIT,
} maybe_kind;

typedef struct maybe {
        maybe_kind kind;
        const nftr_expr *src; /* what loaded the register the match reads */
} maybe;

static void out_maybe(rule_out *o, maybe *m, maybe_kind kind, const nftr_expr *src) {
        if (o->match == TRI_MAYBE)
                return; /* keep the first reason */
        o->match = TRI_MAYBE;
        *m = (maybe){ kind, src };
}

static void maybe_say(rule_out *o, const maybe *m, uint8_t nfproto) {
        char srcbuf[SRC_MAX];
        const char *src = m->kind == MAYBE_LIMIT ? NULL : src_name(m->src, nfproto, srcbuf);

        switch (m->kind) {
        case MAYBE_CMP:
                nftv_bprintf(o->why, sizeof(o->why), "its match on %s is undecided for this packet", src);
                break;
        case MAYBE_RANGE:
                nftv_bprintf(o->why, sizeof(o->why), "its range match on %s is undecided for this packet", src);
                break;
        case MAYBE_LOOKUP:
                nftv_bprintf(o->why, sizeof(o->why), "its set lookup on %s is undecided for this packet", src);
                break;
        case MAYBE_MAP:
                nftv_bprintf(o->why, sizeof(o->why), "its map lookup on %s is undecided", src);
                break;
        case MAYBE_LIMIT:
                nftv_bprintf(o->why, sizeof(o->why), "its limit may stop matching at any time");
                break;
        case MAYBE_NONE:
                break;
        }
}

static void out_unknown(rule_out *o, const char *fmt, ...) _printf_(2, 3);
static void out_unknown(rule_out *o, const char *fmt, ...) {
        va_list ap;

        o->unknown = true;
        va_start(ap, fmt);
        (void) vsnprintf(o->why, sizeof(o->why), fmt, ap);
        va_end(ap);
}

static bool all_known(const regs *r, int off, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!r->known[off + i])
                        return false;
        return true;
}

static bool is_lo_name(const nftr_bytes *d) {
        if (d->len < 3 || memcmp(d->b, "lo", 3) != 0)
                return false;
        for (size_t i = 3; i < d->len; i++)
                if (d->b[i])
                        return false;
        return true;
}

static tri cmp_eval(const regs *r, int off, const nftr_bytes *d, uint32_t op) {
        size_t len = d->len;
        int c;

        if (all_known(r, off, len)) {
                c = memcmp(r->v + off, d->b, len);
                switch (op) {
                case NFT_CMP_EQ: return c == 0 ? TRI_YES : TRI_NO;
                case NFT_CMP_NEQ: return c != 0 ? TRI_YES : TRI_NO;
                case NFT_CMP_LT: return c < 0 ? TRI_YES : TRI_NO;
                case NFT_CMP_LTE: return c <= 0 ? TRI_YES : TRI_NO;
                case NFT_CMP_GT: return c > 0 ? TRI_YES : TRI_NO;
                case NFT_CMP_GTE: return c >= 0 ? TRI_YES : TRI_NO;
                default: return TRI_MAYBE;
                }
        }
        if (op != NFT_CMP_EQ && op != NFT_CMP_NEQ)
                return TRI_MAYBE;
        /* a known byte that differs decides equality already */
        for (size_t i = 0; i < len; i++)
                if (r->known[off + i] && r->v[off + i] != d->b[i])
                        return op == NFT_CMP_EQ ? TRI_NO : TRI_YES;
        if ((r->tag[off / 4] == TAG_IIFNAME_NOT_LO && is_lo_name(d)) ||
            (r->tag[off / 4] == TAG_IIF_NOT_LO && len == 4 && !memcmp(d->b, &(uint32_t){1}, 4)))
                return op == NFT_CMP_EQ ? TRI_NO : TRI_YES;
        return TRI_MAYBE;
}

static int cmp_bytes(const uint8_t *a, const uint8_t *b, size_t len) {
        return memcmp(a, b, len);
}

/* Does `s` hold the key at r+off (key_len bytes)? ret_elem: the element found (for maps). */
static tri set_match(const nftr_set *s, const regs *r, int off, const nftr_elem **ret_elem) {
        const size_t len = s->key_len;
        const uint8_t *k = r->v + off;
        const nftr_elem *catchall = NULL, *best = NULL;
        bool known = all_known(r, off, len), candidate = false;

        *ret_elem = NULL;
        for (size_t i = 0; i < s->n_elems; i++)
                if (s->elems[i].flags & NFT_SET_ELEM_CATCHALL)
                        catchall = &s->elems[i];

        if (!known) {
                bool interval = s->flags & NFT_SET_INTERVAL;
                for (size_t i = 0; i < s->n_elems && !candidate; i++) {
                        const nftr_elem *e = &s->elems[i];
                        bool agree = true;
                        if (e->flags & NFT_SET_ELEM_CATCHALL || e->key.len != len)
                                continue;
                        if (interval || e->key_end.len) {
                                candidate = true; /* ranges: not worth narrowing down */
                                break;
                        }
                        for (size_t j = 0; j < len && agree; j++)
                                if (r->known[off + j] && e->key.b[j] != k[j])
                                        agree = false;
                        candidate = agree;
                }
                if (!candidate && !catchall)
                        return TRI_NO;
                return TRI_MAYBE;
        }

        for (size_t i = 0; i < s->n_elems; i++) {
                const nftr_elem *e = &s->elems[i];
                if (e->flags & NFT_SET_ELEM_CATCHALL || e->key.len != len)
                        continue;
                if (e->key_end.len == len) {
                        if (cmp_bytes(e->key.b, k, len) <= 0 && cmp_bytes(k, e->key_end.b, len) <= 0) {
                                *ret_elem = e;
                                return TRI_YES;
                        }
                } else if (s->flags & NFT_SET_INTERVAL) {
                        /* rbtree semantics: the greatest boundary ≤ key decides; a start wins a
                         * tie with an end */
                        int c = cmp_bytes(e->key.b, k, len);
                        if (c > 0)
                                continue;
                        if (!best) {
                                best = e;
                                continue;
                        }
                        c = cmp_bytes(e->key.b, best->key.b, len);
                        if (c > 0 || (c == 0 && !(e->flags & NFT_SET_ELEM_INTERVAL_END)))
                                best = e;
                } else if (!cmp_bytes(e->key.b, k, len)) {
                        *ret_elem = e;
                        return TRI_YES;
                }
        }
        if (best && !(best->flags & NFT_SET_ELEM_INTERVAL_END)) {
                *ret_elem = best;
                return TRI_YES;
        }
        if (catchall) {
                *ret_elem = catchall;
                return TRI_YES;
        }
        return TRI_NO;
}

static size_t meta_len(uint32_t key) {
        switch (key) {
        case NFT_META_IIFNAME: case NFT_META_OIFNAME: case NFT_META_BRI_IIFNAME:
        case NFT_META_BRI_OIFNAME: case NFT_META_IIFKIND: case NFT_META_OIFKIND:
        case NFT_META_SDIFNAME:
                return 16;
        case NFT_META_TIME_NS:
                return 8;
        default:
                return 4;
        }
}

static int eval_meta(regs *r, const vpkt *v, const nftr_expr *x) {
        const nft_verdict_packet *p = v->p;
        uint8_t b[16] = {};
        const nftr_expr *src = x;

        switch (x->key) {
        case NFT_META_NFPROTO:
                b[0] = p->nfproto;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_META_L4PROTO:
                b[0] = p->l4proto;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_META_PROTOCOL:
                b[0] = p->nfproto == NFPROTO_IPV4 ? 0x08 : 0x86;
                b[1] = p->nfproto == NFPROTO_IPV4 ? 0x00 : 0xdd;
                return reg_store(r, x->dreg, b, NULL, 2, TAG_NONE, src);
        case NFT_META_PKTTYPE:
                b[0] = PACKET_HOST;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_META_SECPATH:
                b[0] = 0; /* nothing decrypted yet: the IKE packet, the ESP packet itself */
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_META_IIFNAME:
                if (p->iifname) {
                        memcpy(b, p->iifname, strnlen(p->iifname, sizeof(b)));
                        return reg_store(r, x->dreg, b, NULL, 16, TAG_NONE, src);
                }
                return reg_store(r, x->dreg, NULL, NULL, 16, TAG_IIFNAME_NOT_LO, src);
        case NFT_META_IIF:
                if (p->iif) {
                        memcpy(b, &p->iif, 4);
                        return reg_store(r, x->dreg, b, NULL, 4, TAG_NONE, src);
                }
                return reg_store(r, x->dreg, NULL, NULL, 4, TAG_IIF_NOT_LO, src);
        default:
                return reg_store(r, x->dreg, NULL, NULL, meta_len(x->key), TAG_NONE, src);
        }
}

static int eval_ct(regs *r, const vpkt *v, const nftr_expr *x) {
        const nft_verdict_packet *p = v->p;
        bool original = x->dir == 0xff || x->dir == IP_CT_DIR_ORIGINAL;
        uint8_t b[16] = {};
        uint32_t u;
        const nftr_expr *src = x;

        switch (x->key) {
        case NFT_CT_STATE:
                /* the first packet of a new IKE SA or ESP flow: see nft_verdict.h */
                u = NF_CT_STATE_BIT(IP_CT_NEW);
                memcpy(b, &u, 4);
                return reg_store(r, x->dreg, b, NULL, 4, TAG_NONE, src);
        case NFT_CT_DIRECTION:
                b[0] = IP_CT_DIR_ORIGINAL;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_CT_L3PROTOCOL:
                b[0] = p->nfproto;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_CT_PROTOCOL:
                b[0] = p->l4proto;
                return reg_store(r, x->dreg, b, NULL, 1, TAG_NONE, src);
        case NFT_CT_PROTO_DST:
                if (original && p->l4proto == IPPROTO_UDP) {
                        b[0] = (uint8_t) (p->dport >> 8);
                        b[1] = (uint8_t) p->dport;
                        return reg_store(r, x->dreg, b, NULL, 2, TAG_NONE, src);
                }
                return reg_store(r, x->dreg, NULL, NULL, 2, TAG_NONE, src);
        case NFT_CT_SRC: case NFT_CT_DST: case NFT_CT_LABELS: case NFT_CT_SRC_IP6:
        case NFT_CT_DST_IP6:
                return reg_store(r, x->dreg, NULL, NULL, 16, TAG_NONE, src);
        case NFT_CT_PKTS: case NFT_CT_BYTES: case NFT_CT_AVGPKT:
                return reg_store(r, x->dreg, NULL, NULL, 8, TAG_NONE, src);
        default:
                return reg_store(r, x->dreg, NULL, NULL, 4, TAG_NONE, src);
        }
}

static int eval_payload(regs *r, const vpkt *v, const nftr_expr *x) {
        const uint8_t *val = NULL;
        const bool *known = NULL;
        const nftr_expr *src = x;

        if (x->len == 0 || x->len > NFTR_DATA_MAX)
                return -1;
        /* offset + len could wrap: compare without adding (a fuzzer found it) */
        if (x->key == NFT_PAYLOAD_NETWORK_HEADER && x->len <= v->nh_len && x->offset <= v->nh_len - x->len) {
                val = v->nh + x->offset;
                known = v->nh_known + x->offset;
        } else if (x->key == NFT_PAYLOAD_TRANSPORT_HEADER && x->len <= v->th_len &&
                   x->offset <= v->th_len - x->len) {
                val = v->th + x->offset;
                known = v->th_known + x->offset;
        }
        if (!val)
                return reg_store(r, x->dreg, NULL, NULL, x->len, TAG_NONE, src);
        return reg_store(r, x->dreg, val, known, x->len, TAG_NONE, src);
}

static int eval_bitwise(regs *r, const nftr_expr *x) {
        uint8_t val[NFTR_DATA_MAX];
        bool known[NFTR_DATA_MAX];
        int so = reg_off(x->sreg, x->len), dof = reg_off(x->dreg, x->len);

        if (so < 0 || dof < 0 || x->data.len < x->len || x->data2.len < x->len)
                return -1;
        for (size_t i = 0; i < x->len; i++) {
                val[i] = (uint8_t) ((r->v[so + i] & x->data.b[i]) ^ x->data2.b[i]);
                /* bits masked away are known whatever the input was */
                known[i] = r->known[so + i] || x->data.b[i] == 0;
        }
        return reg_store(r, x->dreg, val, known, x->len, TAG_NONE, r->src[so / 4]);
}

static void eval_rule(const nft_ruleset *rs, const vpkt *v, const nftr_chain *chain, const nftr_rule *rule, rule_out *o,
                      maybe *m) {
        char srcbuf[SRC_MAX];
        regs r;

        regs_init(&r);

        for (size_t i = 0; i < rule->n_exprs; i++) {
                const nftr_expr *x = rule->exprs[i];
                const nftr_elem *e;
                const nftr_set *s;
                int off;
                tri t;

                switch (x->kind) {
                case NFTR_EXPR_META:
                        if (x->has_dreg && eval_meta(&r, v, x) < 0)
                                goto bad_register;
                        break; /* "meta set": changes nothing we read */
                case NFTR_EXPR_CT:
                        if (x->has_dreg && eval_ct(&r, v, x) < 0)
                                goto bad_register;
                        break;
                case NFTR_EXPR_PAYLOAD:
                        if (eval_payload(&r, v, x) < 0)
                                goto bad_register;
                        break;
                case NFTR_EXPR_FIB: {
                        uint32_t u = RTN_LOCAL;
                        const uint32_t daddr_only = NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF | NFTA_FIB_F_MARK;
                        bool local = x->key == NFT_FIB_RESULT_ADDRTYPE && (x->flags & NFTA_FIB_F_DADDR) &&
                                     !(x->flags & ~daddr_only);
                        /* the packet is addressed to the gateway: its destination is local */
                        if (reg_store(&r, x->dreg, local ? (uint8_t *) &u : NULL, NULL,
                                      x->key == NFT_FIB_RESULT_OIFNAME ? 16 : 4, TAG_NONE, x) < 0)
                                goto bad_register;
                        break;
                }
                case NFTR_EXPR_CMP:
                        off = reg_off(x->sreg, x->data.len);
                        if (off < 0)
                                goto bad_register;
                        t = cmp_eval(&r, off, &x->data, x->op);
                        if (t == TRI_NO) {
                                o->match = TRI_NO;
                                return;
                        }
                        if (t == TRI_MAYBE)
                                out_maybe(o, m, MAYBE_CMP, r.src[off / 4]);
                        break;
                case NFTR_EXPR_RANGE:
                        off = reg_off(x->sreg, x->data.len);
                        if (off < 0 || x->data2.len != x->data.len)
                                goto bad_register;
                        if (all_known(&r, off, x->data.len)) {
                                bool in = memcmp(r.v + off, x->data.b, x->data.len) >= 0 &&
                                          memcmp(r.v + off, x->data2.b, x->data.len) <= 0;
                                if (in != (x->op == NFT_RANGE_EQ)) {
                                        o->match = TRI_NO;
                                        return;
                                }
                        } else
                                out_maybe(o, m, MAYBE_RANGE, r.src[off / 4]);
                        break;
                case NFTR_EXPR_BITWISE:
                        if (eval_bitwise(&r, x) < 0)
                                goto bad_register;
                        break;
                case NFTR_EXPR_LOOKUP:
                        s = nft_ruleset_find_set(rs, chain->table, x->set);
                        if (!s) {
                                out_unknown(o, "looks up a set @%s that is missing", x->set ? x->set : "?");
                                return;
                        }
                        off = reg_off(x->sreg, s->key_len);
                        if (off < 0)
                                goto bad_register;
                        t = set_match(s, &r, off, &e);
                        if (!x->has_dreg) {
                                if (x->flags & NFT_LOOKUP_F_INV && t != TRI_MAYBE)
                                        t = t == TRI_YES ? TRI_NO : TRI_YES;
                                if (t == TRI_NO) {
                                        o->match = TRI_NO;
                                        return;
                                }
                                if (t == TRI_MAYBE)
                                        out_maybe(o, m, MAYBE_LOOKUP, r.src[off / 4]);
                                break;
                        }
                        if (t == TRI_NO) {
                                o->match = TRI_NO;
                                return;
                        }
                        if (x->dreg == NFT_REG_VERDICT) {
                                if (t == TRI_MAYBE || !e || !e->has_verdict) {
                                        out_unknown(o, "maps %s through a verdict map whose answer is undecided",
                                                    src_name(r.src[off / 4], v->p->nfproto, srcbuf));
                                        return;
                                }
                                o->verdict = e->verdict;
                                o->chain = e->chain;
                                return;
                        }
                        if (t == TRI_MAYBE || !e || e->has_verdict || !e->data.len) {
                                if (reg_store(&r, x->dreg, NULL, NULL, s->data_len ? s->data_len : 4, TAG_NONE, x) < 0)
                                        goto bad_register;
                                if (t == TRI_MAYBE)
                                        out_maybe(o, m, MAYBE_MAP, r.src[off / 4]);
                        } else if (reg_store(&r, x->dreg, e->data.b, NULL, e->data.len, TAG_NONE, x) < 0)
                                goto bad_register;
                        break;
                case NFTR_EXPR_IMMEDIATE:
                        if (x->has_dreg) {
                                if (reg_store(&r, x->dreg, x->data.b, NULL, x->data.len, TAG_NONE, x) < 0)
                                        goto bad_register;
                                break;
                        }
                        /* a verdict ends the rule, as in nft_do_chain() */
                        o->verdict = x->verdict;
                        o->chain = x->chain;
                        return;
                case NFTR_EXPR_REJECT:
                        o->reject = true;
                        return;
                case NFTR_EXPR_COUNTER:
                case NFTR_EXPR_LOG:
                case NFTR_EXPR_NOTRACK:
                        break;
                case NFTR_EXPR_LIMIT:
                        out_maybe(o, m, MAYBE_LIMIT, NULL);
                        break;
                case NFTR_EXPR_OTHER:
                default:
                        out_unknown(o, "uses %s", x->name[0] ? x->name : "an unnamed expression");
                        return;
                }
        }
        return;

bad_register:
        out_unknown(o, "uses a register the kernel would refuse");
}

void nftv_eval_rule(const nft_ruleset *rs, const vpkt *v, const nftr_chain *chain, const nftr_rule *rule, rule_out *o) {
        maybe m = { MAYBE_NONE, NULL };

        /* field by field: the reason's buffer is written only when there is one */
        o->match = TRI_YES;
        o->verdict = NFT_CONTINUE;
        o->chain = NULL;
        o->reject = o->unknown = false;
        o->why[0] = 0;
        eval_rule(rs, v, chain, rule, o, &m);
        /* an unknown expression's reason stands over an undecided match's */
        if (!o->unknown && o->match == TRI_MAYBE)
                maybe_say(o, &m, v->p->nfproto);
}
