/* A runbook's `match`: conditions over the incident (class, scope, reason, severity, the check
 * that found the root cause, its peers, how long it has been open) and over checks' findings
 * (facts), combined with all / any / not. Several keys in one mapping must all hold:
 *
 *   match:
 *     class: firewall                     # or a list: any of them
 *     scope: global
 *     not: {fact: {check: firewall, key: reason, equals: esp_dropped}}
 *     any:
 *       - reason: udp4500_dropped
 *       - fact: {check: firewall, key: chain, matches: "inet filter *"}
 *
 * `open_for: 2m` holds once the incident has been open that long: what to do when the runbooks
 * that match a younger incident have not healed it in time. The engine decides the incident
 * again when that age is reached (runbook_set_next_open_for()).
 *
 * Values are checked at parse time (a class that does not exist is an error, not a runbook
 * that silently never matches). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/runbook_internal.h"
#include "fault.h"
#include "yaml_bind.h"

static const struct {
        const char *key;
        rb_cond_op op;
} leaf_keys[] = {
        { "class", RC_CLASS },   { "scope", RC_SCOPE }, { "reason", RC_REASON }, { "severity", RC_SEVERITY },
        { "check", RC_CHECK },   { "peer", RC_PEER },   { "fact", RC_FACT },     { "all", RC_ALL },
        { "any", RC_ANY },       { "not", RC_NOT },     { "open_for", RC_OPEN_FOR },
};

static const char *const cond_keys[] = { "class", "scope", "reason", "severity", "check", "peer", "fact", "all", "any", "not",
                                         "open_for", NULL };

/* Bounds of open_for: under a second the engine's own turn is the delay; past a week an
 * incident is a human's long before. */
#define OPEN_FOR_MIN_USEC USEC_PER_SEC
#define OPEN_FOR_MAX_USEC (7ULL * 24 * 3600 * USEC_PER_SEC)

rb_cond *rb_cond_free(rb_cond *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_kids; i++)
                rb_cond_free(c->kids[i]);
        free(c->kids);
        strv_free(c->values);
        free(c->check);
        free(c->key);
        free(c->value);
        free(c);
        return NULL;
}

static bool value_ok(rb_cond_op op, const ynode *v, ydiag *d) {
        switch (op) {
        case RC_CLASS: {
                fault_class c;
                if (fault_class_from_string(v->value, &c) == 0 && c != FAULT_NONE)
                        return true;
                ydiag_add(d, v, "unknown class '%s' (expected a fault class such as firewall, daemon, certificate)",
                          YQ(v->value));
                return false;
        }
        case RC_SCOPE:
                if (strcmp(v->value, "global") == 0 || strcmp(v->value, "local") == 0)
                        return true;
                ydiag_add(d, v, "scope: expected global or local, got '%s'", YQ(v->value));
                return false;
        case RC_SEVERITY:
                if (strcmp(v->value, "fail") == 0 || strcmp(v->value, "warn") == 0)
                        return true;
                ydiag_add(d, v, "severity: expected fail or warn, got '%s'", YQ(v->value));
                return false;
        default:
                if (v->value[0])
                        return true;
                ydiag_add(d, v, "empty value");
                return false;
        }
}

/* class: x | [x, y] */
static int bind_values(rb_cond *c, const ynode *n, ydiag *d) {
        size_t count = n->type == YNODE_SEQ ? n->n_items : 1;

        if (n->type == YNODE_MAP || ynode_is_null(n) || count == 0) {
                ydiag_add(d, n, "expected a value or a list of values");
                return -EINVAL;
        }
        c->values = calloc(count + 1, sizeof(char *));
        if (!c->values)
                return -ENOMEM;
        for (size_t i = 0, w = 0; i < count; i++) {
                const ynode *v = n->type == YNODE_SEQ ? n->items[i] : n;
                if (!ybind_need(v, YNODE_SCALAR, d, "value") || !value_ok(c->op, v, d))
                        continue; /* reported; the list stays NULL-terminated */
                if (!(c->values[w++] = strdup(v->value)))
                        return -ENOMEM;
        }
        return 0;
}

