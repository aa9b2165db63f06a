/* The `encap` action without charon: the override it writes (exactly `encap = yes` for the
 * named connections, after its ownership mark; a name that could break out of its section is
 * refused), which connections a peer selects from swanctl.conf, the plan (disruptive: the
 * IKE_SAs are set up again), and the precondition that refuses a step when the tunnels check
 * says the connection's CHILD_SAs are UDP-encapsulated already. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "action_bind.h"
#include "actions/registry.h"
#include "atomic_file.h"
#include "tap.h"

static char conf[128];
static const char *fact_up, *fact_encap;

static const char *check_param(void *userdata, const char *check, const char *key) {
        return strcmp(check, "tunnels") == 0 && strcmp(key, "swanctl_conf") == 0 ? conf : NULL;
}

static const char *check_fact(void *userdata, const char *check, const char *key) {
        if (strcmp(check, "tunnels") != 0)
                return NULL;
        return strcmp(key, "up") == 0 ? fact_up : strcmp(key, "udp_encap") == 0 ? fact_encap : NULL;
}

static void test_render(void) {
        char *one[] = { "s2s" }, *two[] = { "s2s", "branch-2" }, *bad[] = { "x { } y" }, *nl[] = { "a\nb" };
        char *text = NULL;
        size_t size = 0;

        CHECK(encap_override_text(one, 1, &text, &size) == 0 && size == strlen(text), "one connection rendered");
        CHECK(text && strncmp(text, "# Written by ikeheald: UDP encapsulation forced", 47) == 0, "ownership mark first");
        CHECK(text && strstr(text, "\nconnections {\n        s2s {\n                encap = yes\n        }\n}\n"),
              "exactly encap = yes for s2s:\n%s", text ? text : "");
        free(text);
        text = NULL;
        CHECK(encap_override_text(two, 2, &text, &size) == 0 && strstr(text, "        s2s {\n                encap = yes\n") &&
                      strstr(text, "        branch-2 {\n                encap = yes\n"),
              "two connections, each its own section");
        CHECK(text && !strstr(text, "remote") && !strstr(text, "children"), "nothing but encap is overridden");
        free(text);
        text = NULL;
        CHECK(encap_override_text(bad, 1, &text, &size) == -EINVAL && !text, "a name with braces is refused");
        CHECK(encap_override_text(nl, 1, &text, &size) == -EINVAL && !text, "a name with a newline is refused");
        CHECK(encap_override_text(one, 0, &text, &size) == -EINVAL, "no connection: nothing to write");
}

static void test_precondition(void) {
        action_env env = { .check_param = check_param, .check_fact = check_fact };
        action_params p = { 0 }, q = { 0 }, r = { 0 };
        action_plan plan = { 0 };
        char why[512];
        const char *text = "connections {\n"
                           "  s2s {\n    remote_addrs = 198.18.4.6\n    remote {\n      id = peer.lab.test\n    }\n"
                           "    children {\n      net {\n        start_action = start\n      }\n    }\n  }\n"
                           "  other {\n    remote_addrs = 198.18.9.9\n    children {\n      lan {\n      }\n    }\n  }\n"
                           "}\n";

        (void) snprintf(conf, sizeof(conf), "/tmp/test-encap-%d.conf", (int) getpid());
        CHECK(atomic_file_write(conf, text, strlen(text), 0600) >= 0, "swanctl.conf written");
        CHECK(action_bind_yaml(&action_encap, "peers: peer.lab.test@198.18.4.6\n", &p, NULL) == 0, "params by peer");
        CHECK(action_bind_yaml(&action_encap, "conn: [other]\n", &q, NULL) == 0, "params by connection");
        CHECK(action_bind_yaml(&action_encap, "peers: nobody.example\n", &r, NULL) == 0, "params for an unknown peer");

        fact_up = "s2s/net,other/lan";
        fact_encap = "s2s/net";
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == -EALREADY && strstr(why, "already UDP-encapsulated") &&
                      strstr(why, "s2s/net"),
              "s2s/net in UDP already: refused: %s", why);
        CHECK(action_precondition(&q, &env, why, sizeof(why)) == 0, "other/lan up, not in UDP: the step may run");
        fact_up = "s2s/net";
        fact_encap = "";
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == 0, "s2s/net not in UDP: the step may run");
        fact_up = "";
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == 0, "s2s down (nothing known of its SAs): may run");
        fact_up = fact_encap = NULL;
        CHECK(action_precondition(&p, &env, why, sizeof(why)) == 0, "no tunnels check: may run");
        CHECK(action_precondition(&r, &env, why, sizeof(why)) == -ENOENT && strstr(why, "nobody.example"),
              "no connection to that peer: refused: %s", why);

        CHECK(action_plan_make(&p, &env, ACTION_APPLY, &plan) == 0 && plan.disruptive &&
                      strstr(plan.text, "conf.d/zz-ikeheal-encap.conf: connections { s2s { encap = yes } }") &&
                      !strstr(plan.text, "other"),
              "plan: only s2s, disruptive:\n%s", plan.text);
        action_params t = { 0 };
        plan = (action_plan){ 0 };
        CHECK(action_bind_yaml(&action_encap, "peers: ${incident.peers}\n", &t, NULL) == 0 && action_plan_make(&t, &env, ACTION_APPLY, &plan) == 0 &&
                      plan.disruptive && strstr(plan.text, "found when the step starts"),
              "a runbook's plan before the step starts: %s", plan.text);
        action_params_done(&t);
        plan = (action_plan){ 0 };
        CHECK(action_plan_make(&p, &env, ACTION_REVERT, &plan) == 0 && plan.disruptive && strstr(plan.text, "delete ") &&
                      strstr(plan.text, "swanctl --load-conns"),
              "revert plan: %s", plan.text);
        action_params_done(&p);
        action_params_done(&q);
        action_params_done(&r);
        (void) unlink(conf);
}

int main(void) {
        test_render();
        test_precondition();
        return TAP_END();
}
