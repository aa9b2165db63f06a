/* The runbook parser: every malformed runbook of tests/fixtures/runbooks/bad/ (first line
 * "# expect: LINE:COL: text") is refused with an error at exactly that position naming what was
 * expected; the full example and the shipped runbooks parse; matching, priorities, plan hashes,
 * limits and cross-file checks (duplicate names, dangling escalations) behave. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/runbook.h"
#include "atomic_file.h"
#include "expect_corpus.h"
#include "tap.h"

#define BAD "tests/fixtures/runbooks/bad/"
#define GOOD "tests/fixtures/runbooks/good/"

static notify_config notify;
static char *checks[] = { "firewall", "daemon", "ike_probe", NULL };
static runbook_ctx ctx = { .notify = &notify, .checks = checks };

/* One malformed file alone: refused (nothing returned), with its errors. */
static char *load_bad(char *const *files) {
        runbook_set *set = NULL;
        char *err = NULL;
        int r = runbook_set_load_files(files, &ctx, &set, &err);

        CHECK(r == -EINVAL && !set, "%s refused with -EINVAL", files[0]);
        runbook_set_free(set);
        return err;
}

static void test_full(void) {
        char *files[] = { GOOD "full.yaml", NULL };
        runbook_set *set = NULL;
        char *err = NULL;
        const runbook *rb;

        CHECK(runbook_set_load_files(files, &ctx, &set, &err) == 0, "full example parses (%s)", err ? err : "");
        rb = runbook_set_find(set, "full-example");
        CHECK(rb && rb->n_steps == 2 && rb->priority == 70 && rb->approvers == 2, "fields bound");
        CHECK(rb && rb->steps[0].expires_in_usec == 2 * 3600 * USEC_PER_SEC && rb->steps[0].verify_action &&
                      strcmp(rb->steps[0].verify_check, "firewall") == 0,
              "step 1: measure of 2h, verified by check and action");
        CHECK(rb && rb->steps[1].has_grade && rb->steps[1].grade == GRADE_APPROVE, "step 2 raised to approve");
        CHECK(rb && rb->escalate == RB_ESCALATE_GRADE && rb->escalate_grade == GRADE_MANUAL, "escalate to manual");
        CHECK(rb && runbook_notifies(rb, RB_EV_FAILED) && !runbook_notifies(rb, RB_EV_STARTED), "notify.when");
        CHECK(rb && !rb->warnings && rb->n_warnings == 0, "no warning");
        CHECK(rb && rb->budget_runs == 2 && rb->cooldown_usec == 5 * 60 * USEC_PER_SEC, "budget and cooldown");

        runbook_plan p1 = { 0 }, p2 = { 0 };
        CHECK(rb && runbook_plan_make(rb, NULL, NULL, NULL, &p1) == 0 && runbook_plan_make(rb, NULL, NULL, NULL, &p2) == 0, "plan");
        CHECK(p1.text && strstr(p1.text, "restore.sh") && strstr(p1.text, "temporary measure"), "plan names the script and the measure");
        CHECK(strlen(p1.hash) == 64 && strcmp(p1.hash, p2.hash) == 0, "plan hash stable: %s", p1.hash);
        runbook_plan_done(&p1);
        runbook_plan_done(&p2);
        free(err);
        runbook_set_free(set);
}

static const char *fact(void *userdata, const char *check_name, const char *key) {
        const char *reason = userdata;
        if (strcmp(check_name, "firewall") == 0 && strcmp(key, "reason") == 0)
                return reason;
        if (strcmp(check_name, "firewall") == 0 && strcmp(key, "chain") == 0)
                return "inet filter input";
        return NULL;
}

