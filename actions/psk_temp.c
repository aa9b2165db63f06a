/* The `psk_temp` action: a temporary pre-shared-key fallback, for when certificate
 * authentication is broken for peers that must keep working. Always a temporary measure (the
 * parser insists on expires_in; the policy bounds it).
 *
 * A strong random secret (32 bytes from OpenSSL's RAND) and, per allowed peer identity, one
 * connection `ikeheal-psk-N` inheriting everything from the existing connection `conn` except
 * authentication (PSK both ways, the remote id pinned to that peer, no CA constraint) go into
 * one file, 0600, in the swanctl tree's conf.d/ (swanctl.conf must include conf.d/ files, as
 * Debian's does); the secret is kept root-only under <state_dir>/psk/ for `ikehealctl psk`
 * (approvers only, audited). swanctl --load-all loads it. Certificate authentication stays
 * preferred: the original connection is untouched, and a peer presenting a certificate still
 * gets it. The revert deletes both files and loads again, which unloads the connections and the
 * secret. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "actions/swanctl.h"
#include "atomic_file.h"

enum { P_CONN, P_PEERS, P_TAG, P_CHECK, P_SWANCTL, _P_MAX };

static const action_param_spec params[] = {
        [P_CONN] = { "conn", AP_STRING, true },
        [P_PEERS] = { "peers", AP_STRV, true },
        [P_TAG] = { "tag", AP_STRING, false },
        [P_CHECK] = { "check", AP_STRING, false },
        [P_SWANCTL] = { "swanctl", AP_PATH, false },
        [_P_MAX] = { 0 },
};

typedef struct psk_state {
        action_call *call;
        spawn *child;
        char detail[512];
} psk_state;

static const char *tag_of(const action_params *p) {
        return p->v[P_TAG].set ? p->v[P_TAG].str : "ikeheal-psk";
}

/* The swanctl tree: the `check` param's check, else the config check's, else the certificate
 * check's — the tree the agent watches — else strongSwan's default. */
static const char *swanctl_dir(const action_params *p, const action_env *env) {
        const char *const order[] = { p->v[P_CHECK].set ? p->v[P_CHECK].str : "config", "certificate" };
        for (size_t i = 0; env->check_param && i < ELEMENTSOF(order); i++) {
                const char *d = env->check_param(env->check_userdata, order[i], "swanctl_dir");
                if (d)
                        return d;
        }
        return "/etc/swanctl";
}

static char *conf_path(const action_params *p, const action_env *env) {
        char *s;
        return asprintf(&s, "%s/conf.d/%s.conf", swanctl_dir(p, env), tag_of(p)) < 0 ? NULL : s;
}

char *psk_secret_path(const char *state_dir, const char *tag) {
        char *s;
        return !state_dir || asprintf(&s, "%s/psk/%s", state_dir, tag) < 0 ? NULL : s;
}

/* Names and identities go into swanctl.conf: nothing that could end a value or a section. */
static bool token_ok(const char *s) {
        return s[0] && strlen(s) < 256 && !strpbrk(s, "{}\"\n\r#;=");
}

static int psk_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        if (!token_ok(p->v[P_CONN].str) || strchr(p->v[P_CONN].str, ' ') || strchr(p->v[P_CONN].str, '.')) {
                (void) snprintf(why, n, "conn: '%.100s' is not a connection name", p->v[P_CONN].str);
                return -EINVAL;
        }
        if (!p->v[P_PEERS].strv || !p->v[P_PEERS].strv[0]) {
                (void) snprintf(why, n, "peers: at least one peer identity");
                return -EINVAL;
        }
        for (size_t i = 0; p->v[P_PEERS].strv[i]; i++)
                if (!token_ok(p->v[P_PEERS].strv[i]) || strchr(p->v[P_PEERS].strv[i], '*')) {
                        (void) snprintf(why, n, "peers: '%.100s' is not one identity (no wildcards: the fallback is for "
                                        "named peers)", p->v[P_PEERS].strv[i]);
                        return -EINVAL;
                }
        if (p->v[P_TAG].set && (!token_ok(tag_of(p)) || strpbrk(tag_of(p), "/. "))) {
                (void) snprintf(why, n, "tag: a plain name");
                return -EINVAL;
        }
        return 0;
}

static void on_loaded(spawn *child, int code, int status, const char *out, void *userdata) {
        psk_state *s = userdata;
        bool bad = swanctl_failed(code, status, out);
        action_call_set_detail(s->call, "%s; swanctl --load-all: %s%s", s->detail, bad ? "FAILED: " : "", out);
        action_call_done(s->call, bad ? -EPROTO : 0);
}

static int load(psk_state *s, const action_params *p, const action_env *env) {
        return swanctl_load_all(&s->child, env, p->v[P_SWANCTL].set ? p->v[P_SWANCTL].str : SWANCTL_DEFAULT,
                                swanctl_dir(p, env),
                                env->check_param ? env->check_param(env->check_userdata, "config", "strongswan_conf") : NULL,
                                false, on_loaded, s);
}

