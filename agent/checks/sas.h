/* The SAs check: see sas.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops sas_check_ops;
