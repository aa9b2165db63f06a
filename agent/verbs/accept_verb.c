/* The `accept` verb: an approver says the gateway as it is now is good. A last-good state is
 * otherwise recorded only when every check is OK — so a deliberate change (a new certificate,
 * an edited swanctl.conf, a standby pair a runbook swapped in) leaves the config check warning
 * of drift for good, nothing newer is ever recorded, rollbacks would return to the old state
 * and drills refuse to start. Accepting records the current state as last good at once.
 *
 * Refused while an incident is active, a check fails or has not reported, a temporary measure
 * is in force (its change must not become the truth a rollback returns to) or a drill is in
 * progress. A reason is required. Every check first runs once more (as for `diagnose`), so
 * what is recorded is the gateway after the request, not the checks' last runs; the accepted
 * warnings go on the audit trail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/checks/check_set.h"
#include "agent/checks/check_state.h"
#include "agent/control/control.h"
#include "agent/drill/drill_run.h"
#include "agent/engine/engine.h"
#include "agent/guard/guard.h"
#include "agent/triage/incident.h"
#include "agent/triage/triage.h"
#include "agent/verbs/verbs.h"

static int refuse(control_request *req, int err, const char *why) {
        control_request_set_error(req, "accept: refused: %s", why);
        return err;
}

/* Why the current state may not be accepted, or NULL. */
static const char *refusal(const verbs_ctx *v, char *why, size_t n) {
        check_set *checks = v->checks(v->userdata);

        for (size_t i = 0; v->incidents && i < incident_store_size(v->incidents); i++) {
                const incident *inc = incident_store_get(v->incidents, i);
                if (inc->state != INCIDENT_RESOLVED) {
                        (void) snprintf(why, n, "incident %llu (%s) is active", (unsigned long long) inc->id,
                                        fault_class_to_string(inc->cls));
                        return why;
                }
        }
        if (v->engine && engine_measure_owed(v->engine, why, n))
                return why;
        if (v->drills && drill_active(v->drills))
                return "a drill is in progress";
        if (v->guard && guard_active(v->guard))
                return "a guarded change is in progress: it is confirmed (guard confirm) or rolled back";
        if (!checks || !check_set_size(checks))
                return "no checks are running";
        for (size_t i = 0; i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                check_status st = check_get_state(c)->reported;
                if (st == CHECK_FAIL || st == CHECK_UNKNOWN || !check_last_finding(c)) {
                        (void) snprintf(why, n, "check %s is %s", check_name(c),
                                        check_last_finding(c) ? check_status_to_string(st) : "not reported yet");
                        return why;
                }
        }
        return NULL;
}

/* The round is over: every check has looked at the gateway as it is now. */
static int accept_finish(const verbs_ctx *v, control_request *req, vici_builder *b, bool complete, uint64_t elapsed_usec) {
        const char *reason = vici_node_str(control_request_body(req), "reason");
        char warned[1024] = "", why[300];
        const char *no;
        check_set *checks = v->checks(v->userdata);
        engine_who who;
        size_t w = 0;

        if (!complete)
                return refuse(req, -ETIMEDOUT, "not every check finished a fresh run in time; nothing recorded");
        if ((no = refusal(v, why, sizeof(why))))
                return refuse(req, -EBUSY, no);
        for (size_t i = 0; i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                if (check_get_state(c)->reported == CHECK_WARN && w + 2 < sizeof(warned))
                        w += (size_t) snprintf(warned + w, sizeof(warned) - w, "%s%s (%s)", w ? "; " : "", check_name(c),
                                               check_last_finding(c)->summary ? check_last_finding(c)->summary : "warn");
        }
        verbs_who(v->config(v->userdata), req, &who);
        triage_mark_good(v->triage);
        audit_trail_add(v->audit, "accept", "the current state accepted as last good by uid %u (%s): %s%s%s", who.uid, who.user, reason,
                    warned[0] ? "; warnings accepted: " : "", warned);
        /* the checks look again now: what they report is measured against the new state */
        triage_trigger_all(v->triage);
        vici_builder_add_str(b, "result", warned[0] ? "the current state is the last good one; its warnings were accepted"
                                                    : "the current state is the last good one");
        return 0;
}

static int accept_handler(control_request *req, vici_builder *b, void *userdata) {
        const verbs_ctx *v = userdata;
        const char *reason = vici_node_str(control_request_body(req), "reason");
        char why[300];
        const char *no;
        engine_who who;

        verbs_who(v->config(v->userdata), req, &who);
        if (!who.approver)
                return refuse(req, -EPERM, "it changes what rollbacks restore: approvers only");
        if (!reason || !reason[0])
                return refuse(req, -EINVAL, "a reason is required (--reason TEXT)");
        if ((no = refusal(v, why, sizeof(why))))
                return refuse(req, -EBUSY, no);
        /* what is recorded is what the checks see after this request, not their last runs */
        return verbs_check_round(v, req, b, accept_finish);
}

int accept_verb_register(control_server *s, const verbs_ctx *v) {
        return control_server_register(s, PROTO_ACCEPT, accept_handler, (void *) v);
}
