/* The firewall evaluator (common/nft_verdict.c) on rulesets built in code with the model's
 * builders (common/nft_ruleset.h), expressions laid out as nft 1.0.6 emits them (checked with
 * `nft --debug=netlink`): the seeds' tightened default policy, several base chains of different
 * priorities, jump/goto/return, anonymous/named/interval sets and verdict maps, reject, limit,
 * undecided matches, unknown expressions, ingress and dormant tables; then the canonical hash. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft_ruleset.h"
#include "nft_verdict.h"
#include "tap.h"

/* ---- expressions ---- */

static nftr_expr mk(nftr_expr_kind kind, const char *name) {
        nftr_expr x = {.kind = kind, .dir = 0xff};
        (void) snprintf(x.name, sizeof(x.name), "%s", name);
        return x;
}

static nftr_data bytes(const void *p, size_t n) {
        nftr_data d = {.len = (uint8_t) n};
        memcpy(d.b, p, n);
        return d;
}

static nftr_data u8(uint8_t v) {
        return bytes(&v, 1);
}

static nftr_data be16(uint16_t v) {
        uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
        return bytes(b, 2);
}

static nftr_data h32(uint32_t v) {
        return bytes(&v, 4);
}

static nftr_expr meta(uint32_t key) {
        nftr_expr x = mk(NFTR_EXPR_META, "meta");
        x.key = key;
        x.dreg = NFT_REG_1;
        x.has_dreg = true;
        return x;
}

static nftr_expr payload(uint32_t base, uint32_t off, uint32_t len) {
        nftr_expr x = mk(NFTR_EXPR_PAYLOAD, "payload");
        x.key = base;
        x.offset = off;
        x.len = len;
        x.dreg = NFT_REG_1;
        x.has_dreg = true;
        return x;
}

/* An expression points to its data until the model interns a copy: kept here till then. */
static nftr_bytes kept(nftr_data d) {
        static nftr_data ring[256];
        static size_t next;
        nftr_data *p = &ring[next++ % ELEMENTSOF(ring)];

        *p = d;
        return nftr_data_bytes(p);
}

static nftr_expr cmp(uint32_t op, nftr_data d) {
        nftr_expr x = mk(NFTR_EXPR_CMP, "cmp");
        x.sreg = NFT_REG_1;
        x.op = op;
        x.data = kept(d);
        return x;
}

static nftr_expr verdict(int32_t v, const char *chain) {
        nftr_expr x = mk(NFTR_EXPR_IMMEDIATE, "immediate");
        x.dreg = NFT_REG_VERDICT;
        x.verdict = v;
        x.chain = (char *) chain;
        return x;
}

static nftr_expr lookup(const char *set, bool inv, bool vmap) {
        nftr_expr x = mk(NFTR_EXPR_LOOKUP, "lookup");
        x.sreg = NFT_REG_1;
        x.set = (char *) set;
        x.flags = inv ? NFT_LOOKUP_F_INV : 0;
        x.has_dreg = vmap;
        x.dreg = NFT_REG_VERDICT;
        return x;
}

static nftr_expr ct_state(void) {
        nftr_expr x = mk(NFTR_EXPR_CT, "ct");
        x.key = NFT_CT_STATE;
        x.dreg = NFT_REG_1;
        x.has_dreg = true;
        return x;
}

static nftr_expr bitwise_h32(uint32_t mask) {
        nftr_expr x = mk(NFTR_EXPR_BITWISE, "bitwise");
        x.sreg = x.dreg = NFT_REG_1;
        x.len = 4;
        x.data = kept(h32(mask));
        x.data2 = kept(h32(0));
        x.has_dreg = true;
        return x;
}

static nftr_expr iifname(const char *name) {
        char b[16] = {};
        memcpy(b, name, strlen(name));
        return cmp(NFT_CMP_EQ, bytes(b, 16));
}

#define ACCEPT verdict(NF_ACCEPT, NULL)
#define DROP verdict(NF_DROP, NULL)
#define L4(p) meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, u8(p))
#define DPORT(p) L4(IPPROTO_UDP), payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2), cmp(NFT_CMP_EQ, be16(p))
#define TCP_DPORT(p) L4(IPPROTO_TCP), payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2), cmp(NFT_CMP_EQ, be16(p))
#define TH_DPORT L4(IPPROTO_UDP), payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)

