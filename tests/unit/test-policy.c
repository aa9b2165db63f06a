/* Policy and ledger: the defaults; strict binding (good configs, and bad ones whose errors must
 * name the offending node's line:col); grade raising by pause, freeze, staffed hours (under
 * fixed TZs) and blast radius, never lowering and never touching observe; the ledger's budget
 * breaker, its heal, flap damping with its hold, the eviction bound, and persistence through
 * the vici encoder and decoder, with malformed saved state refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/ledger.h"
#include "policy/policy.h"
#include "tap.h"

#define S USEC_PER_SEC
#define MIN (60 * S)
#define HOUR (60 * MIN)
#define FREEZE_START (1797724800ULL * S) /* 2026-12-20T00:00:00Z */
#define FREEZE_END (1798934400ULL * S)   /* 2027-01-03T00:00:00Z */
#define MONDAY (1772409600ULL * S)       /* 2026-03-02T00:00:00Z, a Monday */

/* Bind the `policy:` of a YAML text; d gets the errors. */
static int bind_text(const char *yaml, policy_config *p, ydiag *d) {
        _cleanup_(ynode_freep) ynode *root = NULL;
        int r;

        ydiag_init(d, "t.yaml");
        policy_config_init(p);
        r = ytree_parse_buffer(yaml, strlen(yaml), d, &root);
        if (r < 0)
                return r;
        return policy_config_bind(ynode_get(root, "policy"), p, d);
}

static bool diag_has(const ydiag *d, const char *needle) {
        for (size_t i = 0; i < d->n_msgs; i++)
                if (strstr(d->msgs[i], needle))
                        return true;
        return false;
}

static void test_defaults(void) {
        policy_config p;

        policy_config_init(&p);
        CHECK(p.budget_runs == 3 && p.budget_window_usec == HOUR, "budget 3/1h");
        CHECK(p.breaker_reset_usec == 30 * MIN, "breaker_reset 30m");
        CHECK(p.flap_opens == 4 && p.flap_window_usec == 10 * MIN, "flap 4/10m");
        CHECK(p.blast_max_sas == 10, "blast 10");
        CHECK(p.approval_expires_usec == HOUR, "approval 1h");
        CHECK(p.n_freezes == 0 && !p.hours.set, "no freeze, no hours");
        CHECK(policy_measure_max(&p, "psk") == 24 * HOUR, "measure default 24h");
        policy_config_done(&p);
}

static const char good[] = "policy:\n"
                           "  freeze:\n"
                           "    - start: 2026-12-20T00:00:00Z\n"
                           "      end: 2027-01-03T00:00:00Z\n"
                           "      grade: approve\n"
                           "      reason: year-end freeze\n"
                           "    - start: 2026-12-24T01:00:00+01:00\n"
                           "      end: 2026-12-26T00:00:00.5-02:30\n"
                           "      grade: manual\n"
                           "  hours:\n"
                           "    days: [mon, tue, wed, thu, fri]\n"
                           "    from: \"08:00\"\n"
                           "    to: \"18:00\"\n"
                           "    timezone: utc\n"
                           "    outside: approve\n"
                           "  budget: {runs: 5, window: 2h}\n"
                           "  breaker_reset: 45m\n"
                           "  flap: {opens: 6, window: 15m}\n"
                           "  blast_radius: {max_sas: 0}\n"
                           "  approval: {expires_in: 2h}\n"
                           "  measure_max:\n"
                           "    default: 12h\n"
                           "    psk: 2h\n"
                           "    firewall-pin: 30m\n";

