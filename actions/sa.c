/* The `sa` action: operations on charon's security associations over VICI — terminate an
 * IKE_SA or CHILD_SA (by connection or child name, or by unique id), initiate a CHILD_SA (and
 * its IKE_SA), rekey, or reload strongswan.conf's settings. The command's own reply decides
 * ("success", else "errmsg"). Terminating drops SAs: disruptive, so blast radius applies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "vici.h"

enum { P_OPERATION, P_IKE, P_CHILD, P_IKE_ID, P_CHILD_ID, P_FORCE, _P_MAX };

static const action_param_spec params[] = {
        [P_OPERATION] = { "operation", AP_STRING, true },
        [P_IKE] = { "ike", AP_STRING, false },
        [P_CHILD] = { "child", AP_STRING, false },
        [P_IKE_ID] = { "ike_id", AP_U32, false, 1, UINT32_MAX },
        [P_CHILD_ID] = { "child_id", AP_U32, false, 1, UINT32_MAX },
        [P_FORCE] = { "force", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

typedef struct sa_state {
        action_call *call;
        vici_client *vici;
        bool pending;
} sa_state;

static const char *op_of(const action_params *p) {
        return p->v[P_OPERATION].str;
}

static const char *command_of(const char *op) {
        return strcmp(op, "terminate") == 0  ? "terminate"
               : strcmp(op, "initiate") == 0 ? "initiate"
               : strcmp(op, "rekey") == 0    ? "rekey"
               : strcmp(op, "reload-settings") == 0 ? "reload-settings"
                                                    : NULL;
}

static int sa_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        const char *op = op_of(p);
        bool any = p->v[P_IKE].set || p->v[P_CHILD].set || p->v[P_IKE_ID].set || p->v[P_CHILD_ID].set;

        if (!command_of(op)) {
                (void) snprintf(why, n, "operation: expected terminate, initiate, rekey or reload-settings, got '%.60s'", op);
                return -EINVAL;
        }
        if (strcmp(op, "reload-settings") != 0 && !any) {
                (void) snprintf(why, n, "%s needs ike, child, ike_id or child_id", op);
                return -EINVAL;
        }
        if (strcmp(op, "initiate") == 0 && !p->v[P_CHILD].set) {
                (void) snprintf(why, n, "initiate needs child (and optionally ike)");
                return -EINVAL;
        }
        return 0;
}

static int sa_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char what[300] = "";
        if (p->v[P_IKE].set || p->v[P_CHILD].set)
                (void) snprintf(what, sizeof(what), "%s%s%s%s", p->v[P_IKE].set ? " ike=" : "", p->v[P_IKE].set ? p->v[P_IKE].str : "",
                                p->v[P_CHILD].set ? " child=" : "", p->v[P_CHILD].set ? p->v[P_CHILD].str : "");
        else if (p->v[P_IKE_ID].set || p->v[P_CHILD_ID].set)
                (void) snprintf(what, sizeof(what), " %s-id=%llu", p->v[P_IKE_ID].set ? "ike" : "child",
                                (unsigned long long) (p->v[P_IKE_ID].set ? p->v[P_IKE_ID].num : p->v[P_CHILD_ID].num));
        if (strcmp(op_of(p), "terminate") == 0)
                out->disruptive = true;
        return action_plan_add(out, "  VICI: %s%s%s", command_of(op_of(p)) ?: "?", what,
                               out->disruptive ? " (the matching SAs drop)" : "");
}

static void on_reply(vici_client *c, int error, const vici_node *reply, void *userdata) {
        sa_state *s = userdata;
        const char *ok = reply ? vici_node_str(reply, "success") : NULL, *err = reply ? vici_node_str(reply, "errmsg") : NULL;

        s->pending = false;
        if (error < 0) {
                action_call_set_detail(s->call, "VICI: %s", strerror(-error));
                action_call_done(s->call, error);
                return;
        }
        if (!ok || strcmp(ok, "yes") != 0) {
                action_call_set_detail(s->call, "charon: %s", err ? err : "failed");
                action_call_done(s->call, -EPROTO);
                return;
        }
        action_call_set_detail(s->call, "charon: %s done", command_of(op_of(action_call_params(s->call))));
        action_call_done(s->call, 0);
}

static int sa_start(void *state, action_call *call, action_op op) {
        sa_state *s = state;
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) uint8_t *msg = NULL;
        vici_builder *b = NULL;
        size_t len = 0;
        int r;

        *s = (sa_state){ .call = call, .vici = env->vici };
        if (!s->vici || !vici_client_is_connected(s->vici)) {
                action_call_set_detail(call, "charon is not connected over VICI");
                return -ENOTCONN;
        }
        if ((r = vici_builder_new(&b)) < 0)
                return r;
        if (p->v[P_IKE].set)
                vici_builder_add_str(b, "ike", p->v[P_IKE].str);
        if (p->v[P_CHILD].set)
                vici_builder_add_str(b, "child", p->v[P_CHILD].str);
        if (p->v[P_IKE_ID].set)
                vici_builder_add_fmt(b, "ike-id", "%llu", (unsigned long long) p->v[P_IKE_ID].num);
        if (p->v[P_CHILD_ID].set)
                vici_builder_add_fmt(b, "child-id", "%llu", (unsigned long long) p->v[P_CHILD_ID].num);
        if (p->v[P_FORCE].set && p->v[P_FORCE].num)
                vici_builder_add_str(b, "force", "yes");
        if (strcmp(op_of(p), "terminate") == 0 || strcmp(op_of(p), "initiate") == 0)
                vici_builder_add_str(b, "timeout", "5000");
        if ((r = vici_builder_finish(b, &msg, &len)) < 0)
                return r;
        r = vici_client_command(s->vici, command_of(op_of(p)), msg, len, on_reply, s);
        s->pending = r >= 0;
        return r;
}

static void sa_cancel(void *state) {
        sa_state *s = state;
        if (s->pending)
                vici_client_forget(s->vici, s);
        s->pending = false;
}

static bool sa_supports(const action_params *p, action_op op) {
        return false;
}

const action_ops action_sa = {
        .kind = "sa",
        .description = "terminate, initiate or rekey SAs, or reload settings, over VICI",
        .params = params,
        .effects = true,
        .state_size = sizeof(sa_state),
        .validate = sa_validate,
        .plan = sa_plan,
        .start = sa_start,
        .cancel = sa_cancel,
        .done = sa_cancel,
        .supports = sa_supports,
};
