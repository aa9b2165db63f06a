/* The audit check (kind "audit"): see audit_damage.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops audit_damage_check_ops;
