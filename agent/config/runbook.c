/* Runbook parsing: one YAML file → one runbook (agent/config/runbook.h), strictly. Every key is
 * checked against the schema of where it stands, every value against its type, and every
 * error is collected with its position so `ikehealctl lint` shows them all at once. Whether
 * references resolve across files (escalate.runbook) is the set's business (runbook_set.c);
 * conditions (`match`) are bound in runbook_match.c. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config/runbook.h"
#include "agent/config/runbook_internal.h"
#include "agent/config/yaml_set.h"
#include "duration.h"
#include "hex.h"
#include "yaml_bind.h"

static const char *const event_names[_RB_EV_MAX] = {
        [RB_EV_OBSERVED] = "observed",   [RB_EV_PROPOSED] = "proposed", [RB_EV_PENDING] = "pending",
        [RB_EV_STARTED] = "started",     [RB_EV_SUCCEEDED] = "succeeded", [RB_EV_FAILED] = "failed",
        [RB_EV_ESCALATED] = "escalated", [RB_EV_EXPIRED] = "expired",
};

const char *runbook_event_to_string(runbook_event ev) {
        return ev >= 0 && ev < _RB_EV_MAX ? event_names[ev] : NULL;
}

int runbook_event_from_string(const char *s) {
        for (int i = 0; s && i < _RB_EV_MAX; i++)
                if (strcmp(s, event_names[i]) == 0)
                        return i;
        return -EINVAL;
}

bool runbook_notifies(const runbook *rb, runbook_event ev) {
        return rb->notify_on & (1u << ev);
}

const char *const runbook_placeholders[] = {
        "incident.id",      "incident.class",   "incident.scope", "incident.reason", "incident.peers",
        "incident.summary", "incident.evidence", "runbook",       "run",             NULL,
};

const char *runbook_template_bad(const char *s) {
        for (const char *p = s; (p = strstr(p, "${")); p += 2) {
                const char *end = strchr(p, '}');
                size_t i;
                for (i = 0; end && runbook_placeholders[i]; i++)
                        if (strlen(runbook_placeholders[i]) == (size_t) (end - p - 2) &&
                            strncmp(runbook_placeholders[i], p + 2, (size_t) (end - p - 2)) == 0)
                                break;
                if (!end || !runbook_placeholders[i])
                        return p;
        }
        return NULL;
}

static bool name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > RUNBOOK_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
                        return false;
        return true;
}

static int bind_grade(const ynode *n, ydiag *d, grade *ret) {
        if (!ybind_need(n, YNODE_SCALAR, d, "grade"))
                return -EINVAL;
        grade g = grade_from_string(n->value);
        if (g < 0) {
                ydiag_add(d, n, "unknown grade '%s' (expected observe, auto, approve or manual)", YQ(n->value));
                return -EINVAL;
        }
        *ret = g;
        return 0;
}

static void step_done(rb_step *s) {
        free(s->name);
        free(s->verify_check);
        action_params_done(&s->params);
}

static void bind_verify(const ynode *v, rb_step *s, const runbook_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "check", "action", "within", NULL };
        const ynode *n;

        if (!ybind_need(v, YNODE_MAP, d, "verify") || !ybind_keys_known(v, keys, d))
                return;
        if ((n = ynode_get(v, "check")) && ybind_scalar_dup(n, d, "verify.check", &s->verify_check) == 0 &&
            ctx->checks && !strv_contains(ctx->checks, s->verify_check))
                ydiag_add(d, n, "verify.check '%s' is not a configured check", YQ(s->verify_check));
        if ((n = ynode_get(v, "action")))
                (void) ybind_scalar_bool(n, d, &s->verify_action);
        if (!s->verify_check && !s->verify_action)
                ydiag_add(d, v, "verify needs 'check: NAME' or 'action: true'");
        if (s->verify_action && s->params.ops && !action_supports(&s->params, ACTION_VERIFY))
                ydiag_add(d, ynode_get(v, "action"), "action '%s' cannot verify with these parameters",
                          s->params.ops->kind);
        s->verify_within_usec = 30 * USEC_PER_SEC;
        if ((n = ynode_get(v, "within")))
                (void) ybind_scalar_duration(n, d, USEC_PER_MSEC * 100, 3600 * USEC_PER_SEC, &s->verify_within_usec);
}

/* One step. `rb_grade` for the raise-only rule; on_failure steps (`recovery`) are plain. */
static int bind_step(const ynode *m, rb_step *s, grade rb_grade, bool recovery, const runbook_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "name", "action", "params", "timeout", "grade", "verify", "expires_in", NULL };
        const ynode *n;
        int r;

        s->line = m ? m->line : 1;
        s->col = m ? m->col : 1;
        s->timeout_usec = RUNBOOK_STEP_TIMEOUT_DEFAULT;
        if (!ybind_need(m, YNODE_MAP, d, "step"))
                return -EINVAL;
        (void) ybind_keys_known(m, keys, d);
        if ((n = ybind_field(m, "name", true, d)) && ybind_scalar_dup(n, d, "step name", &s->name) == 0 && !name_valid(s->name))
                ydiag_add(d, n, "step name '%s': expected [a-z0-9][a-z0-9_-]*, at most %u characters", YQ(s->name),
                          RUNBOOK_NAME_MAX);
        if ((n = ybind_field(m, "action", true, d)) && ybind_need(n, YNODE_SCALAR, d, "action")) {
                const action_ops *ops = action_find(n->value);
                if (!ops) {
                        const action_ops *const *all;
                        char list[256] = "";
                        size_t k = action_kinds(&all), len = 0;
                        for (size_t i = 0; i < k && len < sizeof(list) - 1; i++) {
                                int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", all[i]->kind);
                                if (w > 0)
                                        len += (size_t) w;
                        }
                        ydiag_add(d, n, "unknown action '%s' (expected one of: %s)", YQ(n->value), list);
                } else {
                        const ynode *p = ynode_get(m, "params");
                        r = action_params_bind(ops, p, &s->params, d);
                        if (r == -ENOMEM)
                                return r;
                        for (size_t i = 0; r == 0 && ops->params[i].name; i++) {
                                const char *bad;
                                if (ops->params[i].type != AP_STRING || !s->params.v[i].set ||
                                    !(bad = runbook_template_bad(s->params.v[i].str)))
                                        continue;
                                ydiag_add(d, ynode_get(p, ops->params[i].name),
                                          "parameter '%s': unknown placeholder '%s' (expected ${incident.id}, "
                                          "${incident.class}, ${incident.scope}, ${incident.reason}, ${incident.peers}, "
                                          "${incident.summary}, ${incident.evidence}, ${runbook} or ${run})",
                                          ops->params[i].name, YQ(bad));
                        }
                        if (r == 0 && ops->validate && ctx->env) {
                                char why[256] = "";
                                if (ops->validate(&s->params, ctx->env, why, sizeof(why)) < 0)
                                        ydiag_add(d, p ? p : n, "%s: %s", ops->kind, why);
                        }
                        if (rb_grade == GRADE_OBSERVE && ops->effects)
                                ydiag_add(d, n, "action '%s' changes the system: not allowed in an observe runbook",
                                          ops->kind);
                }
        }
        if ((n = ynode_get(m, "timeout")))
                (void) ybind_scalar_duration(n, d, USEC_PER_MSEC * 100, RUNBOOK_STEP_TIMEOUT_MAX, &s->timeout_usec);
        if ((n = ynode_get(m, "grade"))) {
                if (recovery)
                        ydiag_add(d, n, "on_failure steps run with the runbook: no 'grade'");
                else if (bind_grade(n, d, &s->grade) == 0) {
                        s->has_grade = true;
                        if (rb_grade == GRADE_OBSERVE || s->grade == GRADE_OBSERVE)
                                ydiag_add(d, n, "a step grade only applies to auto/approve/manual runbooks and steps");
                        else if (s->grade < rb_grade)
                                ydiag_add(d, n, "step grade '%s' is lower than the runbook's '%s': a step may only raise it",
                                          grade_to_string(s->grade), grade_to_string(rb_grade));
                }
        }
        if ((n = ynode_get(m, "verify"))) {
                if (recovery)
                        ydiag_add(d, n, "on_failure steps are not verified: no 'verify'");
                else
                        bind_verify(n, s, ctx, d);
        }
        if ((n = ynode_get(m, "expires_in"))) {
                if (recovery)
                        ydiag_add(d, n, "on_failure steps cannot be temporary measures");
                else if (ybind_scalar_duration(n, d, USEC_PER_SEC, DURATION_MAX_USEC, &s->expires_in_usec) == 0 &&
                         s->params.ops) {
                        policy_config def;
                        const policy_config *p = ctx->policy;
                        char a[32], b[32];
                        if (!p) {
                                policy_config_init(&def);
                                p = &def;
                        }
                        uint64_t max = policy_measure_max(p, s->params.ops->kind);
                        if (s->expires_in_usec > max)
                                ydiag_add(d, n, "expires_in %s is longer than the policy allows for '%s' measures (%s)",
                                          duration_format(s->expires_in_usec, a, sizeof(a)), s->params.ops->kind,
                                          duration_format(max, b, sizeof(b)));
                        if (!action_supports(&s->params, ACTION_REVERT))
                                ydiag_add(d, n, "a temporary measure needs a revert: action '%s' cannot revert with these parameters",
                                          s->params.ops->kind);
                }
        } else if (!recovery && s->params.ops && s->params.ops->measure)
                ydiag_add(d, m, "action '%s' weakens security or bypasses configuration: the step needs 'expires_in'",
                          s->params.ops->kind);
        return 0;
}

