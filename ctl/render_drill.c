/* Text rendering of `drill list | status | report [ID]` (agent/drill/drill_run.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "macro.h"

static const char *s(const vici_node *n, const char *path) {
        const char *v = vici_node_str(n, path);
        return v ? v : "";
}

static uint64_t u(const vici_node *n, const char *path) {
        uint64_t v = 0;
        return vici_node_u64(n, path, &v) < 0 ? 0 : v;
}

static const char *stamp(uint64_t usec, char *buf, size_t n) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!usec || !localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
                (void) snprintf(buf, n, "-");
        return buf;
}

static const char *ms(const vici_node *n, const char *path, char *buf, size_t size) {
        const char *v = vici_node_str(n, path);
        (void) snprintf(buf, size, "%s", v && v[0] ? v : "-");
        return buf;
}

static void list(FILE *f, const vici_node *drills) {
        fprintf(f, "%-26s %-14s %-12s %-40s %8s %9s  %s\n", "DRILL", "CLASS", "FAULT", "EXPECT", "DETECT", "RECOVER",
                "LAST");
        for (const vici_node *d = drills->child; d; d = d->next) {
                char expect[96], last[48] = "never", det[24], rec[24];
                (void) snprintf(expect, sizeof(expect), "%s%s%s", s(d, "expect_class"), s(d, "expect_runbook")[0] ? " -> " : "",
                                s(d, "expect_runbook"));
                if (s(d, "last_id")[0])
                        (void) snprintf(last, sizeof(last), "#%s %s", s(d, "last_id"), s(d, "last_phase"));
                (void) snprintf(det, sizeof(det), "%llus", (unsigned long long) (u(d, "detect_within_ms") / 1000));
                (void) snprintf(rec, sizeof(rec), "%llus", (unsigned long long) (u(d, "recover_within_ms") / 1000));
                fprintf(f, "%-26s %-14s %-12s %-40s %8s %9s  %s\n", d->name, s(d, "class"), s(d, "fault"), expect, det, rec,
                        last);
        }
}

/* Has the drill a verdict yet? Before it ended, detect_ok/recover_ok say nothing. */
static bool ended(const vici_node *r) {
        const char *ph = s(r, "phase");
        return strcmp(ph, "passed") == 0 || strcmp(ph, "failed") == 0 || strcmp(ph, "aborted") == 0;
}

static const char *verdict(const vici_node *r, const char *key) {
        if (!ended(r))
                return "pending";
        return strcmp(s(r, key), "yes") == 0 ? "met" : "MISSED";
}

/* One drill with its timeline, marks in the order they happened (a fault removed by its
 * deadline may come after the steady state, or before it). */
