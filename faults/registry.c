/* Every fault kind, in one static table of its own: a runbook cannot name one (actions/registry.c
 * does not list them), and a drill names nothing else. */
#include <string.h>

#include "faults/faults.h"

static const action_ops *const kinds[] = {
        &fault_nft_drop,
        &fault_daemon,
        &fault_cert_swap,
        &fault_config_swap,
        &fault_crl_swap,
};

const action_ops *fault_find(const char *kind) {
        for (size_t i = 0; kind && i < ELEMENTSOF(kinds); i++)
                if (strcmp(kinds[i]->kind, kind) == 0)
                        return kinds[i];
        return NULL;
}

size_t fault_kinds(const action_ops *const **ret) {
        *ret = kinds;
        return ELEMENTSOF(kinds);
}
