/* The IKE probe check: see probe.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops probe_check_ops;
