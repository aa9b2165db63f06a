/* The `nft_restore` action: put the last-good nftables ruleset back — the raw netlink dump the
 * firewall check kept when the gateway was healthy (<state_dir>/snapshots/<check>.nft.bin,
 * vouched for by <check>.nft.hash) — in one transaction: every table there is now deleted,
 * every table of the snapshot recreated with its chains, sets, elements and rules (kernel
 * handles stripped, rules appended in order). The kernel applies all of it or nothing, and
 * refuses it if the ruleset changed after it was read (generation check; one fresh retry).
 *
 * Before the change the ruleset as it is now is kept beside the snapshot (.nft.pre-restore.bin):
 * the revert puts exactly that back. Verify: the ruleset's canonical hash equals the snapshot's.
 * Only what common/nft_ruleset.c models is restored (tables, chains, sets, elements, rules); a
 * snapshot holding anything else is refused, never half-restored. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/registry.h"
#include "atomic_file.h"
#include "netns.h"
#include "nft_ruleset.h"

enum { P_NETNS, P_CHECK, P_TABLES, _P_MAX };

static const action_param_spec params[] = {
        [P_NETNS] = { "netns", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_TABLES] = { "tables", AP_STRV, false }, /* only these tables (any family); default all */
        [_P_MAX] = { 0 },
};

static bool wanted(char *const *tables, const char *name) {
        for (size_t i = 0; tables && tables[i]; i++)
                if (strcmp(tables[i], name) == 0)
                        return true;
        return !tables;
}

#define SNAPSHOT_MAX (16u * 1024u * 1024u)


static char *snap_path(const action_params *p, const action_env *env, const char *suffix) {
        char *s;
        if (!env->state_dir || asprintf(&s, "%s/snapshots/%s.nft.%s", env->state_dir,
                                        nft_action_check(p), suffix) < 0)
                return NULL;
        return s;
}

/* Walk a file of netlink messages; cb(nlh) for each. -EBADMSG for anything malformed. */
static int each_msg(const uint8_t *buf, size_t len, int (*cb)(const struct nlmsghdr *, void *), void *userdata) {
        for (size_t off = 0; off < len;) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) (buf + off);
                int r;
                if (len - off < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) + sizeof(struct nfgenmsg) ||
                    nlh->nlmsg_len > len - off || (off % 4) != 0)
                        return -EBADMSG;
                if ((r = cb(nlh, userdata)) < 0)
                        return r;
                off += MNL_ALIGN(nlh->nlmsg_len);
        }
        return 0;
}

static int model_add(const struct nlmsghdr *nlh, void *userdata) {
        int r = nft_ruleset_add_nlmsg(userdata, nlh);
        return r == -EOPNOTSUPP ? -EBADMSG : r;
}

typedef struct emit_ctx {
        nft_batch *b;
        uint16_t type;
        uint32_t set_id;
        char *const *tables;
} emit_ctx;

/* The table a message belongs to: attribute 1 in every message type restored (NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_RULE_TABLE). */
static const char *table_of(const struct nlmsghdr *nlh) {
        const struct nlattr *a;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                        return mnl_attr_get_str(a);
        return NULL;
}

static int emit(const struct nlmsghdr *nlh, void *userdata) {
        static const uint16_t strip_table[] = { NFTA_TABLE_HANDLE, NFTA_TABLE_USE, 0 };
        static const uint16_t strip_chain[] = { NFTA_CHAIN_HANDLE, NFTA_CHAIN_USE, NFTA_CHAIN_FLAGS, NFTA_CHAIN_ID, 0 };
        /* 19, 20: NFTA_SET_TYPE (the backend) and NFTA_SET_COUNT (elements), which newer kernels
         * put in dumps and reject in requests; named by number for older headers */
        static const uint16_t strip_set[] = { NFTA_SET_HANDLE, NFTA_SET_ID, 19, 20, 0 };
        static const uint16_t strip_rule[] = { NFTA_RULE_HANDLE, NFTA_RULE_POSITION, NFTA_RULE_ID, 0 };
        emit_ctx *c = userdata;
        uint16_t type = nlh->nlmsg_type & 0xff;
        const uint16_t *strip = NULL;
        const char *label = NULL;

        if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || type != c->type)
                return 0;
        if (c->tables && !wanted(c->tables, table_of(nlh) ?: ""))
                return 0;
        switch (type) {
        case NFT_MSG_NEWTABLE: strip = strip_table; label = "create table"; break;
        case NFT_MSG_NEWCHAIN: strip = strip_chain; label = "create chain"; break;
        case NFT_MSG_NEWSET: strip = strip_set; label = "create set"; break;
        case NFT_MSG_NEWSETELEM: label = "add set elements"; break;
        case NFT_MSG_NEWRULE: strip = strip_rule; label = "add rule"; break;
        default: return 0;
        }
        return nft_batch_add_copy(c->b, nlh, type, (uint16_t) (NLM_F_CREATE | (type == NFT_MSG_NEWRULE ? NLM_F_APPEND : 0)),
                                  strip, type == NFT_MSG_NEWSET ? NFTA_SET_ID : 0, ++c->set_id, label);
}

