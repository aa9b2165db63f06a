/* Verdicts and scores (agent/drill/drill_run.h).
 *
 * A drill passes when both SLOs are met: detection (the expected incident opened within
 * detect_within of injection, and — if one is named — of the expected scope, judged by the
 * widest scope the incident reached while the drill watched) and recovery (the steady
 * state back within recover_within, through the expected runbook's verified run, or — for
 * remove_fault drills — after the drill removed its fault).
 *
 * The score of a fault class is a weighted mean over its finished drills, newest first:
 * each drill counts 1 (both SLOs met), 0.5 (one) or 0 (none), times its weight,
 * times a recency factor that halves every DRILL_SCORE_HALF_LIFE runs of the class — so a
 * class that failed long ago and passes now scores high, and one that just broke drops at
 * once. Reported as 0–100. Aborted drills (an operator, an unrelated incident, a restart) measured
 * nothing and are left out. */
#include <stdio.h>
#include <string.h>

#include "agent/drill/drill_internal.h"
#include "duration.h"

#define DRILL_SCORE_HALF_LIFE 10u
#define DRILL_SCORE_DECAY 0.9330329915368074 /* 2^(-1/DRILL_SCORE_HALF_LIFE) */

static void slo_text(char *buf, size_t n, const char *what, uint64_t t0, uint64_t t, uint64_t slo, bool ok) {
        char a[32], b[32];

        if (!t)
                (void) snprintf(buf, n, "%s: never (SLO %s) MISSED", what, duration_format(slo, b, sizeof(b)));
        else
                (void) snprintf(buf, n, "%s %s (SLO %s) %s", what, duration_format(t - t0, a, sizeof(a)),
                                duration_format(slo, b, sizeof(b)), ok ? "met" : "MISSED");
}

void drill_judge(drill_rec *r) {
        uint64_t t0 = r->t[DM_INJECTED];
        bool scope_ok = !r->expect_scope[0] || strcmp(r->expect_scope, r->incident_scope) == 0;
        bool runbook_ok = !r->expect_runbook[0] || strcmp(r->expect_runbook, r->runbook) == 0;
        char d[96], rc[96], extra[192] = "";

        r->detect_ok = t0 && r->t[DM_INCIDENT] && r->t[DM_INCIDENT] - t0 <= r->detect_within_usec && scope_ok;
        r->recover_ok = t0 && r->t[DM_STEADY] && r->t[DM_STEADY] - t0 <= r->recover_within_usec && runbook_ok &&
                        (r->recovery == DRILL_RECOVER_REMOVE_FAULT || r->t[DM_VERIFIED]);
        r->phase = r->detect_ok && r->recover_ok ? DRILL_PASSED : DRILL_FAILED;
        slo_text(d, sizeof(d), "TTD", t0, r->t[DM_INCIDENT], r->detect_within_usec, r->detect_ok);
        slo_text(rc, sizeof(rc), "TTR", t0, r->t[DM_STEADY], r->recover_within_usec, r->recover_ok);
        if (r->t[DM_INCIDENT] && !scope_ok)
                (void) snprintf(extra, sizeof(extra), "; scope %s, expected %s", r->incident_scope, r->expect_scope);
        else if (r->runbook[0] && !runbook_ok)
                (void) snprintf(extra, sizeof(extra), "; runbook %s acted, expected %s", r->runbook, r->expect_runbook);
        else if (!r->runbook[0] && r->expect_runbook[0] && r->t[DM_INCIDENT])
                (void) snprintf(extra, sizeof(extra), "; runbook %s never acted", r->expect_runbook);
        (void) snprintf(r->note, sizeof(r->note), "%s, %s%s", d, rc, extra);
}

typedef struct class_score {
        char cls[32];
        double num, den, recency; /* recency: the next (older) drill's factor */
        unsigned runs, passed;
} class_score;

void drill_scores_to_vici(const drill_runner *dr, vici_builder *b) {
        class_score s[32];
        size_t n = 0;

        memset(s, 0, sizeof(s));
        for (size_t i = dr->n_recs; i-- > 0;) { /* newest first */
                const drill_rec *r = dr->recs[i];
                class_score *c = NULL;
                double v;

                if (r->phase != DRILL_PASSED && r->phase != DRILL_FAILED)
                        continue;
                for (size_t j = 0; j < n && !c; j++)
                        if (strcmp(s[j].cls, r->fault_class) == 0)
                                c = &s[j];
                if (!c) {
                        if (n == sizeof(s) / sizeof(s[0]))
                                continue;
                        c = &s[n++];
                        (void) snprintf(c->cls, sizeof(c->cls), "%s", r->fault_class);
                        c->recency = 1.0;
                }
                v = (r->detect_ok ? 0.5 : 0.0) + (r->recover_ok ? 0.5 : 0.0);
                c->num += v * r->weight * c->recency;
                c->den += r->weight * c->recency;
                c->recency *= DRILL_SCORE_DECAY;
                c->runs++;
                c->passed += r->phase == DRILL_PASSED;
        }
        vici_builder_begin_section(b, "scores");
        for (size_t j = 0; j < n; j++) {
                vici_builder_begin_section(b, s[j].cls);
                vici_builder_add_fmt(b, "score", "%.0f", s[j].den > 0 ? 100.0 * s[j].num / s[j].den : 0.0);
                vici_builder_add_fmt(b, "runs", "%u", s[j].runs);
                vici_builder_add_fmt(b, "passed", "%u", s[j].passed);
                vici_builder_end_section(b);
        }
        vici_builder_end_section(b);
}