static void test_bind_good(void) {
        policy_config p;
        ydiag d;
        int r;

        r = bind_text(good, &p, &d);
        CHECK(r == 0 && d.n_msgs == 0, "full policy binds (%d, %s)", r, d.n_msgs ? d.msgs[0] : "");
        CHECK(p.n_freezes == 2, "two freezes");
        if (p.n_freezes == 2) {
                CHECK(p.freezes[0].start_usec == FREEZE_START &&
                              p.freezes[0].end_usec == FREEZE_END,
                      "freeze times in UTC");
                CHECK(p.freezes[0].grade == GRADE_APPROVE &&
                              strcmp(p.freezes[0].reason, "year-end freeze") == 0,
                      "freeze grade and reason");
                CHECK(p.freezes[1].start_usec == FREEZE_START + 4 * 24 * HOUR,
                      "+01:00 offset applied");
                CHECK(p.freezes[1].end_usec == FREEZE_START + 6 * 24 * HOUR + 150 * MIN + S / 2,
                      "-02:30 offset and fraction applied");
                CHECK(p.freezes[1].grade == GRADE_MANUAL && !p.freezes[1].reason,
                      "manual, no reason");
        }
        CHECK(p.hours.set && p.hours.days == 0x3e && p.hours.from_min == 480 &&
                      p.hours.to_min == 1080 && p.hours.utc && p.hours.outside == GRADE_APPROVE,
              "hours bound");
        CHECK(p.budget_runs == 5 && p.budget_window_usec == 2 * HOUR, "budget");
        CHECK(p.breaker_reset_usec == 45 * MIN, "breaker_reset");
        CHECK(p.flap_opens == 6 && p.flap_window_usec == 15 * MIN, "flap");
        CHECK(p.blast_max_sas == 0 && p.approval_expires_usec == 2 * HOUR, "blast, approval");
        CHECK(policy_measure_max(&p, "psk") == 2 * HOUR &&
                      policy_measure_max(&p, "firewall-pin") == 30 * MIN &&
                      policy_measure_max(&p, "cert") == 12 * HOUR &&
                      policy_measure_max(&p, NULL) == 12 * HOUR,
              "measure_max per kind and default");
        policy_config_done(&p);
        ydiag_done(&d);

        r = bind_text("policy:\n", &p, &d);
        CHECK(r == 0 && p.budget_runs == 3, "null policy: defaults");
        policy_config_done(&p);
        ydiag_done(&d);
        r = bind_text("policy:\n  hours: {timezone: local}\n", &p, &d);
        CHECK(r == 0 && p.hours.set && !p.hours.utc && p.hours.days == 0x3e &&
                      p.hours.to_min == 1080,
              "hours keys default to mon-fri 08:00-18:00");
        policy_config_done(&p);
        ydiag_done(&d);
        r = bind_text("policy:\n  hours: {days: [sat, sun], from: \"20:00\", to: \"24:00\"}\n", &p,
                      &d);
        CHECK(r == 0 && p.hours.days == 0x41 && p.hours.to_min == 1440,
              "weekend evenings to midnight");
        policy_config_done(&p);
        ydiag_done(&d);
}

