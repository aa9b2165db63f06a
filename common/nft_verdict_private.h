/* What the two files of the evaluator share: the packet as the registers see it, the outcome of
 * one rule, and bounded text. nft_verdict_rule.c evaluates one rule's expressions; nft_verdict.c
 * walks the base chains with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "nft_verdict.h"

/* Reasons are bounded text: cut at the buffer's end is intended (and hidden from
 * -Wformat-truncation by going through a va_list). */
void nftv_bprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

#define NH_MAX 40
#define TH_MAX 8

/* The packet as the rules see it: its network and transport header bytes, each known or not. */
typedef struct vpkt {
        const nft_verdict_packet *p;
        uint8_t nh[NH_MAX];
        bool nh_known[NH_MAX];
        size_t nh_len;
        uint8_t th[TH_MAX];
        bool th_known[TH_MAX];
        size_t th_len;
} vpkt;

void nftv_pkt_init(vpkt *v, const nft_verdict_packet *p);

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

/* One rule against the packet: whether it matches (or may), and its verdict. */
void nftv_eval_rule(const nft_ruleset *rs, const vpkt *v, const nftr_chain *chain, const nftr_rule *rule, rule_out *o);