static int bind_steps(const ynode *seq, rb_step **ret, size_t *ret_n, grade g, bool recovery,
                      const runbook_ctx *ctx, ydiag *d, const char *what) {
        rb_step *steps;

        if (!ybind_need(seq, YNODE_SEQ, d, what))
                return -EINVAL;
        if (seq->n_items == 0) {
                ydiag_add(d, seq, "%s: at least one step", what);
                return -EINVAL;
        }
        if (seq->n_items > RUNBOOK_STEPS_MAX) {
                ydiag_add(d, seq->items[RUNBOOK_STEPS_MAX], "%s: more than %u steps", what, RUNBOOK_STEPS_MAX);
                return -E2BIG;
        }
        steps = calloc(seq->n_items, sizeof(*steps));
        if (!steps)
                return -ENOMEM;
        *ret = steps;
        *ret_n = seq->n_items;
        for (size_t i = 0; i < seq->n_items; i++) {
                int r = bind_step(seq->items[i], &steps[i], g, recovery, ctx, d);
                if (r == -ENOMEM)
                        return r;
                for (size_t j = 0; j < i && steps[i].name; j++)
                        if (steps[j].name && strcmp(steps[j].name, steps[i].name) == 0)
                                ydiag_add(d, ynode_get(seq->items[i], "name"), "duplicate step name '%s' (first at line %u)",
                                          YQ(steps[i].name), steps[j].line);
        }
        return 0;
}

