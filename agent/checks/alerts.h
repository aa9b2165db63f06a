/* The alerts check: see alerts.c. */
#pragma once

#include <stddef.h>

#include "agent/checks/check.h"

extern const check_ops alerts_check_ops;

#define ALERTS_MAX 64u

typedef struct am_alert am_alert;
/* Take one alert of an external monitor (an Alertmanager webhook's) into an alerts check: a
 * firing one is added or updated, a resolved one removed. 0 taken; 1 a resolved alert that was
 * not held (nothing to do); -EINVAL an alert that cannot be taken (a label maps to nothing: why
 * says which); -ENOSPC the table is full; -ENOTTY c is no alerts check. The caller runs the
 * check afterwards (check_trigger()). */
int alerts_check_take(check *c, const am_alert *a, char *why, size_t n);
