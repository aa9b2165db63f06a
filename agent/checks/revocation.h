/* The revocation check: see revocation.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops revocation_check_ops;
