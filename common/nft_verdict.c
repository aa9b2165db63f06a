/* The evaluator: runs a described packet through the base chains of a ruleset model the way the
 * kernel's nft_do_chain() would, with the packet's unknown parts tracked byte by byte in the
 * registers, forking where a rule may or may not match. See nft_verdict.h for the semantics. */
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

/* Reasons are bounded text: cut at the buffer's end is intended (and hidden from
 * -Wformat-truncation by going through a va_list). */
static void bprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void bprintf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* ---- the packet ---- */

#define NH_MAX 40
#define TH_MAX 8

typedef struct vpkt {
        const nft_verdict_packet *p;
        uint8_t nh[NH_MAX];
        bool nh_known[NH_MAX];
        size_t nh_len;
        uint8_t th[TH_MAX];
        bool th_known[TH_MAX];
        size_t th_len;
} vpkt;

static void vpkt_init(vpkt *v, const nft_verdict_packet *p) {
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
                bprintf(buf, SRC_MAX, "meta %s", nft_ruleset_meta_key_to_string(x->key));
                break;
        case NFTR_EXPR_CT:
                bprintf(buf, SRC_MAX, "ct %s", nft_ruleset_ct_key_to_string(x->key));
                break;
        case NFTR_EXPR_PAYLOAD:
                if (x->key == NFT_PAYLOAD_NETWORK_HEADER && nfproto == NFPROTO_IPV4 && x->offset == 12 && x->len <= 4)
                        bprintf(buf, SRC_MAX, "ip saddr");
                else if (x->key == NFT_PAYLOAD_NETWORK_HEADER && nfproto == NFPROTO_IPV6 && x->offset == 8 && x->len <= 16)
                        bprintf(buf, SRC_MAX, "ip6 saddr");
                else if (x->key == NFT_PAYLOAD_TRANSPORT_HEADER && x->offset == 0 && x->len == 2)
                        bprintf(buf, SRC_MAX, "th sport");
                else
                        bprintf(buf, SRC_MAX, "payload %s+%" PRIu32 "/%" PRIu32,
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
                bprintf(buf, SRC_MAX, "%s", x->name);
                break;
        }
        return buf;
}

/* ---- one rule ---- */

typedef enum tri {
        TRI_NO,
        TRI_YES,
        TRI_MAYBE,
} tri;

typedef struct rule_out {
        tri match;
        int32_t verdict;   /* NFT_CONTINUE: no verdict */
        const char *chain; /* jump/goto target */
        bool reject;
        bool unknown;
        char why[256];     /* unknown: what; MAYBE: the undecided match */
} rule_out;

