/* What the control verbs use: a small context agent/main.c fills once and registers on the
 * control server (again after a reload that moved the socket). A verb family gets the
 * subsystems it reads and the core's operations as callbacks; the families that still read the
 * agent's own state (status, checks, incidents, the engine's and the drills' verbs) take
 * `agent`. */
#pragma once

#include "agent/checks/check.h"
#include "agent/config/config.h"
#include "agent/control/control.h"
#include "agent/notify/audit_trail.h"

typedef struct agent agent;
typedef struct check_set check_set;
typedef struct incident_store incident_store;

typedef struct verbs_ctx {
        agent *agent;
        audit_trail *audit; /* NULL: the audit log is not open */
        incident_store *incidents;
        /* The same atomic reload as SIGHUP: 0, or -errno with *ret_error (malloc'ed, may be
         * NULL) saying why; the old configuration then stays in force. */
        int (*reload)(void *userdata, char **ret_error);
        /* The configuration in force. */
        const ikeheal_config *(*config)(void *userdata);
        /* The running checks (a reload replaces them whole). */
        check_set *(*checks)(void *userdata);
        void *userdata;
} verbs_ctx;

/* agent/verbs/reload_verb.c */
int reload_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/audit_verb.c */
int audit_verb_register(control_server *s, const verbs_ctx *v);
/* agent/verbs/checks_verb.c; checks_verb_add_check(): one check as a section named after it
 * (`checks`, `diagnose`). */
int checks_verb_register(control_server *s, const verbs_ctx *v);
void checks_verb_add_check(vici_builder *b, check *c, bool with_detail);
/* agent/verbs/incidents_verb.c */
int incidents_verb_register(control_server *s, const verbs_ctx *v);