static const struct {
        const char *yaml, *pos;
} bad[] = {
        {"policy:\n  budgte: 3\n", ":2:3:"},
        {"policy:\n  budget: {runs: 0}\n", ":2:18:"},
        {"policy:\n  budget:\n    window: 30\n", ":3:13:"},
        {"policy:\n  budget:\n    runs: 3\n    windows: 1h\n", ":4:5:"},
        {"policy:\n  breaker_reset: {a: 1}\n", ":2:18:"},
        {"policy:\n  flap: {opens: many}\n", ":2:17:"},
        {"policy:\n  freeze: {start: x}\n", ":2:11:"},
        {"policy:\n  freeze:\n    - start: 2026-13-01T00:00:00Z\n      end: 2027-01-03T00:00:00Z\n",
         ":3:14:"},
        {"policy:\n  freeze:\n    - start: 2027-01-03T00:00:00Z\n      end: 2026-12-20T00:00:00Z\n",
         ":4:12:"},
        {"policy:\n  freeze:\n    - start: 2026-12-20T00:00:00Z\n      end: 2027-01-03T00:00:00Z\n"
         "      grade: auto\n",
         ":5:14:"},
        {"policy:\n  freeze:\n    - start: 2026-12-20T00:00:00Z\n", ":3:7:"},
        {"policy:\n  freeze:\n    - start: 2026-12-20T00:00:00Z\n      end: 2027-01-03T00:00:00Z\n"
         "      reasn: x\n",
         ":5:7:"},
        {"policy:\n  freeze:\n    - start: 2026-12-20T00:00:00+1:00\n      end: "
         "2027-01-03T00:00:00Z\n",
         ":3:14:"},
        {"policy:\n  freeze:\n    - start: 2026-12-20 00:00:00\n      end: 2027-01-03T00:00:00Z\n",
         ":3:14:"},
        {"policy:\n  freeze:\n    - start: 2027-02-29T00:00:00Z\n      end: 2027-03-03T00:00:00Z\n",
         ":3:14:"},
        {"policy:\n  hours:\n    days: [mon, tuesday]\n", ":3:17:"},
        {"policy:\n  hours:\n    days: [mon, mon]\n", ":3:17:"},
        {"policy:\n  hours:\n    days: []\n", ":3:11:"},
        {"policy:\n  hours:\n    from: \"18:00\"\n    to: \"08:00\"\n", ":4:9:"},
        {"policy:\n  hours:\n    from: \"8:00\"\n", ":3:11:"},
        {"policy:\n  hours:\n    from: \"24:00\"\n", ":3:11:"},
        {"policy:\n  hours:\n    timezone: cet\n", ":3:15:"},
        {"policy:\n  hours:\n    outside: observe\n", ":3:14:"},
        {"policy:\n  hours:\n    weekdays: [mon]\n", ":3:5:"},
        {"policy:\n  measure_max:\n    psk: forever\n", ":3:10:"},
        {"policy:\n  measure_max:\n    Psk!: 1h\n", ":3:5:"},
        {"policy:\n  blast_radius: {max_sas: -1}\n", ":2:27:"},
        {"policy:\n  approval: {expire: 1h}\n", ":2:14:"},
        {"policy: [1]\n", ":1:9:"},
};

static void test_bind_bad(void) {
        policy_config p;
        ydiag d;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = bind_text(bad[i].yaml, &p, &d);
                CHECK(r == -EINVAL && diag_has(&d, bad[i].pos), "bad #%zu refused at %s (%s)", i,
                      bad[i].pos, d.n_msgs ? d.msgs[0] : "no message");
                CHECK(p.budget_runs == 3 && p.n_freezes == 0 && !p.hours.set,
                      "bad #%zu leaves config untouched", i);
                policy_config_done(&p);
                ydiag_done(&d);
        }

        /* A hostile value is quoted: a newline or an escape reaches the message as '?'. */
        int rq = bind_text("policy:\n  freeze: [{start: 2026-12-20T00:00:00Z, end: 2027-01-03T00:00:00Z, "
                           "grade: \"manual\\n\\e[2J\"}]\n  \"frob\\e\": 1\n", &p, &d);
        CHECK(rq == -EINVAL && diag_has(&d, "got 'manual??[2J'") && diag_has(&d, "unknown key 'frob?'"),
              "values and keys quoted (%s | %s)", d.n_msgs ? d.msgs[0] : "no message", d.n_msgs > 1 ? d.msgs[1] : "");
        for (size_t i = 0; i < d.n_msgs; i++)
                CHECK(!strchr(d.msgs[i], '\033') && !strchr(d.msgs[i], '\n'), "message %zu carries no control byte", i);
        policy_config_done(&p);
        ydiag_done(&d);

        /* Every error of one section at once, not just the first. */
        int r = bind_text("policy:\n  budget: {runs: x, window: y}\n  hours:\n    days: [xx]\n    "
                          "to: \"99:00\"\n"
                          "  frobnicate: 1\n",
                          &p, &d);
        CHECK(r == -EINVAL && d.n_msgs == 5, "all five errors reported (%zu)", d.n_msgs);
        policy_config_done(&p);
        ydiag_done(&d);

        /* Limits. */
        char buf[8192] = "policy:\n  freeze:\n";
        for (unsigned i = 0; i <= POLICY_FREEZES_MAX; i++)
                strcat(buf, "    - {start: 2026-12-20T00:00:00Z, end: 2027-01-03T00:00:00Z}\n");
        r = bind_text(buf, &p, &d);
        CHECK(r == -EINVAL && diag_has(&d, ":3:5: more than 32 freezes"), "freeze limit");
        policy_config_done(&p);
        ydiag_done(&d);
        strcpy(buf, "policy:\n  measure_max:\n");
        for (unsigned i = 0; i <= POLICY_MEASURE_KINDS_MAX; i++)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "    k%u: 1h\n", i);
        r = bind_text(buf, &p, &d);
        CHECK(r == -EINVAL && diag_has(&d, ":35:5: more than 32 action kinds"),
              "measure kind limit");
        policy_config_done(&p);
        ydiag_done(&d);
}