static void out_maybe(rule_out *o, const char *fmt, ...) _printf_(2, 3);
static void out_maybe(rule_out *o, const char *fmt, ...) {
        va_list ap;

        if (o->match == TRI_MAYBE)
                return; /* keep the first reason */
        o->match = TRI_MAYBE;
        va_start(ap, fmt);
        (void) vsnprintf(o->why, sizeof(o->why), fmt, ap);
        va_end(ap);
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

static bool is_lo_name(const nftr_data *d) {
        if (d->len < 3 || memcmp(d->b, "lo", 3) != 0)
                return false;
        for (size_t i = 3; i < d->len; i++)
                if (d->b[i])
                        return false;
        return true;
}

static tri cmp_eval(const regs *r, int off, const nftr_data *d, uint32_t op) {
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

static void eval_rule(const nft_ruleset *rs, const vpkt *v, const nftr_chain *chain,
                      const nftr_rule *rule, rule_out *o) {
        char srcbuf[SRC_MAX];
        regs r;

        regs_init(&r);
        memset(o, 0, sizeof(*o));
        o->match = TRI_YES;
        o->verdict = NFT_CONTINUE;

        for (size_t i = 0; i < rule->n_exprs; i++) {
                const nftr_expr *x = &rule->exprs[i];
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
                                out_maybe(o, "its match on %s is undecided for this packet",
                                          src_name(r.src[off / 4], v->p->nfproto, srcbuf));
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
                                out_maybe(o, "its range match on %s is undecided for this packet",
                                          src_name(r.src[off / 4], v->p->nfproto, srcbuf));
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
                                        out_maybe(o, "its set lookup on %s is undecided for this packet",
                                                  src_name(r.src[off / 4], v->p->nfproto, srcbuf));
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
                                        out_maybe(o, "its map lookup on %s is undecided", src_name(r.src[off / 4], v->p->nfproto, srcbuf));
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
                        out_maybe(o, "its limit may stop matching at any time");
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

/* ---- the walk over the base chains ---- */

typedef struct frame {
        const nftr_chain *chain;
        size_t rule;
} frame;

typedef struct walk {
        size_t base;                  /* next index into ctx.bases when depth is 0 */
        const nftr_chain *base_chain; /* the base chain running */
        frame stack[NFT_VERDICT_JUMP_MAX + 1];
        size_t depth;
        nft_verdict_step steps[NFT_VERDICT_STEPS_MAX];
        size_t n_steps;
} walk;

typedef struct ctx {
        const nft_ruleset *rs;
        vpkt pkt;
        const nftr_chain **bases;
        size_t n_bases;
        unsigned paths, rules_left;
        bool overflow;   /* out of paths or of rule budget: the verdict is unknown */
        int error;
        unsigned outcomes;                         /* bit per nft_verdict_kind */
        nft_verdict_result first[_NFT_VERDICT_KIND_MAX]; /* the first path of each outcome */
        char maybe_why[NFT_VERDICT_WHY_MAX];       /* the first fork's reason */
} ctx;

static void label(const ctx *c, const nftr_chain *ch, char *buf, size_t size) {
        const nftr_table *t = &c->rs->tables[ch->table];
        bprintf(buf, size, "%s %s/%s", nft_ruleset_family_to_string(t->family), t->name,
                        ch->name);
}

static void add_step(walk *w, nft_verdict_kind k, const nftr_chain *rule_chain, uint64_t handle) {
        if (w->n_steps >= NFT_VERDICT_STEPS_MAX)
                return;
        w->steps[w->n_steps++] = (nft_verdict_step){
                .chain = w->base_chain, .verdict = k, .rule_chain = rule_chain, .rule_handle = handle};
}

/* The end of one path. */
static void finish(ctx *c, walk *w, nft_verdict_kind k, const nftr_chain *rule_chain,
                   uint64_t handle, const char *why) {
        nft_verdict_result *r = &c->first[k];

        c->paths++;
        if (c->outcomes & (1u << k))
                return;
        c->outcomes |= 1u << k;
        memset(r, 0, sizeof(*r));
        r->verdict = k;
        r->chain = w->base_chain;
        r->rule_chain = rule_chain;
        r->rule_handle = handle;
        bprintf(r->why, sizeof(r->why), "%s", why);
        memcpy(r->steps, w->steps, w->n_steps * sizeof(*w->steps));
        r->n_steps = w->n_steps;
}

static void walk_run(ctx *c, walk *w);

/* Follow the other branch on a copy of the walk. */
static void fork_walk(ctx *c, const walk *w, bool skip_rule, const char *why) {
        walk *copy;

        if (c->paths + 1 >= NFT_VERDICT_PATHS_MAX) {
                c->overflow = true;
                return;
        }
        if (!c->maybe_why[0])
                bprintf(c->maybe_why, sizeof(c->maybe_why), "%s", why);
        copy = malloc(sizeof(*copy));
        if (!copy) {
                c->error = -ENOMEM;
                return;
        }
        *copy = *w;
        if (skip_rule)
                copy->stack[copy->depth - 1].rule++;
        else
                copy->base++; /* skip a device-bound base chain */
        walk_run(c, copy);
        free(copy);
}

/* The packet leaves its base chain accepted: on to the next one. */
static void base_accept(walk *w, const nftr_chain *rule_chain, uint64_t handle) {
        add_step(w, NFT_VERDICT_ACCEPT, rule_chain, handle);
        w->depth = 0;
        w->base++;
}

static void policy(ctx *c, walk *w) {
        char l[NFTR_NAME_MAX * 2 + 16], why[NFT_VERDICT_WHY_MAX];

        if (w->base_chain->policy == NF_ACCEPT) {
                base_accept(w, NULL, 0);
                return;
        }
        label(c, w->base_chain, l, sizeof(l));
        bprintf(why, sizeof(why), "%s (hook %s, priority %" PRId32 "): no rule decided, policy drop",
                        l, nft_ruleset_hook_to_string(c->rs->tables[w->base_chain->table].family,
                                                      w->base_chain->hooknum),
                        w->base_chain->priority);
        add_step(w, NFT_VERDICT_DROP, NULL, 0);
        finish(c, w, NFT_VERDICT_DROP, NULL, 0, why);
        w->depth = SIZE_MAX; /* path over */
}

static tri chain_applies(const ctx *c, const nftr_chain *ch) {
        const nft_verdict_packet *p = c->pkt.p;
        const nftr_table *t = &c->rs->tables[ch->table];
        bool ingress = t->family == NFPROTO_NETDEV || ch->hooknum == NF_INET_INGRESS;

        if (!ingress)
                return TRI_YES;
        if (ch->dev && p->iifname)
                return strcmp(ch->dev, p->iifname) ? TRI_NO : TRI_YES;
        if (ch->dev && !strcmp(ch->dev, "lo"))
                return TRI_NO;
        return TRI_MAYBE;
}

static void walk_run(ctx *c, walk *w) {
        char l[NFTR_NAME_MAX * 2 + 16], l2[NFTR_NAME_MAX * 2 + 16], why[NFT_VERDICT_WHY_MAX];

        for (;;) {
                const nftr_chain *ch, *target;
                const nftr_rule *rule;
                frame *f;
                rule_out o;
                int32_t v;

                if (c->overflow || c->error)
                        return;
                if (w->depth == SIZE_MAX)
                        return;
                if (w->depth == 0) {
                        if (w->base >= c->n_bases) {
                                char all[NFT_VERDICT_WHY_MAX] = "";
                                size_t n = 0;
                                for (size_t i = 0; i < w->n_steps; i++) {
                                        const nft_verdict_step *s = &w->steps[i];
                                        label(c, s->chain, l, sizeof(l));
                                        if (s->rule_chain)
                                                n += (size_t) snprintf(all + n, n < sizeof(all) ? sizeof(all) - n : 0,
                                                                       "%s%s rule handle %" PRIu64, i ? ", " : "", l,
                                                                       s->rule_handle);
                                        else
                                                n += (size_t) snprintf(all + n, n < sizeof(all) ? sizeof(all) - n : 0,
                                                                       "%s%s policy", i ? ", " : "", l);
                                        if (n >= sizeof(all))
                                                break;
                                }
                                if (w->n_steps == 0)
                                        bprintf(why, sizeof(why),
                                                        "no base chain on the path (ingress, prerouting, input)");
                                else
                                        bprintf(why, sizeof(why), "accepted by every base chain: %s", all);
                                finish(c, w, NFT_VERDICT_ACCEPT,
                                       w->n_steps ? w->steps[w->n_steps - 1].rule_chain : NULL,
                                       w->n_steps ? w->steps[w->n_steps - 1].rule_handle : 0, why);
                                return;
                        }
                        ch = c->bases[w->base];
                        switch (chain_applies(c, ch)) {
                        case TRI_NO:
                                w->base++;
                                continue;
                        case TRI_MAYBE:
                                label(c, ch, l, sizeof(l));
                                bprintf(why, sizeof(why),
                                                "%s is bound to device %s, the packet's input interface is unknown",
                                                l, ch->dev ? ch->dev : "(several)");
                                fork_walk(c, w, false, why);
                                break;
                        case TRI_YES:
                                break;
                        }
                        w->base_chain = ch;
                        w->stack[0] = (frame){ch, 0};
                        w->depth = 1;
                }

                f = &w->stack[w->depth - 1];
                if (f->rule >= f->chain->n_rules) {
                        /* a chain's end: back to the caller, or the base chain's policy */
                        if (w->depth == 1)
                                policy(c, w);
                        else
                                w->depth--;
                        continue;
                }
                if (c->rules_left == 0) {
                        c->overflow = true;
                        return;
                }
                c->rules_left--;
                rule = &f->chain->rules[f->rule];
                eval_rule(c->rs, &c->pkt, f->chain, rule, &o);
                label(c, f->chain, l, sizeof(l));

                if (o.unknown) {
                        bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s %s", rule->handle,
                                        l, o.why);
                        add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                        finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                        return;
                }
                if (o.match == TRI_NO) {
                        f->rule++;
                        continue;
                }
                v = o.verdict;
                if (!o.reject && (v == NFT_CONTINUE || v == NFT_BREAK)) {
                        f->rule++; /* matched or not, it changes nothing: no fork needed */
                        continue;
                }
                if (o.match == TRI_MAYBE) {
                        bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s: %s",
                                        rule->handle, l, o.why);
                        fork_walk(c, w, true, why);
                        if (c->overflow || c->error)
                                return;
                }
                f->rule++;

                if (o.reject || (v >= 0 && (v & NF_VERDICT_MASK) == NF_DROP)) {
                        nft_verdict_kind k = o.reject ? NFT_VERDICT_REJECT : NFT_VERDICT_DROP;
                        if (f->chain != w->base_chain) {
                                label(c, w->base_chain, l2, sizeof(l2));
                                bprintf(why, sizeof(why), "%s rule handle %" PRIu64 " %s (reached from base chain %s)",
                                                l, rule->handle, o.reject ? "rejects" : "drops", l2);
                        } else
                                bprintf(why, sizeof(why), "%s rule handle %" PRIu64 " %s", l,
                                                rule->handle, o.reject ? "rejects" : "drops");
                        add_step(w, k, f->chain, rule->handle);
                        finish(c, w, k, f->chain, rule->handle, why);
                        return;
                }
                if (v == NF_ACCEPT) {
                        base_accept(w, f->chain, rule->handle);
                        continue;
                }
                switch (v) {
                case NFT_JUMP:
                case NFT_GOTO:
                        target = nft_ruleset_find_chain(c->rs, f->chain->table, o.chain);
                        if (!target || target->base) {
                                bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s %ss to %s chain %s",
                                                rule->handle, l, v == NFT_JUMP ? "jump" : "goto",
                                                target ? "base" : "missing", o.chain ? o.chain : "?");
                                add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                                finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                                return;
                        }
                        if (v == NFT_GOTO) {
                                *f = (frame){target, 0};
                                continue;
                        }
                        if (w->depth > NFT_VERDICT_JUMP_MAX) {
                                bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s jumps deeper than %u chains",
                                                rule->handle, l, NFT_VERDICT_JUMP_MAX);
                                add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                                finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                                return;
                        }
                        w->stack[w->depth++] = (frame){target, 0};
                        continue;
                case NFT_RETURN:
                        if (w->depth == 1)
                                policy(c, w);
                        else
                                w->depth--;
                        continue;
                default:
                        bprintf(why, sizeof(why), "rule handle %" PRIu64 " in chain %s gives verdict %s",
                                        rule->handle, l, nft_ruleset_verdict_to_string(v));
                        add_step(w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle);
                        finish(c, w, NFT_VERDICT_UNKNOWN, f->chain, rule->handle, why);
                        return;
                }
        }
}

