/* The nftables ruleset as a small, immutable model: tables, chains (base chains with hook,
 * priority, policy, type, device), rules as lists of expressions, sets with their elements, and
 * the ruleset generation. It is what the firewall evaluator (nft_verdict.h) reads, what the drift
 * detector hashes, and what the operator sees. Nothing here logs.
 *
 * Where it comes from: nft_ruleset_dump() reads the live ruleset over netlink (libmnl socket,
 * requests built with libnftnl), optionally from inside a named network namespace, and checks
 * that the generation did not change during the dump (nftables' cache.c does the same).
 * The messages are parsed here, with libmnl's attribute walker and our own checks, not with
 * libnftnl's nftnl_*_nlmsg_parse(): those call exit() ("kernel ABI is broken") on an attribute
 * of unexpected size, which a resident agent cannot afford and a fuzzer cannot run through.
 * nft_ruleset_add_nlmsg() takes one message and is the fuzzed entry point.
 *
 * The model keeps the raw kernel numbers (hooks, verdict codes, register numbers, byte order of
 * data) so the evaluator can follow the kernel's semantics exactly; expressions the model does
 * not understand are kept as NFTR_EXPR_OTHER with their name and raw attributes, so they still
 * count in the hash and the evaluator can name them. Tests build models in code with the
 * nft_ruleset_add_*() functions, the same ones the netlink parser uses.
 *
 * Types of the model are prefixed nftr_ (nft ruleset) to stay clear of the kernel's nft_ and
 * libnftnl's nftnl_ names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct nlmsghdr;

/* Limits on what one ruleset may hold: a dump beyond them is refused with -E2BIG rather than
 * eating the agent's memory. Gateways have tens of rules; firewalld-managed hosts a few thousand. */
#define NFTR_TABLES_MAX 256u
#define NFTR_CHAINS_MAX 4096u
#define NFTR_RULES_MAX 65536u
#define NFTR_EXPRS_PER_RULE_MAX 128u
#define NFTR_SETS_MAX 4096u
#define NFTR_ELEMS_MAX 262144u
#define NFTR_NAME_MAX 256u    /* NFT_NAME_MAXLEN, counting the NUL */
#define NFTR_DATA_MAX 64u     /* NFT_DATA_VALUE_MAXLEN */
#define NFTR_OTHER_RAW_MAX 256u /* raw attribute bytes kept of an expression we don't understand */
#define NFTR_MESSAGE_MAX (1u << 20)

#define NFT_RULESET_HASH_SIZE 32u /* SHA-256 */

typedef enum nftr_expr_kind {
        NFTR_EXPR_OTHER,     /* not understood: `name` and `raw` kept */
        NFTR_EXPR_META,      /* dreg ≠ 0: load `key`; else a "meta set" statement from sreg */
        NFTR_EXPR_PAYLOAD,   /* load base `key`, `offset`, `len` into dreg */
        NFTR_EXPR_CMP,       /* sreg `op` data */
        NFTR_EXPR_RANGE,     /* sreg `op` data … data2 */
        NFTR_EXPR_BITWISE,   /* dreg = (sreg & data) ^ data2, `len` bytes (boolean op only) */
        NFTR_EXPR_LOOKUP,    /* sreg in `set`; `flags` NFT_LOOKUP_F_INV; has_dreg: a map */
        NFTR_EXPR_IMMEDIATE, /* dreg 0: `verdict` (+`chain`); else data into dreg */
        NFTR_EXPR_CT,        /* dreg ≠ 0: load `key` (`dir`); else "ct set" from sreg */
        NFTR_EXPR_FIB,       /* `key` = result, `flags` = NFTA_FIB_F_* into dreg */
        NFTR_EXPR_REJECT,    /* `key` = type, `op` = code */
        NFTR_EXPR_COUNTER,
        NFTR_EXPR_LOG,       /* `chain` = prefix (NULL if none) */
        NFTR_EXPR_LIMIT,     /* rate `rate` per `unit` s, `burst`, `key` = type, `flags` */
        NFTR_EXPR_NOTRACK,
        _NFTR_EXPR_KIND_MAX,
} nftr_expr_kind;

