/* An action kind's parameters from a YAML text, as a runbook step would give them: the unit tests
 * of the action kinds bind their cases with it. ret_err (may be NULL): the parse or bind errors,
 * malloc'ed, or NULL. */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "actions/action.h"
#include "yaml_tree.h"

static inline int action_bind_yaml(const action_ops *ops, const char *yaml, action_params *p, char **ret_err) {
        ynode *n = NULL;
        ydiag d;
        int r;

        ydiag_init(&d, "t.yaml");
        r = ytree_parse_buffer(yaml, strlen(yaml), &d, &n);
        if (r >= 0)
                r = action_params_bind(ops, n, p, &d);
        if (ret_err)
                *ret_err = ydiag_join(&d);
        ydiag_done(&d);
        ynode_free(n);
        return r;
}
