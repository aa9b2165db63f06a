/* Which objects of a ruleset make IKE drop, compared with a last-good ruleset: the decision
 * behind a minimal firewall restore. Objects are tables, chains and named sets, named by family,
 * table and name. Given the ruleset now and the last-good one, nft_diff_broken() follows the
 * three IKE packets (udp/500, udp/4500, esp; IPv4, and IPv6 if asked) through both with the
 * evaluator (nft_verdict.h); wherever the last-good ruleset accepts a packet the current one does
 * not, it names the object that decides — the table that is new, the chain whose policy or rules
 * changed, the named set a deciding rule reads — and then evaluates again with that object as it
 * was (an overlay of the two models, nothing copied), until every packet passes as before.
 * Everything else that differs is drift: nft_diff_drift() lists it, nobody changes it.
 *
 * The same overlay answers the revert's question: would this object, put back as it was, make
 * IKE drop again (nft_diff_passes()). Pure functions over models: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "nft_ruleset.h"
#include "nft_verdict.h"

typedef enum nft_object_kind {
        NFT_OBJECT_TABLE,
        NFT_OBJECT_CHAIN,
        NFT_OBJECT_SET,
        _NFT_OBJECT_KIND_MAX,
} nft_object_kind;

/* One object; `name` is empty for a table. */
typedef struct nft_object {
        nft_object_kind kind;
        int family;
        char table[NFTR_NAME_MAX];
        char name[NFTR_NAME_MAX];
} nft_object;

#define NFT_DIFF_OBJECTS_MAX 32u

/* Which packets are judged. */
typedef struct nft_diff_probes {
        bool esp;
        bool ipv6;
} nft_diff_probes;

/* Which of the packets `probes` asks about a ruleset accepts: what the functions below compare
 * against. A last-good ruleset does not change, so its answer can be computed once and kept
 * (nft_diff_broken_for(), nft_diff_passes_for()): at 10,000 rules, each packet is a walk of
 * the whole input chain. */
typedef struct nft_diff_accepts {
        nft_diff_probes probes;
        bool ok[2][_NFT_VERDICT_PROBE_MAX]; /* [IPv4, IPv6][probe]; false for a probe not asked */
} nft_diff_accepts;
/* `want` NULL: every packet asked about counts as accepted. */
int nft_diff_accepts_of(const nft_ruleset *want, const nft_diff_probes *probes, nft_diff_accepts *ret);

/* The objects of `now` that make a packet drop that `good` accepts, in the order found, each
 * with the evaluator's reason in why[i] (optional, NFT_VERDICT_WHY_MAX each). 0 when every such
 * drop was traced to an object (none: nothing to do); -ESRCH when one could not be — the drop
 * sits in something unchanged since last good (a table flag, an unmodelled expression) — with
 * `why` saying where; the objects found so far are returned either way. */
int nft_diff_broken(const nft_ruleset *now, const nft_ruleset *good, const nft_diff_probes *probes, nft_object *ret,
                    size_t *ret_n, char (*why)[NFT_VERDICT_WHY_MAX], char *err, size_t err_size);
/* The same with what good accepts computed already (nft_diff_accepts_of(good, …)). */
int nft_diff_broken_for(const nft_ruleset *now, const nft_ruleset *good, const nft_diff_accepts *accepts, nft_object *ret,
                        size_t *ret_n, char (*why)[NFT_VERDICT_WHY_MAX], char *err, size_t err_size);

/* Evaluate `base` with the objects listed taken from `other` (or absent, where `other` lacks
 * them): 1 when every packet `want` accepts (NULL: every packet) is accepted, 0 if not (`why`:
 * the first that is not), -errno. */
int nft_diff_passes(const nft_ruleset *base, const nft_ruleset *other, const nft_object *objs, size_t n,
                    const nft_ruleset *want, const nft_diff_probes *probes, char *why, size_t why_size);
/* The same with what `want` accepts computed already. */
int nft_diff_passes_for(const nft_ruleset *base, const nft_ruleset *other, const nft_object *objs, size_t n,
                        const nft_diff_accepts *accepts, char *why, size_t why_size);

/* The differences between now and good other than `skip`: one line each ("table inet admin:
 * new", "chain inet filter forward: changed", "set inet filter allowed: changed"), at most
 * `max` lines (then "… and N more"); *ret_count is the full number. */
int nft_diff_drift(const nft_ruleset *now, const nft_ruleset *good, const nft_object *skip, size_t n_skip, size_t max,
                   char **ret_text, size_t *ret_count);

/* The state of one object: SHA-256 hex of its canonical text, or "absent". */
int nft_diff_object_state(const nft_ruleset *rs, const nft_object *o, char ret[2 * NFT_RULESET_HASH_SIZE + 1]);

/* Object lookups by name (NULL if absent). */
const nftr_chain *nft_diff_find_chain(const nft_ruleset *rs, int family, const char *table, const char *name);
const nftr_set *nft_diff_find_set(const nft_ruleset *rs, int family, const char *table, const char *name);
int nft_diff_find_table(const nft_ruleset *rs, int family, const char *name); /* index or -ENOENT */

/* "table inet vendor", "chain inet filter input", "set inet filter allowed" */
const char *nft_object_to_string(const nft_object *o, char *buf, size_t size);
