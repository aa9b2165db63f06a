/* The body of Alertmanager's v2 API "POST /api/v2/alerts": a JSON array of alerts, each with
 * labels (its identity: Alertmanager groups, deduplicates and silences by them), annotations,
 * startsAt, and endsAt (in the past or now: resolved; absent: firing until Alertmanager's
 * resolve_timeout unless posted again). One incident of the agent is one alert:
 *
 *   labels       alertname="IkehealIncident", incident (its id), class, scope, severity,
 *                reason, instance (the gateway), peers (IKE identities, sorted, distinct,
 *                joined by ","; absent when none)
 *   annotations  summary, evidence, runbook (each absent when not given)
 *
 * The labels must stay the same across posts of one incident (a changed label is another
 * alert to Alertmanager); what changes goes into annotations. Output is deterministic: keys in
 * the order above. This module does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct am_incident {
        const char *id;                   /* required */
        const char *class_name, *scope;   /* required */
        const char *severity, *reason;    /* required */
        const char *instance;             /* NULL: label absent */
        const char *const *peers;
        size_t n_peers;
        const char *summary, *evidence, *runbook; /* NULL: annotation absent */
        const char *generator_url;                /* NULL: absent */
        uint64_t starts_usec;                     /* required */
        uint64_t ends_usec;                       /* 0: firing */
} am_incident;

#define AM_INCIDENT_ALERTNAME "IkehealIncident"

/* Label values past this are refused rather than cut (a cut value would be another alert). */
#define AM_LABEL_VALUE_MAX 1024
#define AM_ANNOTATION_MAX 8192

/* The body for n incidents (malloc'ed, NUL-terminated). -EINVAL for a required field missing,
 * a value that is not UTF-8 or too long, a peer containing ','; -ENOMEM; -ELIBACC or -ELIBBAD
 * when json-c cannot be loaded (jsonc_lib_error() says why). */
int am_alert_body(const am_incident *incidents, size_t n, char **ret_body, size_t *ret_len);
