/* ikehealctl's text layouts on answers built the way the agent builds them: a multi-line result
 * (drill run --dry-run) keeps its line breaks; a drill in progress has no verdict yet (no
 * "MISSED"); a timeline lists its marks in the order they happened; a run that ran shows no
 * "PLAN CHANGED" (only an approval binds to the plan's hash); status names every section it
 * shows (no raw "Other:"). */
#include <stdlib.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/render.h"
#include "macro.h"
#include "tap.h"
#include "vici_msg.h"

typedef void (*build_fn)(vici_builder *b);
typedef void (*render_fn)(FILE *f, const vici_node *body);

/* What `render` prints for the answer `build` makes (malloc'ed). */
static char *rendered(build_fn build, render_fn render) {
        vici_builder *b = NULL;
        vici_node *n = NULL;
        uint8_t *msg = NULL;
        size_t len = 0, out_len = 0;
        char *out = NULL;
        FILE *f;

        if (vici_builder_new(&b) < 0)
                return NULL;
        build(b);
        if (vici_builder_finish(b, &msg, &len) < 0 || vici_msg_parse(msg, len, &n) < 0) {
                free(msg);
                return NULL;
        }
        f = open_memstream(&out, &out_len);
        if (f) {
                render(f, n);
                fclose(f);
        }
        free(msg);
        vici_node_free(n);
        return out;
}

static void dry_run(vici_builder *b) {
        vici_builder_add_str(b, "result", "drill 'x' (dry run):\n  fault: nft drop\n  removed by: deadline");
}

static void drill_common(vici_builder *b, const char *phase) {
        vici_builder_add_str(b, "id", "7");
        vici_builder_add_str(b, "drill", "udp4500-drop");
        vici_builder_add_str(b, "phase", phase);
        vici_builder_add_str(b, "class", "firewall");
        vici_builder_add_str(b, "detect_within_ms", "10000");
        vici_builder_add_str(b, "recover_within_ms", "60000");
        vici_builder_add_str(b, "recovery", "runbook");
        vici_builder_add_str(b, "expect_runbook", "firewall-restore");
}

static void drill_watching(vici_builder *b) {
        vici_builder_begin_section(b, "active");
        drill_common(b, "watching");
        vici_builder_begin_section(b, "timeline_ms");
        vici_builder_add_str(b, "first_failing_finding", "120");
        vici_builder_end_section(b);
        vici_builder_add_str(b, "detect_ok", "no");
        vici_builder_add_str(b, "recover_ok", "no");
        vici_builder_end_section(b);
}

static void drill_passed(vici_builder *b) {
        vici_builder_begin_section(b, "drill");
        drill_common(b, "passed");
        vici_builder_begin_section(b, "timeline_ms");
        vici_builder_add_str(b, "first_failing_finding", "120");
        vici_builder_add_str(b, "incident_opened", "130");
        vici_builder_add_str(b, "fault_removed", "9000");
        vici_builder_add_str(b, "steady", "2500");
        vici_builder_end_section(b);
        vici_builder_add_str(b, "ttd_ms", "130");
        vici_builder_add_str(b, "ttr_ms", "2500");
        vici_builder_add_str(b, "detect_ok", "yes");
        vici_builder_add_str(b, "recover_ok", "yes");
        vici_builder_end_section(b);
}

static void history_running(vici_builder *b) {
        vici_builder_begin_section(b, "history");
        vici_builder_begin_section(b, "7");
        drill_common(b, "watching");
        vici_builder_add_str(b, "detect_ok", "no");
        vici_builder_add_str(b, "recover_ok", "no");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
}

static void run_done(vici_builder *b) {
        vici_builder_begin_section(b, "runs");
        vici_builder_begin_section(b, "3");
        vici_builder_add_str(b, "runbook", "firewall-restore");
        vici_builder_add_str(b, "incident", "2");
        vici_builder_add_str(b, "state", "succeeded");
        vici_builder_add_str(b, "plan", "restore 3 rules");
        vici_builder_add_str(b, "plan_hash", "aaaa");
        vici_builder_add_str(b, "plan_changed", "bbbb");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
}

static void run_pending(vici_builder *b) {
        vici_builder_begin_section(b, "runs");
        vici_builder_begin_section(b, "4");
        vici_builder_add_str(b, "runbook", "firewall-restore");
        vici_builder_add_str(b, "state", "pending");
        vici_builder_add_str(b, "plan_hash", "aaaa");
        vici_builder_add_str(b, "plan_changed", "bbbb");
        vici_builder_end_section(b);
        vici_builder_end_section(b);
}

static void status(vici_builder *b) {
        vici_builder_add_str(b, "version", "0.1.0");
        vici_builder_add_str(b, "pid", "42");
        vici_builder_begin_section(b, "runbooks");
        vici_builder_add_str(b, "loaded", "5");
        vici_builder_add_str(b, "paused", "yes");
        vici_builder_add_str(b, "pause_reason", "maintenance");
        vici_builder_add_str(b, "running", "1");
        vici_builder_add_str(b, "waiting", "2");
        vici_builder_add_str(b, "measures", "0");
        vici_builder_add_str(b, "breakers_open", "0");
        vici_builder_add_str(b, "notify_delivered", "3");
        vici_builder_add_str(b, "notify_failed", "1");
        vici_builder_end_section(b);
        vici_builder_begin_section(b, "webserver");
        vici_builder_add_str(b, "listen", "127.0.0.1:9000");
        vici_builder_end_section(b);
}

int main(void) {
        char *o;

        o = rendered(dry_run, render_result);
        CHECK(o && strstr(o, "(dry run):\n  fault: nft drop\n  removed by: deadline\n") && !strstr(o, "\\x0a"),
              "a multi-line result keeps its line breaks: %s", o);
        free(o);

        o = rendered(drill_watching, render_drills);
        CHECK(o && !strstr(o, "MISSED") && strstr(o, "pending"), "a drill in progress: no verdict yet:\n%s", o);
        free(o);

        o = rendered(history_running, render_drills);
        CHECK(o && !strstr(o, "MISSED"), "the history lists a drill in progress without a verdict:\n%s", o);
        free(o);

        o = rendered(drill_passed, render_drills);
        {
                const char *steady = o ? strstr(o, "steady state back") : NULL;
                const char *removed = o ? strstr(o, "fault removed") : NULL;
                CHECK(steady && removed && steady < removed, "the timeline in the order it happened:\n%s", o);
                CHECK(o && strstr(o, "met") && !strstr(o, "MISSED"), "a passed drill: SLOs met");
        }
        free(o);

        o = rendered(run_done, render_pending);
        CHECK(o && !strstr(o, "PLAN CHANGED"), "a run that succeeded: no PLAN CHANGED:\n%s", o);
        free(o);
        o = rendered(run_pending, render_pending);
        CHECK(o && strstr(o, "PLAN CHANGED"), "a pending run whose plan changed says so:\n%s", o);
        free(o);

        o = rendered(status, render_status);
        CHECK(o && !strstr(o, "Other:") && strstr(o, "Runbooks:") && strstr(o, "5 loaded") &&
                      strstr(o, "PAUSED") && strstr(o, "maintenance") && strstr(o, "Webserver:") &&
                      strstr(o, "listen 127.0.0.1:9000"),
              "status names its sections:\n%s", o);
        free(o);
        return TAP_END();
}
