/* An nftables transaction over netlink for the nft actions: messages appended to one batch
 * (libnftnl builders write into it), committed atomically with the ruleset generation the caller
 * read (NFNL_BATCH_GENID: the kernel refuses the whole batch with -ERESTART if anybody changed
 * the ruleset meanwhile), every netlink error mapped back to the message (its label) that caused
 * it — nothing is logged and dropped — and an answer that was lost said as such: the batch may
 * then have been applied, and only a fresh read of the ruleset can tell. Does not log. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/action.h"
#include "macro.h"

#define NFT_BATCH_MAX (64u * 1024u * 1024u)
#define NFT_BATCH_MSGS_MAX 65536u

typedef struct nft_batch nft_batch;

/* genid: the generation the changes were computed from (0: no check). */
int nft_batch_new(nft_batch **ret, uint32_t genid);
nft_batch *nft_batch_free(nft_batch *b);
DEFINE_FREE_FUNC(nft_batch, nft_batch_free);

/* Start a message (NLM_F_REQUEST | flags) and give its header to fill with a
 * libnftnl *_nlmsg_build_payload() (at most 64 KiB); nft_batch_end_msg() counts it. `label`
 * (copied) names it in errors: "add rule inet filter input". NULL on overflow/ENOMEM. */
struct nlmsghdr *nft_batch_begin_msg(nft_batch *b, uint16_t type, uint16_t family, uint16_t flags,
                                     const char *label);
int nft_batch_end_msg(nft_batch *b, struct nlmsghdr *nlh);
/* One message of the batch from a libnftnl object OBJ (NULL: -ENOMEM): begun, built by
 * BUILD(nlh, obj), OBJ freed by FREE_FN, counted. Evaluates to nft_batch_end_msg()'s result. */
#define NFT_BATCH_ADD(b, type, flags, label, obj, build, free_fn)                                                        \
        ({                                                                                                              \
                __typeof__(obj) _o = (obj);                                                                             \
                struct nlmsghdr *_nlh = _o ? nft_batch_begin_msg((b), (type), NFPROTO_INET, (flags), (label)) : NULL;   \
                if (_nlh)                                                                                               \
                        build(_nlh, _o);                                                                                \
                if (_o)                                                                                                 \
                        free_fn(_o);                                                                                    \
                _nlh ? nft_batch_end_msg((b), _nlh) : -ENOMEM;                                                          \
        })
/* Copy a message as it is (e.g. from a dump), with new flags, without the attributes listed in
 * `strip` (top level only, 0-terminated), and with one u32 attribute added when add_type is not
 * 0 (value in host order; sent big-endian): a set's NFTA_SET_ID, which requests need and dumps
 * lack. */
int nft_batch_add_copy(nft_batch *b, const struct nlmsghdr *src, uint16_t type, uint16_t flags,
                       const uint16_t *strip, uint16_t add_type, uint32_t add_value, const char *label);
size_t nft_batch_messages(const nft_batch *b);

/* Send it in `netns` (NULL: ours) and collect the answers. 0 when the kernel applied it all; <0
 * when it refused it (nothing applied): the first error (-ERESTART: the ruleset changed since
 * genid), with `why` listing each failed message as "label: error"; NFT_BATCH_UNKNOWN when the
 * batch was sent but its answer was lost (ENOBUFS, or none within 5 s): applied or not, the
 * caller must read the ruleset to know — never take it for "nothing changed". */
#define NFT_BATCH_UNKNOWN 1
int nft_batch_commit(nft_batch *b, const char *netns, char *why, size_t why_size);

/* For tests only: a receive buffer of `rcvbuf` bytes (0: sized for the batch) and an
 * acknowledgement asked for every message, to make the kernel's answers overflow for real. */
void nft_batch_test_knobs(int rcvbuf, bool ack_each);

/* The current generation of the ruleset in `netns`. */
int nft_generation(const char *netns, uint32_t *ret);

/* For the nft actions: the firewall check they act for (param `check`, default "firewall"), and
 * the namespace of its ruleset (param `netns`, else that check's `netns`, else ours: NULL). */
const char *nft_action_check(const action_params *p);
const char *nft_action_netns(const action_params *p, const action_env *env);
