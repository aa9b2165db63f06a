/* See json_shapes.h. Paths follow the agent's answers (agent/verbs/): a field added there that
 * is a number, a time or a collection is added here too, or it stays a string. */
#include <stddef.h>

#include "ctl/json_shapes.h"

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* any answer: "yes"/"no" as booleans, nothing else typed */
const json_shape json_shape_plain = { 0 };

const json_shape json_shape_status = {
        .numbers = LIST("pid", "uptime", "reloads", "reload_failures", "charon.uptime", "ikesas.total",
                        "ikesas.half_open", "childsas.total", "events.connects", "events.disconnects",
                        "events.ike_updown", "events.child_updown", "events.log", "runbooks.loaded",
                        "runbooks.running", "runbooks.waiting", "runbooks.measures", "runbooks.breakers_open",
                        "runbooks.notify_delivered", "runbooks.notify_failed"),
        .times_sec = LIST("started", "events.last_time"),
        .times_charon = LIST("since", "charon.since"),
};

const json_shape json_shape_checks = {
        .numbers = LIST("checks.*.runs", "checks.*.interval_ms", "checks.*.timeout_ms", "checks.*.retries",
                        "checks.*.rise", "checks.*.fall", "checks.*.flips"),
        .times_usec = LIST("checks.*.started_usec", "checks.*.finished_usec"),
        .collections = (const json_collection[]){ { "checks", "name" }, { NULL } },
};

const json_shape json_shape_incidents = {
        .numbers = LIST("active", "incidents.*.id", "incidents.*.confidence", "incidents.*.updates"),
        .times_usec = LIST("incidents.*.opened_usec", "incidents.*.updated_usec", "incidents.*.resolved_usec"),
        .collections = (const json_collection[]){ { "incidents", "id" }, { NULL } },
};

const json_shape json_shape_diagnose = {
        .numbers = LIST("elapsed_ms", "problems.*.confidence", "problems.*.incident", "checks.*.runs"),
        .times_usec = LIST("checks.*.started_usec", "checks.*.finished_usec"),
        .collections = (const json_collection[]){ { "problems", "rank" }, { "checks", "name" }, { NULL } },
};

const json_shape json_shape_audit = {
        .numbers = LIST("records"),
        .audit_lines = LIST("lines"),
};

const json_shape json_shape_plan = {
        .numbers = LIST("incident", "steps.*.drops_sas"),
        .collections = (const json_collection[]){ { "steps", "step" }, { NULL } },
};

/* runs and pending */
const json_shape json_shape_runs = {
        .numbers = LIST("runs.*.incident", "runs.*.step", "runs.*.steps", "runs.*.approvals",
                        "runs.*.approvers_needed", "runs.*.expires_in"),
        .times_sec = LIST("runs.*.created", "runs.*.finished"),
        .collections = (const json_collection[]){ { "runs", "id" }, { NULL } },
};

const json_shape json_shape_measures = {
        .numbers = LIST("in_force", "measures.*.run", "measures.*.incident", "measures.*.left",
                        "measures.*.extensions"),
        .times_sec = LIST("measures.*.applied", "measures.*.expires", "measures.*.reverted"),
        .collections = (const json_collection[]){ { "measures", "id" }, { NULL } },
};

const json_shape json_shape_run = {
        .numbers = LIST("run"),
};

const json_shape json_shape_drill = {
        .numbers = LIST("drill"),
};

/* drills list | status | report [ID]: one drill's record is "active", "drill" or a member of
 * "history" */
#define REC(f) "active." f, "drill." f, "history.*." f
const json_shape json_shape_drills = {
        .numbers = LIST("drills.*.weight", "drills.*.detect_within_ms", "drills.*.recover_within_ms",
                        "drills.*.last_id", REC("id"), REC("weight"), REC("detect_within_ms"),
                        REC("recover_within_ms"), REC("timeline_ms.*"), REC("ttd_ms"), REC("ttr_ms"),
                        REC("incident"), REC("run"), REC("approval_wait_ms"), "scores.*.score", "scores.*.runs",
                        "scores.*.passed"),
        .times_usec = LIST("drills.*.last_started", REC("started"), REC("finished"), REC("fault.deadline"),
                           REC("t.*"), REC("pending"), "waiting.since"),
        .collections = (const json_collection[]){ { "drills", "name" }, { "history", "id" }, { "scores", "class" },
                                                  { NULL } },
};

const json_shape json_shape_evidence = {
        .numbers = LIST("incident", "total", "files.*.index", "files.*.size"),
        .times_sec = LIST("files.*.modified"),
        .collections = (const json_collection[]){ { "files", "index" }, { NULL } },
};

/* fleet status */
const json_shape json_shape_fleet = {
        .numbers = LIST("lease", "slots_held", "waiting", "requests", "watch_events", "drill_schedule"),
};

/* fleet drills */
const json_shape json_shape_fleet_drills = {
        .numbers = LIST("entries"),
        .collections = (const json_collection[]){ { "schedule", "index" }, { NULL } },
};
