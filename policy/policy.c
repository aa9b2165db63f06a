/* Policy configuration: the `policy:` section of ikeheal.yaml bound strictly onto a
 * policy_config (the grade rules that read it are in policy_grade.c). The scalar sections go
 * through the field tables of yaml_bind; freezes, hours and measure limits have types of their
 * own (timestamps, weekdays, clock times) and are bound by hand here with the same rules: every
 * error at its node, and binding goes on after an error so one run reports them all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "rfc3339.h"
#include "policy/ledger.h"
#include "policy/policy.h"
#include "yaml_bind.h"

#define REASON_MAX 256u
#define KIND_MAX 64u

/* Indexed as struct tm's tm_wday, so a day's bit in policy_hours.days is its index here. */
static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

void policy_config_init(policy_config *p) {
        *p = (policy_config){
                .hours = {.days = 0x3e,
                          .from_min = 8 * 60,
                          .to_min = 18 * 60,
                          .outside = GRADE_APPROVE},
                .budget_runs = 3,
                .budget_window_usec = 3600 * USEC_PER_SEC,
                .breaker_reset_usec = 30 * 60 * USEC_PER_SEC,
                .flap_opens = 4,
                .flap_window_usec = 10 * 60 * USEC_PER_SEC,
                .blast_max_sas = 10,
                .approval_expires_usec = 3600 * USEC_PER_SEC,
                .measure_default_max_usec = 24 * 3600 * USEC_PER_SEC,
        };
}

void policy_config_done(policy_config *p) {
        for (size_t i = 0; i < p->n_freezes; i++)
                free(p->freezes[i].reason);
        free(p->freezes);
        for (size_t i = 0; i < p->n_measure_max; i++)
                free(p->measure_max[i].kind);
        free(p->measure_max);
        policy_config_init(p);
}

/* The config under construction plus the nodes bound by hand after the table pass. */
typedef struct binding {
        policy_config c;
        const ynode *freeze, *hours, *measure_max;
} binding;

#define C(f) offsetof(binding, c.f)

/* Durations bound by tables: at least a second (a zero window would disable the rule in a way
 * nobody would read out of the config), at most what duration_parse() accepts. */
#define DUR(k, f)                                                                                  \
        {                                                                                          \
                .key = k, .type = YF_DURATION, .offset = C(f), .min = USEC_PER_SEC,                \
                .max = DURATION_MAX_USEC                                                           \
        }

/* A budget or flap count must fit the ledger's history, or the ledger could not count it. */
static const yfield budget_fields[] = {
        {.key = "runs", .type = YF_U32, .offset = C(budget_runs), .min = 1, .max = LEDGER_HISTORY},
        DUR("window", budget_window_usec),
        {},
};
static const yfield flap_fields[] = {
        {.key = "opens",
         .type = YF_U32,
         .offset = C(flap_opens),
         .min = 1,
         .max = LEDGER_HISTORY - 1},
        DUR("window", flap_window_usec),
        {},
};
static const yfield blast_fields[] = {
        {.key = "max_sas", .type = YF_U32, .offset = C(blast_max_sas)},
        {},
};
static const yfield approval_fields[] = {
        DUR("expires_in", approval_expires_usec),
        {},
};
static const yfield policy_fields[] = {
        {.key = "freeze", .type = YF_NODE, .offset = offsetof(binding, freeze)},
        {.key = "hours", .type = YF_NODE, .offset = offsetof(binding, hours)},
        {.key = "budget", .type = YF_SECTION, .fields = budget_fields},
        DUR("breaker_reset", breaker_reset_usec),
        {.key = "flap", .type = YF_SECTION, .fields = flap_fields},
        {.key = "blast_radius", .type = YF_SECTION, .fields = blast_fields},
        {.key = "approval", .type = YF_SECTION, .fields = approval_fields},
        {.key = "measure_max", .type = YF_NODE, .offset = offsetof(binding, measure_max)},
        {},
};