static int apply(psk_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *conf = conf_path(p, env), *secret_path = psk_secret_path(env->state_dir, tag_of(p)), *text = NULL,
                             *dir = NULL;
        unsigned char raw[32];
        char b64[64];
        size_t size = 0;
        FILE *f;
        int r;

        if (!conf || !secret_path)
                return -ENOMEM;
        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -EIO;
        (void) EVP_EncodeBlock((unsigned char *) b64, raw, sizeof(raw));
        explicit_bzero(raw, sizeof(raw));
        if (!(f = open_memstream(&text, &size)))
                return -ENOMEM;
        fprintf(f, "# Written by ikeheald (temporary PSK fallback, a measure with an expiry): do not edit.\n"
                   "connections {\n");
        for (size_t i = 0; p->v[P_PEERS].strv[i]; i++)
                fprintf(f, "        %s-%zu : connections.%s {\n"
                           "                local {\n                        auth = psk\n                }\n"
                           "                remote {\n                        auth = psk\n                        cacerts =\n"
                           "                        id = %s\n                }\n        }\n",
                        tag_of(p), i + 1, p->v[P_CONN].str, p->v[P_PEERS].strv[i]);
        fprintf(f, "}\nsecrets {\n        ike-%s {\n                secret = 0s%s\n", tag_of(p), b64);
        for (size_t i = 0; p->v[P_PEERS].strv[i]; i++)
                fprintf(f, "                id-%zu = %s\n", i + 1, p->v[P_PEERS].strv[i]);
        fprintf(f, "        }\n}\n");
        if (fclose(f) != 0)
                return -ENOMEM;
        if (asprintf(&dir, "%s/psk", env->state_dir) < 0)
                return -ENOMEM;
        if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || (r = atomic_file_write(secret_path, b64, strlen(b64), 0600)) < 0 ||
            (r = atomic_file_write(conf, text, size, 0600)) < 0) {
                r = -errno ?: -EIO;
                action_call_set_detail(s->call, "cannot write %s: %s", conf, strerror(-r));
                explicit_bzero(text, size);
                explicit_bzero(b64, sizeof(b64));
                return r;
        }
        explicit_bzero(text, size);
        explicit_bzero(b64, sizeof(b64));
        (void) snprintf(s->detail, sizeof(s->detail), "PSK fallback for %s peer(s) based on connection %s written to %.300s (0600)",
                        p->v[P_PEERS].strv[1] ? "several" : p->v[P_PEERS].strv[0], p->v[P_CONN].str, conf);
        return load(s, p, env);
}

static int revert(psk_state *s, const action_params *p, const action_env *env) {
        _cleanup_(freep) char *conf = conf_path(p, env), *secret_path = psk_secret_path(env->state_dir, tag_of(p));

        if (!conf || !secret_path)
                return -ENOMEM;
        if ((unlink(conf) < 0 && errno != ENOENT) || (unlink(secret_path) < 0 && errno != ENOENT)) {
                action_call_set_detail(s->call, "cannot remove the PSK fallback: %s", strerror(errno));
                return -errno;
        }
        (void) snprintf(s->detail, sizeof(s->detail), "PSK fallback removed (%.300s and its secret)", conf);
        return load(s, p, env);
}

static int psk_start(void *state, action_call *call, action_op op) {
        psk_state *s = state;
        *s = (psk_state){ .call = call };
        return op == ACTION_APPLY ? apply(s, action_call_params(call), action_call_env(call))
                                  : revert(s, action_call_params(call), action_call_env(call));
}

static void psk_cancel(void *state) {
        psk_state *s = state;
        s->child = spawn_free(s->child);
}

static int psk_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        _cleanup_(freep) char *conf = conf_path(p, env);
        char peers[512] = "";
        size_t w = 0;

        for (size_t i = 0; p->v[P_PEERS].strv && p->v[P_PEERS].strv[i]; i++) {
                int k = snprintf(peers + w, sizeof(peers) - w, "%s%s", i ? ", " : "", p->v[P_PEERS].strv[i]);
                if (k < 0 || (size_t) k >= sizeof(peers) - w)
                        break;
                w += (size_t) k;
        }
        if (op == ACTION_REVERT)
                return action_plan_add(out, "  delete %s and the stored secret, then swanctl --load-all (unloads them)",
                                       conf ?: "?");
        return action_plan_add(out, "  write %s (0600): connections inheriting %s with PSK authentication for %s only, "
                               "a new random 256-bit secret; then swanctl --load-all",
                               conf ?: "?", p->v[P_CONN].str, peers);
}

static bool psk_supports(const action_params *p, action_op op) {
        return op == ACTION_REVERT;
}

const action_ops action_psk_temp = {
        .kind = "psk_temp",
        .description = "temporary PSK fallback for named peers (a measure with an expiry)",
        .params = params,
        .effects = true,
        .measure = true,
        .state_size = sizeof(psk_state),
        .validate = psk_validate,
        .plan = psk_plan,
        .start = psk_start,
        .cancel = psk_cancel,
        .done = psk_cancel,
        .supports = psk_supports,
};
