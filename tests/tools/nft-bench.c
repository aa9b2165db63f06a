/* nft-bench: what the firewall check costs per run on a real ruleset, measured in-process (the
 * check's own work: common/nft_watch.h's refresh, the six IKE verdicts and the drift from the
 * last-good ruleset, as agent/checks/firewall.c does them), for bench/nft-scale.sh:
 *
 *   nft-bench check NETNS RUNS
 *
 * prints, one per line:
 *   rules N
 *   dump_kib K                     (the raw netlink dump: the snapshot file's size)
 *   idle_us U                      (CPU per run, the ruleset unchanged)
 *   change_us C                    (CPU per run, each after a change: a table added or removed)
 *   input_change_us I              (the same after a change on the input path: a rule inserted at
 *                                   the top of the first input base chain, or deleted again)
 *   full_reads F                   (how often the ruleset was read whole over all the runs)
 *   reread_us R                    (the baseline: CPU of one run that reads the ruleset whole, as
 *                                   on a first run or when notifications were lost)
 *   exprs E D                      (expressions in the live model, and distinct ones held by
 *                                   the process: common/nft_expr_pool.h)
 *   rss_kib R                      (peak resident set of this process: the check's first read,
 *                                   its mark_good — the ruleset read again straight into a
 *                                   snapshot file, the last-good model with it — and the runs)
 *   held_kib H                     (resident after the runs: the live model, the last-good one
 *                                   and what they share; no dump is kept)
 *   held_dump_kib H                (the same: there is no dump to keep)
 *   base_rss_kib B                 (the same before the first read)
 *
 *   nft-bench restore NETNS STATE_DIR [FAULT_FILE]
 *
 * runs nft_restore's apply once, in-process, the way the agent does: the firewall check has read
 * the faulty ruleset already (a shared watch holds it, common/nft_watch.h) and the snapshot was
 * read before (the action keeps it). With FAULT_FILE, the watch reads the healthy ruleset first,
 * then `nft -f FAULT_FILE` breaks it and the watch follows that change from the kernel's
 * notifications, as the check does in the agent; without, it reads the faulty ruleset whole.
 * Prints "restore_us U" (CPU) and "restore_wall_us W", then the result and the action's detail.
 * Exit 0, or 1 on an error (said on stderr). */
#include <arpa/inet.h> /* before the linux/ headers, which defer to it */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <time.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/nft_expr.h"
#include "actions/nft_restore_record.h"
#include "yaml_tree.h"
#include "now.h"
#include "nft_diff.h"
#include "nft_expr_pool.h"
#include "nft_watch.h"

static long cpu_us(void) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static long rss_kib(void) {
        struct rusage u;
        getrusage(RUSAGE_SELF, &u);
        return u.ru_maxrss;
}

