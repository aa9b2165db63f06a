/* The drill parser: every malformed drill of tests/fixtures/drills/bad/ (first line
 * "# expect: LINE:COL: text") is refused with an error at exactly that position naming what was
 * expected; the good drills (one per injector) parse with their values and defaults; checks and
 * runbooks are only checked when the context lists them; sets are loaded whole (duplicate names
 * across files, one bad file, the size limit). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/drill.h"
#include "atomic_file.h"
#include "expect_corpus.h"
#include "faults/faults.h"
#include "tap.h"

#define BAD "tests/fixtures/drills/bad/"
#define GOOD "tests/fixtures/drills/good"

static char *checks[] = { "daemon", "firewall", "ike_probe", "cert", "config_drift", "revocation", "clock", NULL };
static char *runbooks[] = { "daemon-restart", "firewall-restore", "cert-standby", "crl-refresh", NULL };
static const drill_ctx ctx = { .checks = checks, .runbooks = runbooks };

/* One malformed file alone: refused (nothing returned), with its errors. */
static char *load_bad(char *const *files) {
        drill_set *set = NULL;
        char *err = NULL;
        int r = drill_set_load_files(files, &ctx, &set, &err);

        CHECK(r == -EINVAL && !set, "%s refused with -EINVAL", files[0]);
        drill_set_free(set);
        return err;
}

/* The good drills: one per injector kind, the full example's every value. */
static void test_good(void) {
        char *dirs[] = { GOOD, NULL }, *err = NULL;
        drill_set *set = NULL;
        const action_ops *const *kinds;
        size_t n_kinds = fault_kinds(&kinds);

        CHECK(drill_set_load(dirs, &ctx, &set, &err) == 0 && drill_set_size(set) == n_kinds,
              "good drills parse, one per injector (%zu): %s", drill_set_size(set), err ? err : "");
        for (size_t k = 0; k < n_kinds; k++) {
                bool found = false;
                for (size_t i = 0; i < drill_set_size(set); i++)
                        found |= drill_set_get(set, i)->fault.ops == kinds[k];
                CHECK(found, "a good drill injects %s", kinds[k]->kind);
        }

        const drill *dr = drill_set_find(set, "firewall-drop-4500");
        CHECK(dr && dr->fault.ops == &fault_nft_drop && dr->weight == 2 && strcmp(dr->fault_class, "firewall") == 0,
              "full example: injector, weight, class");
        CHECK(dr && dr->steady_within_usec == 30 * USEC_PER_SEC && strcmp(dr->steady_checks[0], "ike_probe") == 0 &&
                      strcmp(dr->steady_checks[1], "firewall") == 0 && !dr->steady_checks[2],
              "steady_state");
        const action_value *ports = dr ? action_param(&dr->fault, "udp_ports") : NULL;
        const action_value *esp = dr ? action_param(&dr->fault, "esp") : NULL;
        CHECK(ports && strcmp(ports->strv[0], "4500") == 0 && esp && esp->num == 1 &&
                      !action_param(&dr->fault, "timeout"),
              "fault params bound, no timeout");
        CHECK(dr && dr->fault_expires_usec == 300 * USEC_PER_SEC && dr->abort_after_usec == 240 * USEC_PER_SEC &&
                      strcmp(dr->abort_checks[0], "clock") == 0,
              "expires_in and abort");
        CHECK(dr && strcmp(dr->expect_class, "firewall") == 0 && strcmp(dr->expect_scope, "global") == 0 &&
                      strcmp(dr->expect_runbook, "firewall-restore") == 0 && dr->recovery == DRILL_RECOVER_RUNBOOK,
              "expect");
        CHECK(dr && dr->detect_within_usec == 10 * USEC_PER_SEC && dr->recover_within_usec == 30 * USEC_PER_SEC &&
                      strcmp(dr->tolerate[0], "reachability") == 0 && !dr->tolerate[1] && dr->auto_approve,
              "SLOs, tolerate, auto_approve");
        CHECK(dr && strlen(dr->sha256) == 64 && strstr(dr->file, "nft-drop.yaml") && dr->name_line == 3 &&
                      dr->name_col == 7,
              "file, hash and name position: %s", dr ? dr->sha256 : "");

        dr = drill_set_find(set, "config-proposals.v2");
        CHECK(dr && dr->recovery == DRILL_RECOVER_REMOVE_FAULT && !dr->expect_runbook &&
                      strcmp(dr->fault_class, "proposal") == 0 && strcmp(dr->expect_scope, "local") == 0,
              "remove_fault needs no runbook; '.' in a name");
        free(err);
        drill_set_free(set);
}