static void bind_on_failure(const ynode *m, runbook *rb, const runbook_ctx *ctx, ydiag *d) {
        static const char *const keys[] = { "rollback", "steps", "escalate", NULL };
        static const char *const esc_keys[] = { "runbook", "grade", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "on_failure") || !ybind_keys_known(m, keys, d))
                return;
        if ((n = ynode_get(m, "rollback")))
                (void) ybind_scalar_bool(n, d, &rb->rollback);
        if ((n = ynode_get(m, "steps")))
                (void) bind_steps(n, &rb->on_failure, &rb->n_on_failure, rb->grade, true, ctx, d, "on_failure.steps");
        if (!(n = ynode_get(m, "escalate")))
                return;
        rb->escalate_line = n->line;
        rb->escalate_col = n->col;
        if (n->type == YNODE_SCALAR && strcmp(n->value, "human") == 0)
                return;
        if (n->type != YNODE_MAP || n->n_items != 2 || !ybind_keys_known(n, esc_keys, d)) {
                if (n->type != YNODE_MAP || n->n_items != 2)
                        ydiag_add(d, n, "escalate: expected 'human', {runbook: NAME} or {grade: GRADE}");
                return;
        }
        const ynode *k = n->items[0], *v = n->items[1];
        if (strcmp(k->value, "runbook") == 0) {
                rb->escalate = RB_ESCALATE_RUNBOOK;
                if (ybind_scalar_dup(v, d, "escalate.runbook", &rb->escalate_runbook) == 0 && rb->name &&
                    strcmp(rb->escalate_runbook, rb->name) == 0)
                        ydiag_add(d, v, "escalate.runbook: a runbook cannot escalate to itself");
                rb->escalate_line = v->line;
                rb->escalate_col = v->col;
        } else if (bind_grade(v, d, &rb->escalate_grade) == 0) {
                rb->escalate = RB_ESCALATE_GRADE;
                if (rb->escalate_grade == GRADE_OBSERVE || rb->grade == GRADE_OBSERVE ||
                    rb->escalate_grade <= rb->grade)
                        ydiag_add(d, v, "escalate.grade '%s' must be higher than the runbook's '%s' (approve or manual)",
                                  grade_to_string(rb->escalate_grade), grade_to_string(rb->grade));
        }
}

/* The key node of `key` in mapping m (positions name the key, not its value). */
static const ynode *key_at(const ynode *m, const char *key) {
        for (size_t i = 0; m && m->type == YNODE_MAP && i + 1 < m->n_items; i += 2)
                if (m->items[i]->value && strcmp(m->items[i]->value, key) == 0)
                        return m->items[i];
        return NULL;
}

