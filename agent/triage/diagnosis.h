/* Diagnosis: from the checks' latest findings to the problems they add up to — each a root
 * cause with its class (common/fault.h), scope (one peer or everyone), confidence and evidence.
 * One root cause gives one problem, not ten: a dead charon also makes the probe fail, the SA
 * count collapse and the logs fall silent; those findings become the dead charon's evidence.
 *
 * The rules are a triage order: impact first (is everyone failing?),
 * then causes from the outermost in —
 *   daemon down or hung        → explains reachability, SA collapse, resource, NAT/MTU
 *   nftables drops 500/4500/ESP→ explains reachability, SA collapse, NAT/MTU
 *   clock skewed               → explains every time-dependent certificate/revocation verdict
 *   gateway certificate broken → explains authentication failures
 *   reachability unexplained   → the boundary firewall or the path (class firewall, lower
 *                                confidence: nothing on this host drops it) — held while
 *                                charon has not answered a request since the probe began
 *                                (the daemon check's answered_usec): hung is silent too
 * and for what peers report (proposal, authentication, traffic selectors, NAT/MTU): global when
 * the probe fails, the SA count collapsed, or two or more peers fail while none is up; local
 * (with the peers' names) when others are connected.
 *
 * Pure: no I/O, no clock, no logging; the agent feeds it and keeps incidents (incident.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/checks/finding.h"
#include "fault.h"

#define DIAGNOSIS_PROBLEMS_MAX 16u
#define DIAGNOSIS_WITHHELD_MAX 8u
#define DIAGNOSIS_EVIDENCE_MAX 24u

/* One check's current state as diagnosis sees it. */
typedef struct diagnosis_input {
        const char *check;      /* name */
        const char *kind;
        check_status reported;  /* after hysteresis */
        const finding *finding; /* latest, may be NULL (not run yet) */
} diagnosis_input;

typedef struct diagnosis_problem {
        fault_class cls;
        fault_scope scope;
        check_status severity;  /* CHECK_FAIL or CHECK_WARN */
        unsigned confidence;    /* percent */
        char reason[64];        /* the root finding's reason token */
        char peers[512];        /* local: the peers concerned, comma-separated */
        char root_check[64];    /* the check whose finding is the cause */
        char summary[512];
        char *evidence[DIAGNOSIS_EVIDENCE_MAX]; /* "check: summary", then selected lines */
        size_t n_evidence;
        char explains[256];     /* other checks this cause accounts for, comma-separated */
} diagnosis_problem;

typedef struct diagnosis {
        diagnosis_problem problems[DIAGNOSIS_PROBLEMS_MAX];
        size_t n_problems;
        fault_scope impact;          /* the worst scope of any FAIL problem */
        char recent_changes[512];    /* config_change evidence, shown with every problem */
        /* checks whose failure this run neither counts nor clears: the IKE probe failed while
         * charon has not answered here since it began (the daemon check decides that first) */
        char withheld[DIAGNOSIS_WITHHELD_MAX][64];
        size_t n_withheld;
} diagnosis;

/* Fill `out` (which the caller then releases with diagnosis_done). -ENOMEM only. Problems are
 * ordered: FAIL before WARN, global before local, then by the triage order of their class. */
int diagnosis_run(const diagnosis_input *in, size_t n, diagnosis *out);
void diagnosis_done(diagnosis *d);
/* Was the failure of check `name` withheld this run (undecided: an incident it found stays as it is,
 * neither resolving nor settling)? */
bool diagnosis_withheld(const diagnosis *d, const char *name);

/* A problem's identity across runs: its class (one root cause, one incident). */
const char *diagnosis_problem_signature(const diagnosis_problem *p);
