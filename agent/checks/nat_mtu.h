/* The NAT/MTU check: see nat_mtu.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops nat_mtu_check_ops;