static int bind_fact(rb_cond *c, const ynode *n, ydiag *d) {
        static const char *const keys[] = { "check", "key", "equals", "matches", "present", NULL };
        const ynode *v;
        int tests = 0;

        if (!ybind_need(n, YNODE_MAP, d, "fact") || !ybind_keys_known(n, keys, d))
                return -EINVAL;
        if (!(v = ynode_get(n, "check")) || !ybind_need(v, YNODE_SCALAR, d, "fact.check"))
                return v ? -EINVAL : (ydiag_add(d, n, "fact: missing required key 'check'"), -EINVAL);
        if (!(c->check = strdup(v->value)))
                return -ENOMEM;
        if (!(v = ynode_get(n, "key")) || !ybind_need(v, YNODE_SCALAR, d, "fact.key"))
                return v ? -EINVAL : (ydiag_add(d, n, "fact: missing required key 'key'"), -EINVAL);
        if (!(c->key = strdup(v->value)))
                return -ENOMEM;
        if ((v = ynode_get(n, "equals"))) {
                tests++;
                c->test = RF_EQUALS;
                if (ybind_need(v, YNODE_SCALAR, d, "fact.equals") && !(c->value = strdup(v->value)))
                        return -ENOMEM;
        }
        if ((v = ynode_get(n, "matches"))) {
                tests++;
                c->test = RF_MATCHES;
                if (ybind_need(v, YNODE_SCALAR, d, "fact.matches") && !(c->value = strdup(v->value)))
                        return -ENOMEM;
        }
        if ((v = ynode_get(n, "present"))) {
                bool b = true;
                tests++;
                if (ybind_scalar_bool(v, d, &b) == 0)
                        c->test = b ? RF_PRESENT : RF_ABSENT;
        }
        if (tests != 1) {
                ydiag_add(d, n, "fact: expected exactly one of equals, matches, present");
                return -EINVAL;
        }
        return 0;
}

static int bind_leaf(const ynode *k, const ynode *v, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret);

int rb_cond_bind(const ynode *n, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret) {
        rb_cond *all;
        int r;

        *ret = NULL;
        if (depth >= RUNBOOK_COND_DEPTH_MAX) {
                ydiag_add(d, n, "conditions nested deeper than %u", RUNBOOK_COND_DEPTH_MAX);
                return -E2BIG;
        }
        if (!ybind_need(n, YNODE_MAP, d, "condition"))
                return -EINVAL;
        if (n->n_items == 0) {
                ydiag_add(d, n, "empty condition (an empty match would match every incident)");
                return -EINVAL;
        }
        (void) ybind_keys_known(n, cond_keys, d);
        all = calloc(1, sizeof(*all));
        if (!all || !(all->kids = calloc(n->n_items / 2, sizeof(rb_cond *)))) {
                free(all);
                return -ENOMEM;
        }
        all->op = RC_ALL;
        *ret = all;
        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
                rb_cond *kid = NULL;
                r = bind_leaf(n->items[i], n->items[i + 1], depth, count, d, &kid);
                if (kid)
                        all->kids[all->n_kids++] = kid;
                if (r == -ENOMEM || r == -E2BIG)
                        return r;
        }
        return 0;
}

