/* Drill parsing: one YAML file → one drill (agent/config/drill.h), as strictly as a runbook. Every key
 * is checked against the schema of where it stands, every value against its type, the
 * injector's parameters against its own table, and the SLOs against the fault's life: a drill
 * whose deadline comes before its SLO could never be scored, so it is refused here rather than
 * failing at 3 a.m. Every error of a file is collected with its position. Whether names are
 * unique across files is the set's business (drill_set.c). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill.h"
#include "agent/config/yaml_set.h"
#include "duration.h"
#include "fault.h"
#include "faults/faults.h"
#include "hex.h"
#include "yaml_bind.h"

bool drill_class_valid(const char *s) {
        fault_class c;

        /* "none" is what a healthy gateway has, not an incident a fault could open */
        return s && fault_class_from_string(s, &c) == 0 && c != FAULT_NONE;
}

/* Like a runbook name, plus '.' (drills are often named after what they break: "crl-1.2"). */
bool drill_name_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > DRILL_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int bind_class(const ynode *n, ydiag *d, const char *what, char **ret) {
        int r = ybind_scalar_dup(n, d, what, ret);
        if (r < 0)
                return r;
        if (drill_class_valid(*ret))
                return 0;
        ydiag_add(d, n, "%s: unknown class '%s' (expected an incident class such as firewall, daemon, certificate)",
                  what, YQ(*ret));
        return -EINVAL;
}

/* A sequence of at most `max` distinct scalars (check names, classes). */
static int bind_names(const ynode *seq, size_t max, const char *what, ydiag *d, char ***ret) {
        _cleanup_(strv_freep) char **v = NULL;

        if (!ybind_need(seq, YNODE_SEQ, d, what))
                return -EINVAL;
        if (seq->n_items > max) {
                ydiag_add(d, seq->items[max], "%s: more than %zu entries", what, max);
                return -E2BIG;
        }
        v = calloc(seq->n_items + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < seq->n_items; i++) {
                const ynode *it = seq->items[i];
                if (!ybind_need(it, YNODE_SCALAR, d, what))
                        continue;
                if (strv_contains(v, it->value)) {
                        ydiag_add(d, it, "%s: duplicate '%s'", what, YQ(it->value));
                        continue;
                }
                if (!(v[k++] = strdup(it->value)))
                        return -ENOMEM;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(v);
        return 0;
}

/* Checks named by a drill must be configured ones (when the caller knows them). */
static int bind_checks(const ynode *seq, bool nonempty, const drill_ctx *ctx, const char *what, ydiag *d,
                       char ***ret) {
        int r = bind_names(seq, DRILL_CHECKS_MAX, what, d, ret);
        if (r < 0)
                return r;
        if (nonempty && seq->n_items == 0)
                ydiag_add(d, seq, "%s: at least one check", what);
        for (size_t i = 0; ctx->checks && i < seq->n_items; i++)
                if (seq->items[i]->type == YNODE_SCALAR && !strv_contains(ctx->checks, seq->items[i]->value))
                        ydiag_add(d, seq->items[i], "%s: '%s' is not a configured check", what, YQ(seq->items[i]->value));
        return 0;
}

static void bind_steady(const ynode *m, drill *dr, const drill_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "checks", "within", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "steady_state"))
                return;
        (void) ybind_keys_known(m, keys, d);
        if ((n = ybind_field(m, "checks", true, d)))
                (void) bind_checks(n, true, ctx, "steady_state.checks", d, &dr->steady_checks);
        if ((n = ynode_get(m, "within")))
                (void) ybind_scalar_duration(n, d, USEC_PER_MSEC, DRILL_FAULT_MAX_USEC, &dr->steady_within_usec);
}

static void unknown_injector(const ynode *n, ydiag *d) {
        const action_ops *const *all;
        size_t k = fault_kinds(&all), len = 0;
        char list[256] = "";

        for (size_t i = 0; i < k && len < sizeof(list) - 1; i++) {
                int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", all[i]->kind);
                if (w > 0)
                        len += (size_t) w;
        }
        ydiag_add(d, n, "unknown injector '%s' (expected one of: %s)", YQ(n->value), list);
}

/* The injector's parameters, bound strictly against its own table. `timeout` is refused before
 * binding, whatever the kind: a fault lives exactly fault.expires_in, which the drill hands on
 * itself (as nft_drop's kernel element timeout), and a second lifetime in params would let the
 * two disagree. The rest is still bound, so its errors show too. */