/* `notify.when` was `notify.on`, which YAML 1.1 readers (PyYAML, Ansible, yamllint) take for
 * the boolean true: the old key still works, with a warning (warn) that names where it is. */
static void bind_notify(const ynode *m, runbook *rb, const runbook_ctx *ctx, ydiag *d, ydiag *warn) {
        static const char *const keys[] = { "targets", "when", "on", NULL };
        const ynode *n, *old;

        if (!ybind_need(m, YNODE_MAP, d, "notify") || !ybind_keys_known(m, keys, d))
                return;
        if ((n = ynode_get(m, "targets")) && ybind_need(n, YNODE_SEQ, d, "notify.targets")) {
                rb->notify_targets = calloc(n->n_items + 1, sizeof(char *));
                for (size_t i = 0, w = 0; rb->notify_targets && i < n->n_items; i++) {
                        const ynode *t = n->items[i];
                        /* w: the list stays NULL-terminated past an item that was refused */
                        if (ybind_scalar_dup(t, d, "notify target", &rb->notify_targets[w]) < 0)
                                continue;
                        w++;
                        if (ctx->notify && !notify_config_has(ctx->notify, t->value))
                                ydiag_add(d, t, "notify target '%s' is not a configured webhook", YQ(t->value));
                }
        }
        n = ynode_get(m, "when");
        if ((old = ynode_get(m, "on")) && n) {
                ydiag_add(d, key_at(m, "on"), "notify: both 'when' and its old name 'on' are given: keep 'when'");
                return;
        }
        if (old) {
                ydiag_add(warn, key_at(m, "on"), "warning: notify.on is deprecated (YAML 1.1 tools read the key 'on' as the "
                          "boolean true): rename it notify.when");
                n = old;
        }
        if (n && ybind_need(n, YNODE_SEQ, d, "notify.when")) {
                rb->notify_on = 0;
                for (size_t i = 0; i < n->n_items; i++) {
                        const ynode *t = n->items[i];
                        int ev = t->type == YNODE_SCALAR ? runbook_event_from_string(t->value) : -EINVAL;
                        if (ev < 0)
                                ydiag_add(d, t, "notify.when: expected one of observed, proposed, pending, started, "
                                          "succeeded, failed, escalated, expired");
                        else
                                rb->notify_on |= 1u << ev;
                }
        }
}

static void bind_approval(const ynode *m, runbook *rb, ydiag *d) {
        static const char *const keys[] = { "approvers", "expires_in", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "approval") || !ybind_keys_known(m, keys, d))
                return;
        if ((n = ynode_get(m, "approvers")))
                (void) ybind_scalar_u32(n, d, 1, 2, &rb->approvers);
        if ((n = ynode_get(m, "expires_in")))
                (void) ybind_scalar_duration(n, d, USEC_PER_SEC, 7 * 24 * 3600 * USEC_PER_SEC, &rb->approval_expires_usec);
}

static void bind_budget(const ynode *m, runbook *rb, ydiag *d) {
        static const char *const keys[] = { "runs", "window", NULL };
        const ynode *n;

        if (!ybind_need(m, YNODE_MAP, d, "budget") || !ybind_keys_known(m, keys, d))
                return;
        if ((n = ybind_field(m, "runs", true, d)))
                (void) ybind_scalar_u32(n, d, 1, 1000, &rb->budget_runs);
        if ((n = ybind_field(m, "window", true, d)))
                (void) ybind_scalar_duration(n, d, USEC_PER_SEC, 30 * 24 * 3600 * USEC_PER_SEC, &rb->budget_window_usec);
}