static void test_grade(void) {
        policy_config p;
        char why[256];
        ydiag d;
        grade g;

        CHECK(bind_text("policy:\n  freeze:\n    - start: 2026-12-20T00:00:00Z\n      end: "
                        "2027-01-03T00:00:00Z\n"
                        "      reason: year-end freeze\n",
                        &p, &d) == 0,
              "freeze config");
        ydiag_done(&d);
        g = policy_grade_at(&p, GRADE_AUTO, false, FREEZE_START - 1, why, sizeof(why));
        CHECK(g == GRADE_AUTO && why[0] == 0, "just before a freeze: auto");
        g = policy_grade_at(&p, GRADE_AUTO, false, FREEZE_START, why, sizeof(why));
        CHECK(g == GRADE_APPROVE &&
                      strcmp(why, "freeze until 2027-01-03T00:00:00Z (year-end freeze)") == 0,
              "freeze start is inside: %s", why);
        g = policy_grade_at(&p, GRADE_AUTO, false, FREEZE_END - 1, why, sizeof(why));
        CHECK(g == GRADE_APPROVE, "last µs inside");
        g = policy_grade_at(&p, GRADE_AUTO, false, FREEZE_END, why, sizeof(why));
        CHECK(g == GRADE_AUTO && why[0] == 0, "freeze end is outside");
        g = policy_grade_at(&p, GRADE_OBSERVE, true, FREEZE_START, why, sizeof(why));
        CHECK(g == GRADE_OBSERVE && why[0] == 0, "observe is never raised");
        g = policy_grade_at(&p, GRADE_MANUAL, false, FREEZE_START, why, sizeof(why));
        CHECK(g == GRADE_MANUAL && why[0] == 0, "manual is never lowered to the freeze's approve");
        g = policy_grade_at(&p, GRADE_AUTO, true, FREEZE_START - HOUR, why, sizeof(why));
        CHECK(g == GRADE_MANUAL && strcmp(why, "remediation paused") == 0, "paused: manual");
        g = policy_grade_at(&p, GRADE_APPROVE, true, FREEZE_START, NULL, 0);
        CHECK(g == GRADE_MANUAL, "paused raises approve; NULL why is fine");
        policy_config_done(&p);

        CHECK(setenv("TZ", "UTC", 1) == 0, "TZ=UTC");
        tzset();
        CHECK(bind_text("policy:\n  hours: {days: [mon, tue, wed, thu, fri], from: \"08:00\", to: "
                        "\"18:00\","
                        " timezone: utc, outside: manual}\n",
                        &p, &d) == 0,
              "hours config");
        ydiag_done(&d);
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 8 * HOUR, why, sizeof(why)) ==
                      GRADE_AUTO,
              "mon 08:00 inside");
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 18 * HOUR - 1, why, sizeof(why)) ==
                      GRADE_AUTO,
              "mon 17:59:59 inside");
        g = policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 8 * HOUR - 1, why, sizeof(why));
        CHECK(g == GRADE_MANUAL && strcmp(why, "outside staffed hours (mon-fri 08:00-18:00)") == 0,
              "mon 07:59:59 outside: %s", why);
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 18 * HOUR, why, sizeof(why)) ==
                      GRADE_MANUAL,
              "mon 18:00 outside");
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 5 * 24 * HOUR + 10 * HOUR, why,
                              sizeof(why)) == GRADE_MANUAL,
              "saturday 10:00 outside");
        CHECK(policy_grade_at(&p, GRADE_OBSERVE, false, MONDAY, why, sizeof(why)) == GRADE_OBSERVE,
              "observe stays observe out of hours");

        /* Local time: 08:00 in EST5 is 13:00 UTC. */
        CHECK(setenv("TZ", "EST5", 1) == 0, "TZ=EST5");
        tzset();
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 12 * HOUR, why, sizeof(why)) ==
                      GRADE_AUTO,
              "timezone utc ignores TZ");
        p.hours.utc = false;
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 12 * HOUR, why, sizeof(why)) ==
                      GRADE_MANUAL,
              "timezone local: 07:00 EST is outside");
        CHECK(policy_grade_at(&p, GRADE_AUTO, false, MONDAY + 13 * HOUR, why, sizeof(why)) ==
                      GRADE_AUTO,
              "timezone local: 08:00 EST is inside");
        p.hours.days = 0x41 | 0x8 | 0x10 | 0x2;
        policy_grade_at(&p, GRADE_AUTO, false, MONDAY, why, sizeof(why));
        CHECK(strcmp(why, "outside staffed hours (mon,wed,thu,sat,sun 08:00-18:00)") == 0,
              "days named: %s", why);
        p.hours.days = 0x7f;
        policy_grade_at(&p, GRADE_AUTO, false, MONDAY, why, sizeof(why));
        CHECK(strcmp(why, "outside staffed hours (mon-sun 08:00-18:00)") == 0, "every day: %s",
              why);
        policy_config_done(&p);
        CHECK(setenv("TZ", "UTC", 1) == 0, "TZ back to UTC");
        tzset();
}

