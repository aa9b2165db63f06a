/* The daemon check: see daemon.c. */
#pragma once

#include "agent/check.h"

extern const check_ops daemon_check_ops;