static int runbook_bind(const ynode *root, runbook *rb, const runbook_ctx *ctx, ydiag *d, ydiag *w) {
        static const char *const keys[] = { "version", "name", "description", "priority", "match", "grade",
                                            "cooldown", "budget", "approval", "steps", "on_failure", "notify", NULL };
        const ynode *n;
        uint32_t version = 0;
        int r;

        if (!ybind_need(root, YNODE_MAP, d, "runbook"))
                return -EINVAL;
        (void) ybind_keys_known(root, keys, d);
        if ((n = ybind_field(root, "version", true, d)) && ybind_scalar_u32(n, d, 0, 0, &version) == 0 &&
            version != RUNBOOK_VERSION)
                ydiag_add(d, n, "unsupported runbook version %u (this ikeheal reads version %u)", version, RUNBOOK_VERSION);
        if ((n = ybind_field(root, "name", true, d)) && ybind_scalar_dup(n, d, "name", &rb->name) == 0) {
                rb->name_line = n->line;
                rb->name_col = n->col;
                if (!name_valid(rb->name))
                        ydiag_add(d, n, "name '%s': expected [a-z0-9][a-z0-9_-]*, at most %u characters", YQ(rb->name),
                                  RUNBOOK_NAME_MAX);
        }
        if ((n = ynode_get(root, "description")))
                (void) ybind_scalar_dup(n, d, "description", &rb->description);
        if ((n = ynode_get(root, "priority")))
                (void) ybind_scalar_u32(n, d, 0, 100, &rb->priority);
        if ((n = ybind_field(root, "grade", true, d)))
                (void) bind_grade(n, d, &rb->grade);
        if ((n = ybind_field(root, "match", true, d))) {
                unsigned count = 0;
                r = rb_cond_bind(n, 0, &count, d, &rb->match);
                if (r == -ENOMEM)
                        return r;
                rb->timed = rb_cond_next_open_for(rb->match, 0) != 0;
        }
        if ((n = ynode_get(root, "cooldown")))
                (void) ybind_scalar_duration(n, d, 0, 7 * 24 * 3600 * USEC_PER_SEC, &rb->cooldown_usec);
        if ((n = ynode_get(root, "budget")))
                bind_budget(n, rb, d);
        if ((n = ynode_get(root, "approval")))
                bind_approval(n, rb, d);
        if ((n = ybind_field(root, "steps", true, d))) {
                r = bind_steps(n, &rb->steps, &rb->n_steps, rb->grade, false, ctx, d, "steps");
                if (r == -ENOMEM)
                        return r;
        }
        if ((n = ynode_get(root, "on_failure")))
                bind_on_failure(n, rb, ctx, d);
        if ((n = ynode_get(root, "notify")))
                bind_notify(n, rb, ctx, d, w);
        return d->n_msgs + d->n_dropped ? -EINVAL : 0;
}

int runbook_parse_buffer(const char *name, const void *buf, size_t len, const runbook_ctx *ctx, ydiag *d,
                         runbook **ret) {
        _cleanup_(runbook_freep) runbook *rb = NULL;
        _cleanup_(ynode_freep) ynode *root = NULL;
        static const runbook_ctx none = { 0 };
        unsigned char md[32];
        unsigned mdlen = 0;
        ydiag w;
        int r;

        if (len > RUNBOOK_FILE_MAX) {
                ydiag_add_at(d, 1, 1, "runbook larger than %u bytes", RUNBOOK_FILE_MAX);
                return -E2BIG;
        }
        r = ytree_parse_buffer(buf, len, d, &root);
        if (r < 0)
                return r;
        if (!root) {
                ydiag_add_at(d, 1, 1, "empty runbook");
                return -EINVAL;
        }
        rb = calloc(1, sizeof(*rb));
        if (!rb || !(rb->file = strdup(name)))
                return -ENOMEM;
        rb->priority = 50;
        rb->approvers = 1;
        rb->rollback = true;
        rb->notify_on = (1u << _RB_EV_MAX) - 1;
        if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
                return -EIO;
        hex_encode(md, mdlen, rb->sha256);
        ydiag_init(&w, name);
        r = runbook_bind(root, rb, ctx ? ctx : &none, d, &w);
        rb->n_warnings = (unsigned) (w.n_msgs + w.n_dropped);
        rb->warnings = rb->n_warnings ? ydiag_join(&w) : NULL;
        ydiag_done(&w);
        if (r < 0)
                return r;
        if (rb->n_warnings && !rb->warnings)
                return -ENOMEM;
        *ret = TAKE_PTR(rb);
        return 0;
}

int runbook_parse_file(const char *path, const runbook_ctx *ctx, ydiag *d, runbook **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0;
        int r;

        r = yaml_set_read(path, RUNBOOK_FILE_MAX, "runbook", d, &buf, &len);
        if (r < 0)
                return r;
        return runbook_parse_buffer(path, buf, len, ctx, d, ret);
}

runbook *runbook_free(runbook *rb) {
        if (!rb)
                return NULL;
        free(rb->name);
        free(rb->description);
        free(rb->file);
        rb_cond_free(rb->match);
        for (size_t i = 0; i < rb->n_steps; i++)
                step_done(&rb->steps[i]);
        free(rb->steps);
        for (size_t i = 0; i < rb->n_on_failure; i++)
                step_done(&rb->on_failure[i]);
        free(rb->on_failure);
        free(rb->escalate_runbook);
        strv_free(rb->notify_targets);
        free(rb->warnings);
        free(rb);
        return NULL;
}