#define RULE(rs, fam, t, c, h, ...)                                                             \
        add_rule(rs, fam, t, c, h, (nftr_expr[]){__VA_ARGS__},                                  \
                 sizeof((nftr_expr[]){__VA_ARGS__}) / sizeof(nftr_expr))

static int add_rule(nft_ruleset *rs, int fam, const char *t, const char *c, uint64_t h,
                    const nftr_expr *x, size_t n) {
        int r = nft_ruleset_add_rule(rs, fam, t, c, h, x, n);
        if (r < 0) {
                printf("FAIL add_rule %s/%s %llu: %d\n", t, c, (unsigned long long) h, r);
                exit(1);
        }
        return r;
}

static void must(int r, const char *what) {
        if (r < 0) {
                printf("FAIL %s: %d\n", what, r);
                exit(1);
        }
}

static nft_ruleset *fresh(void) {
        nft_ruleset *rs;
        must(nft_ruleset_new(&rs), "nft_ruleset_new");
        return rs;
}

static void base(nft_ruleset *rs, int fam, const char *t, const char *c, uint32_t hook,
                 int32_t prio, uint32_t pol) {
        nftr_hook h = {.hooknum = hook, .priority = prio, .policy = pol};
        must(nft_ruleset_add_chain(rs, fam, t, c, 0, &h), c);
}

/* the conntrack/loopback/ssh lines of a typical server ruleset */
static void server_basics(nft_ruleset *rs, const char *t, const char *c) {
        RULE(rs, NFPROTO_INET, t, c, 2, ct_state(), bitwise_h32(NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
                                                                NF_CT_STATE_BIT(IP_CT_RELATED)),
             cmp(NFT_CMP_NEQ, h32(0)), ACCEPT);
        RULE(rs, NFPROTO_INET, t, c, 3, meta(NFT_META_IIFNAME), iifname("lo"), ACCEPT);
        RULE(rs, NFPROTO_INET, t, c, 4, TCP_DPORT(22), ACCEPT);
}

static nft_verdict_result eval(const nft_ruleset *rs, nft_verdict_probe probe, uint8_t nfproto) {
        nft_verdict_packet p;
        nft_verdict_result r;

        nft_verdict_packet_for(probe, nfproto, &p);
        must(nft_verdict_eval(rs, &p, &r), "nft_verdict_eval");
        return r;
}

#define V4(rs, probe) eval(rs, probe, NFPROTO_IPV4)
#define IKE NFT_VERDICT_PROBE_IKE
#define NATT NFT_VERDICT_PROBE_NATT
#define ESP NFT_VERDICT_PROBE_ESP

static void show(const char *name, const nft_verdict_result *r) {
        printf("     %s: %s — %s (paths %u)\n", name, nft_verdict_kind_to_string(r->verdict), r->why,
               r->n_paths);
}

/* ---- cases ---- */

static void test_empty(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r = V4(rs, IKE);

        show("empty", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && !r.chain, "no ruleset: accept, no deciding chain");
}

static void test_seeds_tightened_policy(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "filter", 0, 1), "table");
        base(rs, NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        server_basics(rs, "filter", "input");

        for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                r = V4(rs, (nft_verdict_probe) p);
                show(nft_verdict_probe_to_string((nft_verdict_probe) p), &r);
                CHECK(r.verdict == NFT_VERDICT_DROP && r.chain && !strcmp(r.chain->name, "input") &&
                              !r.rule_chain && strstr(r.why, "policy drop"),
                      "seeds' case, policy drop with ssh only: %s dropped by the policy of input",
                      nft_verdict_probe_to_string((nft_verdict_probe) p));
        }
        r = eval(rs, NATT, NFPROTO_IPV6);
        CHECK(r.verdict == NFT_VERDICT_DROP, "the inet table drops IPv6 4500 too");
}

static void test_500_not_4500(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "filter", 0, 1), "table");
        base(rs, NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        server_basics(rs, "filter", "input");
        RULE(rs, NFPROTO_INET, "filter", "input", 7, DPORT(500), ACCEPT);

        r = V4(rs, IKE);
        show("500", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.rule_chain && r.rule_handle == 7,
              "udp/500 accepted by rule handle 7");
        r = V4(rs, NATT);
        show("4500", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && !r.rule_chain, "udp/4500 dropped by policy");
        r = V4(rs, ESP);
        CHECK(r.verdict == NFT_VERDICT_DROP, "esp dropped by policy");
}

