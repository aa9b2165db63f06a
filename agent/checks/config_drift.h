/* The configuration check (kind "config"): see config_drift.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops config_drift_check_ops;
