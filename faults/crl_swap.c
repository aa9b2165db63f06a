/* The `crl_swap` fault: the CRL charon reads from the swanctl tree's x509crl/ replaced by another
 * one (`with`: a stale CRL, as when the distribution point has been unreachable for too long) or
 * removed (`remove: true`), and credentials reloaded. What revocation checking then does is
 * what the drill watches. Backup and revert (the original put back, or what we put there
 * removed if there was none): file_swap.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faults/faults.h"
#include "faults/file_swap.h"
#include "atomic_file.h"

enum { P_TARGET, P_WITH, P_REMOVE, _P_MAX };

static const action_param_spec params[] = {
        [P_TARGET] = { "target", AP_PATH, true },
        [P_WITH] = { "with", AP_PATH, false },
        [P_REMOVE] = { "remove", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

static const file_swap_load loads[] = {
        { "--load-creds", false },
        { NULL },
};

static bool remove_of(const action_params *p) {
        return p->v[P_REMOVE].set && p->v[P_REMOVE].num;
}

static int crl_swap_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        if (p->v[P_WITH].set == remove_of(p)) {
                (void) snprintf(why, n, "exactly one of with and remove: true");
                return -EINVAL;
        }
        return 0;
}

static int crl_swap_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char buf[4200];

        if (op == ACTION_APPLY && remove_of(p))
                (void) action_plan_add(out, "  remove the CRL %s", p->v[P_TARGET].str);
        else if (op == ACTION_APPLY)
                (void) action_plan_add(out, "  replace the CRL %s by %s, same mode and owner", p->v[P_TARGET].str, p->v[P_WITH].str);
        return file_swap_plan(env, p->v[P_TARGET].str, file_swap_tree(env, p->v[P_TARGET].str, 2, buf, sizeof(buf)), loads, op,
                              out);
}

static int crl_swap_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        const char *target = p->v[P_TARGET].str;
        _cleanup_(freep) char *data = NULL;
        char buf[4200], what[800];
        size_t len = 0;
        int r;

        if (op == ACTION_VERIFY)
                return file_swap_verify(call, target);
        if (op == ACTION_REVERT)
                return file_swap_revert(state, call, target, file_swap_tree(env, target, 2, buf, sizeof(buf)), loads);
        if (remove_of(p))
                (void) snprintf(what, sizeof(what), "%.300s removed", target);
        else if ((r = atomic_file_read(p->v[P_WITH].str, FILE_SWAP_MAX, &data, &len)) < 0) {
                action_call_set_detail(call, "cannot read %s: %s; nothing changed", p->v[P_WITH].str, strerror(-r));
                return r;
        } else
                (void) snprintf(what, sizeof(what), "%.300s now in place of %.300s", p->v[P_WITH].str, target);
        return file_swap_apply(state, call, target, data, len, file_swap_tree(env, target, 2, buf, sizeof(buf)), loads, FILE_SWAP_STRICT,
                               what);
}

const action_ops fault_crl_swap = {
        .kind = "crl_swap",
        .description = "a stale CRL in place of the cached one, or the CRL removed, and credentials reloaded",
        .params = params,
        .effects = true,
        .state_size = sizeof(file_swap),
        .validate = crl_swap_validate,
        .plan = crl_swap_plan,
        .start = crl_swap_start,
        .cancel = file_swap_cancel,
        .done = file_swap_cancel,
        .supports = file_swap_supports,
};