static void good_ruleset(nft_ruleset *rs, const char *anon_name, uint64_t h0) {
        nftr_elem e = {};

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "filter", 0, h0), "table");
        base(rs, NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        must(nft_ruleset_add_set(rs, NFPROTO_INET, "filter", anon_name, h0 + 1,
                                 NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, 2, 0, 0), "set");
        e.key = be16(4500);
        must(nft_ruleset_add_elem(rs, NFPROTO_INET, "filter", anon_name, &e), "elem");
        e.key = be16(500);
        must(nft_ruleset_add_elem(rs, NFPROTO_INET, "filter", anon_name, &e), "elem");
        server_basics(rs, "filter", "input");
        RULE(rs, NFPROTO_INET, "filter", "input", h0 + 8, TH_DPORT, lookup(anon_name, false, false),
             ACCEPT);
        RULE(rs, NFPROTO_INET, "filter", "input", h0 + 9, L4(IPPROTO_ESP), ACCEPT);
}

static void test_good(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        good_ruleset(rs, "__set0", 1);
        for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                r = V4(rs, (nft_verdict_probe) p);
                show(nft_verdict_probe_to_string((nft_verdict_probe) p), &r);
                CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.rule_handle == (p == ESP ? 10u : 9u),
                      "good ruleset: %s accepted by its rule", nft_verdict_probe_to_string((nft_verdict_probe) p));
                r = eval(rs, (nft_verdict_probe) p, NFPROTO_IPV6);
                CHECK(r.verdict == NFT_VERDICT_ACCEPT, "good ruleset: %s over IPv6 accepted",
                      nft_verdict_probe_to_string((nft_verdict_probe) p));
        }
}

static void test_two_base_chains(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        /* ip "early" at -10 accepts all of IKE; inet "filter" at 0 drops by policy */
        must(nft_ruleset_add_table(rs, NFPROTO_IPV4, "early", 0, 1), "table");
        must(nft_ruleset_add_table(rs, NFPROTO_INET, "filter", 0, 2), "table");
        base(rs, NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        base(rs, NFPROTO_IPV4, "early", "input", NF_INET_LOCAL_IN, -10, NF_ACCEPT);
        server_basics(rs, "filter", "input");
        RULE(rs, NFPROTO_IPV4, "early", "input", 2, DPORT(4500), ACCEPT);
        RULE(rs, NFPROTO_IPV4, "early", "input", 3, DPORT(500), ACCEPT);

        r = V4(rs, NATT);
        show("accept then drop", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && r.chain && r.chain->table == 1 && r.n_steps == 2 &&
                      r.steps[0].verdict == NFT_VERDICT_ACCEPT && r.steps[0].rule_handle == 2,
              "an accept in ip early/input (prio -10) does not save it from inet filter/input's drop");
        r = eval(rs, NATT, NFPROTO_IPV6);
        CHECK(r.verdict == NFT_VERDICT_DROP && r.n_steps == 1,
              "IPv6 sees only the inet chain");

        /* now the other way round: the first accepts by policy, a later one drops 4500 */
        nft_ruleset *rs2 = fresh();
        must(nft_ruleset_add_table(rs2, NFPROTO_INET, "a", 0, 1), "table");
        must(nft_ruleset_add_table(rs2, NFPROTO_IPV4, "b", 0, 2), "table");
        base(rs2, NFPROTO_INET, "a", "in", NF_INET_LOCAL_IN, 0, NF_DROP);
        base(rs2, NFPROTO_IPV4, "b", "late", NF_INET_LOCAL_IN, 10, NF_ACCEPT);
        base(rs2, NFPROTO_IPV4, "b", "pre", NF_INET_PRE_ROUTING, 100, NF_ACCEPT);
        RULE(rs2, NFPROTO_INET, "a", "in", 5, TH_DPORT, cmp(NFT_CMP_GTE, be16(500)),
             cmp(NFT_CMP_LTE, be16(4500)), ACCEPT);
        RULE(rs2, NFPROTO_INET, "a", "in", 6, L4(IPPROTO_ESP), ACCEPT);
        RULE(rs2, NFPROTO_IPV4, "b", "late", 3, DPORT(4500), DROP);
        RULE(rs2, NFPROTO_IPV4, "b", "pre", 4, L4(IPPROTO_ESP), DROP);
        r = V4(rs2, NATT);
        show("drop after accept", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && r.chain && !strcmp(r.chain->name, "late") &&
                      r.rule_handle == 3,
              "4500 accepted by inet a/in (prio 0) dies in ip b/late (prio 10), rule handle 3");
        r = V4(rs2, IKE);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.n_steps == 3, "500 survives all three base chains");
        r = V4(rs2, ESP);
        CHECK(r.verdict == NFT_VERDICT_DROP && !strcmp(r.chain->name, "pre") && r.n_steps == 1,
              "esp dies in prerouting before input is reached");
        nft_ruleset_free(rs2);
}

