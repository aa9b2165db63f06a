/* The nftables ruleset of one namespace, kept between reads: what the firewall check looks at on
 * every run. Two netlink sockets made in the namespace once: one asks for the ruleset's
 * generation (one short round trip per refresh) and dumps it; the other has joined the nftables
 * multicast group before the dump and receives every change after it. A refresh on a moved
 * generation applies those changes to the model (common/nft_change.h) instead of reading it
 * again; it reads the whole ruleset again only when changes were lost (the socket overran:
 * ENOBUFS), a transaction is missing, or the model cannot place a change. What is derived from
 * the model — the verdict for each IKE packet, the canonical hash — is computed on first use and
 * kept until a change touches it: the verdicts survive changes to tables no input-path base
 * chain is in. A run on an unchanged ruleset of any size costs a generation query. Nothing here
 * logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft_ruleset.h"
#include "nft_verdict.h"

typedef struct nft_watch nft_watch;

/* `netns` NULL: ours. `raw_max`: bytes of the raw dump kept (for a snapshot; 0: none). */
int nft_watch_new(nft_watch **ret, const char *netns, size_t raw_max);
/* The one watch of this process for `netns`, shared (a new reference): the firewall check and
 * the nft actions then read a generation once between them — the restore of a fault the check
 * has just seen reads nothing but the generation. raw_max: at least this much kept. The agent
 * is single-threaded; so is the sharing. */
int nft_watch_shared(nft_watch **ret, const char *netns, size_t raw_max);
/* Drops a reference; the last one frees. */
nft_watch *nft_watch_free(nft_watch *w);
DEFINE_FREE_FUNC(nft_watch, nft_watch_free);

/* Bring the model up to the current generation. *ret_changed (optional): whether it changed.
 * Pointers into the model and verdicts from before are void afterwards. On an error there is no
 * model until a refresh succeeds (which reopens the socket first). -errno as nft_ruleset_dump(). */
int nft_watch_refresh(nft_watch *w, bool *ret_changed);
/* How many times the whole ruleset was read, and how many transactions were followed by their
 * notifications instead. */
unsigned nft_watch_full_reads(const nft_watch *w);
unsigned nft_watch_followed(const nft_watch *w);

/* The model of the last refresh (NULL before the first). */
const nft_ruleset *nft_watch_ruleset(const nft_watch *w);
/* Its raw messages as dumped, back to back. A model that has followed changes since its dump
 * is read again first (so the model pointer from before is void). -E2BIG when they did not fit
 * in raw_max, else as nft_watch_refresh(). */
int nft_watch_raw(nft_watch *w, const uint8_t **ret, size_t *ret_len);
/* The kept dump is not needed any more (a snapshot of it has been written): freed now, read
 * again by nft_watch_raw() if asked. A dump that the model has moved past is freed anyway. */
void nft_watch_raw_release(nft_watch *w);
/* The ruleset read afresh over the watch's socket, its messages as the kernel gives them written
 * to fd as they arrive (the file truncated whenever the dump starts over) instead of kept in
 * memory — at most `max` bytes, else -E2BIG — and its model into *ret (expressions interned:
 * it shares them with the watch's model), the bytes written into *ret_len (may be NULL): what a
 * snapshot is made of, at the cost of the model alone. -ESTALE when that is not the generation
 * of the watch's model (the ruleset moved since it was judged). The watch's model is untouched. */
int nft_watch_dump_to(nft_watch *w, int fd, size_t max, nft_ruleset **ret, size_t *ret_len);
/* The raw messages of some tables alone, as of the model's generation, into a buffer of the
 * caller's (free()): from the kept dump while it is the model's, else asked of the kernel for
 * those tables only (nft_ruleset_dump_tables()) — a restore keeps what it changes without the
 * whole ruleset read again. -ESTALE when the ruleset has moved past the model (refresh, then
 * decide again), else as nft_watch_refresh(). */
int nft_watch_raw_tables(nft_watch *w, const nft_table_key *keys, size_t n, uint8_t **ret, size_t *ret_len);
/* The verdict for one packet (nfproto NFPROTO_IPV4 or NFPROTO_IPV6), computed once per
 * generation; points into the watch until the next refresh that reads again. */
int nft_watch_verdict(nft_watch *w, uint8_t nfproto, nft_verdict_probe probe, const nft_verdict_result **ret);
/* The canonical hash (nft_ruleset_hash_hex()), once per generation. */
int nft_watch_hash(nft_watch *w, const char **ret_hex);
