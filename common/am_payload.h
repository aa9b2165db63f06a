/* Alertmanager's webhook payload (version 4), what a webhook receiver is POSTed when a group of
 * alerts fires or resolves, parsed into plain data with hard limits on everything the sender
 * controls: body size, JSON depth, number of alerts, labels per alert, name and value lengths.
 * Names must be Prometheus label names; values UTF-8 strings without NUL. Fields the format
 * may grow are ignored; a field of the wrong type is an error. An error says where: "3:14:
 * unexpected end of data" (line:col of the body) for JSON that does not parse,
 * "alerts[2].labels.instance: …" (the field) for JSON that is not such a payload. This module
 * does not log.
 *
 *   { "version": "4", "status": "firing", "receiver": "ikeheal", "groupKey": "{}:{…}",
 *     "truncatedAlerts": 0, "externalURL": "http://…", "groupLabels": {…},
 *     "commonLabels": {…}, "commonAnnotations": {…},
 *     "alerts": [ { "status": "firing", "labels": {…}, "annotations": {…},
 *                   "startsAt": "2026-12-06T10:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
 *                   "generatorURL": "http://…", "fingerprint": "b1e4c7…" } ] } */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct am_pair {
        char *name, *value;
} am_pair;

typedef struct am_alert {
        bool firing;          /* "firing"; false: "resolved" */
        am_pair *labels;      /* sorted by name */
        size_t n_labels;
        am_pair *annotations; /* sorted by name */
        size_t n_annotations;
        uint64_t starts_usec; /* µs since the epoch */
        uint64_t ends_usec;   /* 0: not given, or Go's zero time (a firing alert's usual endsAt) */
        char *fingerprint;    /* "" when not given */
        char *generator_url;  /* "" when not given */
} am_alert;

typedef struct am_webhook {
        bool firing; /* the group's status */
        char *receiver, *group_key, *external_url; /* "" when not given */
        uint64_t truncated;                         /* alerts Alertmanager left out (max_alerts) */
        am_alert *alerts;
        size_t n_alerts;
} am_webhook;

/* 0 in a field: its default. */
typedef struct am_limits {
        size_t max_bytes;  /* 1 MiB */
        size_t max_alerts; /* 1000 */
        size_t max_pairs;  /* labels, and annotations, per alert: 64 */
        size_t max_name;   /* bytes of a label or annotation name: 128 */
        size_t max_value;  /* bytes of a label value: 1024; of an annotation value: 8 times that */
} am_limits;

#define AM_ERROR_MAX 256

/* 0; -EMSGSIZE for a body over max_bytes, -EBADMSG for anything else wrong (error says what
 * and where), -ENOMEM. error (AM_ERROR_MAX bytes) is written on failure only. */
int am_webhook_parse(const char *data, size_t len, const am_limits *limits, am_webhook **ret, char *error);
am_webhook *am_webhook_free(am_webhook *w);
DEFINE_FREE_FUNC(am_webhook, am_webhook_free);

/* A label's or annotation's value, NULL if the alert has none of that name. */
const char *am_alert_label(const am_alert *a, const char *name);
const char *am_alert_annotation(const am_alert *a, const char *name);
