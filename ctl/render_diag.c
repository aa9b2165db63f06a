/* Text layouts of `checks`, `incidents` and `diagnose` for an operator at a terminal: a table
 * to scan, and the details (facts, evidence) when one item is asked for. Every value from the
 * agent goes through render_put_str(): it may quote what a peer or a log line said. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/render.h"

static const char *s_or(const vici_node *b, const char *path, const char *dflt) {
        const char *v = vici_node_str(b, path);
        return v && *v ? v : dflt;
}

static void put_padded(FILE *f, const char *s, int width) {
        int n = (int) strlen(s);
        render_put_str(f, s);
        for (; n < width; n++)
                fputc(' ', f);
        fputc(' ', f);
}

static void put_usec_time(FILE *f, const vici_node *b, const char *path) {
        uint64_t t;
        char buf[32];
        struct tm tm;
        time_t tt;

        if (vici_node_u64(b, path, &t) < 0 || t == 0) {
                fputs("-                  ", f);
                return;
        }
        tt = (time_t) (t / USEC_PER_SEC);
        if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return;
        fputs(buf, f);
}

static size_t count_children(const vici_node *sec) {
        size_t n = 0;
        for (const vici_node *c = sec ? sec->child : NULL; c; c = c->next)
                n++;
        return n;
}

static void put_list(FILE *f, const vici_node *sec, const char *name, const char *indent) {
        const vici_node *l = vici_node_get(sec, name);
        for (const vici_node *i = l && l->type == VICI_NODE_LIST ? l->child : NULL; i; i = i->next) {
                fputs(indent, f);
                render_put_str(f, i->value);
                fputc('\n', f);
        }
}

static void render_check_detail(FILE *f, const vici_node *c) {
        fputs("Check:      ", f);
        render_put_str(f, c->name);
        fputs(" (", f);
        render_put_str(f, s_or(c, "kind", "?"));
        fputs(")\n", f);
        if (vici_node_str(c, "description")) {
                fputs("            ", f);
                render_put_str(f, vici_node_str(c, "description"));
                fputc('\n', f);
        }
        fputs("Status:     ", f);
        render_put_str(f, s_or(c, "status", "?"));
        fputs(" (last run: ", f);
        render_put_str(f, s_or(c, "last", "none yet"));
        fputs(", runs ", f);
        render_put_str(f, s_or(c, "runs", "0"));
        fputs(", flips ", f);
        render_put_str(f, s_or(c, "flips", "0"));
        fputs(")\n", f);
        fputs("Schedule:   every ", f);
        render_put_str(f, s_or(c, "interval_ms", "?"));
        fputs(" ms, timeout ", f);
        render_put_str(f, s_or(c, "timeout_ms", "?"));
        fputs(" ms, retries ", f);
        render_put_str(f, s_or(c, "retries", "0"));
        fputs(", rise ", f);
        render_put_str(f, s_or(c, "rise", "?"));
        fputs(", fall ", f);
        render_put_str(f, s_or(c, "fall", "?"));
        fputs("\nLast run:   ", f);
        put_usec_time(f, c, "finished_usec");
        fputs(" UTC\nSummary:    ", f);
        render_put_str(f, s_or(c, "summary", "-"));
        fputc('\n', f);
        const vici_node *facts = vici_node_get(c, "facts");
        if (facts && facts->child) {
                fputs("Facts:\n", f);
                for (const vici_node *x = facts->child; x; x = x->next) {
                        fputs("  ", f);
                        render_put_str(f, x->name);
                        fputs(" = ", f);
                        render_put_str(f, x->value);
                        fputc('\n', f);
                }
        }
        const vici_node *ev = vici_node_get(c, "evidence");
        if (ev && ev->child) {
                fputs("Evidence:\n", f);
                put_list(f, c, "evidence", "  ");
        }
}

static void render_check_row(FILE *f, const vici_node *c) {
        put_padded(f, s_or(c, "status", "?"), 7);
        put_padded(f, c->name ? c->name : "?", 14);
        put_padded(f, s_or(c, "kind", "?"), 11);
        render_put_str(f, s_or(c, "summary", "(no result yet)"));
        fputc('\n', f);
}

void render_checks(FILE *f, const vici_node *b) {
        const vici_node *checks = vici_node_get(b, "checks");

        if (count_children(checks) == 1) {
                render_check_detail(f, checks->child);
                return;
        }
        fprintf(f, "%-7s %-14s %-11s %s\n", "STATUS", "CHECK", "KIND", "LAST FINDING");
        for (const vici_node *c = checks ? checks->child : NULL; c; c = c->next)
                render_check_row(f, c);
        if (!count_children(checks))
                fputs("(no checks configured)\n", f);
}

static void render_incident_detail(FILE *f, const vici_node *i) {
        fputs("Incident:   ", f);
        render_put_str(f, i->name);
        fputs(" (", f);
        render_put_str(f, s_or(i, "state", "?"));
        fputs(")\nClass:      ", f);
        render_put_str(f, s_or(i, "class", "?"));
        fputs(", ", f);
        render_put_str(f, s_or(i, "scope", "?"));
        fputs(", ", f);
        render_put_str(f, s_or(i, "severity", "?"));
        fputs(", ", f);
        render_put_str(f, s_or(i, "confidence", "?"));
        fputs("% confident\nReason:     ", f);
        render_put_str(f, s_or(i, "reason", "-"));
        if (vici_node_str(i, "peers") && *vici_node_str(i, "peers")) {
                fputs("\nPeers:      ", f);
                render_put_str(f, vici_node_str(i, "peers"));
        }
        fputs("\nOpened:     ", f);
        put_usec_time(f, i, "opened_usec");
        fputs(" UTC\nUpdated:    ", f);
        put_usec_time(f, i, "updated_usec");
        fputs(" UTC (", f);
        render_put_str(f, s_or(i, "updates", "0"));
        fputs(" updates)\n", f);
        if (strcmp(s_or(i, "state", ""), "resolved") == 0) {
                fputs("Resolved:   ", f);
                put_usec_time(f, i, "resolved_usec");
                fputs(" UTC\n", f);
        }
        fputs("Summary:    ", f);
        render_put_str(f, s_or(i, "summary", "-"));
        fputc('\n', f);
        if (*s_or(i, "note", "")) {
                fputs("Note:       ", f);
                render_put_str(f, vici_node_str(i, "note"));
                fputc('\n', f);
        }
        if (*s_or(i, "explains", "")) {
                fputs("Explains:   ", f);
                render_put_str(f, vici_node_str(i, "explains"));
                fputc('\n', f);
        }
        fputs("Evidence:\n", f);
        put_list(f, i, "evidence", "  ");
}

void render_incidents(FILE *f, const vici_node *b) {
        const vici_node *list = vici_node_get(b, "incidents");

        if (count_children(list) == 1 && vici_node_str(b, "detail")) {
                render_incident_detail(f, list->child);
                return;
        }
        fprintf(f, "%-5s %-11s %-17s %-16s %-7s %-5s %-19s %s\n", "ID", "STATE", "CLASS", "REASON", "SCOPE",
                "SEV", "OPENED (UTC)", "SUMMARY");
        for (const vici_node *i = list ? list->child : NULL; i; i = i->next) {
                put_padded(f, i->name ? i->name : "?", 5);
                put_padded(f, s_or(i, "state", "?"), 11);
                put_padded(f, s_or(i, "class", "?"), 17);
                /* the reason tells what kind of the class it is (daemon: hung, crashed,
                 * crash_loop …), which decides what may be done about it */
                put_padded(f, s_or(i, "reason", "-"), 16);
                put_padded(f, s_or(i, "scope", "?"), 7);
                put_padded(f, s_or(i, "severity", "?"), 5);
                put_usec_time(f, i, "opened_usec");
                fputc(' ', f);
                render_put_str(f, s_or(i, "summary", ""));
                fputc('\n', f);
        }
        if (!count_children(list))
                fputs("(no incidents)\n", f);
}

