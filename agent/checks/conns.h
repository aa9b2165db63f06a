/* The connections check: see conns.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops conns_check_ops;
