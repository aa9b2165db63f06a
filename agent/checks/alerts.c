/* The alerts check (kind "alerts"): what an external monitor says about this gateway —
 * Alertmanager's webhook (POST /alerts, agent/observe/) hands each alert to
 * alerts_check_take(), and the check reports the firing ones as its finding, so diagnosis
 * weighs them with every local check. Its role is "outside": an external blackbox probe that
 * cannot reach UDP 500 while nothing on this host drops it is the boundary firewall or the
 * path, and, told by an independent vantage point, diagnosis gives it a high confidence.
 *
 * An alert's labels say what it means (documented in doc/observability.md):
 *   alertname        required; the reason when ikeheal_reason is absent
 *   ikeheal_class    a fault class (common/fault.h names); default "reachability"
 *   ikeheal_reason   a short token (udp500_silent, …)
 *   ikeheal_scope    global | local; default global for reachability and firewall
 *   ikeheal_peers    peers concerned (IKE identities or addresses, comma-separated)
 *   severity         critical/error/page: failing; warning: a warning; default failing
 *   instance         with the check's `instance` parameter: alerts about other instances are
 *                    refused
 * and the summary (or description) annotation is its evidence. An alert is known by its
 * fingerprint; firing ones are held until resolved, until their endsAt, or for `stale_after`
 * (default 1h) after Alertmanager last sent them — it repeats firing alerts, so a silent
 * monitor cannot pin an incident open forever. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/alerts.h"
#include "am_payload.h"
#include "fault.h"
#include "now.h"
#include "yaml_bind.h"

typedef struct ext_alert {
        char key[80];
        char name[64], cls[32], reason[64], scope[16], peers[256], instance[128], summary[256];
        check_status status;
        uint64_t starts_usec, ends_usec, seen_usec;
} ext_alert;

typedef struct alerts_state {
        char *instance;          /* param: only alerts about this instance (NULL: any) */
        uint64_t stale_after_usec;
        check *check;
        ext_alert alerts[ALERTS_MAX];
        size_t n;
        uint64_t taken, resolved;
} alerts_state;

#define SOFF(f) offsetof(alerts_state, f)

static const yfield alerts_fields[] = {
        { "instance", YF_STRING, SOFF(instance), .max = 127 },
        { "stale_after", YF_DURATION, SOFF(stale_after_usec), .min = 60 * USEC_PER_SEC, .max = 7 * 24 * 3600 * USEC_PER_SEC },
        {}
};

static int alerts_parse(void *state, const ynode *params, ydiag *d) {
        alerts_state *s = state;
        s->stale_after_usec = 3600 * USEC_PER_SEC;
        return ybind(params, alerts_fields, s, d);
}

static int alerts_attach(void *state, check *c, const check_env *env) {
        alerts_state *s = state;
        s->check = c;
        return 0;
}

static bool token_ok(const char *v) {
        if (!v || !v[0] || strlen(v) >= 64)
                return false;
        for (const char *p = v; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-' || *p == '.'))
                        return false;
        return true;
}

static void key_of(const am_alert *a, char *buf, size_t n) {
        if (a->fingerprint && a->fingerprint[0]) {
                (void) snprintf(buf, n, "%s", a->fingerprint);
                return;
        }
        /* no fingerprint: the labels are the alert's identity (FNV-1a over them, sorted) */
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < a->n_labels; i++)
                for (const char *p = a->labels[i].name;; p = a->labels[i].value) {
                        for (; *p; p++)
                                h = (h ^ (unsigned char) *p) * 1099511628211ULL;
                        h = (h ^ 0xff) * 1099511628211ULL;
                        if (p == a->labels[i].value + strlen(a->labels[i].value))
                                break;
                }
        (void) snprintf(buf, n, "labels:%016llx", (unsigned long long) h);
}