static void test_jump_return_goto(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "f", 0, 1), "table");
        base(rs, NFPROTO_INET, "f", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        must(nft_ruleset_add_chain(rs, NFPROTO_INET, "f", "ike", 0, NULL), "chain");
        must(nft_ruleset_add_chain(rs, NFPROTO_INET, "f", "empty", 0, NULL), "chain");
        RULE(rs, NFPROTO_INET, "f", "input", 2, L4(IPPROTO_UDP), verdict(NFT_JUMP, "ike"));
        RULE(rs, NFPROTO_INET, "f", "input", 3, L4(IPPROTO_ESP), verdict(NFT_GOTO, "empty"));
        RULE(rs, NFPROTO_INET, "f", "input", 4, L4(IPPROTO_ESP), ACCEPT);
        RULE(rs, NFPROTO_INET, "f", "ike", 5, DPORT(4500), verdict(NFT_RETURN, NULL));
        RULE(rs, NFPROTO_INET, "f", "ike", 6, L4(IPPROTO_UDP), ACCEPT);

        r = V4(rs, IKE);
        show("jump", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.rule_chain && !strcmp(r.rule_chain->name, "ike") &&
                      r.rule_handle == 6 && !strcmp(r.chain->name, "input"),
              "500: jump to ike, accepted there (rule handle 6, base chain input)");
        r = V4(rs, NATT);
        show("return", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && !r.rule_chain,
              "4500: return from ike, falls to input's policy drop");
        r = V4(rs, ESP);
        show("goto", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && !r.rule_chain,
              "esp: goto to an empty chain does not come back to rule 4: policy drop");

        /* a jump to a chain that does not exist, and a goto loop */
        RULE(rs, NFPROTO_INET, "f", "empty", 7, verdict(NFT_GOTO, "ike2"));
        must(nft_ruleset_add_chain(rs, NFPROTO_INET, "f", "ike2", 0, NULL), "chain");
        RULE(rs, NFPROTO_INET, "f", "ike2", 8, verdict(NFT_GOTO, "empty"));
        r = V4(rs, ESP);
        show("goto loop", &r);
        CHECK(r.verdict == NFT_VERDICT_UNKNOWN, "a goto loop ends as unknown, not hanging");
        RULE(rs, NFPROTO_INET, "f", "ike", 9, verdict(NFT_JUMP, "nowhere"));
        r = V4(rs, IKE);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "rule 6 accepts before the broken jump is reached");
}

