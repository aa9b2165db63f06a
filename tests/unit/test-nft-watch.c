/* The ruleset model that follows the kernel's change notifications (common/nft_watch.h,
 * common/nft_change.h) against real nftables in a network namespace of its own: after every
 * step of a random sequence of changes — rules inserted at the top, appended, placed before and
 * after a given rule, deleted; tables and chains added, renamed and removed; policies changed;
 * named, interval and anonymous sets and their elements; several changes in one transaction —
 * the followed model must equal a fresh full read (its full text form, handles included) and
 * give the same six IKE verdicts. The sequence must be followed by notifications, not by
 * reading again: a fallback is allowed only where the kernel dropped notifications. First, the
 * raw messages of chosen tables (what a restore keeps before it changes them).
 *
 *   test-nft-watch [STEPS [SEED]]     (default 150 steps, seed from the clock; printed)
 *
 * Needs root, `ip` and `nft` (skipped otherwise). */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nft_ruleset.h"
#include "nft_verdict.h"
#include "nft_watch.h"
#include "tap.h"

static char ns[64], cmd[8192];
static unsigned seed;

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return system(cmd);
}

static unsigned rnd(unsigned n) {
        return n ? (unsigned) rand_r(&seed) % n : 0;
}

/* nft commands, as one transaction (a file for nft -f) */
static int nft(const char *script) {
        char path[] = "/tmp/ikh-nftwatch-XXXXXX";
        int fd = mkstemp(path), r;
        FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

        if (!f)
                return -1;
        (void) fputs(script, f);
        (void) fclose(f);
        r = sh("ip netns exec %s nft -f %s 2>/dev/null", ns, path);
        (void) unlink(path);
        return r;
}

static const nftr_chain *find_chain(const nft_ruleset *rs, const char *table, const char *chain) {
        for (size_t t = 0; t < rs->n_tables; t++)
                if (rs->tables[t].family == NFPROTO_INET && !strcmp(rs->tables[t].name, table))
                        return nft_ruleset_find_chain(rs, t, chain);
        return NULL;
}

/* A handle of a rule in a chain of the model, 0 if none. */
static uint64_t some_rule(const nft_ruleset *rs, const char *table, const char *chain) {
        const nftr_chain *c = find_chain(rs, table, chain);
        return c && c->n_rules ? c->rules[rnd((unsigned) c->n_rules)].handle : 0;
}

static const char *const base_ruleset =
        "table inet filter {\n"
        "  set blk { type ipv4_addr; }\n"
        "  set rng { type ipv4_addr; flags interval; }\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy drop;\n"
        "    ct state established,related accept\n"
        "    ip saddr @blk drop\n"
        "    ip saddr @rng drop\n"
        "    tcp dport 22 accept\n"
        "    udp dport { 500, 4500 } accept\n"
        "    meta l4proto esp accept\n"
        "  }\n"
        "  chain forward { type filter hook forward priority 0; policy drop; }\n"
        "}\n";

