/* nftables objects (common/nft_diff.h: a table, a chain, a named set) as raw netlink messages: a
 * kept dump (the firewall check's last-good snapshot, or the objects as they were before a
 * restore) indexed by table and object, and turned into the batch messages that make one object
 * as the dump has it — or delete it, where the dump lacks it — in the ruleset there is now.
 *
 * A chain put back is updated in place (its policy), flushed, and refilled with its rules in
 * order; a table is deleted and recreated whole; a set is flushed and refilled. Anonymous sets a
 * chain's rules read are created afresh under a name the kernel allocates (__set%d, referred to
 * by set id in the same batch), so they never collide with the anonymous sets of other chains of
 * the table. Messages are copied without the kernel's handles and counts. Does not log. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "actions/nft_batch.h"
#include "nft_diff.h"
#include "nft_ruleset.h"

typedef struct nft_msgs nft_msgs;

/* Index buf (len bytes of netlink messages back to back, as a dump is kept; not copied: it must
 * outlive the index) and parse it into a model (*ret_model). -EBADMSG for anything malformed or
 * not modelled. ret_model NULL: index only, for messages already parsed (a dump just read, whose
 * model the caller has). */
int nft_msgs_new(nft_msgs **ret, const uint8_t *buf, size_t len, nft_ruleset **ret_model);
nft_msgs *nft_msgs_free(nft_msgs *m);
DEFINE_FREE_FUNC(nft_msgs, nft_msgs_free);

/* Append to `b` what makes the objects as they are in `m` (its model: `model`) given the ruleset
 * `now`, in an order the kernel accepts (flushes and deletions, then creations, then set
 * elements, then rules). -EOPNOTSUPP (with `why`) for what cannot be rebuilt that way. */
int nft_msgs_emit(const nft_msgs *m, const nft_ruleset *model, const nft_object *objs, size_t n, const nft_ruleset *now,
                  nft_batch *b, char *why, size_t why_size);

/* Write the messages of the objects listed (with their tables' own message, for context) to f,
 * back to back: material that nft_msgs_new() reads back. */
int nft_msgs_write(const nft_msgs *m, const nft_ruleset *model, const nft_object *objs, size_t n, FILE *f);