int alerts_check_take(check *c, const am_alert *a, char *why, size_t n) {
        alerts_state *s;
        char key[80];
        fault_class cls = FAULT_REACHABILITY;
        const char *v;
        size_t i;

        if (!c || check_get_ops(c) != &alerts_check_ops)
                return -ENOTTY;
        s = check_ops_state(c);
        key_of(a, key, sizeof(key));
        for (i = 0; i < s->n; i++)
                if (strcmp(s->alerts[i].key, key) == 0)
                        break;
        if (!a->firing) {
                if (i == s->n)
                        return 1;
                memmove(&s->alerts[i], &s->alerts[i + 1], (s->n - i - 1) * sizeof(s->alerts[0]));
                s->n--;
                s->resolved++;
                return 0;
        }
        const char *name = am_alert_label(a, "alertname");
        if (!token_ok(name)) {
                (void) snprintf(why, n, "alertname: missing or not a plain name");
                return -EINVAL;
        }
        v = am_alert_label(a, "ikeheal_class");
        if (v && (fault_class_from_string(v, &cls) < 0 || cls == FAULT_NONE)) {
                (void) snprintf(why, n, "ikeheal_class '%.40s' is no fault class", v);
                return -EINVAL;
        }
        v = am_alert_label(a, "ikeheal_reason");
        if (v && !token_ok(v)) {
                (void) snprintf(why, n, "ikeheal_reason: not a plain token");
                return -EINVAL;
        }
        const char *scope = am_alert_label(a, "ikeheal_scope");
        if (scope && strcmp(scope, "global") != 0 && strcmp(scope, "local") != 0) {
                (void) snprintf(why, n, "ikeheal_scope '%.20s': expected global or local", scope);
                return -EINVAL;
        }
        const char *inst = am_alert_label(a, "instance");
        if (s->instance && inst && strcmp(inst, s->instance) != 0) {
                (void) snprintf(why, n, "instance '%.60s' is not this gateway ('%s')", inst, s->instance);
                return -EINVAL;
        }
        if (i == s->n) {
                if (s->n >= ALERTS_MAX) {
                        (void) snprintf(why, n, "%u external alerts held already", ALERTS_MAX);
                        return -ENOSPC;
                }
                s->n++;
                s->taken++;
        }
        ext_alert *e = &s->alerts[i];
        *e = (ext_alert){ .starts_usec = a->starts_usec, .ends_usec = a->ends_usec, .seen_usec = real_usec() };
        (void) snprintf(e->key, sizeof(e->key), "%s", key);
        (void) snprintf(e->name, sizeof(e->name), "%s", name);
        (void) snprintf(e->cls, sizeof(e->cls), "%s", fault_class_to_string(cls));
        (void) snprintf(e->reason, sizeof(e->reason), "%s", v ? v : name);
        if (scope)
                (void) snprintf(e->scope, sizeof(e->scope), "%s", scope);
        else if (cls == FAULT_REACHABILITY || cls == FAULT_FIREWALL)
                (void) snprintf(e->scope, sizeof(e->scope), "global");
        (void) snprintf(e->peers, sizeof(e->peers), "%.255s", am_alert_label(a, "ikeheal_peers") ?: "");
        (void) snprintf(e->instance, sizeof(e->instance), "%.127s", inst ?: "");
        (void) snprintf(e->summary, sizeof(e->summary), "%.255s",
                        am_alert_annotation(a, "summary") ?: am_alert_annotation(a, "description") ?: "");
        const char *sev = am_alert_label(a, "severity");
        e->status = sev && (strcmp(sev, "warning") == 0 || strcmp(sev, "info") == 0) ? CHECK_WARN : CHECK_FAIL;
        return 0;
}

static int alerts_start(void *state, const check_env *env, check_run *run) {
        alerts_state *s = state;
        uint64_t now = real_usec();
        const ext_alert *top = NULL;
        finding *f = NULL;

        /* forget what ended or went stale */
        for (size_t i = 0; i < s->n;) {
                const ext_alert *e = &s->alerts[i];
                if ((e->ends_usec && e->ends_usec < now && e->ends_usec > e->starts_usec) ||
                    now - e->seen_usec > s->stale_after_usec) {
                        memmove(&s->alerts[i], &s->alerts[i + 1], (s->n - i - 1) * sizeof(s->alerts[0]));
                        s->n--;
                } else
                        i++;
        }
        if (finding_new(&f) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                const ext_alert *e = &s->alerts[i];
                if (!top || (e->status == CHECK_FAIL && top->status != CHECK_FAIL))
                        top = e;
                (void) finding_evidence(f, "external alert %s (%s, %s)%s%s%s%s", e->name, e->cls, e->reason,
                                        e->instance[0] ? " on " : "", e->instance, e->summary[0] ? ": " : "", e->summary);
        }
        (void) finding_fact_set(f, "external_alerts", "%zu", s->n);
        if (!top) {
                (void) finding_set(f, CHECK_OK, "no external alert firing (%llu taken, %llu resolved since start)",
                                   (unsigned long long) s->taken, (unsigned long long) s->resolved);
        } else {
                (void) finding_set(f, top->status, "external monitor: %s firing (%s)%s%s", top->name, top->reason,
                                   top->summary[0] ? ": " : "", top->summary);
                (void) finding_fact_set(f, CHECK_FACT_CLASS, "%s", top->cls);
                (void) finding_fact_set(f, CHECK_FACT_REASON, "%s", top->reason);
                if (top->scope[0])
                        (void) finding_fact_set(f, CHECK_FACT_SCOPE, "%s", top->scope);
                if (top->peers[0])
                        (void) finding_fact_set(f, CHECK_FACT_PEERS, "%s", top->peers);
                (void) finding_fact_set(f, "alertname", "%s", top->name);
        }
        check_run_done(run, f);
        return 0;
}

static void alerts_cancel(void *state) {
}

static void alerts_done(void *state) {
        alerts_state *s = state;
        free(s->instance);
        s->instance = NULL;
}

const check_ops alerts_check_ops = {
        .kind = "alerts",
        .description = "what an external monitor (Alertmanager's webhook, POST /alerts) says about this gateway",
        .state_size = sizeof(alerts_state),
        .parse = alerts_parse,
        .attach = alerts_attach,
        .start = alerts_start,
        .cancel = alerts_cancel,
        .done = alerts_done,
};