/* One random change; its text into what. */
static void change(const nft_ruleset *rs, char *what, size_t size) {
        static const char *const chains[] = {"input", "forward", "c1", "c2"};
        const char *ch = chains[rnd(4)];
        char script[4096] = "";
        size_t n = 0;
        unsigned k = rnd(16), many = k == 15 ? 2 + rnd(6) : 1;

        for (unsigned i = 0; i < many; i++) {
                unsigned op = many > 1 ? rnd(6) : k;
                uint64_t h = some_rule(rs, "filter", ch);
                unsigned port = 1000 + rnd(60000);

                switch (op) {
                case 0:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "insert rule inet filter %s udp dport %u drop\n", ch, port);
                        break;
                case 1:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "add rule inet filter %s tcp dport %u accept\n", ch, port);
                        break;
                case 2:
                        if (h)
                                n += (size_t) snprintf(script + n, sizeof(script) - n, "%s rule inet filter %s handle %llu udp dport %u %s\n",
                                                       rnd(2) ? "insert" : "add", ch, (unsigned long long) h, port, rnd(2) ? "accept" : "drop");
                        break;
                case 3:
                        if (h && many == 1) /* a handle deleted twice in one file fails it whole */
                                n += (size_t) snprintf(script + n, sizeof(script) - n, "delete rule inet filter %s handle %llu\n", ch,
                                                       (unsigned long long) h);
                        break;
                case 4:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "add element inet filter blk { 10.0.%u.%u }\n", rnd(4), rnd(8));
                        break;
                case 5:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "add rule inet filter %s udp dport { %u, %u } accept\n", ch,
                                               port, port + 1);
                        break;
                case 6:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "delete element inet filter blk { 10.0.%u.%u }\n", rnd(4), rnd(8));
                        break;
                case 7:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "add table inet t%u\n", rnd(3));
                        break;
                case 8:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "delete table inet t%u\n", rnd(3));
                        break;
                case 9:
                        n += (size_t) snprintf(script + n, sizeof(script) - n,
                                               "add chain inet filter c%u\nadd rule inet filter input meta mark %u jump c%u\n", 1 + rnd(2),
                                               rnd(100), 1 + rnd(2));
                        break;
                case 10:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "flush chain inet filter %s\n", ch);
                        break;
                case 11:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "chain inet filter input { policy %s; }\n",
                                               rnd(2) ? "accept" : "drop");
                        break;
                case 12:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "%s element inet filter rng { 10.%u.0.0/16 }\n",
                                               rnd(2) ? "add" : "delete", 1 + rnd(4));
                        break;
                case 13:
                        n += (size_t) snprintf(script + n, sizeof(script) - n,
                                               "add table inet t9\nadd chain inet t9 in { type filter hook input priority %d; policy accept; }\n"
                                               "add rule inet t9 in udp dport 4500 %s\n",
                                               -10 + (int) rnd(20), rnd(2) ? "drop" : "accept");
                        break;
                case 14:
                        n += (size_t) snprintf(script + n, sizeof(script) - n, "delete chain inet filter c%u\n", 1 + rnd(2));
                        break;
                default:
                        break;
                }
                if (n >= sizeof(script))
                        n = sizeof(script) - 1;
        }
        (void) snprintf(what, size, "%s", script);
        for (char *p = what; *p; p++)
                if (*p == '\n')
                        *p = ';';
        (void) nft(script); /* refused changes (a missing chain, element or table) are steps too */
}

static int verdicts(const nft_ruleset *rs, nft_verdict_result out[2][_NFT_VERDICT_PROBE_MAX]) {
        for (int f = 0; f < 2; f++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        nft_verdict_packet pkt;
                        int r;

                        nft_verdict_packet_for((nft_verdict_probe) p, f ? NFPROTO_IPV6 : NFPROTO_IPV4, &pkt);
                        if ((r = nft_verdict_eval(rs, &pkt, &out[f][p])) < 0)
                                return r;
                }
        return 0;
}

/* The followed model against a full read: the text (handles and all) and the verdicts. */
static bool same(nft_watch *w, const nft_ruleset *full, char *diag, size_t size) {
        const nft_ruleset *rs = nft_watch_ruleset(w);
        _cleanup_(freep) char *a = NULL, *b = NULL;
        nft_verdict_result va[2][_NFT_VERDICT_PROBE_MAX], vb[2][_NFT_VERDICT_PROBE_MAX];

        diag[0] = 0;
        if (!rs || nft_ruleset_format(rs, 0, &a) < 0 || nft_ruleset_format(full, 0, &b) < 0) {
                (void) snprintf(diag, size, "no model or no text");
                return false;
        }
        if (strcmp(a, b) != 0 || rs->generation != full->generation) {
                size_t i = 0;
                while (a[i] && a[i] == b[i])
                        i++;
                (void) snprintf(diag, size, "generation %u vs %u; text differs at %zu: followed '%.120s' full '%.120s'", rs->generation,
                                full->generation, i, a + (i > 40 ? i - 40 : 0), b + (i > 40 ? i - 40 : 0));
                return false;
        }
        if (verdicts(rs, va) < 0 || verdicts(full, vb) < 0)
                return false;
        for (int f = 0; f < 2; f++)
                for (int p = 0; p < _NFT_VERDICT_PROBE_MAX; p++) {
                        const nft_verdict_result *x;
                        if (va[f][p].verdict != vb[f][p].verdict || strcmp(va[f][p].why, vb[f][p].why) != 0) {
                                (void) snprintf(diag, size, "verdict %d/%d: %s vs %s", f, p, va[f][p].why, vb[f][p].why);
                                return false;
                        }
                        /* and what the watch keeps between changes says the same */
                        if (nft_watch_verdict(w, f ? NFPROTO_IPV6 : NFPROTO_IPV4, (nft_verdict_probe) p, &x) < 0 ||
                            x->verdict != vb[f][p].verdict || strcmp(x->why, vb[f][p].why) != 0) {
                                (void) snprintf(diag, size, "kept verdict %d/%d differs from a fresh one: %s", f, p, vb[f][p].why);
                                return false;
                        }
                }
        return true;
}