static void test_blast(void) {
        policy_config p;
        char why[256];

        policy_config_init(&p);
        CHECK(policy_grade_blast(&p, GRADE_AUTO, 10, why, sizeof(why)) == GRADE_AUTO && why[0] == 0,
              "10 SAs: auto");
        CHECK(policy_grade_blast(&p, GRADE_AUTO, 11, why, sizeof(why)) == GRADE_APPROVE &&
                      strcmp(why, "drops 11 established SAs (more than policy blast_radius.max_sas "
                                  "10)") == 0,
              "11 SAs: approve (%s)", why);
        CHECK(policy_grade_blast(&p, GRADE_MANUAL, 500, why, sizeof(why)) == GRADE_MANUAL,
              "manual stays manual");
        CHECK(policy_grade_blast(&p, GRADE_OBSERVE, 500, why, sizeof(why)) == GRADE_OBSERVE,
              "observe stays observe");
}

static void test_ledger_budget(void) {
        _cleanup_(policy_ledger_freep) policy_ledger *l = NULL;
        const char *sig = "firewall|firewall|";
        policy_config p;
        char why[512], buf[LEDGER_SIGNATURE_MAX + 1];
        uint64_t t0 = FREEZE_START;

        policy_config_init(&p);
        CHECK(policy_ledger_new(&l) == 0, "new ledger");
        CHECK(strcmp(policy_signature(buf, sizeof(buf), "firewall", "firewall", NULL), sig) == 0,
              "signature");
        CHECK(policy_ledger_check(l, &p, sig, t0, why, sizeof(why)) == LEDGER_ALLOW,
              "unknown signature allowed");
        for (unsigned i = 0; i < 3; i++) {
                CHECK(policy_ledger_check(l, &p, sig, t0 + i * MIN, why, sizeof(why)) ==
                              LEDGER_ALLOW,
                      "run %u allowed", i + 1);
                CHECK(policy_ledger_note_run(l, sig, t0 + i * MIN) == 0, "run %u noted", i + 1);
        }
        CHECK(policy_ledger_check(l, &p, sig, t0 + 3 * MIN, why, sizeof(why)) ==
                      LEDGER_BREAKER_OPEN,
              "run 4 trips the breaker");
        CHECK(strcmp(why, "budget spent: 3 automatic runs of firewall|firewall| within 1h (policy "
                          "budget 3/1h); "
                          "circuit breaker open until 30m of health") == 0,
              "why: %s", why);
        CHECK(policy_ledger_breaker_open(l, sig) && policy_ledger_count_open(l) == 1,
              "breaker reported open");
        CHECK(policy_ledger_check(l, &p, sig, t0 + 3 * HOUR, why, sizeof(why)) ==
                      LEDGER_BREAKER_OPEN,
              "still open once the budget window has passed");
        CHECK(policy_ledger_check(l, &p, "other||", t0, why, sizeof(why)) == LEDGER_ALLOW,
              "other signature free");

        /* Heal: 30m without an opening, counted from the trip or the last opening. */
        CHECK(policy_ledger_note_open(l, sig, t0 + 10 * MIN) == 0, "opening after the trip");
        CHECK(policy_ledger_heal(l, &p, t0 + 39 * MIN) == 0, "29m after the last opening: open");
        CHECK(policy_ledger_breaker_open(l, sig), "still open");
        CHECK(policy_ledger_heal(l, &p, t0 + 40 * MIN) == 1, "30m of health closes it");
        CHECK(!policy_ledger_breaker_open(l, sig) && policy_ledger_count_open(l) == 0, "closed");
        CHECK(policy_ledger_check(l, &p, sig, t0 + 41 * MIN, why, sizeof(why)) == LEDGER_ALLOW,
              "fresh budget");

        /* Operator reset. */
        for (unsigned i = 0; i < 3; i++)
                (void) policy_ledger_note_run(l, sig, t0 + 42 * MIN);
        CHECK(policy_ledger_check(l, &p, sig, t0 + 43 * MIN, why, sizeof(why)) ==
                      LEDGER_BREAKER_OPEN,
              "tripped again");
        policy_ledger_reset(l);
        CHECK(!policy_ledger_breaker_open(l, sig) &&
                      policy_ledger_check(l, &p, sig, t0 + 43 * MIN, why, sizeof(why)) ==
                              LEDGER_ALLOW,
              "resume closes it");
}

