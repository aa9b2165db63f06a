/* The control verbs of a running agent: the verbs' context (subsystem pointers and the core's
 * callbacks) and every verb family from one table, registered on the control socket now and
 * again on the new socket after a reload that moved it. ikeheald's main() and the fuzz target
 * that drives the real handlers both wire an agent through here. */
#include "agent/core/agent.h"
#include "macro.h"

static int core_reload(void *userdata, char **ret_error) {
        return agent_reload(userdata, ret_error);
}

static const ikeheal_config *core_config(void *userdata) {
        const agent *a = userdata;
        return a->config;
}

static check_set *core_checks(void *userdata) {
        const agent *a = userdata;
        return a->checks;
}

static vici_client *core_vici(void *userdata) {
        const agent *a = userdata;
        return a->link.vici;
}

static void core_figures(void *userdata, verbs_figures *ret) {
        const agent *a = userdata;
        *ret = (verbs_figures){ .start_mono_usec = a->start_mono_usec,
                                .start_real_usec = a->start_real_usec,
                                .reloads = a->reloads,
                                .reload_failures = a->reload_failures,
                                .vici = &a->link.stats };
}

static int verbs_register(control_server *s, void *userdata) {
        static int (*const families[])(control_server *s, const verbs_ctx *v) = {
                status_verb_register,   reload_verb_register, checks_verb_register, incidents_verb_register,
                audit_verb_register,    plan_verb_register,   approval_verb_register,
                run_verb_register,      measures_verb_register, drill_verb_register,
                diagnose_verb_register, accept_verb_register,
                guard_verb_register,
                drain_verb_register,
                evidence_verb_register,
                fleet_verb_register,
        };
        const verbs_ctx *v = userdata;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(families); i++)
                r = families[i](s, v);
        return r;
}

int agent_register_verbs(agent *a) {
        a->verbs = (verbs_ctx){ .event = a->event,
                                .triage = a->triage,
                                .diagnose_queries = &a->diagnose_queries,
                                .audit = a->audit,
                                .incidents = a->incidents,
                                .engine = a->engine,
                                .drills = a->drills,
                                .guard = a->guard,
                                .notifier = a->notifier,
                                .observe = a->observe,
                                .fleet = a->fleet,
                                .status_queries = &a->status_queries,
                                .reload = core_reload,
                                .config = core_config,
                                .checks = core_checks,
                                .vici = core_vici,
                                .figures = core_figures,
                                .userdata = a };
        return agent_set_verbs(a, verbs_register, &a->verbs);
}