static void test_sets(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_packet p;
        nft_verdict_result r;
        nftr_elem e = {};
        /* nft's interval encoding of { 400-600, 4500 }: boundaries, ends flagged */
        static const struct {
                uint16_t port;
                bool end;
        } iv[] = {{0, true}, {400, false}, {601, true}, {4500, false}, {4501, true}};

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "f", 0, 1), "table");
        base(rs, NFPROTO_INET, "f", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        must(nft_ruleset_add_set(rs, NFPROTO_INET, "f", "ranges", 2, NFT_SET_INTERVAL, 2, 0, 0), "set");
        for (size_t i = 0; i < ELEMENTSOF(iv); i++) {
                e = (nftr_elem){.key = be16(iv[i].port),
                                .flags = iv[i].end ? NFT_SET_ELEM_INTERVAL_END : 0};
                must(nft_ruleset_add_elem(rs, NFPROTO_INET, "f", "ranges", &e), "elem");
        }
        /* a vmap: 4500 → drop, 500 → jump ike */
        must(nft_ruleset_add_chain(rs, NFPROTO_INET, "f", "ike", 0, NULL), "chain");
        must(nft_ruleset_add_set(rs, NFPROTO_INET, "f", "__map0", 3,
                                 NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP, 2,
                                 NFT_DATA_VERDICT, 0), "map");
        e = (nftr_elem){.key = be16(4500), .has_verdict = true, .verdict = NF_DROP};
        must(nft_ruleset_add_elem(rs, NFPROTO_INET, "f", "__map0", &e), "elem");
        e = (nftr_elem){.key = be16(500), .has_verdict = true, .verdict = NFT_JUMP, .chain = "ike"};
        must(nft_ruleset_add_elem(rs, NFPROTO_INET, "f", "__map0", &e), "elem");
        RULE(rs, NFPROTO_INET, "f", "ike", 4, verdict(NFT_RETURN, NULL));

        RULE(rs, NFPROTO_INET, "f", "input", 5, TH_DPORT, lookup("__map0", false, true));
        RULE(rs, NFPROTO_INET, "f", "input", 6, TH_DPORT, lookup("ranges", false, false), ACCEPT);

        r = V4(rs, NATT);
        show("vmap", &r);
        CHECK(r.verdict == NFT_VERDICT_DROP && r.rule_handle == 5, "vmap sends 4500 to drop (rule 5)");
        r = V4(rs, IKE);
        show("interval", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.rule_handle == 6,
              "vmap jumps 500 to ike, returns; the interval 400-600 accepts it (rule 6)");
        nft_verdict_packet_for(IKE, NFPROTO_IPV4, &p);
        p.dport = 600;
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "udp/600 is inside 400-600");
        p.dport = 601;
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_DROP, "udp/601 is outside (the end boundary)");
        p.dport = 399;
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_DROP, "udp/399 is outside");

        /* an inverted lookup of a key_end (concatenated-range style) set */
        must(nft_ruleset_add_set(rs, NFPROTO_INET, "f", "blocked", 7, NFT_SET_INTERVAL, 2, 0, 0), "set");
        e = (nftr_elem){.key = be16(4000), .key_end = be16(5000)};
        must(nft_ruleset_add_elem(rs, NFPROTO_INET, "f", "blocked", &e), "elem");
        nft_ruleset *rs2 = fresh();
        must(nft_ruleset_add_table(rs2, NFPROTO_IPV4, "g", 0, 1), "table");
        base(rs2, NFPROTO_IPV4, "g", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        must(nft_ruleset_add_set(rs2, NFPROTO_IPV4, "g", "blocked", 7, NFT_SET_INTERVAL, 2, 0, 0), "set");
        must(nft_ruleset_add_elem(rs2, NFPROTO_IPV4, "g", "blocked", &e), "elem");
        RULE(rs2, NFPROTO_IPV4, "g", "input", 2, TH_DPORT, lookup("blocked", true, false), ACCEPT);
        r = V4(rs2, IKE);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "500 not in 4000-5000: the inverted lookup accepts");
        r = V4(rs2, NATT);
        CHECK(r.verdict == NFT_VERDICT_DROP, "4500 in 4000-5000: not accepted, policy drop");
        nft_ruleset_free(rs2);
}

static void test_reject_and_unknown(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;
        nftr_expr rej = mk(NFTR_EXPR_REJECT, "reject"), quota = mk(NFTR_EXPR_OTHER, "quota");
        nftr_expr cnt = mk(NFTR_EXPR_COUNTER, "counter"), log = mk(NFTR_EXPR_LOG, "log");

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "f", 0, 1), "table");
        base(rs, NFPROTO_INET, "f", "input", NF_INET_LOCAL_IN, 0, NF_ACCEPT);
        RULE(rs, NFPROTO_INET, "f", "input", 2, DPORT(4500), cnt, log, rej);
        RULE(rs, NFPROTO_INET, "f", "input", 3, DPORT(500), quota, DROP);

        r = V4(rs, NATT);
        show("reject", &r);
        CHECK(r.verdict == NFT_VERDICT_REJECT && r.rule_handle == 2, "4500 rejected by rule handle 2");
        r = V4(rs, IKE);
        show("quota", &r);
        CHECK(r.verdict == NFT_VERDICT_UNKNOWN && r.rule_handle == 3 &&
                      strstr(r.why, "rule handle 3 in chain inet f/input uses quota"),
              "500 reaches a quota: unknown, naming rule and expression");
        r = V4(rs, ESP);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "esp does not reach the quota (l4proto differs first)");
}

