/* The generic half of actions (see action.h): binding a step's parameters strictly against
 * the kind's closed table, their canonical serialisation, plans, and the asynchronous call —
 * per-call state, a timeout, and a completion that is always delivered from the loop, never
 * from inside action_call_new() (so callers never see their callback re-enter them). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "duration.h"
#include "yaml_bind.h"

#define STRV_MAX 32u

struct action_call {
        const action_params *params;
        const action_env *env;
        action_op op;
        char *const *context;
        void *state;
        bool running;   /* ops->start() succeeded and nothing completed it yet */
        bool finished;  /* result decided */
        int result;
        action_done_cb cb;
        void *userdata;
        ev_source *timeout, *defer;
        char detail[ACTION_DETAIL_MAX];
};

static const char *const op_names[_ACTION_OP_MAX] = {
        [ACTION_APPLY] = "apply",
        [ACTION_VERIFY] = "verify",
        [ACTION_REVERT] = "revert",
};

const char *action_op_to_string(action_op op) {
        return op >= 0 && op < _ACTION_OP_MAX ? op_names[op] : "?";
}

static size_t n_params(const action_ops *ops) {
        size_t n = 0;
        while (ops->params && ops->params[n].name)
                n++;
        return n;
}

static void value_done(action_value *v) {
        free(v->str);
        strv_free(v->strv);
        *v = (action_value){ 0 };
}

void action_params_done(action_params *p) {
        for (size_t i = 0; i < ACTION_PARAMS_MAX; i++)
                value_done(&p->v[i]);
        p->ops = NULL;
}

static bool path_ok(const char *s) {
        if (s[0] != '/')
                return false;
        for (const char *c = s; (c = strstr(c, "..")); c += 2)
                if ((c == s || c[-1] == '/') && (c[2] == '/' || c[2] == 0))
                        return false;
        return true;
}

static int bind_value(const action_param_spec *sp, const ynode *n, action_value *v, ydiag *d) {
        switch (sp->type) {
        case AP_STRING:
        case AP_PATH:
                if (n->type != YNODE_SCALAR) {
                        ydiag_add(d, n, "parameter '%s': expected a %s", sp->name, sp->type == AP_PATH ? "path" : "string");
                        return -EINVAL;
                }
                if (sp->type == AP_PATH && !path_ok(n->value)) {
                        ydiag_add(d, n, "parameter '%s': expected an absolute path without '..', got '%s'", sp->name,
                                  YQ_PATH(n->value));
                        return -EINVAL;
                }
                if (!(v->str = strdup(n->value)))
                        return -ENOMEM;
                break;
        case AP_STRV:
                if (n->type != YNODE_SEQ) {
                        ydiag_add(d, n, "parameter '%s': expected a sequence of strings", sp->name);
                        return -EINVAL;
                }
                if (n->n_items > STRV_MAX) {
                        ydiag_add(d, n->items[STRV_MAX], "parameter '%s': more than %u items", sp->name, STRV_MAX);
                        return -E2BIG;
                }
                if (!(v->strv = calloc(n->n_items + 1, sizeof(char *))))
                        return -ENOMEM;
                for (size_t i = 0; i < n->n_items; i++) {
                        if (n->items[i]->type != YNODE_SCALAR) {
                                ydiag_add(d, n->items[i], "parameter '%s': expected a string", sp->name);
                                return -EINVAL;
                        }
                        if (!(v->strv[i] = strdup(n->items[i]->value)))
                                return -ENOMEM;
                }
                break;
        case AP_U32: {
                uint32_t u;
                int r = ybind_scalar_u32(n, d, sp->min, sp->max ? sp->max : UINT32_MAX, &u);
                if (r < 0)
                        return r;
                v->num = u;
                break;
        }
        case AP_DURATION: {
                int r = ybind_scalar_duration(n, d, sp->min, sp->max, &v->num);
                if (r < 0)
                        return r;
                break;
        }
        case AP_BOOL: {
                bool b;
                int r = ybind_scalar_bool(n, d, &b);
                if (r < 0)
                        return r;
                v->num = b;
                break;
        }
        }
        v->set = true;
        return 0;
}

