/* The daemon check: see daemon.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops daemon_check_ops;
