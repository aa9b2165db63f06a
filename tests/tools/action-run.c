/* action-run: one operation of one action kind, alone, on a real loop — how the lab tests drive
 * an action against real parts without a whole agent. Prints the plan, then the result:
 *
 *   plan:
 *     <lines>
 *   result=0 ms=12
 *   detail: …
 *
 *   action-run [--state-dir DIR] [--exec-dir DIR] [--timeout MS] [--plan-only] [--vici PATH]
 *              [--param CHECK.KEY=VALUE]… KIND apply|verify|revert PARAMS.yaml
 *
 * --param stands in for the agent's configured checks (what action_env.check_param answers:
 * the firewall check's netns, the config check's swanctl_dir).
 *
 * KIND is an action kind, or else a fault injector's (faults/faults.h: nft_drop, daemon,
 * cert_swap, config_swap, crl_swap), so the drills' faults can be driven the same way.
 *
 * Exit 0 when the operation succeeded, 1 when it failed (or could not start), 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/action.h"
#include "vici.h"
#include "faults/faults.h"

static char *cparams[16];
static size_t n_cparams;

static const char *check_param(void *userdata, const char *check, const char *key) {
        size_t cl = strlen(check), kl = strlen(key);
        for (size_t i = 0; i < n_cparams; i++)
                if (strncmp(cparams[i], check, cl) == 0 && cparams[i][cl] == '.' && strncmp(cparams[i] + cl + 1, key, kl) == 0 &&
                    cparams[i][cl + 1 + kl] == '=')
                        return cparams[i] + cl + 2 + kl;
        return NULL;
}

static bool done;
static int result;

static void on_done(action_call *c, int r, void *userdata) {
        done = true;
        result = r;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, 's' }, { "exec-dir", required_argument, NULL, 'e' },
                { "timeout", required_argument, NULL, 't' },   { "plan-only", no_argument, NULL, 'p' },
                { "vici", required_argument, NULL, 'v' },      { "param", required_argument, NULL, 'c' },
                {},
        };
        action_env env = { .check_param = check_param };
        const action_ops *ops;
        action_params p = { 0 };
        action_plan plan = { 0 };
        action_call *call = NULL;
        uint64_t timeout_ms = 30000, t0;
        bool plan_only = false;
        ynode *root = NULL;
        ydiag d;
        int c, op;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 's': env.state_dir = optarg; break;
                case 'e': env.exec_dir = optarg; break;
                case 't': timeout_ms = strtoull(optarg, NULL, 10); break;
                case 'p': plan_only = true; break;
                case 'v': env.vici_socket = optarg; break;
                case 'c':
                        if (n_cparams < ELEMENTSOF(cparams))
                                cparams[n_cparams++] = optarg;
                        break;
                default: return 2;
                }
        if (argc - optind != 3 || !(ops = action_find(argv[optind]) ?: fault_find(argv[optind]))) {
                fprintf(stderr, "usage: action-run [options] KIND apply|verify|revert PARAMS.yaml\n"
                                "KIND: an action kind, or a fault kind (nft_drop daemon cert_swap config_swap crl_swap)\n");
                return 2;
        }
        op = strcmp(argv[optind + 1], "apply") == 0    ? ACTION_APPLY
             : strcmp(argv[optind + 1], "verify") == 0 ? ACTION_VERIFY
             : strcmp(argv[optind + 1], "revert") == 0 ? ACTION_REVERT
                                                       : -1;
        if (op < 0)
                return 2;
        ydiag_init(&d, argv[optind + 2]);
        if (ytree_parse_file(argv[optind + 2], &d, &root) < 0 ||
            action_params_bind(ops, root, &p, &d) < 0 ||
            (p.ops->validate && p.ops->validate(&p, &env, plan.text, sizeof(plan.text)) < 0)) {
                char *e = ydiag_join(&d);
                fprintf(stderr, "%s%s\n", e ? e : "", plan.text);
                free(e);
                action_params_done(&p);
                ynode_free(root);
                ydiag_done(&d);
                return 1;
        }
        if (ev_default(&env.event) < 0)
                return 1;
        vici_client *vici = NULL;
        if (env.vici_socket && vici_client_new(&vici, env.event, env.vici_socket, 5 * USEC_PER_SEC, 100 * USEC_PER_MSEC,
                                               USEC_PER_SEC, NULL, NULL) >= 0 && vici_client_start(vici) >= 0) {
                t0 = now_ms();
                while (!vici_client_is_connected(vici) && now_ms() - t0 < 5000)
                        (void) ev_run(env.event, 100 * 1000);
                env.vici = vici;
        }
        (void) action_plan_make(&p, &env, (action_op) op, &plan);
        printf("plan:\n%s", plan.text);
        if (!plan_only) {
                t0 = now_ms();
                if (action_call_new(&call, &p, &env, (action_op) op, timeout_ms * 1000, NULL, on_done, NULL) < 0)
                        result = -EIO;
                while (call && !done)
                        (void) ev_run(env.event, UINT64_MAX);
                if (call)
                        printf("result=%d ms=%llu\ndetail: %s\n", result, (unsigned long long) (now_ms() - t0),
                               action_call_detail(call));
                action_call_free(call);
        }
        vici_client_free(vici);
        action_params_done(&p);
        ynode_free(root);
        ydiag_done(&d);
        ev_unref(env.event);
        return result < 0 ? 1 : 0;
}
