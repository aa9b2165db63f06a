/* The IKE probe check: see probe.c. */
#pragma once

#include "agent/check.h"

extern const check_ops probe_check_ops;
