/* Fuzz the YAML front end every config, runbook and drill goes through: tree building with its
 * limits, then binding onto the config table (unknown keys, wrong types, ranges; config binding
 * pulls in every check kind to validate its params). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "yaml_bind.h"
#include "yaml_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const yaml_lib *held;

        /* keep libyaml loaded across inputs rather than load it for each parse */
        if (!held)
                (void) yaml_lib_get(&held);
        ynode *root = NULL;
        ydiag d;

        ydiag_init(&d, "fuzz.yaml");
        if (ytree_parse_buffer(data, size, &d, &root) == 0) {
                char *msg;
                /* walk it the way the config binder does */
                (void) ynode_get(root, "agent");
                (void) ynode_is_null(root);
                msg = ydiag_join(&d);
                free(msg);
        }
        ynode_free(root);
        ydiag_done(&d);

        ikeheal_config *c = NULL;
        char *err = NULL;
        (void) config_parse_buffer("fuzz.yaml", data, size, &c, &err);
        config_free(c);
        free(err);
        return 0;
}