static void one(FILE *f, const vici_node *r) {
        static const struct {
                const char *key, *label;
        } marks[] = {
                { "first_failing_finding", "first failing finding" }, { "incident_opened", "incident opened" },
                { "runbook_started", "runbook started" },             { "step_applied", "first step applied" },
                { "verified", "verified" },                           { "fault_removed", "fault removed" },
                { "steady", "steady state back" },
        };
        const vici_node *tl = vici_node_get(r, "timeline_ms");
        char a[32], b[32];

        fprintf(f, "drill %s  %s  (class %s, weight %s)  %s\n", s(r, "id"), s(r, "drill"), s(r, "class"), s(r, "weight"),
                s(r, "phase"));
        fprintf(f, "  started   %s by %s%s\n", stamp(u(r, "started"), a, sizeof(a)), s(r, "requested_by"),
                strcmp(s(r, "scheduled"), "yes") == 0 ? " (schedule)" : "");
        fprintf(f, "  fault     %s, %s, deadline %s\n", s(r, "fault.kind"), s(r, "fault.state"),
                stamp(u(r, "fault.deadline"), b, sizeof(b)));
        fprintf(f, "  expect    incident %s%s%s, %s%s\n", s(r, "expect_class"), s(r, "expect_scope")[0] ? "/" : "",
                s(r, "expect_scope"), strcmp(s(r, "recovery"), "remove_fault") == 0 ? "fault removed by the drill" : "runbook ",
                strcmp(s(r, "recovery"), "remove_fault") == 0 ? "" : s(r, "expect_runbook"));
        fprintf(f, "  timeline  (ms after injection)\n");
        size_t order[sizeof(marks) / sizeof(marks[0])], n = 0;
        uint64_t at[sizeof(marks) / sizeof(marks[0])];

        for (size_t i = 0; i < ELEMENTSOF(marks); i++) {
                uint64_t t;
                if (!tl || vici_node_u64(tl, marks[i].key, &t) < 0)
                        continue;
                /* insertion sort by time; equal times keep the marks' causal order */
                size_t j = n++;
                for (; j > 0 && at[j - 1] > t; j--) {
                        at[j] = at[j - 1];
                        order[j] = order[j - 1];
                }
                at[j] = t;
                order[j] = i;
        }
        fprintf(f, "    %8s  fault injected\n", "0");
        for (size_t k = 0; k < n; k++) {
                size_t i = order[k];
                const char *v = vici_node_str(tl, marks[i].key);
                fprintf(f, "    %8s  %s", v, marks[i].label);
                if (strcmp(marks[i].key, "first_failing_finding") == 0)
                        fprintf(f, " (%s)", s(r, "first_fail_check"));
                else if (strcmp(marks[i].key, "incident_opened") == 0)
                        fprintf(f, " (incident %s, scope %s)", s(r, "incident"), s(r, "incident_scope"));
                else if (strcmp(marks[i].key, "runbook_started") == 0) {
                        fprintf(f, " (%s, run %s", s(r, "runbook"), s(r, "run"));
                        if (u(r, "approval_wait_ms"))
                                fprintf(f, ", after %s ms waiting for approval%s", s(r, "approval_wait_ms"),
                                        strcmp(s(r, "auto_approved"), "yes") == 0 ? ", approved by the drill" : "");
                        fprintf(f, ")");
                }
                fputc('\n', f);
        }
        fprintf(f, "  TTD %s ms (SLO %s ms) %s   TTR %s ms (SLO %s ms) %s\n", ms(r, "ttd_ms", a, sizeof(a)),
                s(r, "detect_within_ms"), verdict(r, "detect_ok"), ms(r, "ttr_ms", b, sizeof(b)),
                s(r, "recover_within_ms"), verdict(r, "recover_ok"));
        fprintf(f, "  note      ");
        render_put_str(f, s(r, "note"));
        fputc('\n', f);
}

static void history(FILE *f, const vici_node *h, const vici_node *scores) {
        fprintf(f, "%-5s %-26s %-14s %-19s %-8s %8s %8s  %-7s %-7s\n", "ID", "DRILL", "CLASS", "STARTED", "RESULT",
                "TTD ms", "TTR ms", "DETECT", "RECOVER");
        for (const vici_node *r = h ? h->child : NULL; r; r = r->next) {
                char a[32], t1[24], t2[24];
                bool ran = strcmp(s(r, "phase"), "aborted") != 0;
                fprintf(f, "%-5s %-26s %-14s %-19s %-8s %8s %8s  %-7s %-7s\n", s(r, "id"), s(r, "drill"), s(r, "class"),
                        stamp(u(r, "started"), a, sizeof(a)), s(r, "phase"), ms(r, "ttd_ms", t1, sizeof(t1)),
                        ms(r, "ttr_ms", t2, sizeof(t2)), !ran ? "-" : verdict(r, "detect_ok"),
                        !ran ? "-" : verdict(r, "recover_ok"));
        }
        if (scores && scores->child) {
                fprintf(f, "\nscore per fault class (weighted; recent drills count more; aborted ones left out):\n");
                for (const vici_node *c = scores->child; c; c = c->next)
                        fprintf(f, "  %-14s %3s/100  (%s of %s passed)\n", c->name, s(c, "score"), s(c, "passed"),
                                s(c, "runs"));
        }
}

void render_drills(FILE *f, const vici_node *body) {
        const vici_node *n;

        if (strcmp(s(body, "enabled"), "yes") != 0)
                fprintf(f, "drills are disabled (drills.enabled in ikeheal.yaml)\n");
        if ((n = vici_node_get(body, "drills")))
                list(f, n);
        else if ((n = vici_node_get(body, "drill")))
                one(f, n);
        else if ((n = vici_node_get(body, "history")))
                history(f, n, vici_node_get(body, "scores"));
        else if ((n = vici_node_get(body, "active")))
                one(f, n);
        else if (!vici_node_get(body, "waiting"))
                fprintf(f, "no drill in progress\n");
        if ((n = vici_node_get(body, "waiting")))
                fprintf(f, "drill %s (asked by %s) waits: %s\n", s(n, "drill"), s(n, "requested_by"), s(n, "why"));
}