static void test_match(void) {
        char *files[] = { GOOD "full.yaml", NULL };
        runbook_set *set = NULL;
        const runbook *rb;

        if (runbook_set_load_files(files, &ctx, &set, NULL) < 0) {
                CHECK(false, "load");
                return;
        }
        rb = runbook_set_get(set, 0);
        rb_subject s = { .cls = "firewall", .scope = "global", .severity = "fail", .reason = "x",
                         .check = "other", .peers = "", .fact = fact, .userdata = (void *) "udp500_dropped" };
        CHECK(runbook_matches(rb, &s), "class, scope, severity, not(esp), any(fact matches)");
        s.userdata = (void *) "esp_dropped";
        CHECK(!runbook_matches(rb, &s), "not: fact equals esp_dropped excludes");
        s.userdata = (void *) "udp500_dropped";
        s.scope = "local";
        CHECK(!runbook_matches(rb, &s), "scope local excluded");
        s.scope = "global";
        s.cls = "daemon";
        CHECK(!runbook_matches(rb, &s), "class daemon excluded");
        CHECK(runbook_set_match(set, &s) == NULL, "set: no match");
        runbook_set_free(set);
}

/* Runbooks written to a scratch directory: duplicates across files, priorities, size limit. */
static void test_sets(void) {
        char dir[] = "/tmp/test-runbook-XXXXXX", p[600];
        const char *a = "version: 1\nname: one\nmatch: {class: daemon}\ngrade: observe\npriority: 10\n"
                        "steps: [{name: tell, action: notify, params: {message: hi}}]\n";
        const char *b = "version: 1\nname: two\nmatch: {class: daemon}\ngrade: observe\npriority: 90\n"
                        "steps: [{name: tell, action: notify, params: {message: hi}}]\n";
        char *dirs[] = { dir, NULL }, *err = NULL;
        runbook_set *set = NULL;

        if (!mkdtemp(dir))
                return;
        (void) snprintf(p, sizeof(p), "%s/a.yaml", dir);
        (void) atomic_file_write(p, a, strlen(a), 0644);
        (void) snprintf(p, sizeof(p), "%s/b.yml", dir);
        (void) atomic_file_write(p, b, strlen(b), 0644);
        (void) snprintf(p, sizeof(p), "%s/ignored.txt", dir);
        (void) atomic_file_write(p, "junk", 4, 0644);
        CHECK(runbook_set_load(dirs, &ctx, &set, &err) == 0 && runbook_set_size(set) == 2, "two runbooks, .txt ignored");
        rb_subject s = { .cls = "daemon", .scope = "global" };
        const runbook *m = runbook_set_match(set, &s);
        CHECK(m && strcmp(m->name, "two") == 0, "the higher priority wins");
        char h1[65];
        snprintf(h1, sizeof(h1), "%s", runbook_set_hash(set));
        runbook_set_free(set);
        set = NULL;

        (void) snprintf(p, sizeof(p), "%s/b.yml", dir);
        (void) atomic_file_write(p, a, strlen(a), 0644);
        CHECK(runbook_set_load(dirs, &ctx, &set, &err) == -EINVAL && !set, "duplicate names across files refused");
        CHECK(err && strstr(err, "duplicate runbook name 'one'") && strstr(err, "b.yml:2:7"), "named at the second: %s",
              err ? err : "");
        free(err);
        err = NULL;

        char *big = malloc(RUNBOOK_FILE_MAX + 2);
        memset(big, '#', RUNBOOK_FILE_MAX + 1);
        big[RUNBOOK_FILE_MAX + 1] = 0;
        (void) atomic_file_write(p, big, RUNBOOK_FILE_MAX + 1, 0644);
        free(big);
        CHECK(runbook_set_load(dirs, &ctx, &set, &err) < 0 && err && strstr(err, "larger than"), "size limit: %s",
              err ? err : "");
        free(err);
        unlink(p);
        (void) snprintf(p, sizeof(p), "%s/a.yaml", dir);
        unlink(p);
        (void) snprintf(p, sizeof(p), "%s/ignored.txt", dir);
        unlink(p);
        rmdir(dir);
        (void) h1;
}