static void test_defaults(void) {
        char *files[] = { GOOD "/daemon.yaml", NULL }, *err = NULL;
        drill_set *set = NULL;
        const drill *dr;

        CHECK(drill_set_load_files(files, &ctx, &set, &err) == 0, "daemon drill parses: %s", err ? err : "");
        dr = drill_set_get(set, 0);
        CHECK(dr && dr->weight == 1, "weight defaults to 1");
        CHECK(dr && dr->steady_within_usec == 60 * USEC_PER_SEC, "steady_state.within defaults to 60s");
        CHECK(dr && dr->abort_after_usec == dr->fault_expires_usec && dr->fault_expires_usec == 600 * USEC_PER_SEC,
              "abort.after defaults to fault.expires_in");
        CHECK(dr && strcmp(dr->fault_class, "daemon") == 0, "class defaults to expect.class");
        CHECK(dr && dr->recovery == DRILL_RECOVER_RUNBOOK && !dr->expect_scope && !dr->tolerate && !dr->abort_checks &&
                      !dr->auto_approve,
              "recovery runbook, any scope, nothing tolerated, no abort checks, no auto_approve");
        free(err);
        drill_set_free(set);
}

static const char unknown_refs[] = "version: 1\nname: refs\ndescription: x\n"
                                   "steady_state: {checks: [nosuch]}\n"
                                   "fault: {kind: daemon, params: {how: kill}, expires_in: 5m}\n"
                                   "expect: {class: daemon, runbook: nobook, detect_within: 10s, recover_within: 1m}\n"
                                   "abort: {checks: [alsonot]}\n";

/* Checks and runbooks are only checked against lists the caller gives (lint without a config). */
static void test_ctx(void) {
        drill *dr = NULL;
        ydiag d;
        char *msgs;

        ydiag_init(&d, "refs.yaml");
        CHECK(drill_parse_buffer("refs.yaml", unknown_refs, strlen(unknown_refs), NULL, &d, &dr) == 0 && dr,
              "no context: unknown checks and runbooks pass");
        dr = drill_free(dr);
        ydiag_done(&d);

        ydiag_init(&d, "refs.yaml");
        CHECK(drill_parse_buffer("refs.yaml", unknown_refs, strlen(unknown_refs), &ctx, &d, &dr) == -EINVAL && !dr,
              "with lists: refused");
        msgs = ydiag_join(&d);
        CHECK(msgs && strstr(msgs, "refs.yaml:4:25: steady_state.checks: 'nosuch' is not a configured check") &&
                      strstr(msgs, "expect.runbook 'nobook' is not a loaded runbook") &&
                      strstr(msgs, "refs.yaml:7:18: abort.checks: 'alsonot' is not a configured check"),
              "every unknown reference at its place: %s", msgs ? msgs : "");
        free(msgs);
        ydiag_done(&d);

        drill_ctx only_checks = { .checks = checks };
        ydiag_init(&d, "refs.yaml");
        (void) drill_parse_buffer("refs.yaml", unknown_refs, strlen(unknown_refs), &only_checks, &d, &dr);
        msgs = ydiag_join(&d);
        CHECK(msgs && strstr(msgs, "not a configured check") && !strstr(msgs, "not a loaded runbook"),
              "checks listed, runbooks not: only checks checked");
        free(msgs);
        drill_free(dr);
        ydiag_done(&d);
}

static const char drill_a[] = "version: 1\nname: one\ndescription: x\nsteady_state: {checks: [daemon]}\n"
                              "fault: {kind: daemon, params: {how: stop}, expires_in: 5m}\n"
                              "expect: {class: daemon, recovery: remove_fault, detect_within: 10s, recover_within: 1m}\n";

