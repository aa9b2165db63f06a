/* The firewall check (kind "firewall"): does the local nftables ruleset let IKE reach charon?
 * The live ruleset is read over netlink (common/nft_ruleset.h, optionally inside a named
 * network namespace) and three packets are followed through every input-path base chain
 * (common/nft_verdict.h): UDP to 500, UDP to 4500, ESP. An accept in one base chain does not
 * override a drop in another; the evaluator knows, and names the chain and rule that decide.
 *
 *   any of them dropped or rejected → FAIL class=firewall reason=udp500_dropped /
 *                                     udp4500_dropped / esp_dropped (…_rejected), global
 *   the evaluator cannot tell       → WARN (a rule reads what a new packet does not carry)
 *
 * Cost: the ruleset is kept between runs (common/nft_watch.h): a run asks only for its generation,
 * so a run on an unchanged ruleset of any size costs one netlink round trip; when it moved, the
 * kept model follows the kernel's change notifications instead of reading the ruleset again, and
 * the verdicts are evaluated again only when a change reached a table with an input-path base
 * chain. The drift is computed once per generation.
 *
 * Drift: mark_good() keeps the last-good ruleset under <state_dir>/snapshots/: <check>.nft.bin
 * (the raw netlink dump messages, from which nft_restore rebuilds objects), <check>.nft.txt (the
 * canonical form, for a human diff) and <check>.nft.hash (its SHA-256, written last: it vouches
 * for the files beside it) — once per generation, while the gateway is healthy. A ruleset that
 * differs from it (compared object by object, common/nft_diff.h) is reported as a fact
 * (drift=yes, with what differs as evidence), not a failure.
 *
 * Push: the check listens to the nftables multicast group (what `nft monitor` hears) in the
 * same namespace; any change runs it after a short debounce, so `nft add rule … drop` is seen
 * in milliseconds. The dump itself is a local netlink round trip done on the loop. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actions/nft_restore_record.h"
#include "agent/checks/check_debounce.h"
#include "agent/checks/firewall.h"
#include "atomic_file.h"
#include "netns.h"
#include "nft_diff.h"
#include "nft_ruleset.h"
#include "nftnl_lib.h"
#include "nft_verdict.h"
#include "nft_watch.h"
#include "snapshot.h"
#include "yaml_bind.h"

#define DEBOUNCE_USEC (20 * USEC_PER_MSEC)
/* the largest snapshot dump written or read back: a 50,000-rule ruleset dumps ~23 MiB */
#define DUMP_KEEP_MAX (64u * 1024u * 1024u)

typedef struct firewall_state {
        char *netns;
        bool esp;
        bool ipv6;

        check *check;
        const check_env *env;
        ev_source *monitor;
        check_debounce debounce;
        nft_watch *watch;

        /* the last-good ruleset, for drift: from the snapshot, or what mark_good stored */
        nft_ruleset *good;
        char good_hash[2 * NFT_RULESET_HASH_SIZE + 1];
        uint32_t marked_gen;
        bool marked;

        /* the drift of one generation */
        uint32_t drift_gen;
        bool have_drift;
        size_t drift_n;
        char *drift_text;
} firewall_state;

#define FOFF(f) offsetof(firewall_state, f)

static const yfield firewall_fields[] = {
        { "netns", YF_STRING, FOFF(netns), .max = 64 },
        { "esp", YF_BOOL, FOFF(esp) },
        { "ipv6", YF_BOOL, FOFF(ipv6) },
        {}
};

static int firewall_parse(void *state, const ynode *params, ydiag *d) {
        firewall_state *s = state;
        int r;

        s->esp = true;
        r = ybind(params, firewall_fields, s, d);
        if (r < 0)
                return r;
        if (s->netns && netns_name_valid(s->netns) < 0) {
                ydiag_add(d, ynode_get(params, "netns"), "netns: '%s' is not a network namespace name", s->netns);
                return -EINVAL;
        }
        return 0;
}

static char *snap_path(const firewall_state *s, const char *suffix) {
        char ext[16], *p = NULL;
        (void) snprintf(ext, sizeof(ext), "nft.%s", suffix);
        return snapshot_path(s->env->state_dir, check_name(s->check), ext, &p) < 0 ? NULL : p;
}

/* ---- push: the nftables multicast group ---- */

static int on_monitor(ev_source *src, int fd, uint32_t revents, void *userdata) {
        firewall_state *s = userdata;
        uint8_t buf[8192];

        /* drain: this socket only wakes the check; the watch follows the changes on its own */
        for (int i = 0; i < 64; i++)
                if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
                        break;
        check_debounce_kick(&s->debounce, s->env->event, s->check, DEBOUNCE_USEC);
        return 0;
}