void render_diagnose(FILE *f, const vici_node *b) {
        const char *impact = s_or(b, "impact", "none");
        const vici_node *problems = vici_node_get(b, "problems");
        const vici_node *checks = vici_node_get(b, "checks");

        fputs("Impact:     ", f);
        if (strcmp(impact, "global") == 0)
                fputs("GLOBAL: every peer is affected", f);
        else if (strcmp(impact, "local") == 0)
                fputs("LOCAL: some peers are affected, others work", f);
        else
                fputs("none: no failing check", f);
        fputs(" (", f);
        render_put_str(f, s_or(b, "elapsed_ms", "?"));
        fputs(" ms", f);
        if (strcmp(s_or(b, "complete", "yes"), "yes") != 0)
                fputs(", some checks did not finish in time", f);
        fputs(")\n", f);

        size_t k = 0;
        for (const vici_node *p = problems ? problems->child : NULL; p; p = p->next, k++) {
                if (k == 0)
                        fputs("\nProblems (most urgent first):\n", f);
                fprintf(f, "  %zu. ", k + 1);
                render_put_str(f, s_or(p, "class", "?"));
                fputs(" — ", f);
                render_put_str(f, s_or(p, "scope", "?"));
                if (*s_or(p, "peers", "")) {
                        fputs(" (", f);
                        render_put_str(f, vici_node_str(p, "peers"));
                        fputc(')', f);
                }
                fputs(", ", f);
                render_put_str(f, s_or(p, "severity", "?"));
                fputs(", ", f);
                render_put_str(f, s_or(p, "confidence", "?"));
                fputs("% confident", f);
                if (vici_node_str(p, "incident")) {
                        fputs(", incident ", f);
                        render_put_str(f, vici_node_str(p, "incident"));
                }
                fputs("\n     reason: ", f);
                render_put_str(f, s_or(p, "reason", "-"));
                fputs("\n     ", f);
                render_put_str(f, s_or(p, "summary", ""));
                fputc('\n', f);
                if (*s_or(p, "explains", "")) {
                        fputs("     explains: ", f);
                        render_put_str(f, vici_node_str(p, "explains"));
                        fputc('\n', f);
                }
                put_list(f, p, "evidence", "       ");
        }
        if (vici_node_str(b, "recent_changes")) {
                fputs("\nRecent changes: ", f);
                render_put_str(f, vici_node_str(b, "recent_changes"));
                fputc('\n', f);
        }
        fputs("\nChecklist:\n", f);
        for (const vici_node *c = checks ? checks->child : NULL; c; c = c->next) {
                fputs("  ", f);
                render_check_row(f, c);
        }
}