/* Replace the whole ruleset (or the tables listed) by the messages in buf, atomically, given
 * the current one. */
static int restore_from(const uint8_t *buf, size_t len, const nft_ruleset *now, const char *netns, char *const *tables,
                        char *why, size_t n) {
        static const uint16_t order[] = { NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM,
                                          NFT_MSG_NEWRULE };
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        int r = nft_batch_new(&b, now->generation);

        if (r < 0)
                return r;
        for (size_t i = 0; i < now->n_tables; i++) {
                const nftr_table *t = &now->tables[i];
                char label[300];
                struct nlmsghdr *nlh;
                if (!wanted(tables, t->name))
                        continue;
                (void) snprintf(label, sizeof(label), "delete table %s %s", nft_ruleset_family_to_string(t->family), t->name);
                nlh = nft_batch_begin_msg(b, NFT_MSG_DELTABLE, (uint16_t) t->family, 0, label);
                if (!nlh)
                        return -ENOMEM;
                mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, t->name);
                if ((r = nft_batch_end_msg(b, nlh)) < 0)
                        return r;
        }
        emit_ctx c = { .b = b, .tables = tables };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                c.type = order[i];
                if ((r = each_msg(buf, len, emit, &c)) < 0)
                        return r;
        }
        return nft_batch_commit(b, netns, why, n);
}

static void capture(const struct nlmsghdr *nlh, void *userdata) {
        FILE *f = userdata;
        (void) fwrite(nlh, 1, MNL_ALIGN(nlh->nlmsg_len), f);
}

/* Read the ruleset now, keeping its raw messages when `raw` is given. */
static int read_now(const char *netns, nft_ruleset **ret, char **raw, size_t *raw_len) {
        FILE *f = raw ? open_memstream(raw, raw_len) : NULL;
        int r;

        if (raw && !f)
                return -ENOMEM;
        r = nft_ruleset_dump(netns, f ? capture : NULL, f, ret);
        if (f && fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        return r;
}

static int restore_file(const action_params *p, action_call *call, const char *path, const char *keep_path) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *snap = NULL;
        _cleanup_(freep) char *buf = NULL, *raw = NULL;
        size_t len = 0, raw_len = 0;
        char why[2048];
        int r;

        /* an apply starts by forgetting an older "before": a revert must only ever put back
         * what this apply replaced (and nothing, if it changed nothing) */
        if (keep_path)
                (void) unlink(keep_path);
        r = atomic_file_read(path, SNAPSHOT_MAX, &buf, &len);
        if (r == -ENOENT && !keep_path) {
                action_call_set_detail(call, "nothing to put back: the restore did not change the ruleset");
                return 0;
        }
        if (r < 0) {
                action_call_set_detail(call, "no snapshot to restore (%s: %s)", path, strerror(-r));
                return r;
        }
        /* the snapshot must read as a ruleset we model, or nothing is touched */
        if ((r = nft_ruleset_new(&snap)) < 0)
                return r;
        r = each_msg((uint8_t *) buf, len, model_add, snap);
        if (r < 0) {
                action_call_set_detail(call, "snapshot %s is not a ruleset this agent can restore: %s", path, strerror(-r));
                return r;
        }
        for (int attempt = 0; attempt < 2; attempt++) {
                _cleanup_(nft_ruleset_freep) nft_ruleset *now = NULL;
                free(raw);
                raw = NULL;
                r = read_now(nft_action_netns(p, action_call_env(call)), &now, keep_path ? &raw : NULL, &raw_len);
                if (r < 0) {
                        action_call_set_detail(call, "cannot read the ruleset: %s", strerror(-r));
                        return r;
                }
                if (keep_path && (r = atomic_file_write(keep_path, raw, raw_len, 0600)) < 0) {
                        action_call_set_detail(call, "cannot keep the current ruleset in %s before restoring: %s", keep_path,
                                               strerror(-r));
                        return r;
                }
                r = restore_from((uint8_t *) buf, len, now, nft_action_netns(p, action_call_env(call)), p->v[P_TABLES].strv, why,
                                 sizeof(why));
                if (r != -ERESTART)
                        break;
        }
        if (r < 0) {
                action_call_set_detail(call, "restore refused, nothing changed: %s", why);
                if (keep_path)
                        (void) unlink(keep_path);
        } else if (!keep_path)
                (void) unlink(path); /* reverted: the "before" has served */
        else
                action_call_set_detail(call, "ruleset restored from %s: %zu tables, %zu chains, %zu rules, %zu sets", path,
                                       snap->n_tables, snap->n_chains, snap->n_rules_total, snap->n_sets);
        return r;
}