static int monitor_open(firewall_state *s) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (NFNLGRP_NFTABLES - 1) };
        int fd, r;

        fd = netns_socket(s->netns, AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return fd;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = ev_add_io(s->env->event, &s->monitor, fd, EPOLLIN, on_monitor, s);
        if (r < 0) {
                close(fd);
                return r;
        }
        return ev_source_set_io_fd_own(s->monitor, true);
}

static void load_good(firewall_state *s) {
        _cleanup_(freep) char *ph = snap_path(s, "hash"), *pb = snap_path(s, "bin"), *hash = NULL;
        nft_ruleset *good = NULL;

        /* the hash vouches for the dump beside it: without it, there is no last-good state. The
         * dump is read through a small buffer as the model is built, never held whole */
        if (!ph || !pb || atomic_file_read(ph, 128, &hash, NULL) < 0 || nft_ruleset_from_file(pb, DUMP_KEEP_MAX, &good) < 0)
                return;
        nft_ruleset_free(s->good);
        s->good = good;
        snprintf(s->good_hash, sizeof(s->good_hash), "%.64s", hash);
        s->have_drift = false;
}

static int firewall_attach(void *state, check *c, const check_env *env) {
        firewall_state *s = state;

        s->check = c;
        s->env = env;
        load_good(s);
        /* without push the interval still runs it: not a reason to refuse to start */
        (void) monitor_open(s);
        return 0;
}

/* ---- the run ---- */

static const char *chain_label(const nft_ruleset *rs, const nftr_chain *c, char *buf, size_t size) {
        if (!c)
                return "no base chain";
        const nftr_table *t = &rs->tables[c->table];
        snprintf(buf, size, "%s %s %s", nft_ruleset_family_to_string(t->family), t->name, c->name);
        return buf;
}

static void evaluate(firewall_state *s, const nft_ruleset *rs, finding *f) {
        const nft_verdict_result *res;
        static const char *const short_names[_NFT_VERDICT_PROBE_MAX] = { "udp500", "udp4500", "esp" };
        uint8_t families[2] = { NFPROTO_IPV4, NFPROTO_IPV6 };
        bool bad = false, unknown = false;
        char reason[64] = "", buf[256];

        for (size_t fi = 0; fi < (s->ipv6 ? 2u : 1u); fi++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        char key[32];

                        if (p == NFT_VERDICT_PROBE_ESP && !s->esp)
                                continue;
                        if (nft_watch_verdict(s->watch, families[fi], (nft_verdict_probe) p, &res) < 0) {
                                unknown = true;
                                continue;
                        }
                        snprintf(key, sizeof(key), "%s%s", short_names[p], fi ? "_v6" : "");
                        (void) finding_fact_set(f, key, "%s", nft_verdict_kind_to_string(res->verdict));
                        if (res->verdict == NFT_VERDICT_ACCEPT)
                                continue;
                        if (res->verdict == NFT_VERDICT_UNKNOWN)
                                unknown = true;
                        else {
                                if (!bad)
                                        snprintf(reason, sizeof(reason), "%s_%s", short_names[p],
                                                 res->verdict == NFT_VERDICT_DROP ? "dropped" : "rejected");
                                bad = true;
                        }
                        (void) finding_evidence(f, "%s%s: %s in %s (rule handle %llu): %s",
                                                nft_verdict_probe_to_string((nft_verdict_probe) p),
                                                fi ? " (IPv6)" : "", nft_verdict_kind_to_string(res->verdict),
                                                chain_label(rs, res->chain, buf, sizeof(buf)),
                                                (unsigned long long) res->rule_handle, res->why);
                }
        if (bad) {
                (void) finding_set(f, CHECK_FAIL, "nftables %s IKE traffic to this gateway (%s)",
                                   strstr(reason, "rejected") ? "rejects" : "drops", reason);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "firewall");
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", reason);
                (void) finding_fact_set(f, CHECK_FACT_SCOPE, "global");
        } else if (unknown)
                (void) finding_set(f, CHECK_WARN, "cannot tell whether nftables lets IKE through (see evidence)");
        else
                (void) finding_set(f, CHECK_OK, "nftables lets UDP 500, UDP 4500%s through every input base chain",
                                   s->esp ? " and ESP" : "");
}

/* What differs from the last-good ruleset, once per generation. */
static void drift(firewall_state *s, const nft_ruleset *rs, finding *f) {
        if (!s->good)
                return;
        if (!s->have_drift || s->drift_gen != rs->generation) {
                free(s->drift_text);
                s->drift_text = NULL;
                s->have_drift = nft_diff_drift(rs, s->good, NULL, 0, 4, &s->drift_text, &s->drift_n) >= 0;
                s->drift_gen = rs->generation;
        }
        if (!s->have_drift)
                return;
        (void) finding_fact_set(f, "drift", "%s", s->drift_n ? "yes" : "no");
        if (s->drift_n)
                (void) finding_evidence(f, "the ruleset differs from the last good one: %s", s->drift_text);
}