/* The canonical text of a chain or set of table inet filter / ip other in rs ("" if absent). */
static char *object_text(const nft_ruleset *rs, int family, const char *table, const char *chain, const char *set) {
        char *text = NULL;
        for (size_t t = 0; t < rs->n_tables; t++) {
                if (rs->tables[t].family != family || strcmp(rs->tables[t].name, table) != 0)
                        continue;
                const nftr_chain *c = chain ? nft_ruleset_find_chain(rs, t, chain) : NULL;
                const nftr_set *st = set ? nft_ruleset_find_set(rs, t, set) : NULL;
                if ((c || st) && nft_ruleset_format_object(rs, c, st, &text) >= 0)
                        return text;
        }
        return strdup("");
}

/* nft_watch_raw_tables(): the messages of the tables asked for and nothing else, whether from
 * the kept dump or asked of the kernel after changes were followed; refused once the ruleset has
 * moved past the model. */
static void test_raw_tables(void) {
        _cleanup_(nft_watch_freep) nft_watch *kept = NULL, *followed = NULL;
        nft_table_key filter = { NFPROTO_INET, "filter" }, other = { NFPROTO_IPV4, "other" }, both[2] = { filter, other };

        CHECK(nft("table ip other {\n set s { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2 } }\n"
                  " chain c { ip saddr @s drop\n tcp dport { 22, 80 } accept\n }\n}\n") == 0,
              "a second table with a named and an anonymous set");
        CHECK(nft_watch_new(&kept, ns, 1u << 20) == 0 && nft_watch_refresh(kept, NULL) == 0 && nft_watch_new(&followed, ns, 0) == 0 &&
                      nft_watch_refresh(followed, NULL) == 0,
              "two watches read it, one keeping its dump");
        CHECK(nft("add rule ip other c udp dport 4500 drop\n") == 0 && nft_watch_refresh(followed, NULL) == 0 &&
                      nft_watch_full_reads(followed) == 1,
              "a change followed by notifications");
        for (int k = 0; k < 2; k++) {
                nft_watch *w = k ? followed : kept;
                _cleanup_(nft_ruleset_freep) nft_ruleset *one = NULL, *two = NULL;
                _cleanup_(freep) uint8_t *raw1 = NULL, *raw2 = NULL;
                size_t len1 = 0, len2 = 0;
                const nft_ruleset *rs;

                if (k == 0)
                        CHECK(nft_watch_refresh(kept, NULL) == 0, "the keeping watch reads it again");
                rs = nft_watch_ruleset(w);
                CHECK(nft_watch_raw_tables(w, &filter, 1, &raw1, &len1) == 0 && nft_ruleset_from_messages(raw1, len1, &one) == 0,
                      "%s: the messages of inet filter", k ? "followed" : "kept");
                CHECK(one && one->n_tables == 1 && one->tables[0].family == NFPROTO_INET && strcmp(one->tables[0].name, "filter") == 0 &&
                              one->n_rules_total == find_chain(rs, "filter", "input")->n_rules,
                      "%s: that table alone, every rule of it", k ? "followed" : "kept");
                for (int o = 0; one && o < 2; o++) {
                        _cleanup_(freep) char *a = object_text(one, NFPROTO_INET, "filter", o ? NULL : "input", o ? "blk" : NULL);
                        _cleanup_(freep) char *b = object_text(rs, NFPROTO_INET, "filter", o ? NULL : "input", o ? "blk" : NULL);
                        CHECK(a && b && a[0] && strcmp(a, b) == 0, "%s: %s as the model has it", k ? "followed" : "kept",
                              o ? "set blk" : "chain input (its anonymous set inline)");
                }
                CHECK(nft_watch_raw_tables(w, both, 2, &raw2, &len2) == 0 && nft_ruleset_from_messages(raw2, len2, &two) == 0 &&
                              two->n_tables == 2 && len2 > len1,
                      "%s: two tables asked, two given", k ? "followed" : "kept");
                if (two) {
                        _cleanup_(freep) char *a = object_text(two, NFPROTO_IPV4, "other", "c", NULL);
                        _cleanup_(freep) char *b = object_text(rs, NFPROTO_IPV4, "other", "c", NULL);
                        _cleanup_(freep) char *sa = object_text(two, NFPROTO_IPV4, "other", NULL, "s");
                        CHECK(a && b && strcmp(a, b) == 0 && strstr(a, "cmp eq r1 0x1194"), "%s: ip other's chain with the rule added (udp dport 4500)", k ? "followed" : "kept");
                        CHECK(sa && strstr(sa, "c0000201") && strstr(sa, "c0000202"), "%s: its set with its elements", k ? "followed" : "kept");
                }
        }
        {
                /* released (as after the snapshot is written): asked for again, read again */
                _cleanup_(nft_ruleset_freep) nft_ruleset *back = NULL;
                _cleanup_(freep) uint8_t *raw = NULL;
                const uint8_t *all = NULL;
                unsigned reads = nft_watch_full_reads(kept);
                size_t len = 0, all_len = 0;

                nft_watch_raw_release(kept);
                CHECK(nft_watch_raw_tables(kept, &other, 1, &raw, &len) == 0 && len > 0 && nft_watch_full_reads(kept) == reads,
                      "released: a table's messages are asked of the kernel");
                CHECK(nft_watch_raw(kept, &all, &all_len) == 0 && nft_watch_full_reads(kept) == reads + 1 &&
                              nft_ruleset_from_messages(all, all_len, &back) == 0 && back->n_tables == 2,
                      "and the whole dump is read again when asked for");
        }
        {
                /* the dump written to a file as it is read (a snapshot's, nothing kept): the same
                 * bytes as a dump kept in memory, and a model of the same content */
                _cleanup_(nft_ruleset_freep) nft_ruleset *model = NULL, *back = NULL;
                _cleanup_(freep) uint8_t *file = NULL;
                const uint8_t *all = NULL;
                char h0[2 * NFT_RULESET_HASH_SIZE + 1] = "", h1[2 * NFT_RULESET_HASH_SIZE + 1] = "",
                     h2[2 * NFT_RULESET_HASH_SIZE + 1] = "";
                size_t all_len = 0, len = 0;
                unsigned reads = nft_watch_full_reads(followed);
                FILE *f = tmpfile();

                CHECK(f && nft_watch_dump_to(followed, fileno(f), 1u << 20, &model, &len) == 0 && len > 0 &&
                              nft_watch_full_reads(followed) == reads,
                      "the ruleset dumped straight into a file (%zu bytes), the watch's model left as it is", len);
                CHECK(nft_watch_raw(kept, &all, &all_len) == 0 && all_len == len && (file = malloc(len)) &&
                              pread(fileno(f), file, len, 0) == (ssize_t) len && nft_ruleset_from_messages(file, len, &back) == 0 &&
                              nft_ruleset_hash_hex(back, h0) == 0,
                      "the file holds a whole dump, as long as one kept in memory (%zu bytes)", all_len);
                CHECK(model && nft_ruleset_hash_hex(model, h1) == 0 && nft_ruleset_hash_hex(nft_watch_ruleset(followed), h2) == 0 &&
                              strcmp(h1, h2) == 0 && strcmp(h0, h2) == 0 && model->generation == nft_watch_ruleset(followed)->generation,
                      "it and the model read with it are the watch's ruleset, of the same generation");
                CHECK(f && nft_watch_dump_to(followed, fileno(f), 1024, &model, &len) == -E2BIG, "beyond its limit: -E2BIG");
                if (f)
                        (void) fclose(f);
        }
        {
                _cleanup_(nft_ruleset_freep) nft_ruleset *model = NULL;
                _cleanup_(freep) uint8_t *raw = NULL;
                size_t len = 0;
                FILE *f = tmpfile();
                CHECK(nft("add rule ip other c tcp dport 443 accept\n") == 0 && nft_watch_raw_tables(followed, &other, 1, &raw, &len) == -ESTALE,
                      "after a change the model has not followed: refused (-ESTALE)");
                CHECK(f && nft_watch_dump_to(followed, fileno(f), 1u << 20, &model, &len) == -ESTALE && !model,
                      "and no snapshot of a ruleset other than the one judged (-ESTALE)");
                if (f)
                        (void) fclose(f);
        }
        {
                /* two tables of one family (the kernel answers a chain dump with every table of the
                 * family): each table's objects once, parsed as a ruleset without a clash */
                _cleanup_(nft_ruleset_freep) nft_ruleset *two = NULL;
                _cleanup_(freep) uint8_t *raw = NULL;
                nft_table_key pair[2] = { filter, { NFPROTO_INET, "second" } };
                size_t len = 0;
                CHECK(nft("table inet second {\n chain c { type filter hook input priority -5; policy accept;\n udp dport 4500 drop\n }\n}\n") == 0 &&
                              nft_watch_refresh(followed, NULL) == 0,
                      "a second inet table, followed");
                int r = nft_watch_raw_tables(followed, pair, 2, &raw, &len);
                CHECK(r == 0 && nft_ruleset_from_messages(raw, len, &two) == 0 && two->n_tables == 2,
                      "two tables of one family asked: each object once (%d, %zu tables)", r, two ? two->n_tables : 0);
                CHECK(nft("delete table inet second\n") == 0 && nft_watch_refresh(followed, NULL) == 0, "it goes again");
        }
        CHECK(nft("delete table ip other\n") == 0, "the second table goes");
}

