/* A finding: what one run of one check saw. Status, a one-line summary, facts (ordered
 * key → value, the machine-readable part diagnosis matches on), evidence (log lines, counters,
 * rule handles: what a human reads), and when it was observed. Bounded: a check cannot grow a
 * finding without limit, whatever the system feeds it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define FINDING_FACTS_MAX 64u
#define FINDING_EVIDENCE_MAX 32u
#define FINDING_TEXT_MAX 1024u /* bytes of one summary, fact value or evidence line */

typedef enum check_status {
        CHECK_OK,
        CHECK_WARN,
        CHECK_FAIL,
        CHECK_UNKNOWN, /* the check could not run: no permission, file missing… (says why) */
        _CHECK_STATUS_MAX,
} check_status;

typedef struct finding_fact {
        char *key;
        char *value;
} finding_fact;

typedef struct finding {
        check_status status;
        char *summary;
        finding_fact *facts;
        size_t n_facts;
        char **evidence;
        size_t n_evidence;
        size_t n_evidence_dropped;
        uint64_t started_usec;  /* CLOCK_REALTIME */
        uint64_t finished_usec; /* CLOCK_REALTIME */
} finding;

int finding_new(finding **ret);
finding *finding_free(finding *f);
DEFINE_FREE_FUNC(finding, finding_free);

/* Set status and summary (replacing earlier ones). */
int finding_set(finding *f, check_status status, const char *fmt, ...) _printf_(3, 4);
/* Add or replace a fact. -E2BIG past FINDING_FACTS_MAX. */
int finding_fact_set(finding *f, const char *key, const char *fmt, ...) _printf_(3, 4);
const char *finding_fact_get(const finding *f, const char *key);
/* Append an evidence line; past FINDING_EVIDENCE_MAX lines are counted, not kept. */
int finding_evidence(finding *f, const char *fmt, ...) _printf_(2, 3);

const char *check_status_to_string(check_status s);
/* The worse of two: FAIL > UNKNOWN > WARN > OK. */
check_status check_status_worst(check_status a, check_status b);
