/* See finding.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/finding.h"

static const char *const status_names[_CHECK_STATUS_MAX] = {
        [CHECK_OK] = "ok",
        [CHECK_WARN] = "warn",
        [CHECK_FAIL] = "fail",
        [CHECK_UNKNOWN] = "unknown",
};

const char *check_status_to_string(check_status s) {
        return s < _CHECK_STATUS_MAX ? status_names[s] : NULL;
}

check_status check_status_worst(check_status a, check_status b) {
        static const int rank[_CHECK_STATUS_MAX] = {
                [CHECK_OK] = 0, [CHECK_WARN] = 1, [CHECK_UNKNOWN] = 2, [CHECK_FAIL] = 3,
        };
        return rank[a] >= rank[b] ? a : b;
}

int finding_new(finding **ret) {
        finding *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->status = CHECK_UNKNOWN;
        *ret = f;
        return 0;
}

finding *finding_free(finding *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_facts; i++) {
                free(f->facts[i].key);
                free(f->facts[i].value);
        }
        for (size_t i = 0; i < f->n_evidence; i++)
                free(f->evidence[i]);
        free(f->facts);
        free(f->evidence);
        free(f->summary);
        free(f);
        return NULL;
}

/* vasprintf, truncated to FINDING_TEXT_MAX so one noisy source cannot blow up a finding. */
static char *text_vformat(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        if (strlen(s) > FINDING_TEXT_MAX)
                strcpy(s + FINDING_TEXT_MAX - 3, "...");
        return s;
}

int finding_set(finding *f, check_status status, const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = text_vformat(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;
        free(f->summary);
        f->summary = s;
        f->status = status;
        return 0;
}

int finding_fact_set(finding *f, const char *key, const char *fmt, ...) {
        finding_fact *facts;
        va_list ap;
        char *v;

        va_start(ap, fmt);
        v = text_vformat(fmt, ap);
        va_end(ap);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_facts; i++)
                if (strcmp(f->facts[i].key, key) == 0) {
                        free(f->facts[i].value);
                        f->facts[i].value = v;
                        return 0;
                }
        if (f->n_facts >= FINDING_FACTS_MAX) {
                free(v);
                return -E2BIG;
        }
        facts = realloc(f->facts, (f->n_facts + 1) * sizeof(*facts));
        if (!facts) {
                free(v);
                return -ENOMEM;
        }
        f->facts = facts;
        f->facts[f->n_facts].key = strdup(key);
        if (!f->facts[f->n_facts].key) {
                free(v);
                return -ENOMEM;
        }
        f->facts[f->n_facts++].value = v;
        return 0;
}

const char *finding_fact_get(const finding *f, const char *key) {
        for (size_t i = 0; f && i < f->n_facts; i++)
                if (strcmp(f->facts[i].key, key) == 0)
                        return f->facts[i].value;
        return NULL;
}

int finding_evidence(finding *f, const char *fmt, ...) {
        char **e, *s;
        va_list ap;

        if (f->n_evidence >= FINDING_EVIDENCE_MAX) {
                f->n_evidence_dropped++;
                return 0;
        }
        va_start(ap, fmt);
        s = text_vformat(fmt, ap);
        va_end(ap);
        if (!s)
                return -ENOMEM;
        e = realloc(f->evidence, (f->n_evidence + 1) * sizeof(*e));
        if (!e) {
                free(s);
                return -ENOMEM;
        }
        f->evidence = e;
        f->evidence[f->n_evidence++] = s;
        return 0;
}
