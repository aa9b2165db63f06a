/* A guarded change undone: for every firewall check, `nft_restore` from the snapshot the guard's
 * begin recorded (only the objects that make IKE drop now, only if still as found; the admin's
 * other tables are drift and stay); for every config check, `config_rollback` — but only when its
 * verify says files differ from that point, so a change that touched no file reloads nothing.
 * The calls run one after another on the loop; what each did (the action's own detail) is
 * collected into one text that says what was undone. The first call that fails stops the
 * sequence: what follows it would build on a state nobody knows. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "agent/checks/check.h"
#include "agent/checks/check_set.h"
#include "agent/checks/registry.h"
#include "agent/guard/guard_internal.h"

#define STEPS_MAX 16u
#define CALL_TIMEOUT_USEC (90 * USEC_PER_SEC)

typedef struct step {
        action_params params;
        action_op op;
        bool config; /* config_rollback: apply only after a verify that says files differ */
        char check[64];
} step;

struct guard_rollback {
        const action_env *env;
        step steps[STEPS_MAX];
        size_t n, at;
        action_call *call;
        char text[GUARD_TEXT_MAX];
        size_t len;
        bool changed; /* something was put back */
        guard_rollback_done_fn done;
        void *userdata;
};

static void say(guard_rollback *rb, const char *fmt, ...) _printf_(2, 3);
static void say(guard_rollback *rb, const char *fmt, ...) {
        char part[GUARD_TEXT_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(part, sizeof(part), fmt, ap);
        va_end(ap);
        int k = snprintf(rb->text + rb->len, sizeof(rb->text) - rb->len, "%s%s", rb->len ? "; " : "", part);
        if (k > 0)
                rb->len = rb->len + (size_t) k < sizeof(rb->text) ? rb->len + (size_t) k : sizeof(rb->text) - 1;
}

static int step_add(guard_rollback *rb, const char *kind, const char *name, action_op op, bool config) {
        const action_ops *ops = action_find(kind);
        vici_builder *b = NULL;
        _cleanup_(freep) uint8_t *buf = NULL;
        _cleanup_(vici_node_freep) vici_node *n = NULL;
        size_t len = 0;
        step *s;
        int r;

        if (!ops)
                return -ENOENT;
        if (rb->n >= STEPS_MAX)
                return -E2BIG;
        s = &rb->steps[rb->n];
        r = vici_builder_new(&b);
        if (r < 0)
                return r;
        vici_builder_add_str(b, "check", name);
        r = vici_builder_finish(b, &buf, &len);
        if (r >= 0)
                r = vici_msg_parse(buf, len, &n);
        if (r >= 0)
                r = action_params_from_vici(ops, n, &s->params);
        if (r < 0)
                return r;
        s->op = op;
        s->config = config;
        (void) snprintf(s->check, sizeof(s->check), "%s", name);
        rb->n++;
        return 0;
}

static void next(guard_rollback *rb);

static void finish(guard_rollback *rb, int result) {
        if (!rb->len)
                say(rb, "nothing differed from the point the guard took: nothing to undo");
        rb->done(result, rb->text, rb->userdata);
}

static void on_call(action_call *call, int result, void *userdata) {
        guard_rollback *rb = userdata;
        step *s = &rb->steps[rb->at];
        const char *detail = action_call_detail(call);

        if (s->config && s->op == ACTION_VERIFY) {
                if (result == -EPROTO) {
                        /* files differ: the same step again, as the rollback itself */
                        s->op = ACTION_APPLY;
                        rb->call = action_call_free(rb->call);
                        next(rb);
                        return;
                }
                if (result < 0)
                        say(rb, "configuration (%s): cannot compare with the guard's point: %s", s->check,
                            detail && detail[0] ? detail : strerror(-result));
                rb->call = action_call_free(rb->call);
                if (result < 0) {
                        finish(rb, result);
                        return;
                }
                rb->at++;
                next(rb);
                return;
        }
        say(rb, "%s (%s): %s%s%s", s->config ? "configuration" : "nftables", s->check, result < 0 ? "FAILED: " : "",
            detail && detail[0] ? detail : result < 0 ? strerror(-result) : "done", "");
        rb->changed = rb->changed || result >= 0;
        rb->call = action_call_free(rb->call);
        if (result < 0) {
                finish(rb, result);
                return;
        }
        rb->at++;
        next(rb);
}

static void next(guard_rollback *rb) {
        int r;

        if (rb->at >= rb->n) {
                finish(rb, 0);
                return;
        }
        step *s = &rb->steps[rb->at];
        r = action_call_new(&rb->call, &s->params, rb->env, s->op, CALL_TIMEOUT_USEC, NULL, on_call, rb);
        if (r < 0) {
                say(rb, "%s (%s): cannot start: %s", s->config ? "configuration" : "nftables", s->check, strerror(-r));
                finish(rb, r);
        }
}

int guard_rollback_new(guard_rollback **ret, const action_env *env, check_set *checks, guard_rollback_done_fn done,
                       void *userdata) {
        guard_rollback *rb;
        int r = 0;

        if (!env)
                return -ENXIO;
        rb = calloc(1, sizeof(*rb));
        if (!rb)
                return -ENOMEM;
        rb->env = env;
        rb->done = done;
        rb->userdata = userdata;
        /* the firewall first: it is what cuts peers off; then the files and their reload */
        for (size_t i = 0; r >= 0 && i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                if (check_kind_traits(check_kind(c)).cls == FAULT_FIREWALL)
                        r = step_add(rb, "nft_restore", check_name(c), ACTION_APPLY, false);
        }
        for (size_t i = 0; r >= 0 && i < check_set_size(checks); i++) {
                check *c = check_set_get(checks, i);
                if (check_kind_traits(check_kind(c)).cls == FAULT_CONFIG_CHANGE)
                        r = step_add(rb, "config_rollback", check_name(c), ACTION_VERIFY, true);
        }
        if (r < 0) {
                guard_rollback_free(rb);
                return r;
        }
        *ret = rb;
        return 0;
}

void guard_rollback_start(guard_rollback *rb) {
        next(rb);
}

guard_rollback *guard_rollback_free(guard_rollback *rb) {
        if (!rb)
                return NULL;
        action_call_free(rb->call);
        for (size_t i = 0; i < rb->n; i++)
                action_params_done(&rb->steps[i].params);
        free(rb);
        return NULL;
}
