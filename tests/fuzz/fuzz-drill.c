/* Fuzz the drill parser: YAML tree, strict binding of every key, the injector's parameters of
 * every kind (with `timeout` cut out before binding), the SLOs against the fault's deadline, and
 * the defaults filled in for what parses — with a context listing checks and runbooks so that
 * the reference checks run too. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/config/drill.h"
#include "yaml_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *checks[] = { "daemon", "firewall", "ike_probe", "clock", NULL };
static char *runbooks[] = { "daemon-restart", "firewall-restore", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const yaml_lib *held;

        /* keep libyaml loaded across inputs rather than load it for each parse */
        if (!held)
                (void) yaml_lib_get(&held);
        const drill_ctx ctx = { .checks = checks, .runbooks = runbooks };
        drill *dr = NULL;
        ydiag d;

        ydiag_init(&d, "fuzz.yaml");
        if (drill_parse_buffer("fuzz.yaml", data, size, size & 1 ? &ctx : NULL, &d, &dr) == 0 &&
            (dr->abort_after_usec > dr->fault_expires_usec || !dr->fault_class || !dr->steady_checks[0] ||
             dr->recover_within_usec < dr->detect_within_usec))
                abort(); /* a drill that parsed must keep the promises of agent/config/drill.h */
        free(ydiag_join(&d));
        drill_free(dr);
        ydiag_done(&d);
        return 0;
}