static int bind_params(const action_ops *ops, const ynode *params, const ynode *kind, drill *dr, const drill_ctx *ctx,
                       ydiag *d) {
        _cleanup_(freep) ynode **items = NULL;
        const ynode *p = params;
        ynode rest;
        int r;

        if (params && params->type == YNODE_MAP) {
                items = calloc(params->n_items + 1, sizeof(ynode *));
                if (!items)
                        return -ENOMEM;
                rest = *params;
                rest.items = items;
                rest.n_items = 0;
                for (size_t i = 0; i + 1 < params->n_items; i += 2) {
                        if (strcmp(params->items[i]->value, "timeout") == 0) {
                                ydiag_add(d, params->items[i], "fault.params.timeout is set by the drill from fault.expires_in");
                                continue;
                        }
                        items[rest.n_items++] = params->items[i];
                        items[rest.n_items++] = params->items[i + 1];
                }
                p = &rest;
        }
        r = action_params_bind(ops, p, &dr->fault, d);
        if (r < 0)
                return r;
        /* a fault the drill cannot take away again is an outage, not a drill */
        if (!action_supports(&dr->fault, ACTION_REVERT))
                ydiag_add(d, kind, "injector '%s' cannot remove the fault with these parameters", ops->kind);
        if (ops->validate && ctx->env) {
                char why[256] = "";
                if (ops->validate(&dr->fault, ctx->env, why, sizeof(why)) < 0)
                        ydiag_add(d, params ? params : kind, "%s: %s", ops->kind, why);
        }
        return 0;
}

static int bind_fault(const ynode *m, drill *dr, const drill_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "kind", "params", "expires_in", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "fault"))
                return -EINVAL;
        (void) ybind_keys_known(m, keys, d);
        if ((n = ybind_field(m, "kind", true, d)) && ybind_need(n, YNODE_SCALAR, d, "fault.kind")) {
                const action_ops *ops = fault_find(n->value);
                if (!ops)
                        unknown_injector(n, d);
                else if (bind_params(ops, ynode_get(m, "params"), n, dr, ctx, d) == -ENOMEM)
                        return -ENOMEM;
        }
        if ((n = ybind_field(m, "expires_in", true, d)))
                (void) ybind_scalar_duration(n, d, USEC_PER_SEC, DRILL_FAULT_MAX_USEC, &dr->fault_expires_usec);
        return 0;
}

/* An SLO or deadline of the drill must end while the fault is still there to be measured. */
static void within_fault(const ynode *n, const char *what, uint64_t usec, const drill *dr, const char *why, ydiag *d) {
        char a[32], b[32];

        if (dr->fault_expires_usec > 0 && usec > dr->fault_expires_usec)
                ydiag_add(d, n, "%s %s is longer than fault.expires_in %s: %s", what, duration_format(usec, a, sizeof(a)),
                          duration_format(dr->fault_expires_usec, b, sizeof(b)), why);
}

static void bind_slos(const ynode *m, drill *dr, ydiag *d) {
        static const char *const gone = "the fault is gone by then, so the SLO could not be measured";
        const ynode *det, *rec;
        char a[32], b[32];
        bool have_det = false;

        if ((det = ybind_field(m, "detect_within", true, d)) &&
            ybind_scalar_duration(det, d, USEC_PER_MSEC, DURATION_MAX_USEC, &dr->detect_within_usec) == 0) {
                have_det = true;
                within_fault(det, "expect.detect_within", dr->detect_within_usec, dr, gone, d);
        }
        if ((rec = ybind_field(m, "recover_within", true, d)) &&
            ybind_scalar_duration(rec, d, USEC_PER_MSEC, DURATION_MAX_USEC, &dr->recover_within_usec) == 0) {
                if (have_det && dr->recover_within_usec < dr->detect_within_usec)
                        ydiag_add(d, rec, "expect.recover_within %s is shorter than expect.detect_within %s "
                                          "(both are timed from the injection)",
                                  duration_format(dr->recover_within_usec, a, sizeof(a)),
                                  duration_format(dr->detect_within_usec, b, sizeof(b)));
                within_fault(rec, "expect.recover_within", dr->recover_within_usec, dr, gone, d);
        }
}

