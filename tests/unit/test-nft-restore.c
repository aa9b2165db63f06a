/* nft_restore at real size, against the kernel, in a network namespace of its own: a 10,000-rule
 * ruleset whose input chain gets a drop rule at the top is put back (the chain, 8,000 rules, in
 * one batch) and verified; and when the kernel's answers are lost for real (an acknowledgement
 * asked for every message into a tiny receive buffer: ENOBUFS after the kernel applied it), the
 * restore reads the ruleset again and reports what it finds — restored — never "nothing
 * changed", and keeps its record for the revert; and, as in the agent, after the fault was
 * followed from notifications, it reads only the table it changes for that record; a served
 * record is cleared in its slot, and a record cut short puts nothing back. Needs root, `ip` and
 * `nft` (skipped otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/nft_batch.h"
#include "actions/nft_restore_record.h"
#include "nft_ruleset.h"
#include "nft_watch.h"
#include "tap.h"
#include "yaml_tree.h"

static char ns[64], dir[64], cmd[2048];

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

static void save(const struct nlmsghdr *nlh, void *userdata) {
        FILE *f = userdata;
        if (!nlh) {
                rewind(f);
                return;
        }
        (void) fwrite(nlh, 1, (nlh->nlmsg_len + 3u) & ~3u, f);
}

static bool done;
static int result;

static void on_done(action_call *c, int r, void *userdata) {
        done = true;
        result = r;
}

/* One operation of nft_restore; its detail into buf. */
static int run(action_op op, char *buf, size_t size) {
        action_env env = { .state_dir = dir };
        action_params p = {};
        action_call *call = NULL;
        ynode *root = NULL;
        char yaml[128];
        ydiag d;

        (void) snprintf(yaml, sizeof(yaml), "netns: %s\n", ns);
        ydiag_init(&d, "params");
        if (ytree_parse_buffer(yaml, strlen(yaml), &d, &root) < 0 || action_params_bind(action_find("nft_restore"), root, &p, &d) < 0 ||
            ev_default(&env.event) < 0)
                return -EINVAL;
        done = false;
        if (action_call_new(&call, &p, &env, op, 60 * USEC_PER_SEC, NULL, on_done, NULL) < 0)
                return -EIO;
        while (!done)
                (void) ev_run(env.event, UINT64_MAX);
        (void) snprintf(buf, size, "%s", action_call_detail(call));
        action_call_free(call);
        action_params_done(&p);
        ynode_free(root);
        ydiag_done(&d);
        env.event = ev_unref(env.event);
        return result;
}

static size_t rules(void) {
        nft_ruleset *rs = NULL;
        size_t n = nft_ruleset_dump(ns, NULL, NULL, &rs) < 0 ? (size_t) -1 : rs->n_rules_total;
        nft_ruleset_free(rs);
        return n;
}

