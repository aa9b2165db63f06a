/* One configured check, as the configuration (agent/config/config_checks.c) binds it and the
 * check set (check_set.h) builds it: an instance of a registered kind with its own schedule. */
#pragma once

#include "agent/checks/check.h"
#include "yaml_tree.h"

typedef struct config_check {
        char *name;           /* unique; defaults to the kind */
        const check_ops *ops; /* from agent/checks/registry.c */
        check_schedule sched;
        const ynode *params;  /* inside the config's tree; NULL: the kind's defaults */
} config_check;
