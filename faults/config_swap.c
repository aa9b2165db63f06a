/* The `config_swap` fault: a broken strongSwan configuration loaded — a replacement swanctl.conf
 * (`with`), text appended to it (`append`: "ikeheal-drill {" makes a syntax error, and charon
 * then unloads every connection), or other proposals (`proposals` for the IKE proposals,
 * `esp_proposals` for the CHILD_SAs': every line whose key is exactly that, so peers meet
 * NO_PROPOSAL_CHOSEN). The broken content is computed at apply time from the original, and
 * `swanctl --load-all` runs: swanctl says the configuration is broken and exits 0 — for this
 * fault that is the point, so its answer goes into the detail and apply succeeds. The revert's
 * load must succeed. `reauth: true` then terminates every established IKE_SA (faults/reauth.h):
 * an authentication or proposal fault only shows when peers negotiate again. Backup and
 * revert: file_swap.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/faults.h"
#include "faults/file_swap.h"
#include "atomic_file.h"

enum { P_TARGET, P_WITH, P_APPEND, P_PROPOSALS, P_ESP_PROPOSALS, P_REAUTH, _P_MAX };

static const action_param_spec params[] = {
        [P_TARGET] = { "target", AP_PATH, false },
        [P_WITH] = { "with", AP_PATH, false },
        [P_APPEND] = { "append", AP_STRING, false },
        [P_PROPOSALS] = { "proposals", AP_STRING, false },
        [P_ESP_PROPOSALS] = { "esp_proposals", AP_STRING, false },
        [P_REAUTH] = { "reauth", AP_BOOL, false },
        [_P_MAX] = { 0 },
};

static const file_swap_load loads[] = {
        { "--load-all", false },
        { NULL },
};

static bool reauth(const action_params *p) {
        return p->v[P_REAUTH].set && p->v[P_REAUTH].num;
}

static const char *target_of(const action_params *p, const action_env *env, char *buf, size_t n) {
        const char *d = env->check_param ? env->check_param(env->check_userdata, "config", "swanctl_dir") : NULL;

        if (p->v[P_TARGET].set)
                return p->v[P_TARGET].str;
        (void) snprintf(buf, n, "%.4000s/swanctl.conf", d ?: "/etc/swanctl");
        return buf;
}

static int config_swap_validate(const action_params *p, const action_env *env, char *why, size_t n) {
        bool props = p->v[P_PROPOSALS].set || p->v[P_ESP_PROPOSALS].set;
        int k = p->v[P_WITH].set + p->v[P_APPEND].set + props;

        if (k != 1) {
                (void) snprintf(why, n, "exactly one of with, append, proposals/esp_proposals");
                return -EINVAL;
        }
        for (int i = P_PROPOSALS; i <= P_ESP_PROPOSALS; i++)
                if (p->v[i].set && (!p->v[i].str[0] || strpbrk(p->v[i].str, "\n{}#"))) {
                        (void) snprintf(why, n, "%s: one non-empty line without braces or comments", params[i].name);
                        return -EINVAL;
                }
        return 0;
}

/* Is this line's key exactly `key` (indentation, then key, then blanks and '=')? */
static bool key_is(const char *line, size_t len, const char *key, size_t *ret_indent) {
        size_t i = strspn(line, " \t"), k = strlen(key);

        if (i + k > len || strncmp(line + i, key, k) != 0)
                return false;
        *ret_indent = i;
        for (i += k; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        return i < len && line[i] == '=';
}

/* base with every `proposals` / `esp_proposals` line given the new value. */
static int rewrite(const action_params *p, const char *base, size_t len, char **ret, size_t *ret_len, size_t *ret_lines) {
        _cleanup_(freep) char *out = NULL;
        size_t size = 0, lines = 0;
        FILE *f = open_memstream(&out, &size);

        if (!f)
                return -ENOMEM;
        for (size_t at = 0; at < len;) {
                const char *line = base + at, *eol = memchr(line, '\n', len - at);
                size_t l = eol ? (size_t) (eol - line) : len - at, indent;
                int k = -1;
                for (int i = P_PROPOSALS; i <= P_ESP_PROPOSALS && k < 0; i++)
                        if (p->v[i].set && key_is(line, l, params[i].name, &indent))
                                k = i;
                if (k >= 0) {
                        fprintf(f, "%.*s%s = %s%s", (int) indent, line, params[k].name, p->v[k].str, eol ? "\n" : "");
                        lines++;
                } else
                        fwrite(line, 1, l + (eol ? 1 : 0), f);
                at += l + (eol ? 1 : 0);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        *ret_len = size;
        *ret_lines = lines;
        return 0;
}

/* The broken content, from the original. */
static int content(const action_params *p, const action_env *env, const char *target, char **ret, size_t *ret_len,
                   char *what, size_t n) {
        _cleanup_(freep) char *base = NULL;
        size_t len = 0, lines = 0;
        int r;

        if (p->v[P_WITH].set) {
                if ((r = atomic_file_read(p->v[P_WITH].str, FILE_SWAP_MAX, ret, ret_len)) < 0)
                        (void) snprintf(what, n, "cannot read %.300s", p->v[P_WITH].str);
                else
                        (void) snprintf(what, n, "%.300s now in place of %.300s", p->v[P_WITH].str, target);
                return r;
        }
        if ((r = file_swap_base(env, target, &base, &len)) < 0)
                return r;
        if (p->v[P_APPEND].set) {
                if (asprintf(ret, "%s%s%s\n", base, len && base[len - 1] != '\n' ? "\n" : "", p->v[P_APPEND].str) < 0)
                        return -ENOMEM;
                *ret_len = strlen(*ret);
                (void) snprintf(what, n, "\"%.100s\" appended to %.300s", p->v[P_APPEND].str, target);
                return 0;
        }
        if ((r = rewrite(p, base, len, ret, ret_len, &lines)) < 0)
                return r;
        if (lines == 0) {
                free(TAKE_PTR(*ret));
                (void) snprintf(what, n, "%.300s has no line to rewrite", target);
                return -ENOENT;
        }
        (void) snprintf(what, n, "%zu proposal line(s) of %.300s rewritten (proposals = %.100s, esp_proposals = %.100s)", lines,
                        target, p->v[P_PROPOSALS].set ? p->v[P_PROPOSALS].str : "unchanged",
                        p->v[P_ESP_PROPOSALS].set ? p->v[P_ESP_PROPOSALS].str : "unchanged");
        return 0;
}

static int config_swap_plan(const action_params *p, const action_env *env, action_op op, action_plan *out) {
        char t[4200], buf[4200];
        const char *target = target_of(p, env, t, sizeof(t));

        if (op == ACTION_APPLY) {
                if (p->v[P_WITH].set)
                        (void) action_plan_add(out, "  replace %s by %s, same mode and owner", target, p->v[P_WITH].str);
                else if (p->v[P_APPEND].set)
                        (void) action_plan_add(out, "  append \"%s\" to %s", p->v[P_APPEND].str, target);
                else
                        (void) action_plan_add(out, "  in %s, set every `proposals` line to %s and every `esp_proposals` "
                                               "line to %s", target, p->v[P_PROPOSALS].set ? p->v[P_PROPOSALS].str : "(unchanged)",
                                               p->v[P_ESP_PROPOSALS].set ? p->v[P_ESP_PROPOSALS].str : "(unchanged)");
                (void) action_plan_add(out, "  swanctl's complaint about the broken configuration is expected: recorded, not a failure");
                if (reauth(p)) {
                        (void) action_plan_add(out, "  then every established IKE_SA terminated over VICI: peers negotiate again "
                                               "against the fault");
                        out->disruptive = true;
                }
        }
        return file_swap_plan(env, target, file_swap_tree(env, target, 1, buf, sizeof(buf)), loads, op, out);
}

static int config_swap_start(void *state, action_call *call, action_op op) {
        const action_params *p = action_call_params(call);
        const action_env *env = action_call_env(call);
        _cleanup_(freep) char *data = NULL;
        char t[4200], buf[4200], what[800];
        const char *target = target_of(p, env, t, sizeof(t));
        size_t len = 0;
        int r;

        if (op == ACTION_VERIFY)
                return file_swap_verify(call, target);
        if (op == ACTION_REVERT)
                return file_swap_revert(state, call, target, file_swap_tree(env, target, 1, buf, sizeof(buf)), loads);
        what[0] = 0;
        if ((r = content(p, env, target, &data, &len, what, sizeof(what))) < 0) {
                action_call_set_detail(call, "refused, nothing changed: %s%s%s", what, what[0] ? ": " : "", strerror(-r));
                return r;
        }
        return file_swap_apply(state, call, target, data, len, file_swap_tree(env, target, 1, buf, sizeof(buf)), loads,
                               reauth(p) ? FILE_SWAP_REAUTH : 0, what);
}

const action_ops fault_config_swap = {
        .kind = "config_swap",
        .description = "a broken swanctl.conf loaded (replacement, appended text, other proposals)",
        .params = params,
        .effects = true,
        .state_size = sizeof(file_swap),
        .validate = config_swap_validate,
        .plan = config_swap_plan,
        .start = config_swap_start,
        .cancel = file_swap_cancel,
        .done = file_swap_cancel,
        .supports = file_swap_supports,
};
