/* The logs check: see logs.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops logs_check_ops;