/* ---- base chains in the order the packet meets them ---- */

static int stage(const nft_ruleset *rs, const nftr_chain *ch, uint8_t nfproto) {
        const nftr_table *t = &rs->tables[ch->table];

        if (!ch->base || (t->flags & NFT_TABLE_F_DORMANT))
                return -1;
        if (t->family == NFPROTO_NETDEV)
                return ch->hooknum == NF_NETDEV_INGRESS ? 0 : -1;
        if (t->family != NFPROTO_INET && t->family != nfproto)
                return -1;
        switch (ch->hooknum) {
        case NF_INET_INGRESS:
                return t->family == NFPROTO_INET ? 0 : -1;
        case NF_INET_PRE_ROUTING:
                return 1;
        case NF_INET_LOCAL_IN:
                return 2;
        default:
                return -1;
        }
}

typedef struct order_ctx {
        const nft_ruleset *rs;
        uint8_t nfproto;
} order_ctx;

static int cmp_base(const void *a, const void *b, void *userdata) {
        const order_ctx *o = userdata;
        const nftr_chain *x = *(const nftr_chain *const *) a, *y = *(const nftr_chain *const *) b;
        int sx = stage(o->rs, x, o->nfproto), sy = stage(o->rs, y, o->nfproto), r;

        if (sx != sy)
                return sx < sy ? -1 : 1;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        /* equal priority: the kernel's order is registration order, unknown here; any fixed
         * order gives the same verdict, since every base chain must accept */
        r = strcmp(o->rs->tables[x->table].name, o->rs->tables[y->table].name);
        return r ? r : strcmp(x->name, y->name);
}