static void test_undecided(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_packet p;
        nft_verdict_result r;
        nftr_expr lim = mk(NFTR_EXPR_LIMIT, "limit");
        uint8_t net10 = 10;

        must(nft_ruleset_add_table(rs, NFPROTO_INET, "f", 0, 1), "table");
        base(rs, NFPROTO_INET, "f", "input", NF_INET_LOCAL_IN, 0, NF_DROP);
        server_basics(rs, "f", "input");
        /* source-restricted accept, then the same accept for everyone: both paths accept */
        RULE(rs, NFPROTO_INET, "f", "input", 10, meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, u8(NFPROTO_IPV4)),
             payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 1), cmp(NFT_CMP_EQ, bytes(&net10, 1)), DPORT(500), ACCEPT);
        RULE(rs, NFPROTO_INET, "f", "input", 11, DPORT(500), ACCEPT);
        /* 4500 only through a rate limit */
        RULE(rs, NFPROTO_INET, "f", "input", 12, DPORT(4500), lim, ACCEPT);
        /* esp only on eth1 */
        RULE(rs, NFPROTO_INET, "f", "input", 13, meta(NFT_META_IIFNAME), iifname("eth1"), L4(IPPROTO_ESP),
             ACCEPT);

        r = V4(rs, IKE);
        show("saddr", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.n_paths == 2,
              "ip saddr 10/8 accept + accept for all: accept on both paths");
        r = V4(rs, NATT);
        show("limit", &r);
        CHECK(r.verdict == NFT_VERDICT_UNKNOWN && strstr(r.why, "limit") && strstr(r.why, "accept or drop"),
              "a limit before the accept: unknown, accept or drop");
        r = V4(rs, ESP);
        show("iifname", &r);
        CHECK(r.verdict == NFT_VERDICT_UNKNOWN && strstr(r.why, "meta iifname"),
              "iifname eth1: unknown, depends on the input interface");
        nft_verdict_packet_for(ESP, NFPROTO_IPV4, &p);
        p.iifname = "eth1";
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "with iifname eth1 given: accept");
        p.iifname = "eth0";
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_DROP, "with iifname eth0 given: drop");
        r = eval(rs, IKE, NFPROTO_IPV6);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT && r.n_paths == 1,
              "IPv6: the IPv4-only rule cannot match, one path");
}

static void test_ct_state(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nft_verdict_result r;

        must(nft_ruleset_add_table(rs, NFPROTO_IPV4, "f", 0, 1), "table");
        base(rs, NFPROTO_IPV4, "f", "input", NF_INET_LOCAL_IN, 0, NF_ACCEPT);
        /* ct state new drop: the first IKE packet is NEW */
        RULE(rs, NFPROTO_IPV4, "f", "input", 2, ct_state(), bitwise_h32(NF_CT_STATE_BIT(IP_CT_NEW)),
             cmp(NFT_CMP_NEQ, h32(0)), L4(IPPROTO_UDP), DROP);
        r = V4(rs, IKE);
        CHECK(r.verdict == NFT_VERDICT_DROP && r.rule_handle == 2, "ct state new matches the IKE packet");
        r = V4(rs, ESP);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "the same rule is for udp only: esp accepted");
}