int main(void) {
        char detail[ACTION_DETAIL_MAX], path[128];
        nft_ruleset *rs = NULL;
        FILE *f;
        int r;

        (void) snprintf(ns, sizeof(ns), "ikh-nftr-%d", (int) getpid());
        if (geteuid() != 0 || access("/usr/sbin/nft", X_OK) != 0 || sh("ip netns add %s 2>/dev/null", ns) != 0) {
                printf("needs root, ip and nft: skipped\n");
                return 77;
        }
        (void) snprintf(dir, sizeof(dir), "/tmp/ikh-nftr-%d", (int) getpid());
        (void) snprintf(path, sizeof(path), "%s/snapshots", dir);
        (void) mkdir(dir, 0700);
        (void) mkdir(path, 0700);
        /* a gateway's ruleset: 8,000 rules in input before the IKE accepts, 2,000 in forward */
        r = sh("awk 'BEGIN { print \"table inet filter {\"; print \"chain input { type filter hook input priority 0; policy drop;\";"
               " for (i = 0; i < 7998; i++) printf \"ip saddr 10.0.%%d.%%d tcp dport %%d accept\\n\", int(i/256)%%256, i%%256, 1024 + i;"
               " print \"udp dport { 500, 4500 } accept\"; print \"meta l4proto esp accept\"; print \"}\";"
               " print \"chain forward { type filter hook forward priority 0; policy drop;\";"
               " for (i = 0; i < 2000; i++) printf \"ip daddr 10.1.%%d.%%d tcp dport %%d accept\\n\", int(i/256)%%256, i%%256, 1024 + i;"
               " print \"}\"; print \"}\" }' | ip netns exec %s nft -f -",
               ns);
        CHECK(r == 0 && rules() == 10000, "a 10,000-rule ruleset loaded (%zu rules)", rules());
        (void) snprintf(path, sizeof(path), "%s/snapshots/firewall.nft.bin", dir);
        f = fopen(path, "we");
        CHECK(f && nft_ruleset_dump(ns, save, f, &rs) == 0 && fclose(f) == 0, "its dump kept as the last-good snapshot");
        {
                /* read back through a small buffer (as the firewall check loads it): the same model */
                nft_ruleset *back = NULL;
                char h1[2 * NFT_RULESET_HASH_SIZE + 1] = "", h2[2 * NFT_RULESET_HASH_SIZE + 1] = "";
                CHECK(rs && nft_ruleset_from_file(path, 64u << 20, &back) == 0 && nft_ruleset_hash_hex(back, h1) == 0 &&
                              nft_ruleset_hash_hex(rs, h2) == 0 && strcmp(h1, h2) == 0 && back->n_rules_total == 10000,
                      "the snapshot file read message by message gives the same ruleset");
                CHECK(nft_ruleset_from_file(path, 1u << 20, &back) == -EFBIG, "and is refused beyond its limit");
                nft_ruleset_free(back);
        }
        rs = nft_ruleset_free(rs);

        /* the worst case: a drop at the top of the 8,000-rule chain — the chain goes back whole */
        CHECK(sh("ip netns exec %s nft insert rule inet filter input udp dport 500 drop", ns) == 0, "fault: udp 500 dropped first");
        r = run(ACTION_APPLY, detail, sizeof(detail));
        CHECK(r == 0 && strstr(detail, "put back chain inet filter input"), "10k-rule restore succeeds: %d %s", r, detail);
        r = run(ACTION_VERIFY, detail, sizeof(detail));
        CHECK(r == 0 && rules() == 10000, "and verifies: %d %s", r, detail);

        /* answers lost for real: applied, and said so after reading again */
        CHECK(sh("ip netns exec %s nft insert rule inet filter input udp dport 500 drop", ns) == 0, "the fault again");
        nft_batch_test_knobs(4096, true);
        r = run(ACTION_APPLY, detail, sizeof(detail));
        nft_batch_test_knobs(0, false);
        CHECK(r == 0 && strstr(detail, "answer was lost") && strstr(detail, "every object is as restored") &&
                      !strstr(detail, "nothing changed"),
              "ENOBUFS: the ruleset read again, the restore reported as applied: %d %s", r, detail);
        CHECK(rules() == 10000, "the chain is as last good (%zu rules)", rules());
        (void) snprintf(path, sizeof(path), "%s/snapshots/firewall.nft.restore", dir);
        CHECK(access(path, F_OK) == 0, "the record for the revert is kept");
        r = run(ACTION_REVERT, detail, sizeof(detail));
        CHECK(r == 0 && strstr(detail, "left as restored") && rules() == 10000, "the revert leaves the fault out: %d %s", r, detail);

        /* as in the agent: the firewall check's watch (shared with the action) read the healthy
         * ruleset and followed the fault from the kernel's notifications; the restore then reads
         * the one table it changes, not the whole ruleset, for its record */
        {
                _cleanup_(nft_watch_freep) nft_watch *w = NULL;
                unsigned reads = 0;

                CHECK(nft_watch_shared(&w, ns, 64u << 20) == 0 && nft_watch_refresh(w, NULL) == 0, "a shared watch reads the ruleset");
                CHECK(sh("ip netns exec %s nft insert rule inet filter input udp dport 500 drop", ns) == 0, "the fault once more");
                if (w)
                        reads = nft_watch_full_reads(w);
                CHECK(w && nft_watch_refresh(w, NULL) == 0 && nft_watch_full_reads(w) == reads, "the watch follows it");
                r = run(ACTION_APPLY, detail, sizeof(detail));
                CHECK(r == 0 && strstr(detail, "put back chain inet filter input") && rules() == 10000, "restored: %d %s", r, detail);
                CHECK(w && nft_watch_full_reads(w) == reads, "without the ruleset read whole again (%u reads)", w ? nft_watch_full_reads(w) : 0);
                r = run(ACTION_REVERT, detail, sizeof(detail));
                CHECK(r == 0 && strstr(detail, "left as restored") && strstr(detail, "would drop") && rules() == 10000,
                      "the record held the chain as it was, drop rule and all: %d %s", r, detail);
        }

        /* the record is a slot written in place: served, it is cleared (no record), the file stays;
         * a record cut short (a crash before its sync returned) was never acted on: the revert
         * puts nothing back and says why */
        {
                nft_restore_record rec = {};
                char why[512];
                struct stat st0, st;
                int fd;

                (void) snprintf(path, sizeof(path), "%s/snapshots/firewall.nft.restore", dir);
                CHECK(stat(path, &st0) == 0 && nft_restore_record_read(path, &rec, why, sizeof(why)) == -ENOENT,
                      "a served record is cleared, its slot kept");
                CHECK(sh("ip netns exec %s nft insert rule inet filter input udp dport 500 drop", ns) == 0, "the fault again");
                r = run(ACTION_APPLY, detail, sizeof(detail));
                CHECK(r == 0 && stat(path, &st) == 0 && st.st_ino == st0.st_ino && nft_restore_record_read(path, &rec, why, sizeof(why)) == 0,
                      "restored, its record in the same slot: %d %s", r, detail);
                nft_restore_record_done(&rec);
                fd = open(path, O_WRONLY | O_CLOEXEC);
                CHECK(fd >= 0 && pwrite(fd, "\xff", 1, 300) == 1, "the record's body damaged as by a write cut short");
                if (fd >= 0)
                        close(fd);
                r = run(ACTION_REVERT, detail, sizeof(detail));
                CHECK(r == 0 && strstr(detail, "nothing to put back") && strstr(detail, "not written to its end") && rules() == 10000,
                      "the revert puts nothing back: %d %s", r, detail);
        }

        (void) sh("ip netns del %s", ns);
        (void) sh("rm -rf %s", dir);
        return TAP_END();
}
