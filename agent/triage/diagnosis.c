/* See diagnosis.h. Three passes over the symptoms (non-OK findings): collect them with the
 * impact signals (probe failing, SA collapse, peers still up), decide which causes explain
 * which other symptoms, then merge what is left into one problem per class and give each its
 * scope and confidence. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/registry.h"
#include "agent/triage/diagnosis.h"
#include "agent/checks/check.h"

#define SYMPTOMS_MAX 64u

typedef struct symptom {
        const diagnosis_input *in;
        fault_class cls;
        const char *reason;
        const char *peers;     /* fact "peers", may be NULL */
        fault_scope scope;     /* from the finding, or UNKNOWN */
        bool clock_sensitive;
        bool from_peers;       /* reported by what peers do (logs), not by our own state */
        fault_class explained_by; /* FAULT_NONE: a root of its own */
} symptom;

/* The triage order: outermost and cheapest first. */
static unsigned class_rank(fault_class c) {
        static const fault_class order[] = {
                FAULT_FIREWALL, FAULT_REACHABILITY, FAULT_DAEMON, FAULT_DAEMON_CONFIG,
                FAULT_CLOCK, FAULT_CERTIFICATE, FAULT_REVOCATION, FAULT_NAT_MTU,
                FAULT_PROPOSAL, FAULT_AUTHENTICATION, FAULT_TRAFFIC_SELECTORS, FAULT_RESOURCE,
                FAULT_CONFIG_CHANGE, FAULT_TUNNEL, FAULT_INTEGRITY,
        };
        for (unsigned i = 0; i < ELEMENTSOF(order); i++)
                if (order[i] == c)
                        return i;
        return ELEMENTSOF(order);
}

/* A check that does not name a class still points somewhere by what it is. */
static fault_class kind_default_class(const char *kind) {
        return check_kind_traits(kind).cls;
}