typedef struct nftr_data {
        uint8_t len;
        uint8_t b[NFTR_DATA_MAX];
} nftr_data;

/* An expression's data: `len` bytes at `b` (never NULL when len > 0). In the model, b points
 * into the expression's own interned copy, which holds those bytes and no more: a ruleset is
 * mostly 2- and 4-byte compares, and 64 bytes kept for each of them were most of its memory. */
typedef struct nftr_bytes {
        uint8_t len;
        const uint8_t *b;
} nftr_bytes;

static inline nftr_bytes nftr_data_bytes(const nftr_data *d) {
        return (nftr_bytes){ .len = d->len, .b = d->b };
}

typedef struct nftr_expr {
        nftr_expr_kind kind;
        char name[16];      /* the kernel's expression name ("meta", "payload", …) */
        uint32_t key;       /* meta/ct key, payload base, fib result, reject type, limit type */
        uint32_t op;        /* cmp/range op, reject code */
        uint32_t flags;     /* lookup, fib, limit flags */
        uint32_t offset, len;
        uint32_t sreg, dreg; /* kernel register numbers (NFT_REG_1…4 or NFT_REG32_00…15) */
        int32_t verdict;    /* immediate with dreg 0: NF_ACCEPT, NF_DROP, NFT_JUMP, … */
        uint32_t burst;
        bool has_dreg;
        uint8_t dir;        /* ct direction, 0xff when absent */
        uint16_t raw_len;   /* OTHER: bytes at raw */
        nftr_bytes data, data2;
        char *chain;        /* immediate jump/goto target; log prefix */
        char *set;          /* lookup: set name */
        uint64_t rate, unit;
        uint8_t *raw;       /* OTHER: raw NFTA_EXPR_DATA bytes (at most NFTR_OTHER_RAW_MAX) */
} nftr_expr;

typedef struct nftr_rule {
        uint64_t handle;
        char *comment;      /* the rule's comment (userdata), NULL if none: ikeheal tags its rules */
        const nftr_expr *const *exprs; /* the list and each expression interned, shared with other rules
                                        * and models (nft_expr_pool.h) */
        size_t n_exprs;
} nftr_rule;

typedef struct nftr_table {
        int family;         /* NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_NETDEV, … */
        char *name;
        uint32_t flags;     /* NFT_TABLE_F_DORMANT: its chains see no packets */
        uint64_t handle;
} nftr_table;

/* The hook of a base chain. */
typedef struct nftr_hook {
        uint32_t hooknum;   /* NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, …, NF_NETDEV_INGRESS */
        int32_t priority;
        uint32_t policy;    /* NF_ACCEPT or NF_DROP */
        const char *type;   /* "filter", "nat", "route"; NULL reads as "filter" */
        const char *dev;    /* netdev/ingress chains: the device, NULL if none or several */
} nftr_hook;

typedef struct nftr_chain {
        size_t table;       /* index into nft_ruleset.tables */
        char *name;
        uint64_t handle;
        bool base;
        uint32_t hooknum;
        int32_t priority;
        uint32_t policy;
        char *type;
        char *dev;
        nftr_rule *rules;
        size_t n_rules;
} nftr_chain;

typedef struct nftr_elem {
        nftr_data key;
        nftr_data key_end;  /* len 0 unless the set stores ranges as key…key_end */
        uint32_t flags;     /* NFT_SET_ELEM_INTERVAL_END, NFT_SET_ELEM_CATCHALL */
        bool has_verdict;   /* maps to verdicts (vmap) */
        int32_t verdict;
        char *chain;
        nftr_data data;     /* maps to data */
} nftr_elem;

typedef struct nftr_set {
        size_t table;
        char *name;
        uint64_t handle;
        uint32_t flags;     /* NFT_SET_ANONYMOUS, NFT_SET_INTERVAL, NFT_SET_MAP, … */
        uint32_t key_len;
        uint32_t data_type; /* NFT_DATA_VERDICT for a vmap */
        uint32_t data_len;
        nftr_elem *elems;
        size_t n_elems;
} nftr_set;