static void write_file(const char *dir, const char *name, const char *text, size_t len) {
        char p[600];

        (void) snprintf(p, sizeof(p), "%s/%s", dir, name);
        (void) atomic_file_write(p, text, len, 0644);
}

static void remove_file(const char *dir, const char *name) {
        char p[600];

        (void) snprintf(p, sizeof(p), "%s/%s", dir, name);
        (void) unlink(p);
}

/* Drills written to a scratch directory: names across files, one bad file, the size limit. */
static void test_sets(void) {
        char dir[] = "/tmp/test-drill-XXXXXX", missing[] = "/tmp/test-drill-none/nowhere", want[700];
        char *dirs[] = { missing, dir, NULL }, *err = NULL;
        drill_set *set = NULL;

        if (!mkdtemp(dir)) {
                CHECK(false, "mkdtemp");
                return;
        }
        write_file(dir, "a.yaml", drill_a, strlen(drill_a));
        write_file(dir, "ignored.txt", "junk", 4);
        CHECK(drill_set_load(dirs, &ctx, &set, &err) == 0 && drill_set_size(set) == 1 && drill_set_find(set, "one"),
              "one drill; missing directory skipped, .txt ignored: %s", err ? err : "");
        set = drill_set_free(set);

        write_file(dir, "b.yml", drill_a, strlen(drill_a));
        CHECK(drill_set_load(dirs, &ctx, &set, &err) == -EINVAL && !set, "duplicate names across files refused");
        (void) snprintf(want, sizeof(want), "%s/b.yml:2:7: duplicate drill name 'one' (first in %s/a.yaml:2:7)", dir, dir);
        CHECK(err && strstr(err, want), "both files named: %s", err ? err : "");
        err = (free(err), NULL);

        /* one bad file refuses the whole set, with the messages of every file */
        const char *bad = "version: 1\nname: two\ndescription: x\nsteady_state: {checks: [daemon]}\n"
                          "fault: {kind: nothing, expires_in: 5m}\n"
                          "expect: {class: daemon, recovery: remove_fault, detect_within: 10s, recover_within: 1m}\n";
        const char *worse = "version: 3\n";
        write_file(dir, "b.yml", bad, strlen(bad));
        write_file(dir, "c.yaml", worse, strlen(worse));
        CHECK(drill_set_load(dirs, &ctx, &set, &err) == -EINVAL && !set, "a bad file refuses the set");
        CHECK(err && strstr(err, "b.yml:5:15: unknown injector 'nothing'") && strstr(err, "c.yaml:1:10: unsupported drill version 3") &&
                      strstr(err, "c.yaml:1:1: missing required key 'name'"),
              "every message of every file: %s", err ? err : "");
        err = (free(err), NULL);
        remove_file(dir, "c.yaml");

        char *big = malloc(DRILL_FILE_MAX + 2);
        memset(big, '#', DRILL_FILE_MAX + 1);
        big[DRILL_FILE_MAX + 1] = 0;
        write_file(dir, "b.yml", big, DRILL_FILE_MAX + 1);
        CHECK(drill_set_load(dirs, &ctx, &set, &err) == -EINVAL && !set && err &&
                      strstr(err, "b.yml:1:1: drill larger than 32768 bytes"),
              "size limit: %s", err ? err : "");
        err = (free(err), NULL);

        ydiag d;
        drill *dr = NULL;
        ydiag_init(&d, "big.yaml");
        CHECK(drill_parse_buffer("big.yaml", big, DRILL_FILE_MAX + 1, &ctx, &d, &dr) == -E2BIG && !dr,
              "size limit on a buffer too");
        ydiag_done(&d);
        free(big);

        remove_file(dir, "a.yaml");
        remove_file(dir, "b.yml");
        remove_file(dir, "ignored.txt");
        (void) rmdir(dir);
}

int main(void) {
        expect_corpus(BAD, 30, load_bad);
        test_good();
        test_defaults();
        test_ctx();
        test_sets();
        return TAP_END();
}