static const char *type_name(const ynode *n) {
        return n->type == YNODE_MAP   ? "a mapping"
               : n->type == YNODE_SEQ ? "a sequence"
                                      : "a scalar";
}

static int need(const ynode *n, ynode_type t, ydiag *d, const char *what) {
        if (n->type == t && (t != YNODE_SCALAR || !ynode_is_null(n)))
                return 0;
        ydiag_add(d, n, "expected %s, got %s", what, ynode_is_null(n) ? "nothing" : type_name(n));
        return -EINVAL;
}

/* `known` is NULL-terminated; the message lists it, as ybind does for table-bound sections. */
static int check_keys(const ynode *map, const char *const *known, ydiag *d) {
        int r = 0;

        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const ynode *k = map->items[i];
                char list[128] = "";
                size_t j;

                for (j = 0; known[j] && strcmp(known[j], k->value) != 0; j++)
                        ;
                if (known[j])
                        continue;
                for (j = 0; known[j]; j++) {
                        size_t n = strlen(list);
                        snprintf(list + n, sizeof(list) - n, "%s%s", j ? ", " : "", known[j]);
                }
                ydiag_add(d, k, "unknown key '%s' (expected one of: %s)", YQ(k->value), list);
                r = -EINVAL;
        }
        return r;
}

/* Only approve and manual make sense where a window forbids unattended runs. */
static int bind_grade(const ynode *n, ydiag *d, grade *ret) {
        grade g;

        if (need(n, YNODE_SCALAR, d, "approve or manual") < 0)
                return -EINVAL;
        g = grade_from_string(n->value);
        if (g != GRADE_APPROVE && g != GRADE_MANUAL) {
                ydiag_add(d, n, "expected approve or manual, got '%s'", YQ(n->value));
                return -EINVAL;
        }
        *ret = g;
        return 0;
}

static int bind_time(const ynode *n, ydiag *d, uint64_t *ret) {
        if (need(n, YNODE_SCALAR, d, "an RFC 3339 time like 2026-12-20T00:00:00Z") < 0)
                return -EINVAL;
        if (rfc3339_parse(n->value, ret) < 0) {
                ydiag_add(d, n,
                          "expected an RFC 3339 time like 2026-12-20T00:00:00Z or "
                          "2026-12-20T00:00:00+01:00, got '%s'",
                          YQ(n->value));
                return -EINVAL;
        }
        return 0;
}

static int bind_freeze(const ynode *m, ydiag *d, policy_freeze *f) {
        static const char *const keys[] = {"start", "end", "grade", "reason", NULL};
        const ynode *start = ynode_get(m, "start"), *end = ynode_get(m, "end");
        const ynode *g = ynode_get(m, "grade"), *reason = ynode_get(m, "reason");
        bool times_ok = true;
        int r = 0;

        *f = (policy_freeze){.grade = GRADE_APPROVE};
        if (need(m, YNODE_MAP, d, "a freeze mapping (start, end, grade, reason)") < 0)
                return -EINVAL;
        r |= check_keys(m, keys, d);
        if (!start || !end) {
                ydiag_add(d, m, "a freeze needs both 'start' and 'end'");
                times_ok = false;
        }
        if (start && bind_time(start, d, &f->start_usec) < 0)
                times_ok = false;
        if (end && bind_time(end, d, &f->end_usec) < 0)
                times_ok = false;
        if (!times_ok)
                r = -EINVAL;
        else if (f->start_usec >= f->end_usec) {
                ydiag_add(d, end, "freeze 'end' must be after 'start'");
                r = -EINVAL;
        }
        if (g)
                r |= bind_grade(g, d, &f->grade);
        if (reason && need(reason, YNODE_SCALAR, d, "a reason string") < 0)
                r = -EINVAL;
        else if (reason && reason->len > REASON_MAX) {
                ydiag_add(d, reason, "reason longer than %u bytes", REASON_MAX);
                r = -EINVAL;
        } else if (reason && !(f->reason = strdup(reason->value)))
                return -ENOMEM;
        return r < 0 ? -EINVAL : 0;
}