static void test_ledger_flap(void) {
        _cleanup_(policy_ledger_freep) policy_ledger *l = NULL;
        const char *sig = "conns|down|10.0.0.2";
        policy_config p;
        char why[512];

        policy_config_init(&p);
        (void) policy_ledger_new(&l);
        for (unsigned i = 0; i < 4; i++)
                (void) policy_ledger_note_open(l, sig, i * MIN);
        CHECK(policy_ledger_check(l, &p, sig, 3 * MIN, why, sizeof(why)) == LEDGER_ALLOW,
              "4 openings: not flapping");
        (void) policy_ledger_note_open(l, sig, 4 * MIN);
        CHECK(policy_ledger_check(l, &p, sig, 4 * MIN, why, sizeof(why)) == LEDGER_FLAPPING,
              "5 openings: flapping");
        CHECK(strcmp(why, "flapping: 5 openings within 10m (policy flap 4/10m); held until quiet "
                          "for 10m") == 0,
              "why: %s", why);
        CHECK(policy_ledger_count_open(l) == 1, "counted for status");
        CHECK(policy_ledger_check(l, &p, sig, 12 * MIN, why, sizeof(why)) == LEDGER_FLAPPING,
              "under the count but not quiet for a window: held");
        CHECK(policy_ledger_check(l, &p, sig, 14 * MIN, why, sizeof(why)) == LEDGER_ALLOW &&
                      why[0] == 0,
              "quiet for 10m: released");
        CHECK(policy_ledger_count_open(l) == 0, "no longer counted");

        for (unsigned i = 0; i < 5; i++)
                (void) policy_ledger_note_open(l, sig, 20 * MIN + i);
        CHECK(policy_ledger_check(l, &p, sig, 20 * MIN + 5, why, sizeof(why)) == LEDGER_FLAPPING,
              "flapping again");
        policy_ledger_reset(l);
        CHECK(policy_ledger_check(l, &p, sig, 20 * MIN + 6, why, sizeof(why)) == LEDGER_ALLOW,
              "reset forgets it");
}