static void cleanup(void) {
        if (ns[0])
                (void) sh("ip netns del %s 2>/dev/null", ns);
}

int main(int argc, char **argv) {
        _cleanup_(nft_watch_freep) nft_watch *w = NULL;
        unsigned steps = argc > 1 ? (unsigned) atoi(argv[1]) : 150, bad = 0, stale_steps = 0, seed0;
        char what[4096], diag[1024];

        seed = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : (unsigned) time(NULL) ^ (unsigned) getpid();
        (void) snprintf(ns, sizeof(ns), "ikh-nftwatch-%d", (int) getpid());
        if (geteuid() != 0 || sh("ip netns add %s 2>/dev/null", ns) != 0 || sh("ip netns exec %s nft list ruleset >/dev/null 2>&1", ns) != 0) {
                ns[0] = 0;
                printf("skip: needs root, ip and nft\n");
                return 77;
        }
        atexit(cleanup);
        seed0 = seed;
        printf("seed %u, %u steps\n", seed, steps);
        CHECK(nft(base_ruleset) == 0, "the starting ruleset loads");
        test_raw_tables();
        CHECK(nft_watch_new(&w, ns, 0) == 0 && nft_watch_refresh(w, NULL) == 0, "the watch reads it");

        for (unsigned i = 0; i < steps; i++) {
                _cleanup_(nft_ruleset_freep) nft_ruleset *full = NULL;
                unsigned reads = nft_watch_full_reads(w);

                change(nft_watch_ruleset(w), what, sizeof(what));
                if (nft_watch_refresh(w, NULL) < 0 || nft_ruleset_dump(ns, NULL, NULL, &full) < 0) {
                        CHECK(false, "step %u: read (%s)", i, what);
                        break;
                }
                if (nft_watch_full_reads(w) != reads) {
                        stale_steps++;
                        printf("note: step %u read again (%s)\n", i, what);
                }
                if (!same(w, full, diag, sizeof(diag))) {
                        bad++;
                        CHECK(false, "step %u (%s): %s", i, what, diag);
                        if (bad > 3)
                                break;
                }
        }
        CHECK(bad == 0, "after each of %u random steps the followed model equals a full read (seed %u)", steps, seed0);
        printf("figure: %u transactions followed, %u full reads (%u steps read again)\n", nft_watch_followed(w),
               nft_watch_full_reads(w), stale_steps);
        CHECK(stale_steps == 0, "every step was followed by its notifications, none read again");

        /* big transactions: 20,000 rules are followed (the kernel packs its notifications);
         * 40,000 more are more than the watch keeps for one transaction, or than its socket
         * holds (ENOBUFS): the model is then read again whole, never followed wrongly */
        for (unsigned k = 0; k < 2; k++) {
                _cleanup_(nft_ruleset_freep) nft_ruleset *full = NULL;
                unsigned count = k ? 40000 : 20000, reads = nft_watch_full_reads(w);
                _cleanup_(freep) char *big = malloc(count * 64u);
                size_t n = 0;

                for (unsigned i = 0; big && i < count; i++)
                        n += (size_t) snprintf(big + n, 64, "add rule inet filter forward tcp dport %u accept\n", 1 + i % 60000);
                CHECK(big && nft(big) == 0, "%u rules added in one transaction", count);
                CHECK(nft_watch_refresh(w, NULL) == 0 && nft_ruleset_dump(ns, NULL, NULL, &full) == 0 && same(w, full, diag, sizeof(diag)),
                      "after it the model equals a full read %s", diag);
                printf("figure: %u rules in one transaction: %s\n", count, nft_watch_full_reads(w) == reads ? "followed" : "read again");
                if (k)
                        CHECK(nft_watch_full_reads(w) == reads + 1, "40,000 more were read again whole, once");
        }
        return TAP_END();
}
