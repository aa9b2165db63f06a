/* A ruleset model kept up to date from the kernel's change notifications (the nftables
 * multicast group, what `nft monitor` hears) instead of being read again whole. The kernel sends
 * one transaction as its NEWTABLE/DELTABLE, NEWCHAIN/DELCHAIN, NEWRULE/DELRULE, NEWSET/DELSET and
 * NEWSETELEM/DELSETELEM messages, in the order it committed them, and then NEWGEN with the new
 * generation; nft_change_apply() takes the messages of one transaction one at a time and
 * nft_change_finish() ends it. Objects and elements are the messages' own (parsed by the model's
 * parser, common/nft_ruleset.h); a new rule goes after the rule the message names as its
 * predecessor (NFTA_RULE_POSITION), first when it names none and was not appended, last when it
 * was. Predecessors added later in the same transaction are waited for until the end of it.
 *
 * Whatever the model cannot place exactly — an object or rule it does not hold, a predecessor
 * that never comes — is -ESTALE: the model is then wrong and must be read again whole (the
 * caller's fallback, as for a lost notification). Nothing here logs or does I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_ruleset.h"

struct nlmsghdr;

/* New rules of one transaction waiting for their predecessor. */
typedef struct nft_change_wait {
        int family;
        char table[NFTR_NAME_MAX];
        char chain[NFTR_NAME_MAX];
        uint64_t handle, after;
} nft_change_wait;

/* What one transaction did; zero it before the first message. */
typedef struct nft_change_batch {
        bool changed; /* the model changed */
        bool input;   /* …in what the input path reads: a table with a base chain on it */
        bool layout;  /* chains were added or removed: pointers into the chain array are void */
        nft_change_wait *wait;
        size_t n_wait;
} nft_change_batch;

/* Apply one message of a transaction. Messages of other types (objects the model does not
 * hold, NEWGEN) are 0 and change nothing. -EBADMSG for a malformed message, -ESTALE when the
 * model cannot follow, -ENOMEM, -E2BIG (a model limit). */
int nft_change_apply(nft_ruleset *rs, const struct nlmsghdr *nlh, nft_change_batch *b);
/* Place what waited; 0 or -ESTALE. Frees the batch's memory either way. */
int nft_change_finish(nft_ruleset *rs, nft_change_batch *b);
void nft_change_batch_done(nft_change_batch *b);