static vici_node *roundtrip(const policy_ledger *l, const vici_node **ret_section) {
        vici_builder *b = NULL;
        vici_node *root = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;

        if (vici_builder_new(&b) < 0)
                abort();
        policy_ledger_to_vici(l, b);
        if (vici_builder_finish(b, &buf, &len) < 0 || vici_msg_parse(buf, len, &root) < 0)
                abort();
        free(buf);
        *ret_section = vici_node_get(root, "ledger");
        return root;
}

static size_t n_children(const vici_node *s) {
        size_t n = 0;
        for (const vici_node *c = s ? s->child : NULL; c; c = c->next)
                n++;
        return n;
}

static void test_ledger_evict(void) {
        _cleanup_(policy_ledger_freep) policy_ledger *l = NULL;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        const vici_node *s;
        policy_config p;
        char sig[32];

        policy_config_init(&p);
        (void) policy_ledger_new(&l);
        for (unsigned i = 0; i < 3; i++)
                (void) policy_ledger_note_run(l, "a0", 0);
        CHECK(policy_ledger_check(l, &p, "a0", 0, NULL, 0) == LEDGER_BREAKER_OPEN, "a0 tripped");
        for (unsigned i = 0; i < LEDGER_SIGNATURES_MAX + 44; i++) {
                snprintf(sig, sizeof(sig), "s%u", i);
                if (policy_ledger_note_open(l, sig, (i + 1) * S) < 0)
                        break;
        }
        root = roundtrip(l, &s);
        CHECK(n_children(s) == LEDGER_SIGNATURES_MAX, "bounded at %u (%zu)", LEDGER_SIGNATURES_MAX,
              n_children(s));
        CHECK(policy_ledger_breaker_open(l, "a0"), "open breaker never evicted");
        CHECK(!vici_node_get(s, "s0") && !vici_node_get(s, "s44") && vici_node_get(s, "s45") &&
                      vici_node_get(s, "s299"),
              "oldest idle signatures evicted first");
}

static void test_ledger_persist(void) {
        _cleanup_(policy_ledger_freep) policy_ledger *l = NULL, *l2 = NULL;
        _cleanup_(vici_node_freep) vici_node *root = NULL;
        const vici_node *s;
        policy_config p;
        uint8_t *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;

        policy_config_init(&p);
        (void) policy_ledger_new(&l);
        (void) policy_ledger_new(&l2);
        for (unsigned i = 0; i < 40; i++) /* wraps the ring */
                (void) policy_ledger_note_run(l, "x|y|z", i * S);
        (void) policy_ledger_check(l, &p, "x|y|z", 40 * S, NULL, 0);
        for (unsigned i = 0; i < 6; i++)
                (void) policy_ledger_note_open(l, "f|g|", i * S);
        (void) policy_ledger_check(l, &p, "f|g|", 6 * S, NULL, 0);
        (void) policy_ledger_note_open(l, "quiet|ok|1.2.3.4", 7 * S);
        root = roundtrip(l, &s);
        CHECK(s && policy_ledger_from_vici(l2, s) == 0, "restored");
        CHECK(policy_ledger_breaker_open(l2, "x|y|z") && policy_ledger_count_open(l2) == 2,
              "breaker and flap restored");
        {
                vici_builder *ba = NULL, *bb = NULL;
                (void) vici_builder_new(&ba);
                (void) vici_builder_new(&bb);
                policy_ledger_to_vici(l, ba);
                policy_ledger_to_vici(l2, bb);
                CHECK(vici_builder_finish(ba, &a, &alen) == 0 &&
                              vici_builder_finish(bb, &b, &blen) == 0 && alen == blen &&
                              memcmp(a, b, alen) == 0,
                      "round trip is byte-identical");
                free(a);
                free(b);
        }
        CHECK(policy_ledger_from_vici(l2, NULL) == 0 && policy_ledger_count_open(l2) == 0,
              "nothing saved: empty");
}

