/* The firewall check: see firewall.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops firewall_check_ops;