static int bind_expect(const ynode *m, drill *dr, const drill_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "class", "scope", "runbook", "recovery", "detect_within",
                                            "recover_within", "tolerate", NULL };
        const ynode *n;
        bool recovery_known = true;

        if (!ybind_need(m, YNODE_MAP, d, "expect"))
                return -EINVAL;
        (void) ybind_keys_known(m, keys, d);
        if ((n = ybind_field(m, "class", true, d)) && bind_class(n, d, "expect.class", &dr->expect_class) == -ENOMEM)
                return -ENOMEM;
        if ((n = ynode_get(m, "scope")) && ybind_scalar_dup(n, d, "expect.scope", &dr->expect_scope) == 0) {
                fault_scope sc;
                if (fault_scope_from_string(dr->expect_scope, &sc) < 0 || sc == FAULT_SCOPE_UNKNOWN)
                        ydiag_add(d, n, "expect.scope: expected global or local, got '%s'", YQ(dr->expect_scope));
        }
        if ((n = ynode_get(m, "runbook")) && ybind_scalar_dup(n, d, "expect.runbook", &dr->expect_runbook) == 0 &&
            ctx->runbooks && !strv_contains(ctx->runbooks, dr->expect_runbook))
                ydiag_add(d, n, "expect.runbook '%s' is not a loaded runbook", YQ(dr->expect_runbook));
        if ((n = ynode_get(m, "recovery")) && ybind_need(n, YNODE_SCALAR, d, "expect.recovery")) {
                if (strcmp(n->value, "runbook") == 0)
                        dr->recovery = DRILL_RECOVER_RUNBOOK;
                else if (strcmp(n->value, "remove_fault") == 0)
                        dr->recovery = DRILL_RECOVER_REMOVE_FAULT;
                else {
                        ydiag_add(d, n, "expect.recovery: expected runbook or remove_fault, got '%s'", YQ(n->value));
                        recovery_known = false;
                }
        } else if (n)
                recovery_known = false;
        if (recovery_known && dr->recovery == DRILL_RECOVER_RUNBOOK && !ynode_get(m, "runbook"))
                ydiag_add(d, m, "expect.runbook is required with recovery: runbook (the runbook that must heal the fault)");
        bind_slos(m, dr, d);
        if ((n = ynode_get(m, "tolerate"))) {
                if (bind_names(n, _FAULT_CLASS_MAX, "expect.tolerate", d, &dr->tolerate) == -ENOMEM)
                        return -ENOMEM;
                for (size_t i = 0; n->type == YNODE_SEQ && i < n->n_items; i++) {
                        const ynode *it = n->items[i];
                        if (it->type != YNODE_SCALAR)
                                continue;
                        if (!drill_class_valid(it->value))
                                ydiag_add(d, it, "expect.tolerate: unknown class '%s' (expected an incident class such "
                                                 "as firewall, daemon, certificate)", YQ(it->value));
                        else if (dr->expect_class && strcmp(it->value, dr->expect_class) == 0)
                                ydiag_add(d, it, "expect.tolerate: '%s' is expect.class itself", YQ(it->value));
                }
        }
        return 0;
}

static int bind_abort(const ynode *m, drill *dr, const drill_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "after", "checks", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "abort"))
                return -EINVAL;
        (void) ybind_keys_known(m, keys, d);
        if ((n = ynode_get(m, "after")) &&
            ybind_scalar_duration(n, d, USEC_PER_SEC, DURATION_MAX_USEC, &dr->abort_after_usec) == 0)
                within_fault(n, "abort.after", dr->abort_after_usec, dr, "the fault is removed by then anyway", d);
        if ((n = ynode_get(m, "checks")) && bind_checks(n, false, ctx, "abort.checks", d, &dr->abort_checks) == -ENOMEM)
                return -ENOMEM;
        return 0;
}