/* Malformed saved states, each built with the encoder and decoded back first. */
static void test_ledger_malformed(void) {
        static const char *const cases[] = {
                "runs=5",  "unknown", "item=12a", "item=-1",          "toomany",   "value",
                "noopens", "flap2",   "dup",      "trippednobreaker", "emptyname", "overflow",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(policy_ledger_freep) policy_ledger *l = NULL;
                _cleanup_(vici_node_freep) vici_node *root = NULL;
                const char *c = cases[i];
                vici_builder *b = NULL;
                uint8_t *buf = NULL;
                size_t len = 0;
                int r;

                (void) policy_ledger_new(&l);
                (void) policy_ledger_note_open(l, "pre||", 0);
                (void) vici_builder_new(&b);
                vici_builder_begin_section(b, "ledger");
                if (strcmp(c, "value") == 0)
                        vici_builder_add_str(b, "foo", "bar");
                for (int n = strcmp(c, "dup") == 0 ? 2 : 1; n > 0 && strcmp(c, "value") != 0; n--) {
                        vici_builder_begin_section(b, strcmp(c, "emptyname") == 0 ? "" : "a|b|c");
                        if (strcmp(c, "runs=5") == 0)
                                vici_builder_add_str(b, "runs", "5");
                        else {
                                vici_builder_begin_list(b, "runs");
                                vici_builder_add_list_item(b, strcmp(c, "item=12a") == 0  ? "12a"
                                                              : strcmp(c, "item=-1") == 0 ? "-1"
                                                              : strcmp(c, "overflow") == 0
                                                                      ? "18446744073709551616"
                                                                      : "12");
                                for (unsigned k = 0;
                                     strcmp(c, "toomany") == 0 && k < LEDGER_HISTORY; k++)
                                        vici_builder_add_list_item(b, "13");
                                vici_builder_end_list(b);
                        }
                        if (strcmp(c, "noopens") != 0) {
                                vici_builder_begin_list(b, "opens");
                                vici_builder_end_list(b);
                        }
                        vici_builder_add_str(b, "touched", "12");
                        if (strcmp(c, "unknown") == 0)
                                vici_builder_add_str(b, "colour", "red");
                        if (strcmp(c, "flap2") == 0)
                                vici_builder_add_str(b, "flapping", "2");
                        if (strcmp(c, "trippednobreaker") == 0)
                                vici_builder_add_str(b, "tripped_runs", "3");
                        vici_builder_end_section(b);
                }
                vici_builder_end_section(b);
                r = vici_builder_finish(b, &buf, &len);
                if (r == 0)
                        r = vici_msg_parse(buf, len, &root);
                free(buf);
                if (r < 0) {
                        /* The encoder refusing it is as good: such a file cannot be written. */
                        CHECK(strcmp(c, "emptyname") == 0, "case %s: encoder refused (%d)", c, r);
                        continue;
                }
                r = policy_ledger_from_vici(l, vici_node_get(root, "ledger"));
                CHECK(r == -EBADMSG, "case %s: -EBADMSG (%d)", c, r);
                /* With a budget of 0 any known signature trips at once: ALLOW means forgotten. */
                CHECK(policy_ledger_count_open(l) == 0 &&
                              policy_ledger_check(l, &(policy_config){.budget_runs = 0}, "pre||", 0,
                                                  NULL, 0) == LEDGER_ALLOW,
                      "case %s: ledger left empty", c);
        }
}

int main(void) {
        test_defaults();
        test_bind_good();
        test_bind_bad();
        test_grade();
        test_blast();
        test_ledger_budget();
        test_ledger_flap();
        test_ledger_evict();
        test_ledger_persist();
        test_ledger_malformed();
        return TAP_END();
}
