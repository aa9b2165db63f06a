/* The one place every kind of check is registered: a const table of ops (agent/checks/check.h), one
 * per file under agent/checks/. */
#pragma once

#include <stddef.h>

#include "agent/checks/check.h"
#include "fault.h"

/* The ops of `kind`, or NULL. */
const check_ops *check_registry_find(const char *kind);
/* Every registered kind, in registration order (the diagnostic checklist: outermost and cheapest first). */
const check_ops *const *check_registry_all(size_t *ret_n);

/* What a kind of check is to those who read its findings (triage, the engine): the fault class
 * its findings point at when they name none, and the roles it plays. */
typedef enum check_role {
        CHECK_ROLE_LIVENESS = 1u << 0, /* charon's own liveness: facts answered_usec, connected_usec,
                                        * active_state (its unit active: the start is over) */
        CHECK_ROLE_LOADED = 1u << 1,   /* charon's connections loaded (OK: the start is over) */
        CHECK_ROLE_PEERS_SAY = 1u << 2, /* what peers report, read from charon's log */
        CHECK_ROLE_OUTSIDE = 1u << 3,  /* seen from outside only: a failure is inferred, not observed */
        CHECK_ROLE_SA_COUNT = 1u << 4, /* counts established IKE_SAs (fact ike_sas) */
        CHECK_ROLE_VRRP = 1u << 5,     /* this gateway's VRRP role (fact role: MASTER, BACKUP …) */
        CHECK_ROLE_EXTERNAL = 1u << 6, /* told by an external monitor (an independent vantage point) */
} check_role;

typedef struct check_traits {
        fault_class cls;   /* FAULT_NONE: its findings must name their class */
        unsigned roles;    /* check_role bits */
} check_traits;

/* The traits of `kind` (an unknown kind, or NULL: no class, no role). */
check_traits check_kind_traits(const char *kind);
/* Does `kind` play `role`? */
bool check_kind_is(const char *kind, check_role role);