static long rss_now_kib(void) {
        long pages = 0, rss = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
                rss = 0;
        if (f)
                (void) fclose(f);
        return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static nft_ruleset *good;

/* One run of the check's work: refresh, the six verdicts, the drift from the last-good ruleset
 * (once per generation, as agent/checks/firewall.c does). */
static int run(nft_watch *w) {
        const nft_verdict_result *v;
        bool changed = false;
        int r = nft_watch_refresh(w, &changed);

        for (int f = 0; f < 2 && r >= 0; f++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX && r >= 0; p++)
                        r = nft_watch_verdict(w, f ? NFPROTO_IPV6 : NFPROTO_IPV4, (nft_verdict_probe) p, &v);
        if (r >= 0 && changed && good) {
                _cleanup_(freep) char *text = NULL;
                size_t n = 0;
                r = nft_diff_drift(nft_watch_ruleset(w), good, NULL, 0, 4, &text, &n);
        }
        return r;
}

/* A change somewhere else: table inet nft_bench_touch added, or removed. */
static int touch(const char *ns, bool add) {
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        struct nlmsghdr *nlh;
        char why[256];
        int r = nft_batch_new(&b, 0);

        if (r < 0)
                return r;
        nlh = nft_batch_begin_msg(b, add ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE, NFPROTO_INET, add ? NLM_F_CREATE : 0, "touch");
        if (!nlh)
                return -ENOMEM;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "nft_bench_touch");
        if ((r = nft_batch_end_msg(b, nlh)) < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        return r > 0 ? -EIO : r;
}

/* A change on the input path: "udp dport 4499 drop" inserted at the top of the chain that holds
 * the ruleset's first rule (the bench's input chain), or that rule deleted again. */
static int touch_input(const char *ns, const nft_ruleset *rs, bool add) {
        _cleanup_(nft_batch_freep) nft_batch *b = NULL;
        const nftr_chain *c = NULL;
        struct nftnl_rule *rule;
        struct nlmsghdr *nlh;
        uint16_t port = htons(4499);
        uint8_t proto = IPPROTO_UDP;
        char why[256];
        int r;

        for (size_t i = 0; i < rs->n_chains && !c; i++)
                if (rs->chains[i].base && rs->chains[i].hooknum == NF_INET_LOCAL_IN)
                        c = &rs->chains[i];
        if (!c || (!add && c->n_rules == 0) || (r = nft_batch_new(&b, 0)) < 0)
                return -ENOENT;
        if (!(rule = nftnl_rule_alloc()))
                return -ENOMEM;
        nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, (uint32_t) rs->tables[c->table].family);
        nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, rs->tables[c->table].name);
        nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, c->name);
        if (add) {
                nft_expr_l4proto(rule);
                nft_expr_cmp_eq(rule, &proto, 1);
                nft_expr_th_dport(rule);
                nft_expr_cmp_eq(rule, &port, 2);
                nft_expr_verdict(rule, NF_DROP);
        } else
                nftnl_rule_set_u64(rule, NFTNL_RULE_HANDLE, c->rules[0].handle);
        nlh = nft_batch_begin_msg(b, add ? NFT_MSG_NEWRULE : NFT_MSG_DELRULE, (uint16_t) rs->tables[c->table].family,
                                  add ? NLM_F_CREATE : 0, "touch input");
        if (!nlh) {
                nftnl_rule_free(rule);
                return -ENOMEM;
        }
        nftnl_rule_nlmsg_build_payload(nlh, rule);
        nftnl_rule_free(rule);
        if ((r = nft_batch_end_msg(b, nlh)) < 0)
                return r;
        r = nft_batch_commit(b, ns, why, sizeof(why));
        return r > 0 ? -EIO : r;
}

static bool done;
static int result;

static void on_done(action_call *c, int r, void *userdata) {
        done = true;
        result = r;
}

static long wall_us(void) {
        return (long) mono_usec();
}

static int restore(const char *ns, const char *state_dir, const char *fault) {
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        action_env env = { .state_dir = state_dir };
        action_params p = {};
        action_plan plan = {};
        action_call *call = NULL;
        ynode *root = NULL;
        char yaml[128];
        long c0, w0;
        ydiag d;
        int r;

        (void) snprintf(yaml, sizeof(yaml), "netns: %s\n", ns);
        ydiag_init(&d, "params");
        if (ytree_parse_buffer(yaml, strlen(yaml), &d, &root) < 0 || action_params_bind(action_find("nft_restore"), root, &p, &d) < 0 ||
            ev_default(&env.event) < 0)
                return -EINVAL;
        /* what the agent has before the step: the check's read of the faulty ruleset, and the
         * snapshot read once (the plan the engine makes first) */
        if ((r = nft_watch_shared(&w, ns, 0)) < 0 || (r = nft_watch_refresh(w, NULL)) < 0)
                return r;
        /* the firewall check's mark_good made the slot the restore's record goes to */
        {
                char rec[4096];
                (void) snprintf(rec, sizeof(rec), "%s/snapshots/firewall.nft.restore", state_dir);
                if ((r = nft_restore_record_prepare(rec)) < 0)
                        return r;
        }
        /* the agent's firewall check has hashed a ruleset before (mark_good): the digest the
         * restore's record uses is loaded already */
        const char *hash;
        if ((r = nft_watch_hash(w, &hash)) < 0)
                return r;
        if (fault) {
                char cmd[1024];
                unsigned full = nft_watch_full_reads(w);
                (void) snprintf(cmd, sizeof(cmd), "ip netns exec '%s' nft -f '%s'", ns, fault);
                if (system(cmd) != 0)
                        return -EIO;
                if ((r = nft_watch_refresh(w, NULL)) < 0)
                        return r;
                printf("followed %s\n", nft_watch_full_reads(w) == full ? "yes" : "no");
        }
        (void) action_plan_make(&p, &env, ACTION_APPLY, &plan);
        c0 = cpu_us();
        w0 = wall_us();
        if ((r = action_call_new(&call, &p, &env, ACTION_APPLY, 30 * USEC_PER_SEC, NULL, on_done, NULL)) < 0)
                return r;
        while (!done)
                (void) ev_run(env.event, UINT64_MAX);
        printf("restore_us %ld\nrestore_wall_us %ld\nresult %d\ndetail %s\n", cpu_us() - c0, wall_us() - w0, result,
               action_call_detail(call));
        action_call_free(call);
        action_params_done(&p);
        ynode_free(root);
        ydiag_done(&d);
        ev_unref(env.event);
        return result;
}

