/* The VRRP role check: see vrrp.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops vrrp_check_ops;
