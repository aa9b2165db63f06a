/* The `failover` action without keepalived: its hold check (may the measure stay?) ends it once
 * the agent calls this gateway healthy — not while it is sick, not without a view of its health,
 * not with return_when_healthy: false — and says why for the audit; its revert may take the hold
 * plus a minute (a hold longer than the default step timeout could otherwise never complete);
 * the revert's plan says when the address comes back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"
#include "action_bind.h"
#include "now.h"
#include "tap.h"

static int healthy = 1; /* what the agent says: 0 healthy, >0 not */

static const char *check_param(void *userdata, const char *check, const char *key) {
        if (strcmp(check, "vrrp") != 0)
                return NULL;
        return strcmp(key, "weight_file") == 0 ? "/run/ikeheal/vrrp.weight" :
               strcmp(key, "standby_url") == 0 ? "http://198.18.0.12:9101/healthz" : NULL;
}

static int gateway_healthy(void *userdata, char *why, size_t n) {
        if (healthy)
                (void) snprintf(why, n, "incident 7 (daemon, crash_loop, global) is active");
        return healthy;
}

int main(void) {
        action_env env = { .check_param = check_param, .gateway_healthy = gateway_healthy };
        action_env blind = { .check_param = check_param };
        action_params p = { 0 }, q = { 0 }, dflt = { 0 };
        action_plan plan = { 0 };
        char why[512];

        CHECK(action_bind_yaml(&action_failover, "hold: 2m\n", &p, NULL) == 0, "params: hold 2m");
        CHECK(action_bind_yaml(&action_failover, "hold: 5s\nreturn_when_healthy: false\n", &q, NULL) == 0, "params: return_when_healthy false");
        CHECK(action_bind_yaml(&action_failover, "{}\n", &dflt, NULL) == 0, "params: the defaults");

        healthy = 1;
        CHECK(action_hold(&p, &env, why, sizeof(why)) == 0, "this gateway still sick: the measure stays");
        healthy = 0;
        int k = action_hold(&p, &env, why, sizeof(why));
        CHECK(k < 0, "healthy again: the measure may not stay (%d)", k);
        CHECK(strstr(why, "failover: this gateway healthy again") && strstr(why, "reverted early, VIP back after hold") &&
                      strstr(why, "2m"),
              "… saying why, with the hold: %s", why);
        CHECK(action_hold(&q, &env, why, sizeof(why)) == 0, "return_when_healthy: false: it stays until its expiry");
        CHECK(action_hold(&p, &blind, why, sizeof(why)) == 0, "no view of the gateway's health: it stays");

        CHECK(action_revert_timeout(&p, 60 * USEC_PER_SEC) == (120 + 60) * USEC_PER_SEC,
              "a revert may take the hold (2m) plus a minute");
        CHECK(action_revert_timeout(&dflt, 60 * USEC_PER_SEC) == (30 + 60) * USEC_PER_SEC, "default hold 30s plus a minute");

        CHECK(action_plan_make(&p, &env, ACTION_REVERT, &plan) >= 0 && strstr(plan.text, "as soon as this gateway is healthy "
                                                                                      "again") &&
                      strstr(plan.text, "/run/ikeheal/vrrp.weight"),
              "the revert's plan says when: %s", plan.text);
        plan = (action_plan){ 0 };
        CHECK(action_plan_make(&q, &env, ACTION_REVERT, &plan) >= 0 && !strstr(plan.text, "as soon as"),
              "… and not with return_when_healthy: false");

        action_params_done(&p);
        action_params_done(&q);
        action_params_done(&dflt);
        return TAP_END();
}
