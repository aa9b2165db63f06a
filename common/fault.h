/* The failure classes ikeheal names (runbooks/README.md lists them for the `class` key),
 * and the scopes of a fault. A check that sees trouble says which class it points at in its
 * finding's facts (fact "class", see agent/checks/check.h); diagnosis (agent/triage/diagnosis.c) picks the
 * root cause among them; runbooks match on the same names. The string forms are part of the
 * interface (config, runbooks, --json): never rename one. */
#pragma once

typedef enum fault_class {
        FAULT_NONE,
        FAULT_REACHABILITY,      /* IKE not answering from outside, cause not yet known */
        FAULT_FIREWALL,          /* UDP 500/4500 or ESP dropped by nftables or the boundary */
        FAULT_DAEMON,            /* charon not running, crashed, restarting */
        FAULT_DAEMON_CONFIG,     /* charon's configuration broken or not loadable */
        FAULT_CERTIFICATE,       /* expired, not yet valid, chain incomplete, wrong EKU, key */
        FAULT_REVOCATION,        /* CRL stale, CDP/OCSP unreachable, revoked */
        FAULT_CLOCK,             /* clock unsynchronised or skewed */
        FAULT_PROPOSAL,          /* NO_PROPOSAL_CHOSEN: IKE or ESP proposals disagree */
        FAULT_AUTHENTICATION,    /* AUTHENTICATION_FAILED: PSK, identity */
        FAULT_TRAFFIC_SELECTORS, /* TS_UNACCEPTABLE: subnets disagree */
        FAULT_NAT_MTU,           /* NAT rewriting, fragments lost, MTU */
        FAULT_RESOURCE,          /* TEMPORARY_FAILURE, limits, load */
        FAULT_CONFIG_CHANGE,     /* something changed recently (evidence, rarely a root cause) */
        FAULT_TUNNEL,            /* a site-to-site tunnel (CHILD_SA) this gateway must keep up is down */
        FAULT_INTEGRITY,         /* the agent's own records damaged or cut (its audit log) */
        _FAULT_CLASS_MAX,
} fault_class;

typedef enum fault_scope {
        FAULT_SCOPE_UNKNOWN,
        FAULT_SCOPE_LOCAL,  /* some peers, subnets or client kinds */
        FAULT_SCOPE_GLOBAL, /* everyone */
        _FAULT_SCOPE_MAX,
} fault_scope;

/* "firewall", "daemon", … ; NULL for an out-of-range value. */
const char *fault_class_to_string(fault_class c);
/* -EINVAL for an unknown name. */
int fault_class_from_string(const char *s, fault_class *ret);
const char *fault_scope_to_string(fault_scope s);
int fault_scope_from_string(const char *s, fault_scope *ret);
