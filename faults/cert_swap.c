/* The `cert_swap` fault: the gateway's live certificate replaced by one that is expired or not
 * yet valid, and charon made to use it — credentials reloaded with --clear, then connections
 * (a certificate is bound to a connection when it is loaded). Peers then refuse the gateway's
 * AUTH, as they would after a missed renewal or a clock jump.
 *
 * `with` must really be what `validity` says (validate() reads its dates), so a drill that means
 * "expired" tests expiry and not something else; a key that does not match the target's is
 * only noted (the fault is then also a key mismatch). Backup, revert and loads: file_swap.h. */
#include <errno.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "faults/faults.h"
#include "faults/file_swap.h"
#include "atomic_file.h"
#include "x509_file.h"

enum { P_TARGET, P_WITH, P_VALIDITY, _P_MAX };

static const action_param_spec params[] = {
        [P_TARGET] = { "target", AP_PATH, true },
        [P_WITH] = { "with", AP_PATH, true },
        [P_VALIDITY] = { "validity", AP_STRING, true },
        [_P_MAX] = { 0 },
};

/* Credentials cleared (the replaced certificate must not stay loaded), then connections. */
static const file_swap_load loads[] = {
        { "--load-creds", true },
        { "--load-conns", false },
        { NULL },
};

static const char *tree(const action_params *p, const action_env *env, char *buf, size_t n) {
        return file_swap_tree(env, p->v[P_TARGET].str, 2, buf, n);
}

/* Is `with` a certificate of the kind `validity` names? note: what is only worth a mention. */
static int judge(const action_params *p, char *why, size_t n, char *note, size_t note_size) {
        const char *validity = p->v[P_VALIDITY].str;
        X509 *x = x509_file_cert(p->v[P_WITH].str), *t = NULL;
        int r = -EINVAL;

        note[0] = 0;
        if (strcmp(validity, "expired") != 0 && strcmp(validity, "notyet") != 0)
                (void) snprintf(why, n, "validity: expected expired or notyet, got '%.100s'", validity);
        else if (!x)
                (void) snprintf(why, n, "with: %.300s is not a certificate (PEM or DER)", p->v[P_WITH].str);
        else if (strcmp(validity, "expired") == 0 && X509_cmp_current_time(X509_get0_notAfter(x)) >= 0)
                (void) snprintf(why, n, "with: %.300s has not expired (validity: expired)", p->v[P_WITH].str);
        else if (strcmp(validity, "notyet") == 0 && X509_cmp_current_time(X509_get0_notBefore(x)) <= 0)
                (void) snprintf(why, n, "with: %.300s is valid already (validity: notyet)", p->v[P_WITH].str);
        else
                r = 0;
        if (r == 0 && (t = x509_file_cert(p->v[P_TARGET].str)) && EVP_PKEY_eq(X509_get0_pubkey(t), X509_get0_pubkey(x)) != 1)
                (void) snprintf(note, note_size, "; note: its key is not the target's (the live key will not match it)");
        X509_free(t);
        X509_free(x);
        return r;
}

static int cert_swap_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        char note[120];
        return judge(p, why, n, note, sizeof(note));
}

static int cert_swap_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char buf[4200];

        if (op == ACTION_APPLY)
                (void) action_plan_add(out, "  replace the certificate %s by %s (%s), same mode and owner", p->v[P_TARGET].str,
                                       p->v[P_WITH].str, strcmp(p->v[P_VALIDITY].str, "expired") == 0 ? "expired" : "not yet valid");
        return file_swap_plan(env, p->v[P_TARGET].str, tree(p, env, buf, sizeof(buf)), loads, op, out);
}

static int cert_swap_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *data = NULL;
        char buf[4200], why[600], note[120], what[800];
        size_t len = 0;
        int r;

        if (op == ACTION_VERIFY)
                return file_swap_verify(call, p->v[P_TARGET].str);
        if (op == ACTION_REVERT)
                return file_swap_revert(state, call, p->v[P_TARGET].str, tree(p, env, buf, sizeof(buf)), loads);
        if ((r = judge(p, why, sizeof(why), note, sizeof(note))) < 0) {
                action_call_set_detail(call, "refused, nothing changed: %s", why);
                return r;
        }
        if ((r = atomic_file_read(p->v[P_WITH].str, X509_FILE_MAX, &data, &len)) < 0) {
                action_call_set_detail(call, "cannot read %s: %s", p->v[P_WITH].str, strerror(-r));
                return r;
        }
        (void) snprintf(what, sizeof(what), "%.300s (%s) now in place of %.300s%s", p->v[P_WITH].str,
                        strcmp(p->v[P_VALIDITY].str, "expired") == 0 ? "expired" : "not yet valid", p->v[P_TARGET].str, note);
        return file_swap_apply(state, call, p->v[P_TARGET].str, data, len, tree(p, env, buf, sizeof(buf)), loads, FILE_SWAP_STRICT, what);
}

const action_ops fault_cert_swap = {
        .kind = "cert_swap",
        .description = "an expired or not yet valid certificate in place of the live one, loaded",
        .params = params,
        .effects = true,
        .state_size = sizeof(file_swap),
        .validate = cert_swap_validate,
        .plan = cert_swap_plan,
        .start = cert_swap_start,
        .cancel = file_swap_cancel,
        .done = file_swap_cancel,
        .supports = file_swap_supports,
};