static int bind_freezes(const ynode *seq, ydiag *d, policy_config *c) {
        int r = 0;

        if (need(seq, YNODE_SEQ, d, "a sequence of freezes") < 0)
                return -EINVAL;
        if (seq->n_items > POLICY_FREEZES_MAX) {
                ydiag_add(d, seq, "more than %u freezes", POLICY_FREEZES_MAX);
                return -EINVAL;
        }
        c->freezes = calloc(seq->n_items ? seq->n_items : 1, sizeof(*c->freezes));
        if (!c->freezes)
                return -ENOMEM;
        for (size_t i = 0; i < seq->n_items; i++) {
                int k = bind_freeze(seq->items[i], d, &c->freezes[c->n_freezes]);
                c->n_freezes++; /* counted even when bad, so done() frees its reason */
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        return r;
}

/* "HH:MM"; "24:00" only as an end, so a shift may run to midnight. */
static int bind_clock(const ynode *n, ydiag *d, bool is_end, unsigned *ret) {
        const char *v = n->value;
        unsigned h = 0, m = 0;
        bool ok;

        if (need(n, YNODE_SCALAR, d, "a time of day \"HH:MM\"") < 0)
                return -EINVAL;
        ok = n->len == 5 && strspn(v, "0123456789") == 2 && v[2] == ':' &&
             strspn(v + 3, "0123456789") == 2;
        if (ok) {
                h = (unsigned) (v[0] - '0') * 10 + (unsigned) (v[1] - '0');
                m = (unsigned) (v[3] - '0') * 10 + (unsigned) (v[4] - '0');
                ok = m <= 59 && (h <= 23 || (is_end && h == 24 && m == 0));
        }
        if (!ok) {
                ydiag_add(d, n, "expected a time of day \"HH:MM\", got '%s'", YQ(n->value));
                return -EINVAL;
        }
        *ret = h * 60 + m;
        return 0;
}

static int bind_days(const ynode *seq, ydiag *d, unsigned *ret) {
        unsigned days = 0;
        int r = 0;

        if (need(seq, YNODE_SEQ, d, "a sequence of days [mon, tue, …]") < 0)
                return -EINVAL;
        if (seq->n_items == 0) {
                ydiag_add(d, seq, "no days: staffed hours need at least one day");
                return -EINVAL;
        }
        for (size_t i = 0; i < seq->n_items; i++) {
                const ynode *n = seq->items[i];
                unsigned j;

                if (need(n, YNODE_SCALAR, d, "a day (mon … sun)") < 0) {
                        r = -EINVAL;
                        continue;
                }
                for (j = 0; j < 7 && strcmp(n->value, day_names[j]) != 0; j++)
                        ;
                if (j == 7)
                        ydiag_add(d, n,
                                  "expected a day (mon, tue, wed, thu, fri, sat, sun), got '%s'",
                                  YQ(n->value));
                else if (days & (1u << j))
                        ydiag_add(d, n, "day '%s' listed twice", YQ(n->value));
                else {
                        days |= 1u << j;
                        continue;
                }
                r = -EINVAL;
        }
        *ret = days;
        return r;
}

int policy_hours_bind(const ynode *m, ydiag *d, policy_hours *h, bool with_outside) {
        static const char *const keys[] = {"days", "from", "to", "timezone", "outside", NULL};
        static const char *const window_keys[] = {"days", "from", "to", "timezone", NULL};
        const ynode *n, *from = ynode_get(m, "from"), *to = ynode_get(m, "to");
        bool clock_ok = true;
        int r = 0;

        if (need(m, YNODE_MAP, d, with_outside ? "a mapping (days, from, to, timezone, outside)"
                                               : "a mapping (days, from, to, timezone)") < 0)
                return -EINVAL;
        r |= check_keys(m, with_outside ? keys : window_keys, d);
        h->set = true;
        if ((n = ynode_get(m, "days")))
                r |= bind_days(n, d, &h->days);
        if (from && bind_clock(from, d, false, &h->from_min) < 0)
                clock_ok = false;
        if (to && bind_clock(to, d, true, &h->to_min) < 0)
                clock_ok = false;
        if (!clock_ok)
                r = -EINVAL;
        else if (h->from_min >= h->to_min) {
                ydiag_add(d, to ? to : from, "'from' must be before 'to'");
                r = -EINVAL;
        }
        if ((n = ynode_get(m, "timezone"))) {
                if (need(n, YNODE_SCALAR, d, "local or utc") < 0)
                        r = -EINVAL;
                else if (strcmp(n->value, "utc") == 0 || strcmp(n->value, "local") == 0)
                        h->utc = n->value[0] == 'u';
                else {
                        ydiag_add(d, n, "expected local or utc, got '%s'", YQ(n->value));
                        r = -EINVAL;
                }
        }
        if ((n = ynode_get(m, "outside")))
                r |= bind_grade(n, d, &h->outside);
        return r < 0 ? -EINVAL : 0;
}

static int bind_measure_max(const ynode *m, ydiag *d, policy_config *c) {
        int r = 0;

        if (need(m, YNODE_MAP, d, "a mapping of action kind to duration") < 0)
                return -EINVAL;
        c->measure_max = calloc(m->n_items / 2 + 1, sizeof(*c->measure_max));
        if (!c->measure_max)
                return -ENOMEM;
        for (size_t i = 0; i + 1 < m->n_items; i += 2) {
                const ynode *k = m->items[i], *v = m->items[i + 1];
                uint64_t usec;

                if (ybind_scalar_duration(v, d, USEC_PER_SEC, DURATION_MAX_USEC, &usec) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (strcmp(k->value, "default") == 0) {
                        c->measure_default_max_usec = usec;
                        continue;
                }
                if (k->len == 0 || k->len > KIND_MAX ||
                    strspn(k->value, "abcdefghijklmnopqrstuvwxyz0123456789_-") != k->len) {
                        ydiag_add(d, k,
                                  "'%s' is not an action kind (a-z, 0-9, _ and -, at most %u)",
                                  YQ(k->value), KIND_MAX);
                        r = -EINVAL;
                        continue;
                }
                if (c->n_measure_max >= POLICY_MEASURE_KINDS_MAX) {
                        ydiag_add(d, k, "more than %u action kinds", POLICY_MEASURE_KINDS_MAX);
                        return -EINVAL;
                }
                c->measure_max[c->n_measure_max].kind = strdup(k->value);
                if (!c->measure_max[c->n_measure_max].kind)
                        return -ENOMEM;
                c->measure_max[c->n_measure_max++].max_usec = usec;
        }
        return r;
}

int policy_config_bind(const ynode *node, policy_config *p, ydiag *d) {
        binding b = {};
        size_t before = d->n_msgs + d->n_dropped;
        int r;

        policy_config_init(&b.c);
        r = ybind(node, policy_fields, &b, d);
        if (r != -ENOMEM && b.freeze)
                r = bind_freezes(b.freeze, d, &b.c) == -ENOMEM ? -ENOMEM : r;
        if (r != -ENOMEM && b.hours)
                r = policy_hours_bind(b.hours, d, &b.c.hours, true) == -ENOMEM ? -ENOMEM : r;
        if (r != -ENOMEM && b.measure_max)
                r = bind_measure_max(b.measure_max, d, &b.c) == -ENOMEM ? -ENOMEM : r;
        /* Every failing helper added a message; count them rather than trust each return. */
        if (r != -ENOMEM && d->n_msgs + d->n_dropped > before)
                r = -EINVAL;
        if (r < 0) {
                policy_config_done(&b.c);
                return r;
        }
        policy_config_done(p);
        *p = b.c;
        return 0;
}

uint64_t policy_measure_max(const policy_config *p, const char *kind) {
        for (size_t i = 0; kind && i < p->n_measure_max; i++)
                if (strcmp(p->measure_max[i].kind, kind) == 0)
                        return p->measure_max[i].max_usec;
        return p->measure_default_max_usec;
}
