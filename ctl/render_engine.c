/* Text layouts for the runbook commands: a plan (steps with their exact effects, the grade it
 * would run at and why, the hash to approve), the approval queue, temporary measures with the
 * time they have left, and the one-line results of approve/deny/run/extend/revert/pause. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "duration.h"

/* Multi-line text, each line indented and made safe for a terminal. */
static void put_lines(FILE *f, const char *indent, const char *text) {
        const char *p = text;

        while (p && *p) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                char line[1024];
                (void) snprintf(line, sizeof(line), "%.*s", (int) (n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
                fputs(indent, f);
                render_put_str(f, line);
                fputc('\n', f);
                p = e ? e + 1 : NULL;
        }
}

static void field(FILE *f, const char *label, const vici_node *b, const char *key) {
        const char *v = vici_node_str(b, key);
        if (!v)
                return;
        fprintf(f, "%-16s", label);
        render_put_str(f, v);
        fputc('\n', f);
}

static void left(FILE *f, const char *label, const vici_node *b, const char *key) {
        uint64_t s;
        char d[32];
        if (vici_node_u64(b, key, &s) < 0)
                return;
        fprintf(f, "%-16s%s\n", label, duration_format(s * USEC_PER_SEC, d, sizeof(d)));
}

void render_plan(FILE *f, const vici_node *body) {
        const vici_node *steps = vici_node_get(body, "steps");

        field(f, "incident", body, "incident");
        field(f, "runbook", body, "runbook");
        field(f, "description", body, "description");
        field(f, "file", body, "file");
        field(f, "grade", body, "grade");
        field(f, "runs at", body, "effective_grade");
        field(f, "raised by", body, "grade_raised_by");
        for (const vici_node *s = steps ? steps->child : NULL; s; s = s->next) {
                fprintf(f, "\nstep %s: ", s->name);
                render_put_str(f, vici_node_str(s, "name"));
                fprintf(f, " (");
                render_put_str(f, vici_node_str(s, "action"));
                fprintf(f, ", timeout %s)\n", vici_node_str(s, "timeout") ?: "?");
                put_lines(f, "  ", vici_node_str(s, "effects"));
                field(f, "  grade", s, "grade");
                field(f, "  verify check", s, "verify_check");
                field(f, "  verify within", s, "verify_within");
                field(f, "  expires in", s, "expires_in");
                field(f, "  drops SAs", s, "drops_sas");
        }
        fprintf(f, "\nplan:\n");
        put_lines(f, "  ", vici_node_str(body, "plan"));
        field(f, "plan hash", body, "plan_hash");
}

void render_pending(FILE *f, const vici_node *body) {
        const vici_node *runs = vici_node_get(body, "runs");
        bool any = false;

        if (strcmp(vici_node_str(body, "paused") ?: "no", "yes") == 0) {
                fprintf(f, "automatic remediation is PAUSED: ");
                render_put_str(f, vici_node_str(body, "pause_reason"));
                fprintf(f, "\n\n");
        }
        for (const vici_node *r = runs ? runs->child : NULL; r; r = r->next) {
                const vici_node *by = vici_node_get(r, "approved_by");
                any = true;
                fprintf(f, "run %s: ", r->name);
                render_put_str(f, vici_node_str(r, "runbook"));
                fprintf(f, " for incident %s, %s", vici_node_str(r, "incident") ?: "-", vici_node_str(r, "state") ?: "?");
                if (vici_node_get(r, "step_name")) {
                        fprintf(f, " at step %s/%s (", vici_node_str(r, "step") ?: "?", vici_node_str(r, "steps") ?: "?");
                        render_put_str(f, vici_node_str(r, "step_name"));
                        fputc(')', f);
                }
                fputc('\n', f);
                field(f, "  grade", r, "grade");
                field(f, "  why", r, "why");
                fprintf(f, "  %-14s%s of %s", "approvals", vici_node_str(r, "approvals") ?: "0",
                        vici_node_str(r, "approvers_needed") ?: "1");
                for (const vici_node *i = by ? by->child : NULL; i; i = i->next) {
                        fprintf(f, i == by->child ? " (" : ", ");
                        render_put_str(f, i->value);
                        if (!i->next)
                                fputc(')', f);
                }
                fputc('\n', f);
                left(f, "  expires in", r, "expires_in");
                field(f, "  note", r, "note");
                {
                        const vici_node *ph = vici_node_get(r, "phases");
                        for (const vici_node *i = ph ? ph->child : NULL; i; i = i->next) {
                                fprintf(f, "  %-14s", i == ph->child ? "steps" : "");
                                render_put_str(f, i->value);
                                fputc('\n', f);
                        }
                }
                {
                        const char *st = vici_node_str(r, "state") ?: "";
                        bool before = strcmp(st, "pending") == 0 || strcmp(st, "proposed") == 0;
                        /* the plan is made again for the answer: after the run, it is today's */
                        fprintf(f, "  plan%s:\n", before ? "" : " (as it would be now)");
                }
                put_lines(f, "    ", vici_node_str(r, "plan"));
                field(f, "  plan hash", r, "plan_hash");
                /* an approval binds to the hash: a changed plan matters only before it is given */
                if (strcmp(vici_node_str(r, "state") ?: "", "pending") == 0 ||
                    strcmp(vici_node_str(r, "state") ?: "", "proposed") == 0)
                        field(f, "  PLAN CHANGED", r, "plan_changed");
                if (strcmp(vici_node_str(r, "state") ?: "", "pending") == 0)
                        fprintf(f, "  approve with:  ikehealctl approve %s %s\n", r->name, vici_node_str(r, "plan_hash") ?: "");
                else if (strcmp(vici_node_str(r, "state") ?: "", "proposed") == 0)
                        fprintf(f, "  run with:      ikehealctl run %s %s\n", vici_node_str(r, "runbook") ?: "",
                                vici_node_str(r, "incident") ?: "");
                fputc('\n', f);
        }
        if (!any)
                fprintf(f, vici_node_get(body, "paused") ? "nothing waits for approval\n" : "no runs\n");
}

void render_measures(FILE *f, const vici_node *body) {
        const vici_node *ms = vici_node_get(body, "measures");
        bool any = false;

        fprintf(f, "%-5s %-12s %-14s %-10s %-22s %s\n", "ID", "KIND", "STATE", "LEFT", "RUNBOOK/STEP", "NOTE");
        for (const vici_node *m = ms ? ms->child : NULL; m; m = m->next) {
                uint64_t s;
                char d[32] = "-", rs[128];
                any = true;
                if (vici_node_u64(m, "left", &s) == 0)
                        (void) duration_format(s * USEC_PER_SEC, d, sizeof(d));
                (void) snprintf(rs, sizeof(rs), "%s/%s", vici_node_str(m, "runbook") ?: "?", vici_node_str(m, "step") ?: "?");
                fprintf(f, "%-5s ", m->name);
                render_put_str(f, vici_node_str(m, "kind"));
                fprintf(f, "%*s %-14s %-10s ", (int) (12 - strlen(vici_node_str(m, "kind") ?: "")), "",
                        vici_node_str(m, "state") ?: "?", d);
                render_put_str(f, rs);
                fprintf(f, "%*s ", (int) (strlen(rs) < 22 ? 22 - strlen(rs) : 0), "");
                render_put_str(f, vici_node_str(m, "note"));
                fputc('\n', f);
        }
        if (!any)
                fprintf(f, "(no temporary measure in force)\n");
}

/* A one-line result, or several (drill run --dry-run): each line made safe on its own. */
void render_result(FILE *f, const vici_node *body) {
        const char *r = vici_node_str(body, "result");

        if (r && *r)
                put_lines(f, "", r);
        else
                fputc('\n', f);
}