/* notify.on, the old name of notify.when: still read, with a located warning. */
static void test_notify_on(void) {
        static const char text[] = "version: 1\nname: fw\nmatch: {class: firewall}\ngrade: observe\n"
                                   "steps: [{name: tell, action: notify, params: {message: hi}}]\n"
                                   "notify:\n  targets: [ops]\n  on: [failed]\n";
        runbook *rb = NULL;
        ydiag d;
        int r;

        ydiag_init(&d, "old.yaml");
        r = runbook_parse_buffer("old.yaml", text, strlen(text), &ctx, &d, &rb);
        CHECK(r == 0 && d.n_msgs == 0 && rb, "notify.on still parses (%d)", r);
        CHECK(rb && runbook_notifies(rb, RB_EV_FAILED) && !runbook_notifies(rb, RB_EV_STARTED), "…and means what it said");
        CHECK(rb && rb->n_warnings == 1 && rb->warnings &&
                      strstr(rb->warnings, "old.yaml:8:3: warning: notify.on is deprecated") && strstr(rb->warnings, "notify.when"),
              "…with a located warning: %s", rb && rb->warnings ? rb->warnings : "(none)");
        runbook_free(rb);
        ydiag_done(&d);
}

static const char *vrrp_master(void *userdata, const char *check_name, const char *key) {
        return strcmp(check_name, "vrrp") == 0 && strcmp(key, "role") == 0 ? "MASTER" : NULL;
}

static void test_shipped(void) {
        char *dirs[] = { "runbooks", NULL }, *err = NULL;
        runbook_set *set = NULL;
        runbook_ctx shipped = { 0 };
        int r = runbook_set_load(dirs, &shipped, &set, &err);
        CHECK(r == 0, "shipped runbooks parse (%zu): %s", runbook_set_size(set), err ? err : "");
        free(err);
        for (size_t i = 0; i < runbook_set_size(set); i++)
                CHECK(!runbook_set_get(set, i)->warnings, "shipped %s: no warning", runbook_set_get(set, i)->name);
        /* Which shipped runbook answers what: a flood of failures from many peers is told, never
         * answered with a rollback; the same class without the flood is the rollback's. */
        rb_subject s = { .cls = "authentication", .scope = "global", .severity = "fail", .reason = "flood",
                         .check = "logs", .peers = "" };
        const runbook *m = set ? runbook_set_match(set, &s) : NULL;
        CHECK(m && strcmp(m->name, "peer-flood") == 0, "a flood is peer-flood's: %s", m ? m->name : "none");
        s.reason = "auth_failed";
        m = set ? runbook_set_match(set, &s) : NULL;
        CHECK(m && strcmp(m->name, "auth-rollback") == 0, "global auth failures are auth-rollback's: %s",
              m ? m->name : "none");
        /* A pair's master: a crash loop fails over at once; any other global failure once it has
         * been open for two minutes. */
        rb_subject pair = { .cls = "daemon", .scope = "global", .severity = "fail", .reason = "crash_loop",
                            .check = "daemon", .peers = "", .fact = vrrp_master };
        m = set ? runbook_set_match(set, &pair) : NULL;
        CHECK(m && strcmp(m->name, "failover") == 0, "a master's crash loop is failover's: %s", m ? m->name : "none");
        pair.open_usec = 10 * 60 * USEC_PER_SEC;
        m = set ? runbook_set_match(set, &pair) : NULL;
        CHECK(m && strcmp(m->name, "failover") == 0, "…however old: %s", m ? m->name : "none");
        pair.cls = "firewall";
        pair.reason = "udp500_dropped";
        pair.check = "firewall";
        pair.open_usec = 119 * USEC_PER_SEC;
        m = set ? runbook_set_match(set, &pair) : NULL;
        CHECK(!m || strcmp(m->name, "failover-unhealed") != 0, "a master's firewall outage open 119 s: local (%s)",
              m ? m->name : "none");
        pair.open_usec = 120 * USEC_PER_SEC;
        m = set ? runbook_set_match(set, &pair) : NULL;
        CHECK(m && strcmp(m->name, "failover-unhealed") == 0 && m->timed, "…open 2 min: failover-unhealed: %s",
              m ? m->name : "none");
        pair.fact = NULL;
        m = set ? runbook_set_match(set, &pair) : NULL;
        CHECK(!m || strcmp(m->name, "failover-unhealed") != 0, "…not on a gateway without a VRRP role (%s)",
              m ? m->name : "none");
        runbook_set_free(set);
}