void nft_verdict_packet_for(nft_verdict_probe probe, uint8_t nfproto, nft_verdict_packet *ret) {
        *ret = (nft_verdict_packet){.nfproto = nfproto};
        switch (probe) {
        case NFT_VERDICT_PROBE_IKE:
                ret->l4proto = IPPROTO_UDP;
                ret->dport = 500;
                break;
        case NFT_VERDICT_PROBE_NATT:
                ret->l4proto = IPPROTO_UDP;
                ret->dport = 4500;
                break;
        case NFT_VERDICT_PROBE_ESP:
        default:
                ret->l4proto = IPPROTO_ESP;
                break;
        }
}

int nft_verdict_eval(const nft_ruleset *rs, const nft_verdict_packet *p, nft_verdict_result *ret) {
        _cleanup_(freep) const nftr_chain **bases = NULL;
        _cleanup_(freep) ctx *c = NULL;
        _cleanup_(freep) walk *w = NULL;
        order_ctx oc = {.rs = rs};
        nft_verdict_result *r;
        unsigned n_outcomes;

        if (!rs || !p || !ret || (p->nfproto != NFPROTO_IPV4 && p->nfproto != NFPROTO_IPV6))
                return -EINVAL;
        oc.nfproto = p->nfproto;
        c = calloc(1, sizeof(*c));
        w = calloc(1, sizeof(*w));
        bases = calloc(rs->n_chains ? rs->n_chains : 1, sizeof(*bases));
        if (!c || !w || !bases)
                return -ENOMEM;
        c->rs = rs;
        vpkt_init(&c->pkt, p);
        c->rules_left = NFT_VERDICT_RULE_BUDGET;
        for (size_t i = 0; i < rs->n_chains; i++)
                if (stage(rs, &rs->chains[i], p->nfproto) >= 0)
                        bases[c->n_bases++] = &rs->chains[i];
        qsort_r(bases, c->n_bases, sizeof(*bases), cmp_base, &oc);
        c->bases = bases;

        walk_run(c, w);
        if (c->error)
                return c->error;

        n_outcomes = (unsigned) __builtin_popcount(c->outcomes);
        if (c->overflow || c->outcomes == 0) {
                r = &c->first[NFT_VERDICT_UNKNOWN];
                memset(r, 0, sizeof(*r));
                r->verdict = NFT_VERDICT_UNKNOWN;
                if (c->rules_left == 0)
                        bprintf(r->why, sizeof(r->why),
                                "evaluation did not end within %u rules (a goto loop?)",
                                NFT_VERDICT_RULE_BUDGET);
                else
                        bprintf(r->why, sizeof(r->why),
                                "more than %u undecided paths to follow; the first: %s",
                                NFT_VERDICT_PATHS_MAX, c->maybe_why[0] ? c->maybe_why : "?");
        } else if (c->outcomes & (1u << NFT_VERDICT_UNKNOWN))
                r = &c->first[NFT_VERDICT_UNKNOWN];
        else if (n_outcomes == 1)
                r = &c->first[__builtin_ctz(c->outcomes)];
        else {
                /* The paths disagree: show where the packet would die, say what decides. */
                nft_verdict_kind shown = c->outcomes & (1u << NFT_VERDICT_DROP) ? NFT_VERDICT_DROP
                                         : c->outcomes & (1u << NFT_VERDICT_REJECT) ? NFT_VERDICT_REJECT
                                                                                  : NFT_VERDICT_ACCEPT;
                char what[64] = "";
                size_t n = 0;

                for (int k = 0; k < NFT_VERDICT_UNKNOWN; k++)
                        if (c->outcomes & (1u << k))
                                n += (size_t) snprintf(what + n, sizeof(what) - n, "%s%s", n ? " or " : "",
                                                       nft_verdict_kind_to_string((nft_verdict_kind) k));
                r = &c->first[shown];
                r->verdict = NFT_VERDICT_UNKNOWN;
                bprintf(c->maybe_why + strlen(c->maybe_why),
                                sizeof(c->maybe_why) - strlen(c->maybe_why), " (%s)", what);
                bprintf(r->why, sizeof(r->why), "undecided: %s", c->maybe_why);
        }
        r->n_paths = c->paths;
        *ret = *r;
        return 0;
}

const char *nft_verdict_kind_to_string(nft_verdict_kind k) {
        static const char *const names[] = {
                [NFT_VERDICT_ACCEPT] = "accept",
                [NFT_VERDICT_DROP] = "drop",
                [NFT_VERDICT_REJECT] = "reject",
                [NFT_VERDICT_UNKNOWN] = "unknown",
        };
        return (unsigned) k < ELEMENTSOF(names) ? names[k] : "?";
}

const char *nft_verdict_probe_to_string(nft_verdict_probe p) {
        static const char *const names[] = {
                [NFT_VERDICT_PROBE_IKE] = "udp/500",
                [NFT_VERDICT_PROBE_NATT] = "udp/4500",
                [NFT_VERDICT_PROBE_ESP] = "esp",
        };
        return (unsigned) p < ELEMENTSOF(names) ? names[p] : "?";
}
