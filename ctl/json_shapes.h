/* The JSON shape of each command's answer (json.h): which values are numbers and timestamps,
 * which sections are collections. Documented in ikehealctl(8), section JSON OUTPUT. */
#pragma once

#include "ctl/json.h"

extern const json_shape json_shape_status, json_shape_checks, json_shape_incidents, json_shape_diagnose,
        json_shape_audit, json_shape_plan, json_shape_runs, json_shape_measures, json_shape_run,
        json_shape_drill, json_shape_drills, json_shape_plain;
extern const json_shape json_shape_evidence;
extern const json_shape json_shape_fleet;
extern const json_shape json_shape_fleet_drills;