static int bind_leaf(const ynode *k, const ynode *v, unsigned depth, unsigned *count, ydiag *d, rb_cond **ret) {
        rb_cond *c;
        size_t i;
        int r = 0;

        for (i = 0; i < ELEMENTSOF(leaf_keys); i++)
                if (strcmp(leaf_keys[i].key, k->value) == 0)
                        break;
        if (i == ELEMENTSOF(leaf_keys))
                return -EINVAL; /* reported by rb_keys_known */
        if (++*count > RUNBOOK_CONDS_MAX) {
                ydiag_add(d, k, "more than %u conditions", RUNBOOK_CONDS_MAX);
                return -E2BIG;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->op = leaf_keys[i].op;
        *ret = c;
        switch (c->op) {
        case RC_ALL:
        case RC_ANY:
                if (!ybind_need(v, YNODE_SEQ, d, k->value))
                        return -EINVAL;
                if (v->n_items == 0) {
                        ydiag_add(d, v, "%s: an empty list", YQ(k->value));
                        return -EINVAL;
                }
                if (!(c->kids = calloc(v->n_items, sizeof(rb_cond *))))
                        return -ENOMEM;
                for (size_t j = 0; j < v->n_items; j++) {
                        rb_cond *kid = NULL;
                        r = rb_cond_bind(v->items[j], depth + 1, count, d, &kid);
                        if (kid)
                                c->kids[c->n_kids++] = kid;
                        if (r == -ENOMEM || r == -E2BIG)
                                return r;
                }
                return 0;
        case RC_NOT:
                if (!(c->kids = calloc(1, sizeof(rb_cond *))))
                        return -ENOMEM;
                r = rb_cond_bind(v, depth + 1, count, d, &c->kids[0]);
                c->n_kids = c->kids[0] ? 1 : 0;
                return r;
        case RC_FACT:
                return bind_fact(c, v, d);
        case RC_OPEN_FOR:
                if (!ybind_need(v, YNODE_SCALAR, d, "open_for"))
                        return -EINVAL;
                return ybind_scalar_duration(v, d, OPEN_FOR_MIN_USEC, OPEN_FOR_MAX_USEC, &c->usec);
        default:
                return bind_values(c, v, d);
        }
}

static bool any_of(char *const *values, const char *s) {
        for (size_t i = 0; s && values && values[i]; i++)
                if (strcmp(values[i], s) == 0)
                        return true;
        return false;
}

static bool peer_matches(char *const *globs, const char *peers) {
        const char *p = peers;

        while (p && *p) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                char one[256];
                if (n < sizeof(one)) {
                        memcpy(one, p, n);
                        one[n] = 0;
                        for (size_t i = 0; globs && globs[i]; i++)
                                if (fnmatch(globs[i], one, 0) == 0)
                                        return true;
                }
                p = e ? e + 1 : NULL;
        }
        return false;
}

static bool eval(const rb_cond *c, const rb_subject *s) {
        const char *v;

        switch (c->op) {
        case RC_ALL:
                for (size_t i = 0; i < c->n_kids; i++)
                        if (!eval(c->kids[i], s))
                                return false;
                return true;
        case RC_ANY:
                for (size_t i = 0; i < c->n_kids; i++)
                        if (eval(c->kids[i], s))
                                return true;
                return false;
        case RC_NOT:
                return c->n_kids == 1 && !eval(c->kids[0], s);
        case RC_CLASS:
                return any_of(c->values, s->cls);
        case RC_SCOPE:
                return any_of(c->values, s->scope);
        case RC_REASON:
                return any_of(c->values, s->reason);
        case RC_SEVERITY:
                return any_of(c->values, s->severity);
        case RC_CHECK:
                return any_of(c->values, s->check);
        case RC_PEER:
                return peer_matches(c->values, s->peers);
        case RC_FACT:
                v = s->fact ? s->fact(s->userdata, c->check, c->key) : NULL;
                switch (c->test) {
                case RF_EQUALS:
                        return v && c->value && strcmp(v, c->value) == 0;
                case RF_MATCHES:
                        return v && c->value && fnmatch(c->value, v, 0) == 0;
                case RF_PRESENT:
                        return v != NULL;
                case RF_ABSENT:
                        return v == NULL;
                }
                return false;
        case RC_OPEN_FOR:
                return s->open_usec >= c->usec;
        }
        return false;
}

uint64_t rb_cond_next_open_for(const rb_cond *c, uint64_t open_usec) {
        uint64_t best = 0;

        if (!c)
                return 0;
        if (c->op == RC_OPEN_FOR && c->usec > open_usec)
                return c->usec;
        for (size_t i = 0; i < c->n_kids; i++) {
                uint64_t t = rb_cond_next_open_for(c->kids[i], open_usec);
                if (t && (!best || t < best))
                        best = t;
        }
        return best;
}

bool runbook_matches(const runbook *rb, const rb_subject *s) {
        return rb->match && eval(rb->match, s);
}