static void test_ingress_and_dormant(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nftr_hook h = {.hooknum = NF_NETDEV_INGRESS, .priority = 0, .policy = NF_ACCEPT, .dev = "eth0"};
        nft_verdict_packet p;
        nft_verdict_result r;

        must(nft_ruleset_add_table(rs, NFPROTO_NETDEV, "n", 0, 1), "table");
        must(nft_ruleset_add_chain(rs, NFPROTO_NETDEV, "n", "in", 0, &h), "chain");
        RULE(rs, NFPROTO_NETDEV, "n", "in", 2, DPORT(4500), DROP);
        h.dev = "lo";
        must(nft_ruleset_add_chain(rs, NFPROTO_NETDEV, "n", "lo", 0, &h), "chain");
        RULE(rs, NFPROTO_NETDEV, "n", "lo", 3, DPORT(500), DROP);
        must(nft_ruleset_add_table(rs, NFPROTO_INET, "off", NFT_TABLE_F_DORMANT, 2), "table");
        base(rs, NFPROTO_INET, "off", "input", NF_INET_LOCAL_IN, 0, NF_DROP);

        r = V4(rs, IKE);
        show("ingress lo", &r);
        CHECK(r.verdict == NFT_VERDICT_ACCEPT, "ingress on lo and a dormant table do not touch 500");
        r = V4(rs, NATT);
        show("ingress eth0", &r);
        CHECK(r.verdict == NFT_VERDICT_UNKNOWN && strstr(r.why, "device eth0"),
              "ingress on eth0 drops 4500: unknown while the interface is unknown");
        nft_verdict_packet_for(NATT, NFPROTO_IPV4, &p);
        p.iifname = "eth0";
        must(nft_verdict_eval(rs, &p, &r), "eval");
        CHECK(r.verdict == NFT_VERDICT_DROP && !strcmp(r.chain->name, "in"), "arriving on eth0: drop");
}

static void test_hash(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *a = fresh(), *b = fresh(), *c = fresh();
        char ha[65], hb[65], hc[65];
        _cleanup_(freep) char *text = NULL;

        good_ruleset(a, "__set0", 1);
        good_ruleset(b, "__set7", 40); /* a reload: new handles, another anonymous set name */
        nft_ruleset_set_generation(b, 99);
        must(nft_ruleset_hash_hex(a, ha), "hash");
        must(nft_ruleset_hash_hex(b, hb), "hash");
        CHECK(!strcmp(ha, hb), "identical rulesets with other handles and set names hash equal (%.16s…)", ha);

        good_ruleset(c, "__set0", 1);
        c->sets[0].elems[0].key = be16(4501);
        must(nft_ruleset_hash_hex(c, hc), "hash");
        CHECK(strcmp(ha, hc) != 0, "one port changed in a set: the hash changes");
        c->sets[0].elems[0].key = be16(4500);
        c->chains[0].policy = NF_ACCEPT;
        must(nft_ruleset_hash_hex(c, hc), "hash");
        CHECK(strcmp(ha, hc) != 0, "the policy changed: the hash changes");

        must(nft_ruleset_format(a, 0, &text), "format");
        printf("%s", text);
        CHECK(strstr(text, "lookup r1 in flags 0x2 key_len 2 { 0x01f4, 0x1194 }") != NULL,
              "the anonymous set is written inline, sorted");
}

static void test_builder_limits(void) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *rs = fresh();
        nftr_expr x = mk(NFTR_EXPR_COUNTER, "counter");

        CHECK(nft_ruleset_add_chain(rs, NFPROTO_INET, "nope", "c", 0, NULL) == -ENOENT,
              "a chain in a missing table: -ENOENT");
        must(nft_ruleset_add_table(rs, NFPROTO_INET, "t", 0, 1), "table");
        CHECK(nft_ruleset_add_table(rs, NFPROTO_INET, "t", 0, 1) == -EEXIST, "a duplicate table: -EEXIST");
        CHECK(nft_ruleset_add_table(rs, NFPROTO_IPV4, "t", 0, 1) >= 0, "the same name in another family is fine");
        CHECK(nft_ruleset_add_table(rs, NFPROTO_INET, "", 0, 1) == -EINVAL, "an empty name: -EINVAL");
        must(nft_ruleset_add_chain(rs, NFPROTO_INET, "t", "c", 0, NULL), "chain");
        CHECK(nft_ruleset_add_rule(rs, NFPROTO_INET, "t", "c", 1, &x, NFTR_EXPRS_PER_RULE_MAX + 1) == -E2BIG,
              "too many expressions in a rule: -E2BIG");
        CHECK(nft_ruleset_add_elem(rs, NFPROTO_INET, "t", "s", &(nftr_elem){}) == -ENOENT,
              "an element of a missing set: -ENOENT");
}

int main(void) {
        test_empty();
        test_seeds_tightened_policy();
        test_500_not_4500();
        test_good();
        test_two_base_chains();
        test_jump_return_goto();
        test_sets();
        test_reject_and_unknown();
        test_undecided();
        test_ct_state();
        test_ingress_and_dormant();
        test_hash();
        test_builder_limits();
        return TAP_END();
}
