/* The tunnels check: see tunnels.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops tunnels_check_ops;