static int verify_hash(const action_params *p, action_call *call, const char *hash_path) {
        _cleanup_(nft_ruleset_freep) nft_ruleset *now = NULL;
        _cleanup_(freep) char *want = NULL;
        char have[2 * NFT_RULESET_HASH_SIZE + 1];
        size_t len = 0;
        int r;

        if ((r = atomic_file_read(hash_path, 256, &want, &len)) < 0 || (r = nft_ruleset_dump(nft_action_netns(p, action_call_env(call)), NULL, NULL, &now)) < 0 ||
            (r = nft_ruleset_hash_hex(now, have)) < 0)
                return r;
        while (len > 0 && (want[len - 1] == '\n' || want[len - 1] == ' '))
                want[--len] = 0;
        if (strcmp(have, want) != 0) {
                action_call_set_detail(call, "the ruleset (hash %.16s…) is not the last-good one (%.16s…)", have, want);
                return -EPROTO;
        }
        action_call_set_detail(call, "the ruleset is the last-good one (hash %.16s…)", have);
        return 0;
}

static int nft_restore_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *bin = snap_path(p, env, "bin"), *pre = snap_path(p, env, "pre-restore.bin"),
                             *hash = snap_path(p, env, "hash");
        int r;

        if (!bin || !pre || !hash)
                return -ENOMEM;
        r = op == ACTION_APPLY    ? restore_file(p, call, bin, pre)
            : op == ACTION_REVERT ? restore_file(p, call, pre, NULL)
                                  : verify_hash(p, call, hash);
        action_call_done(call, r);
        return 0;
}

static int nft_restore_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(freep) char *hash = snap_path(p, env, "hash"), *bin = snap_path(p, env, "bin"), *h = NULL;
        _cleanup_(nft_ruleset_freep) nft_ruleset *now = NULL;
        size_t len = 0;

        if (!hash || !bin)
                return action_plan_add(out, "  nftables restore: no state directory");
        if (op == ACTION_VERIFY)
                return action_plan_add(out, "  nftables: the ruleset's hash must equal %s", hash);
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  nftables: put back the ruleset saved before the restore (one transaction)");
        if (atomic_file_read(hash, 256, &h, &len) < 0)
                return action_plan_add(out, "  nftables: restore %s — but there is no last-good snapshot (%s)", bin, hash);
        (void) nft_ruleset_dump(nft_action_netns(p, env), NULL, NULL, &now);
        return action_plan_add(out, "  nftables%s%s: replace the whole ruleset (generation %u, %zu tables) in one transaction by "
                               "the last-good snapshot %s (hash %.*s)",
                               nft_action_netns(p, env) ? " in netns " : "", nft_action_netns(p, env) ?: "", now ? now->generation : 0,
                               now ? now->n_tables : 0, bin, (int) strcspn(h, "\n"), h);
}

static int nft_restore_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        if (p->v[P_NETNS].set && netns_name_valid(p->v[P_NETNS].str) < 0) {
                (void) snprintf(why, n, "netns '%s' is not a valid namespace name", p->v[P_NETNS].str);
                return -EINVAL;
        }
        if (p->v[P_CHECK].set && (strchr(p->v[P_CHECK].str, '/') || p->v[P_CHECK].str[0] == '.')) {
                (void) snprintf(why, n, "check: the name of a firewall check, not a path");
                return -EINVAL;
        }
        return 0;
}

static bool nft_restore_supports(const action_params *p, action_op op) {
        return true;
}

const action_ops action_nft_restore = {
        .kind = "nft_restore",
        .description = "restore the last-good nftables ruleset atomically",
        .params = params,
        .effects = true,
        .validate = nft_restore_validate,
        .plan = nft_restore_plan,
        .start = nft_restore_start,
        .supports = nft_restore_supports,
};