typedef struct nft_ruleset {
        uint32_t generation;
        bool has_generation;
        nftr_table *tables;
        size_t n_tables;
        nftr_chain *chains;
        size_t n_chains;
        nftr_set *sets;
        size_t n_sets;
        size_t n_rules_total, n_elems_total;
} nft_ruleset;

int nft_ruleset_new(nft_ruleset **ret);
nft_ruleset *nft_ruleset_free(nft_ruleset *rs);
DEFINE_FREE_FUNC(nft_ruleset, nft_ruleset_free);

/* Builders. Each returns the new object's index (≥ 0) or -errno: -EINVAL (bad name or
 * argument), -ENOENT (its table, chain or set is missing), -EEXIST (duplicate name), -E2BIG (a
 * limit above), -ENOMEM. Strings are copied; expressions are interned (common/nft_expr_pool.h):
 * a rule points to one shared list of shared copies. */
int nft_ruleset_add_table(nft_ruleset *rs, int family, const char *name, uint32_t flags,
                          uint64_t handle);
/* `hook` NULL: a regular chain. */
int nft_ruleset_add_chain(nft_ruleset *rs, int family, const char *table, const char *name,
                          uint64_t handle, const nftr_hook *hook);
int nft_ruleset_add_rule(nft_ruleset *rs, int family, const char *table, const char *chain,
                         uint64_t handle, const nftr_expr *exprs, size_t n_exprs);
int nft_ruleset_add_set(nft_ruleset *rs, int family, const char *table, const char *name,
                        uint64_t handle, uint32_t flags, uint32_t key_len, uint32_t data_type,
                        uint32_t data_len);
int nft_ruleset_add_elem(nft_ruleset *rs, int family, const char *table, const char *set,
                         const nftr_elem *elem);
void nft_ruleset_set_generation(nft_ruleset *rs, uint32_t generation);

/* Removers, for a model that follows the live ruleset change by change. By index; what follows
 * the removed object moves down by one (pointers into the arrays no longer hold). A table goes
 * with its chains and sets. */
void nft_ruleset_del_table(nft_ruleset *rs, size_t table);
void nft_ruleset_del_chain(nft_ruleset *rs, size_t chain);
void nft_ruleset_del_rule(nft_ruleset *rs, nftr_chain *c, size_t rule);
void nft_ruleset_del_set(nft_ruleset *rs, size_t set);
void nft_ruleset_del_elem(nft_ruleset *rs, nftr_set *s, size_t elem);
/* Move rule `from` of a chain to index `to`; the rules between shift by one. */
void nft_ruleset_move_rule(nftr_chain *c, size_t from, size_t to);

/* Lookups within one table (by index); NULL if absent. */
const nftr_chain *nft_ruleset_find_chain(const nft_ruleset *rs, size_t table, const char *name);
const nftr_set *nft_ruleset_find_set(const nft_ruleset *rs, size_t table, const char *name);

/* Set the comment of a rule (by its index in its chain, as nft_ruleset_add_rule returns it). */
int nft_ruleset_set_rule_comment(nft_ruleset *rs, int family, const char *table, const char *chain, size_t rule,
                                 const char *comment);

/* Add one message of a ruleset dump: NFT_MSG_NEWTABLE, NEWCHAIN, NEWRULE, NEWSET, NEWSETELEM
 * or NEWGEN of the nf_tables subsystem. The caller guarantees nlh->nlmsg_len bytes are readable
 * (mnl_nlmsg_ok()); everything inside is checked. -EBADMSG for a malformed message,
 * -EOPNOTSUPP for another message type, else as the builders. */
int nft_ruleset_add_nlmsg(nft_ruleset *rs, const struct nlmsghdr *nlh);

/* A model from messages kept back to back (a saved dump): -EBADMSG for anything malformed or
 * of another type. */
int nft_ruleset_from_messages(const uint8_t *buf, size_t len, nft_ruleset **ret);
/* The same from a file of them (at most `max` bytes, else -EFBIG), read through a small buffer
 * while the model is built: the file is never held whole in memory. A symlink is followed; the
 * open never blocks and takes a regular file only (common/file_read.h). */