int main(int argc, char **argv) {
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        long base_rss, rss, held, held_dump, t, idle = 0, change = 0, input_change = 0, reread = 0;
        size_t dump = 0;
        int runs, r;

        if ((argc == 4 || argc == 5) && strcmp(argv[1], "restore") == 0) {
                r = restore(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
                if (r < 0)
                        fprintf(stderr, "nft-bench: %s\n", strerror(-r));
                return r < 0;
        }
        if (argc != 4 || strcmp(argv[1], "check") != 0 || (runs = atoi(argv[3])) <= 0) {
                fprintf(stderr, "usage: nft-bench check NETNS RUNS | nft-bench restore NETNS STATE_DIR [FAULT_FILE]\n");
                return 2;
        }
        base_rss = rss_kib();
        /* as the firewall check: no dump kept; its mark_good reads the ruleset once more straight
         * into the snapshot's file (here a temporary file), and the last-good model with it */
        FILE *snap = tmpfile();
        if (!snap || (r = nft_watch_new(&w, argv[2], 0)) < 0 || (r = run(w)) < 0 ||
            (r = nft_watch_dump_to(w, fileno(snap), 64u << 20, &good, &dump)) < 0) {
                fprintf(stderr, "nft-bench: %s\n", strerror(snap ? -r : errno));
                return 1;
        }
        (void) fclose(snap);
        for (int i = 0; i < runs; i++) {
                t = cpu_us();
                r = run(w);
                idle += cpu_us() - t;
                if (r < 0)
                        break;
        }
        for (int i = 0; i < runs && r >= 0; i++) {
                if ((r = touch(argv[2], i % 2 == 0)) < 0)
                        break;
                t = cpu_us();
                r = run(w);
                change += cpu_us() - t;
        }
        if (runs % 2)
                (void) touch(argv[2], false);
        for (int i = 0; i < runs && r >= 0; i++) {
                if ((r = touch_input(argv[2], nft_watch_ruleset(w), i % 2 == 0)) < 0)
                        break;
                t = cpu_us();
                r = run(w);
                input_change += cpu_us() - t;
        }
        if (runs % 2 && r >= 0)
                (void) touch_input(argv[2], nft_watch_ruleset(w), false);
        /* the peak of the check's own work, before the baseline reads a second model; and what
         * it holds now (no dump: held_dump, "with the dump kept", is the same) */
        rss = rss_kib();
        held = held_dump = rss_now_kib();
        for (int i = 0; i < 3 && r >= 0; i++) {
                _cleanup_(nft_watch_freep) nft_watch *fresh = NULL;
                t = cpu_us();
                if ((r = nft_watch_new(&fresh, argv[2], 0)) >= 0)
                        r = run(fresh);
                reread += cpu_us() - t;
        }
        if (r < 0) {
                fprintf(stderr, "nft-bench: %s\n", strerror(-r));
                return 1;
        }
        size_t exprs = 0;
        for (size_t c = 0; c < nft_watch_ruleset(w)->n_chains; c++)
                for (size_t i = 0; i < nft_watch_ruleset(w)->chains[c].n_rules; i++)
                        exprs += nft_watch_ruleset(w)->chains[c].rules[i].n_exprs;
        printf("exprs %zu %zu\nheld_kib %ld\nheld_dump_kib %ld\n", exprs, nft_expr_pool_count(), held, held_dump);
        printf("rules %zu\ndump_kib %zu\nidle_us %ld\nchange_us %ld\ninput_change_us %ld\nfull_reads %u\nreread_us %ld\nrss_kib %ld\nbase_rss_kib %ld\n",
               nft_watch_ruleset(w)->n_rules_total, dump / 1024, idle / runs, change / runs, input_change / runs, nft_watch_full_reads(w), reread / 3,
               rss, base_rss);
        nft_ruleset_free(good);
        return 0;
}
