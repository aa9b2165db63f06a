/* The certificate check: see cert.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops cert_check_ops;