static int drill_bind(const ynode *root, drill *dr, const drill_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "version", "name", "description", "class", "weight", "steady_state",
                                            "fault", "expect", "abort", "auto_approve", NULL };
        const ynode *n;
        uint32_t version = 0;

        if (!ybind_need(root, YNODE_MAP, d, "drill"))
                return -EINVAL;
        (void) ybind_keys_known(root, keys, d);
        if ((n = ybind_field(root, "version", true, d)) && ybind_scalar_u32(n, d, 0, 0, &version) == 0 &&
            version != DRILL_VERSION)
                ydiag_add(d, n, "unsupported drill version %u (this ikeheal reads version %u)", version, DRILL_VERSION);
        if ((n = ybind_field(root, "name", true, d)) && ybind_scalar_dup(n, d, "name", &dr->name) == 0) {
                dr->name_line = n->line;
                dr->name_col = n->col;
                if (!drill_name_valid(dr->name))
                        ydiag_add(d, n, "name '%s': expected [a-z0-9][a-z0-9_.-]*, at most %u characters", YQ(dr->name),
                                  DRILL_NAME_MAX);
        }
        if ((n = ybind_field(root, "description", true, d)))
                (void) ybind_scalar_dup(n, d, "description", &dr->description);
        if ((n = ynode_get(root, "class")) && bind_class(n, d, "class", &dr->fault_class) == -ENOMEM)
                return -ENOMEM;
        if ((n = ynode_get(root, "weight")))
                (void) ybind_scalar_u32(n, d, 1, DRILL_WEIGHT_MAX, &dr->weight);
        if ((n = ybind_field(root, "steady_state", true, d)))
                bind_steady(n, dr, ctx, d);
        /* the fault first: its deadline bounds the SLOs and the abort below */
        if ((n = ybind_field(root, "fault", true, d)) && bind_fault(n, dr, ctx, d) == -ENOMEM)
                return -ENOMEM;
        if ((n = ybind_field(root, "expect", true, d)) && bind_expect(n, dr, ctx, d) == -ENOMEM)
                return -ENOMEM;
        if ((n = ynode_get(root, "abort")) && bind_abort(n, dr, ctx, d) == -ENOMEM)
                return -ENOMEM;
        if ((n = ynode_get(root, "auto_approve")))
                (void) ybind_scalar_bool(n, d, &dr->auto_approve);
        if (d->n_msgs + d->n_dropped)
                return -EINVAL;

        if (!dr->fault_class && !(dr->fault_class = strdup(dr->expect_class)))
                return -ENOMEM;
        if (dr->abort_after_usec == 0)
                dr->abort_after_usec = dr->fault_expires_usec;
        return 0;
}

int drill_parse_buffer(const char *name, const void *buf, size_t len, const drill_ctx *ctx, ydiag *d, drill **ret) {
        _cleanup_(drill_freep) drill *dr = NULL;
        _cleanup_(ynode_freep) ynode *root = NULL;
        static const drill_ctx none = { 0 };
        unsigned char md[32];
        unsigned mdlen = 0;
        int r;

        if (len > DRILL_FILE_MAX) {
                ydiag_add_at(d, 1, 1, "drill larger than %u bytes", DRILL_FILE_MAX);
                return -E2BIG;
        }
        r = ytree_parse_buffer(buf, len, d, &root);
        if (r < 0)
                return r;
        if (!root) {
                ydiag_add_at(d, 1, 1, "empty drill");
                return -EINVAL;
        }
        dr = calloc(1, sizeof(*dr));
        if (!dr || !(dr->file = strdup(name)))
                return -ENOMEM;
        dr->weight = 1;
        dr->steady_within_usec = DRILL_STEADY_WITHIN_DEFAULT;
        dr->recovery = DRILL_RECOVER_RUNBOOK;
        if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
                return -EIO;
        hex_encode(md, mdlen, dr->sha256);
        r = drill_bind(root, dr, ctx ? ctx : &none, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(dr);
        return 0;
}

int drill_parse_file(const char *path, const drill_ctx *ctx, ydiag *d, drill **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        int r;

        r = yaml_set_read(path, DRILL_FILE_MAX, "drill", d, &buf, &len);
        if (r < 0)
                return r;
        return drill_parse_buffer(path, buf, len, ctx, d, ret);
}

drill *drill_free(drill *dr) {
        if (!dr)
                return NULL;
        free(dr->name);
        free(dr->description);
        free(dr->file);
        free(dr->fault_class);
        strv_free(dr->steady_checks);
        action_params_done(&dr->fault);
        free(dr->expect_class);
        free(dr->expect_scope);
        free(dr->expect_runbook);
        strv_free(dr->tolerate);
        strv_free(dr->abort_checks);
        free(dr);
        return NULL;
}