static bool fact_yes(const finding *f, const char *key) {
        const char *v = finding_fact_get(f, key);
        return v && (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Is `peer` one of the comma-separated `list`? */
static bool list_has(const char *list, const char *peer, size_t len) {
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                if (n == len && memcmp(p, peer, len) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* Is the peer at address `addr` one of `list`, named either by its address or as
 * "identity@address" (the logs check's names)? */
static bool list_has_addr(const char *list, const char *addr, size_t len) {
        if (list_has(list, addr, len))
                return true;
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, ','), *end = e ? e : p + strlen(p), *at = memrchr(p, '@', (size_t) (end - p));
                if (at && (size_t) (end - at - 1) == len && memcmp(at + 1, addr, len) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* Append the peers of `add` not yet in buf (comma-separated, bounded). */
static void list_merge(char *buf, size_t size, const char *add) {
        for (const char *p = add; p && *p;) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t) (e - p) : strlen(p), used = strlen(buf);
                if (n > 0 && !list_has(buf, p, n) && used + n + 2 < size) {
                        if (used)
                                buf[used++] = ',';
                        memcpy(buf + used, p, n);
                        buf[used + n] = 0;
                }
                p = e ? e + 1 : NULL;
        }
}

static size_t list_count(const char *list) {
        size_t n = 0;
        for (const char *p = list; p && *p; p++)
                if (p == list || p[-1] == ',')
                        n++;
        return n;
}

/* One evidence line: a, sep, b. */
static int evidence_add(diagnosis_problem *p, const char *a, const char *sep, const char *b) {
        char *s;

        if (p->n_evidence >= DIAGNOSIS_EVIDENCE_MAX)
                return 0;
        if (asprintf(&s, "%s%s%s", a, sep, b ?: "") < 0)
                return -ENOMEM;
        p->evidence[p->n_evidence++] = s;
        return 0;
}

static int evidence_from(diagnosis_problem *p, const symptom *s, unsigned lines) {
        const finding *f = s->in->finding;
        int r = evidence_add(p, s->in->check, ": ", f->summary);
        for (size_t i = 0; r >= 0 && i < f->n_evidence && i < lines; i++)
                r = evidence_add(p, "  ", "", f->evidence[i]);
        return r;
}

static diagnosis_problem *problem_for(diagnosis *d, fault_class cls) {
        for (size_t i = 0; i < d->n_problems; i++)
                if (d->problems[i].cls == cls)
                        return &d->problems[i];
        if (d->n_problems >= DIAGNOSIS_PROBLEMS_MAX)
                return NULL;
        diagnosis_problem *p = &d->problems[d->n_problems++];
        *p = (diagnosis_problem){ .cls = cls, .severity = CHECK_WARN };
        return p;
}

static bool class_is_global_by_nature(fault_class c) {
        return c == FAULT_DAEMON || c == FAULT_DAEMON_CONFIG || c == FAULT_FIREWALL ||
               c == FAULT_CLOCK || c == FAULT_REACHABILITY;
}

/* The daemon check says when charon last answered a request (fact answered_usec) and when its
 * VICI connection last came up (connected_usec). A probe run that began after the last answer
 * went silent while charon's own liveness is unconfirmed; one that began before charon came
 * (back) up met a charon that was not there. Neither is evidence against the boundary yet.
 * Without a daemon check, or one that never asked, nothing is held. */
static bool daemon_unconfirmed(const diagnosis_input *in, size_t n, const finding *probe) {
        for (size_t i = 0; i < n; i++) {
                const char *a, *c;
                if (!check_kind_is(in[i].kind, CHECK_ROLE_LIVENESS) || !in[i].finding)
                        continue;
                a = finding_fact_get(in[i].finding, "answered_usec");
                c = finding_fact_get(in[i].finding, "connected_usec");
                if ((a && strtoull(a, NULL, 10) < probe->started_usec) ||
                    (c && strtoull(c, NULL, 10) > probe->started_usec))
                        return true;
        }
        return false;
}

static int problem_cmp(const void *a, const void *b) {
        const diagnosis_problem *x = a, *y = b;
        if (x->severity != y->severity)
                return x->severity == CHECK_FAIL ? -1 : 1;
        if (x->scope != y->scope)
                return x->scope == FAULT_SCOPE_GLOBAL ? -1 : y->scope == FAULT_SCOPE_GLOBAL ? 1 : 0;
        return (int) class_rank(x->cls) - (int) class_rank(y->cls);
}

int diagnosis_run(const diagnosis_input *in, size_t n, diagnosis *out) {
        symptom sy[SYMPTOMS_MAX];
        size_t ns = 0;
        bool probe_fails = false, sa_collapse = false;
        bool have[_FAULT_CLASS_MAX] = {}, seen[_FAULT_CLASS_MAX] = {};
        char peers_up[1024] = "";
        int r;

        *out = (diagnosis){};

        /* A VRRP standby serves nobody: its SA count falling to nothing is the handover, not a
         * collapse. */
        bool standby = false;
        for (size_t i = 0; i < n; i++)
                if (in[i].finding && check_kind_is(in[i].kind, CHECK_ROLE_VRRP)) {
                        const char *role = finding_fact_get(in[i].finding, "role");
                        standby |= role && strcmp(role, "BACKUP") == 0;
                }

        /* 1. symptoms and impact signals */
        for (size_t i = 0; i < n; i++) {
                const finding *f = in[i].finding;
                if (!f)
                        continue;
                list_merge(peers_up, sizeof(peers_up), finding_fact_get(f, "peers_up"));
                if (in[i].reported != CHECK_FAIL && in[i].reported != CHECK_WARN)
                        continue;
                if (f->status == CHECK_OK)
                        continue; /* hysteresis still holds the old verdict; the finding does not */
                const char *reason = finding_fact_get(f, CHECK_FACT_REASON);
                fault_class cls;
                if (fault_class_from_string(finding_fact_get(f, CHECK_FACT_CLASS), &cls) < 0)
                        cls = kind_default_class(in[i].kind);
                if (reason && strcmp(reason, "sa_collapse") == 0 && standby)
                        continue;
                if (reason && strcmp(reason, "sa_collapse") == 0 && in[i].reported == CHECK_FAIL) {
                        sa_collapse = true;
                        if (cls == FAULT_NONE)
                                continue; /* an impact, not a cause */
                }
                if (cls == FAULT_NONE)
                        continue;
                if (cls == FAULT_CONFIG_CHANGE) {
                        /* "something changed" is evidence for every problem, rarely a cause */
                        size_t used = strlen(out->recent_changes);
                        (void) snprintf(out->recent_changes + used, sizeof(out->recent_changes) - used,
                                        "%s%s: %s", used ? "; " : "", in[i].check,
                                        f->summary ? f->summary : "");
                        if (in[i].reported != CHECK_FAIL)
                                continue;
                }
                if (ns >= SYMPTOMS_MAX)
                        break;
                fault_scope scope = FAULT_SCOPE_UNKNOWN;
                (void) fault_scope_from_string(finding_fact_get(f, CHECK_FACT_SCOPE), &scope);
                sy[ns++] = (symptom){
                        .in = &in[i],
                        .cls = cls,
                        .reason = reason,
                        .peers = finding_fact_get(f, CHECK_FACT_PEERS),
                        .scope = scope,
                        .clock_sensitive = fact_yes(f, "clock_sensitive") ||
                                           (reason && (strcmp(reason, "expired") == 0 ||
                                                       strcmp(reason, "not_yet_valid") == 0)),
                        .from_peers = check_kind_is(in[i].kind, CHECK_ROLE_PEERS_SAY),
                };
                if (cls == FAULT_REACHABILITY && in[i].reported == CHECK_FAIL)
                        probe_fails = true;
                if (in[i].reported == CHECK_FAIL && !sy[ns - 1].from_peers)
                        have[cls] = true;
                seen[cls] = true;
        }

        /* 2. which cause explains which symptom */
        for (size_t i = 0; i < ns; i++) {
                symptom *s = &sy[i];
                switch (s->cls) {
                case FAULT_REACHABILITY:
                case FAULT_NAT_MTU:
                case FAULT_RESOURCE:
                case FAULT_PROPOSAL:
                case FAULT_TRAFFIC_SELECTORS:
                        if (have[FAULT_DAEMON])
                                s->explained_by = FAULT_DAEMON;
                        else if (have[FAULT_FIREWALL] && s->cls != FAULT_PROPOSAL &&
                                 s->cls != FAULT_TRAFFIC_SELECTORS)
                                s->explained_by = FAULT_FIREWALL;
                        break;
                case FAULT_DAEMON_CONFIG:
                        /* what peers were told ("no IKE config") says nothing while charon
                         * itself is down: it is the dead daemon, or its restart window */
                        if (s->from_peers && have[FAULT_DAEMON])
                                s->explained_by = FAULT_DAEMON;
                        break;
                case FAULT_CERTIFICATE:
                case FAULT_REVOCATION:
                        if (have[FAULT_CLOCK] && s->clock_sensitive)
                                s->explained_by = FAULT_CLOCK;
                        break;
                case FAULT_AUTHENTICATION:
                        if (have[FAULT_DAEMON])
                                s->explained_by = FAULT_DAEMON;
                        else if (have[FAULT_CERTIFICATE])
                                s->explained_by = FAULT_CERTIFICATE;
                        else if (have[FAULT_CLOCK])
                                s->explained_by = FAULT_CLOCK;
                        break;
                case FAULT_TUNNEL: {
                        /* a tunnel down because charon is, or IKE is dropped here, or for what
                         * charon said about it (its peer refused our proposal, our credential …)
                         * when that is a problem of its own */
                        fault_class said;
                        if (have[FAULT_DAEMON])
                                s->explained_by = FAULT_DAEMON;
                        else if (have[FAULT_FIREWALL])
                                s->explained_by = FAULT_FIREWALL;
                        else if (fault_class_from_string(finding_fact_get(s->in->finding, "charon_class"), &said) >= 0 &&
                                 said != FAULT_TUNNEL && said != FAULT_NONE && seen[said])
                                s->explained_by = said;
                        break;
                }
                default:
                        break;
                }
        }
        /* A key readable by others is one cause seen twice: by the certificate check
         * (key_permissions) and by the config check (unsafe_permissions, which names every
         * unsafe file). One incident: the config view, the certificate's as its evidence. */
        for (size_t i = 0; i < ns; i++)
                if (sy[i].cls == FAULT_DAEMON_CONFIG && !sy[i].from_peers && sy[i].reason &&
                    strcmp(sy[i].reason, "unsafe_permissions") == 0)
                        for (size_t k = 0; k < ns; k++)
                                if (sy[k].cls == FAULT_CERTIFICATE && sy[k].explained_by == FAULT_NONE && sy[k].reason &&
                                    strcmp(sy[k].reason, "key_permissions") == 0)
                                        sy[k].explained_by = FAULT_DAEMON_CONFIG;
        /* Peers told "no IKE config" while the conns check sees every connection loaded: they
         * tried while charon was (re)loading its configuration. Not a configuration fault. */
        for (size_t i = 0; i < n; i++)
                if (check_kind_is(in[i].kind, CHECK_ROLE_LOADED) && in[i].reported == CHECK_OK)
                        for (size_t k = 0; k < ns; k++)
                                if (sy[k].from_peers && sy[k].cls == FAULT_DAEMON_CONFIG)
                                        sy[k].cls = FAULT_NONE; /* dropped */
        /* the probe failing with nothing on this host to blame: the boundary or the path —
         * unless charon has not answered anything since the probe began: a hung charon is
         * silent too, and the daemon check decides that first */
        for (size_t i = 0; i < ns; i++) {
                if (sy[i].cls != FAULT_REACHABILITY || sy[i].explained_by != FAULT_NONE)
                        continue;
                if (!daemon_unconfirmed(in, n, sy[i].in->finding)) {
                        sy[i].cls = FAULT_FIREWALL;
                        continue;
                }
                /* undecided, not gone: an incident the probe found before stays as it is */
                sy[i].cls = FAULT_NONE;
                if (out->n_withheld < DIAGNOSIS_WITHHELD_MAX)
                        (void) snprintf(out->withheld[out->n_withheld++], sizeof(out->withheld[0]), "%s", sy[i].in->check);
        }

        /* a tunnel is explained away only by a cause that stands as a problem of its own */
        for (size_t i = 0; i < ns; i++) {
                bool stands = false;
                if (sy[i].cls != FAULT_TUNNEL || sy[i].explained_by == FAULT_NONE)
                        continue;
                for (size_t k = 0; k < ns && !stands; k++)
                        stands = sy[k].cls == sy[i].explained_by && sy[k].explained_by == FAULT_NONE;
                if (!stands)
                        sy[i].explained_by = FAULT_NONE;
        }

        /* 3. one problem per root class */
        for (size_t i = 0; i < ns; i++) {
                symptom *s = &sy[i];
                if (s->explained_by != FAULT_NONE || s->cls == FAULT_NONE)
                        continue;
                diagnosis_problem *p = problem_for(out, s->cls);
                if (!p)
                        break;
                bool first = !p->root_check[0];
                if (s->in->reported == CHECK_FAIL)
                        p->severity = CHECK_FAIL;
                if (first || (s->in->reported == CHECK_FAIL && !s->from_peers)) {
                        (void) snprintf(p->root_check, sizeof(p->root_check), "%s", s->in->check);
                        (void) snprintf(p->reason, sizeof(p->reason), "%s",
                                        s->reason ? s->reason : "");
                        (void) snprintf(p->summary, sizeof(p->summary), "%s",
                                        s->in->finding->summary ? s->in->finding->summary : "");
                }
                list_merge(p->peers, sizeof(p->peers), s->peers);
                if (s->scope > p->scope)
                        p->scope = s->scope;
                /* seen directly on this host: 90; told by peers' logs or an external monitor:
                 * 80; only inferred (the probe fails and nothing here drops it): 50, or 85 when
                 * an external monitor's own probe says so (an independent vantage point on the
                 * far side of the boundary) */
                bool external = check_kind_is(s->in->kind, CHECK_ROLE_EXTERNAL);
                bool inferred = check_kind_is(s->in->kind, CHECK_ROLE_OUTSIDE) && s->cls == FAULT_FIREWALL;
                unsigned conf = inferred ? (external ? 85 : 50) : (s->from_peers || external) ? 80 : 90;
                if (conf > p->confidence)
                        p->confidence = conf;
                if (inferred) /* the probe's own reason (udp4500_silent) stays in the evidence */
                        (void) snprintf(p->reason, sizeof(p->reason), "boundary_or_path");
                r = evidence_from(p, s, 4);
                if (r < 0)
                        return r;
        }
        /* explained symptoms become their cause's evidence */
        for (size_t i = 0; i < ns; i++) {
                symptom *s = &sy[i];
                if (s->explained_by == FAULT_NONE)
                        continue;
                for (size_t j = 0; j < out->n_problems; j++) {
                        diagnosis_problem *p = &out->problems[j];
                        if (p->cls != s->explained_by)
                                continue;
                        size_t used = strlen(p->explains);
                        (void) snprintf(p->explains + used, sizeof(p->explains) - used, "%s%s",
                                        used ? "," : "", s->in->check);
                        r = evidence_from(p, s, 1);
                        if (r < 0)
                                return r;
                }
        }

        /* 4. scope */
        for (size_t i = 0; i < out->n_problems; i++) {
                diagnosis_problem *p = &out->problems[i];
                if (p->scope != FAULT_SCOPE_UNKNOWN)
                        ;
                else if (class_is_global_by_nature(p->cls) ||
                         ((p->cls == FAULT_CERTIFICATE || p->cls == FAULT_REVOCATION) && !p->peers[0]))
                        p->scope = FAULT_SCOPE_GLOBAL; /* our own state: everyone is affected */
                else if (probe_fails || sa_collapse)
                        p->scope = FAULT_SCOPE_GLOBAL;
                else {
                        /* peers up that are not among the failing ones: the others still work */
                        size_t others = 0;
                        for (const char *q = peers_up; *q;) {
                                const char *e = strchr(q, ',');
                                size_t len = e ? (size_t) (e - q) : strlen(q);
                                if (!list_has_addr(p->peers, q, len))
                                        others++;
                                q = e ? e + 1 : q + len;
                        }
                        if (others > 0)
                                p->scope = FAULT_SCOPE_LOCAL;
                        else if (list_count(p->peers) >= 2)
                                p->scope = FAULT_SCOPE_GLOBAL;
                        else {
                                p->scope = FAULT_SCOPE_LOCAL; /* one peer, nobody to compare */
                                if (p->confidence > 60)
                                        p->confidence = 60;
                        }
                }
                if (p->severity == CHECK_FAIL && p->scope > out->impact)
                        out->impact = p->scope;
        }
        qsort(out->problems, out->n_problems, sizeof(out->problems[0]), problem_cmp);
        return 0;
}

void diagnosis_done(diagnosis *d) {
        for (size_t i = 0; i < d->n_problems; i++)
                for (size_t j = 0; j < d->problems[i].n_evidence; j++)
                        free(d->problems[i].evidence[j]);
        d->n_problems = 0;
}

bool diagnosis_withheld(const diagnosis *d, const char *name) {
        for (size_t i = 0; i < d->n_withheld; i++)
                if (strcmp(d->withheld[i], name) == 0)
                        return true;
        return false;
}

const char *diagnosis_problem_signature(const diagnosis_problem *p) {
        return fault_class_to_string(p->cls);
}