static int firewall_start(void *state, const check_env *env, check_run *run) {
        firewall_state *s = state;
        const nft_ruleset *rs;
        finding *f = NULL;
        int r;

        r = finding_new(&f);
        if (r < 0)
                return r;
        /* no dump kept: mark_good reads the one it keeps straight into its file */
        r = s->watch ? 0 : nft_watch_shared(&s->watch, s->netns, 0);
        if (r >= 0)
                r = nft_watch_refresh(s->watch, NULL);
        if (r < 0) {
                (void) finding_set(f, CHECK_UNKNOWN, "cannot read the nftables ruleset%s%s: %s",
                                   s->netns ? " in netns " : "", s->netns ? s->netns : "", nftnl_lib_strerror(r));
                check_run_done(run, f);
                return 0;
        }
        rs = nft_watch_ruleset(s->watch);
        evaluate(s, rs, f);
        drift(s, rs, f);
        if (rs->has_generation)
                (void) finding_fact_set(f, "generation", "%u", rs->generation);
        (void) finding_fact_set(f, "rules", "%zu", rs->n_rules_total);
        check_run_done(run, f);
        return 0;
}

/* Keep the ruleset of the last run as last good: once per generation, and only when it is not
 * the one kept already (a reload with the same content writes nothing). */
static void firewall_mark_good(void *state, const check_env *env) {
        firewall_state *s = state;
        _cleanup_(freep) char *ph = snap_path(s, "hash"), *pt = snap_path(s, "txt"), *pb = snap_path(s, "bin"), *text = NULL,
                             *pr = snap_path(s, "restore"), *tmp = NULL;
        const nft_ruleset *rs = s->watch ? nft_watch_ruleset(s->watch) : NULL;
        nft_ruleset *good = NULL;
        const char *hash;
        int fd;

        if (!rs || !ph || !pt || !pb || (s->marked && s->marked_gen == rs->generation))
                return;
        if (nft_watch_hash(s->watch, &hash) < 0)
                return;
        if (strcmp(hash, s->good_hash) == 0) {
                s->marked = true;
                s->marked_gen = rs->generation;
                return;
        }
        /* a new last-good ruleset: its dump as the kernel gives it goes straight into the
         * snapshot's file as it is read — never held in memory, megabytes at thousands of rules —
         * and the same read gives the last-good model, which shares the live model's expressions.
         * The generation must be the one judged healthy (else: the next healthy run marks it) */
        if ((fd = atomic_file_begin(pb, &tmp)) < 0)
                return;
        if (nft_watch_dump_to(s->watch, fd, DUMP_KEEP_MAX, &good, NULL) < 0 ||
            nft_ruleset_format(rs, NFT_RULESET_FORMAT_CANONICAL, &text) < 0 ||
            atomic_file_write(pt, text, strlen(text), 0600) < 0) {
                atomic_file_abort(fd, tmp);
                nft_ruleset_free(good);
                return;
        }
        /* text and dump first, the hash last: a hash on disk vouches for the files beside it */
        if (atomic_file_commit(fd, tmp, pb, 0600) < 0 || atomic_file_write(ph, hash, strlen(hash), 0600) < 0) {
                nft_ruleset_free(good);
                return;
        }
        /* the slot nft_restore keeps its record in, made once while nothing waits on it: a
         * restore then makes its record durable with one fdatasync() (failing here, the first
         * restore makes it) */
        if (pr)
                (void) nft_restore_record_prepare(pr);
        nft_ruleset_free(s->good);
        s->good = good;
        snprintf(s->good_hash, sizeof(s->good_hash), "%s", hash);
        s->have_drift = false;
        s->marked = true;
        s->marked_gen = rs->generation;
}

static void firewall_done(void *state) {
        firewall_state *s = state;
        s->monitor = ev_source_disable_unref(s->monitor);
        check_debounce_done(&s->debounce);
        nft_watch_free(s->watch);
        nft_ruleset_free(s->good);
        free(s->drift_text);
        free(s->netns);
}

const check_ops firewall_check_ops = {
        .kind = "firewall",
        .description = "nftables lets UDP 500/4500 and ESP reach charon through every input base chain",
        .state_size = sizeof(firewall_state),
        .parse = firewall_parse,
        .attach = firewall_attach,
        .start = firewall_start,
        .mark_good = firewall_mark_good,
        .done = firewall_done,
};