/* open_for: a runbook that only matches an incident open that long; the set says when an
 * incident must be looked at again. */
static void test_open_for(void) {
        char dir[] = "/tmp/test-runbook-XXXXXX", p[600];
        const char *local = "version: 1\nname: restart\nmatch: {class: daemon}\ngrade: observe\npriority: 50\n"
                            "steps: [{name: tell, action: notify, params: {message: hi}}]\n";
        const char *late = "version: 1\nname: late\nmatch: {scope: global, any: [{open_for: 90s}, {open_for: 30s, class: firewall}]}\n"
                           "grade: observe\npriority: 90\nsteps: [{name: tell, action: notify, params: {message: hi}}]\n";
        char *dirs[] = { dir, NULL }, *err = NULL;
        runbook_set *set = NULL;
        const runbook *m;

        if (!mkdtemp(dir))
                return;
        (void) snprintf(p, sizeof(p), "%s/a.yaml", dir);
        (void) atomic_file_write(p, local, strlen(local), 0644);
        (void) snprintf(p, sizeof(p), "%s/b.yaml", dir);
        (void) atomic_file_write(p, late, strlen(late), 0644);
        CHECK(runbook_set_load(dirs, &ctx, &set, &err) == 0, "open_for parses (%s)", err ? err : "");
        CHECK(set && !runbook_set_find(set, "restart")->timed && runbook_set_find(set, "late")->timed,
              "a runbook naming open_for is timed, the other not");
        rb_subject s = { .cls = "daemon", .scope = "global", .severity = "fail" };
        m = runbook_set_match(set, &s);
        CHECK(m && strcmp(m->name, "restart") == 0, "a new incident: the local runbook");
        s.open_usec = 89 * USEC_PER_SEC;
        m = runbook_set_match(set, &s);
        CHECK(m && strcmp(m->name, "restart") == 0, "open 89 s: still the local one");
        s.open_usec = 90 * USEC_PER_SEC;
        m = runbook_set_match(set, &s);
        CHECK(m && strcmp(m->name, "late") == 0, "open 90 s: the timed one (higher priority)");
        CHECK(runbook_set_next_open_for(set, 0) == 30 * USEC_PER_SEC, "next age to look again: 30 s (any class)");
        CHECK(runbook_set_next_open_for(set, 30 * USEC_PER_SEC) == 90 * USEC_PER_SEC, "after 30 s: 90 s");
        CHECK(runbook_set_next_open_for(set, 90 * USEC_PER_SEC) == 0, "after 90 s: nothing more");
        s.cls = "firewall";
        s.open_usec = 30 * USEC_PER_SEC;
        m = runbook_set_match(set, &s);
        CHECK(m && strcmp(m->name, "late") == 0, "a firewall incident open 30 s: the timed one");
        runbook_set_free(set);
        (void) unlink(p);
        (void) snprintf(p, sizeof(p), "%s/a.yaml", dir);
        (void) unlink(p);
        (void) rmdir(dir);
        free(err);
}

int main(void) {
        notify_config_init(&notify);
        notify.webhooks = calloc(1, sizeof(notify_webhook));
        notify.webhooks[0].name = strdup("ops");
        notify.webhooks[0].url = strdup("http://127.0.0.1:1/");
        notify.n_webhooks = 1;
        expect_corpus(BAD, 50, load_bad);
        test_full();
        test_match();
        test_sets();
        test_notify_on();
        test_shipped();
        test_open_for();
        notify_config_done(&notify);
        return TAP_END();
}