int action_params_bind(const action_ops *ops, const ynode *map, action_params *ret, ydiag *d) {
        size_t np = n_params(ops), before = d->n_msgs + d->n_dropped;
        action_params p = { .ops = ops };

        if (map && !ynode_is_null(map) && map->type != YNODE_MAP) {
                ydiag_add(d, map, "params of action '%s': expected a mapping", ops->kind);
                return -EINVAL;
        }
        for (size_t i = 0; map && i + 1 < map->n_items; i += 2) {
                const ynode *k = map->items[i], *v = map->items[i + 1];
                size_t j;
                for (j = 0; j < np; j++)
                        if (strcmp(ops->params[j].name, k->value) == 0)
                                break;
                if (j == np) {
                        char list[256] = "";
                        size_t len = 0;
                        for (size_t q = 0; q < np && len < sizeof(list) - 1; q++) {
                                int w = snprintf(list + len, sizeof(list) - len, "%s%s", q ? ", " : "", ops->params[q].name);
                                if (w > 0)
                                        len += (size_t) w;
                        }
                        ydiag_add(d, k, "unknown key '%s' for action '%s' (expected one of: %s)", YQ(k->value), ops->kind, list);
                        continue;
                }
                if (ynode_is_null(v)) {
                        ydiag_add(d, v, "parameter '%s' has no value", YQ(k->value));
                        continue;
                }
                int r = bind_value(&ops->params[j], v, &p.v[j], d);
                if (r == -ENOMEM) {
                        action_params_done(&p);
                        return r;
                }
        }
        for (size_t j = 0; j < np; j++)
                if (ops->params[j].required && !p.v[j].set)
                        ydiag_add(d, map, "action '%s' needs parameter '%s'", ops->kind, ops->params[j].name);
        if (d->n_msgs + d->n_dropped > before) {
                action_params_done(&p);
                return -EINVAL;
        }
        *ret = p;
        return 0;
}

int action_params_copy(const action_params *src, action_params *ret) {
        action_params p = { .ops = src->ops };

        for (size_t i = 0; i < ACTION_PARAMS_MAX; i++) {
                const action_value *s = &src->v[i];
                action_value *v = &p.v[i];
                *v = (action_value){ .set = s->set, .num = s->num };
                if (s->str && !(v->str = strdup(s->str)))
                        goto oom;
                if (s->strv) {
                        size_t n = 0;
                        while (s->strv[n])
                                n++;
                        if (!(v->strv = calloc(n + 1, sizeof(char *))))
                                goto oom;
                        for (size_t j = 0; j < n; j++)
                                if (!(v->strv[j] = strdup(s->strv[j])))
                                        goto oom;
                }
        }
        *ret = p;
        return 0;
oom:
        action_params_done(&p);
        return -ENOMEM;
}

const action_value *action_param(const action_params *p, const char *name) {
        size_t np = p && p->ops ? n_params(p->ops) : 0;
        for (size_t i = 0; i < np; i++)
                if (strcmp(p->ops->params[i].name, name) == 0)
                        return p->v[i].set ? &p->v[i] : NULL;
        return NULL;
}

void action_params_to_vici(const action_params *p, vici_builder *b) {
        size_t np = n_params(p->ops);

        for (size_t i = 0; i < np; i++) {
                const action_value *v = &p->v[i];
                const action_param_spec *sp = &p->ops->params[i];
                if (!v->set)
                        continue;
                switch (sp->type) {
                case AP_STRING:
                case AP_PATH:
                        vici_builder_add_str(b, sp->name, v->str);
                        break;
                case AP_STRV:
                        vici_builder_begin_list(b, sp->name);
                        for (size_t j = 0; v->strv && v->strv[j]; j++)
                                vici_builder_add_list_item(b, v->strv[j]);
                        vici_builder_end_list(b);
                        break;
                default:
                        vici_builder_add_fmt(b, sp->name, "%llu", (unsigned long long) v->num);
                        break;
                }
        }
}

int action_params_from_vici(const action_ops *ops, const vici_node *section, action_params *ret) {
        size_t np = n_params(ops);
        action_params p = { .ops = ops };

        for (const vici_node *n = section->child; n; n = n->next) {
                size_t j;
                for (j = 0; j < np; j++)
                        if (n->name && strcmp(ops->params[j].name, n->name) == 0)
                                break;
                if (j == np || p.v[j].set)
                        goto bad;
                const action_param_spec *sp = &ops->params[j];
                action_value *v = &p.v[j];
                if (sp->type == AP_STRV) {
                        size_t k = 0;
                        if (n->type != VICI_NODE_LIST)
                                goto bad;
                        for (const vici_node *c = n->child; c; c = c->next)
                                k++;
                        if (k > STRV_MAX || !(v->strv = calloc(k + 1, sizeof(char *))))
                                goto bad;
                        k = 0;
                        for (const vici_node *c = n->child; c; c = c->next)
                                if (memchr(c->value, 0, c->len) || !(v->strv[k++] = strndup(c->value, c->len)))
                                        goto bad;
                } else {
                        const char *s = vici_node_str(section, n->name);
                        if (n->type != VICI_NODE_VALUE || !s)
                                goto bad;
                        if (sp->type == AP_STRING || sp->type == AP_PATH) {
                                if ((sp->type == AP_PATH && !path_ok(s)) || !(v->str = strdup(s)))
                                        goto bad;
                        } else {
                                uint64_t x;
                                if (vici_node_u64(section, n->name, &x) < 0 || (sp->type == AP_BOOL && x > 1) ||
                                    (sp->type == AP_U32 && x > UINT32_MAX))
                                        goto bad;
                                v->num = x;
                        }
                }
                v->set = true;
        }
        for (size_t j = 0; j < np; j++)
                if (ops->params[j].required && !p.v[j].set)
                        goto bad;
        *ret = p;
        return 0;
bad:
        action_params_done(&p);
        return -EBADMSG;
}