int nft_ruleset_from_file(const char *path, size_t max, nft_ruleset **ret);

/* Called with every message the dump receives (for keeping a snapshot, capturing fuzz corpora,
 * debugging); with NULL when the dump starts over because the ruleset changed during it: the
 * messages before are void. */
typedef void (*nft_ruleset_msg_fn)(const struct nlmsghdr *nlh, void *userdata);

/* Read the live ruleset. `netns` names a namespace in /run/netns whose netlink socket is used
 * (NULL: ours); the calling thread joins it only to create the socket, then returns. Retries
 * when the ruleset changes during the dump; -EAGAIN if it kept changing. -EPERM without
 * CAP_NET_ADMIN; -ENOENT for a missing namespace. */
int nft_ruleset_dump(const char *netns, nft_ruleset_msg_fn on_msg, void *userdata,
                     nft_ruleset **ret);
/* The same over a netlink socket kept between reads (nft_ruleset_socket_open(): made in `netns`
 * once), and the ruleset's generation alone — one short round trip: a reader that keeps the
 * model of a generation reads again only when it moved. */
struct mnl_socket;
int nft_ruleset_socket_open(const char *netns, struct mnl_socket **ret);
int nft_ruleset_dump_socket(struct mnl_socket *nl, nft_ruleset_msg_fn on_msg, void *userdata, nft_ruleset **ret);
int nft_ruleset_generation(struct mnl_socket *nl, uint32_t *ret);

/* A table by family and name. */
typedef struct nft_table_key {
        int family;
        const char *name;
} nft_table_key;
/* The messages of the tables listed alone, as a whole dump has them (each table's own message,
 * then its chains, sets, rules and set elements), to on_msg; no model is built. The kernel is
 * asked for those tables only, so a small table of a big ruleset costs little. *ret_gen: the
 * generation they are of (asked before and after; on_msg(NULL) when it starts over). -EAGAIN if
 * the ruleset kept changing, else as nft_ruleset_dump(). */
int nft_ruleset_dump_tables(struct mnl_socket *nl, const nft_table_key *keys, size_t n, nft_ruleset_msg_fn on_msg,
                            void *userdata, uint32_t *ret_gen);

/* Text form of the model. Tables, sets and chains come sorted by family and name, set elements
 * sorted, anonymous sets written inline where they are used, rules in order. CANONICAL leaves
 * out what a reload changes without changing meaning (handles, generation, anonymous set
 * names): it is what the hash covers. */
#define NFT_RULESET_FORMAT_CANONICAL 1u
int nft_ruleset_format(const nft_ruleset *rs, unsigned flags, char **ret);

/* The canonical text of one chain (its hook, policy and rules, anonymous sets inline) or one
 * named set (its elements): what the firewall actions compare object by object. Exactly one of
 * `chain` and `set` is given. */
int nft_ruleset_format_object(const nft_ruleset *rs, const nftr_chain *chain, const nftr_set *set, char **ret);

/* SHA-256 (OpenSSL EVP) of the canonical form: equal for an identical reload, different when
 * anything the evaluator could read changes. `ret_hex` gets 64 hex digits and a NUL. */
int nft_ruleset_hash(const nft_ruleset *rs, uint8_t ret[NFT_RULESET_HASH_SIZE]);
int nft_ruleset_hash_hex(const nft_ruleset *rs, char ret_hex[2 * NFT_RULESET_HASH_SIZE + 1]);

/* Names for the operator: "inet", "ip", …; "input", "prerouting", …; "accept", "jump", …;
 * "meta l4proto" etc. Never NULL. */
const char *nft_ruleset_family_to_string(int family);
const char *nft_ruleset_hook_to_string(int family, uint32_t hooknum);
const char *nft_ruleset_verdict_to_string(int32_t verdict);
const char *nft_ruleset_meta_key_to_string(uint32_t key);
const char *nft_ruleset_ct_key_to_string(uint32_t key);