void render_audit(FILE *f, const vici_node *b) {
        fputs("Audit log:  ", f);
        render_put_str(f, s_or(b, "path", "?"));
        fputs(", ", f);
        render_put_str(f, s_or(b, "records", "0"));
        fputs(" records, head ", f);
        render_put_str(f, s_or(b, "head", "?"));
        fputc('\n', f);
        /* each line is SEQ \t TIME_USEC \t KIND \t PREV \t MAC \t TEXT: shown as
         * "SEQ  TIME  KIND  TEXT" (the hashes are for `audit verify`, not for reading) */
        const vici_node *l = vici_node_get(b, "lines");
        for (const vici_node *n = l ? l->child : NULL; n; n = n->next) {
                if (!n->value)
                        continue; /* "lines" as a section, not a list: nothing to show */
                char *fields[6] = { 0 }, *dup = strndup(n->value, n->len), *p = dup;
                size_t k = 0;
                for (; p && k < 6; k++) {
                        fields[k] = p;
                        p = k < 5 ? strchr(p, '\t') : NULL;
                        if (p)
                                *p++ = 0;
                }
                if (k == 6 && fields[5]) {
                        time_t t = (time_t) (strtoull(fields[1], NULL, 10) / 1000000);
                        struct tm tm;
                        char ts[32] = "?";
                        if (gmtime_r(&t, &tm))
                                (void) strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
                        fprintf(f, "  %-5s %s  %-18s ", fields[0], ts, fields[2]);
                        render_put_str(f, fields[5]);
                        fputc('\n', f);
                } else if (dup) {
                        fputs("  ", f);
                        render_put_str(f, dup);
                        fputc('\n', f);
                }
                free(dup);
        }
}
