/* The clock check: see clock.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops clock_check_ops;
