/* Fuzz the runbook parser: YAML tree, strict binding of every key (conditions nested to their
 * limit, steps, action parameters of every kind, on_failure, notify), then — for what parses —
 * matching and the plan with its hash. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/config/runbook.h"
#include "yaml_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fact(void *userdata, const char *check_name, const char *key) {
        return key[0] == 'r' ? "udp4500_dropped" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const yaml_lib *held;

        /* keep libyaml loaded across inputs rather than load it for each parse */
        if (!held)
                (void) yaml_lib_get(&held);
        runbook *rb = NULL;
        ydiag d;

        ydiag_init(&d, "fuzz.yaml");
        if (runbook_parse_buffer("fuzz.yaml", data, size, NULL, &d, &rb) == 0) {
                rb_subject s = { .cls = "firewall", .scope = "global", .reason = "x", .severity = "fail",
                                 .check = "firewall", .peers = "198.18.0.2,gw", .fact = fact };
                runbook_plan p = { 0 };
                (void) runbook_matches(rb, &s);
                if (runbook_plan_make(rb, NULL, NULL, NULL, &p) == 0)
                        runbook_plan_done(&p);
        }
        free(ydiag_join(&d));
        runbook_free(rb);
        ydiag_done(&d);
        return 0;
}