bool action_supports(const action_params *p, action_op op) {
        if (op == ACTION_APPLY)
                return true;
        return p->ops && p->ops->supports && p->ops->supports(p, op);
}

int action_precondition(const action_params *p, const action_env *env, char *why, size_t why_size) {
        if (why_size)
                why[0] = 0;
        if (!p->ops || !p->ops->precondition)
                return 0;
        return p->ops->precondition(p, env, why, why_size);
}

int action_hold(const action_params *p, const action_env *env, char *why, size_t why_size) {
        if (why_size)
                why[0] = 0;
        if (!p->ops || !p->ops->hold)
                return 0;
        return p->ops->hold(p, env, why, why_size);
}

uint64_t action_revert_timeout(const action_params *p, uint64_t dflt) {
        uint64_t t = p->ops && p->ops->revert_timeout ? p->ops->revert_timeout(p) : 0;
        return t > dflt ? t : dflt;
}

int action_plan_add(action_plan *p, const char *fmt, ...) {
        va_list ap;
        int n;

        if (p->truncated)
                return -E2BIG;
        va_start(ap, fmt);
        n = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n + 1 >= sizeof(p->text) - p->len) {
                p->text[p->len] = 0;
                p->truncated = true;
                return -E2BIG;
        }
        p->len += (size_t) n;
        p->text[p->len++] = '\n';
        p->text[p->len] = 0;
        return 0;
}

int action_plan_make(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        if (!p->ops->plan)
                return action_plan_add(out, "  %s %s (no description)", p->ops->kind, action_op_to_string(op));
        return p->ops->plan(p, env, op, out);
}

/* The call. */

static int on_defer(ev_source *s, void *userdata) {
        action_call *c = userdata;
        action_done_cb cb = c->cb;

        (void) ev_source_set_enabled(s, EV_OFF);
        c->cb = NULL; /* exactly once; the callback may free the call */
        if (cb)
                cb(c, c->result, c->userdata);
        return 0;
}

static void finish(action_call *c, int result) {
        if (c->finished)
                return;
        c->finished = true;
        c->result = result;
        c->running = false;
        c->timeout = ev_source_disable_unref(c->timeout);
        if (c->defer)
                (void) ev_source_set_enabled(c->defer, EV_ONESHOT);
}

static int on_timeout(ev_source *s, uint64_t usec, void *userdata) {
        action_call *c = userdata;
        char d[32];

        if (c->running && c->params->ops->cancel)
                c->params->ops->cancel(c->state);
        c->running = false;
        action_call_set_detail(c, "timed out after %s%s%s", duration_format(usec, d, sizeof(d)),
                               c->detail[0] ? ": " : "", c->detail);
        finish(c, -ETIME);
        return 0;
}

int action_call_new(action_call **ret, const action_params *p, const action_env *env, action_op op,
                    uint64_t timeout_usec, char *const *context, action_done_cb cb, void *userdata) {
        const action_ops *ops = p->ops;
        action_call *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        *c = (action_call){ .params = p, .env = env, .op = op, .context = context, .cb = cb, .userdata = userdata };
        if (ops->state_size && !(c->state = calloc(1, ops->state_size))) {
                free(c);
                return -ENOMEM;
        }
        r = ev_add_defer(env->event, &c->defer, on_defer, c);
        if (r >= 0)
                r = ev_source_set_enabled(c->defer, EV_OFF);
        if (r >= 0 && timeout_usec)
                r = ev_add_time_relative(env->event, &c->timeout, CLOCK_MONOTONIC, timeout_usec, USEC_PER_MSEC,
                                               on_timeout, c);
        if (r < 0) {
                action_call_free(c);
                return r;
        }
        *ret = c;
        if (!action_supports(p, op)) {
                action_call_set_detail(c, "action '%s' cannot %s", ops->kind, action_op_to_string(op));
                finish(c, -EOPNOTSUPP);
                return 0;
        }
        c->running = true;
        r = ops->start ? ops->start(c->state, c, op) : -EOPNOTSUPP;
        if (r < 0) {
                c->running = false;
                finish(c, r);
        }
        return 0;
}

action_call *action_call_free(action_call *c) {
        if (!c)
                return NULL;
        if (c->running && c->params->ops->cancel)
                c->params->ops->cancel(c->state);
        if (c->state && c->params->ops->done)
                c->params->ops->done(c->state);
        free(c->state);
        ev_source_disable_unref(c->timeout);
        ev_source_disable_unref(c->defer);
        free(c);
        return NULL;
}

const action_params *action_call_params(const action_call *c) {
        return c->params;
}

const action_env *action_call_env(const action_call *c) {
        return c->env;
}

char *const *action_call_context(const action_call *c) {
        return c->context;
}

action_op action_call_op(const action_call *c) {
        return c->op;
}

void action_call_set_detail(action_call *c, const char *fmt, ...) {
        char buf[ACTION_DETAIL_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        memcpy(c->detail, buf, sizeof(buf));
}

void action_call_done(action_call *c, int result) {
        c->running = false;
        finish(c, result);
}

const char *action_call_detail(const action_call *c) {
        return c->detail;
}
