/* systemd jobs over the system bus, for the actions and fault injectors that start or stop units:
 * a Manager method that queues a job (StartUnit, StopUnit, RestartUnit), then the job's result
 * from its JobRemoved signal ("done", "failed", "canceled" …), asynchronously on the loop.
 * JobRemoved is broadcast to subscribers only, so unit_job_new() subscribes before anything is
 * asked, and a JobRemoved that beats the method's reply is kept until the reply names its job.
 * Also a unit's ActiveState. Does not log. */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct unit_job unit_job;

/* Once per request. result: 0 (job "done"; state read) or -errno (-ECANCELED: the job was
 * replaced by another one for the unit). detail: what systemd said,
 * for unit_job_active_state() the state itself ("active", "failed" …). The job may be freed
 * from the callback. */
typedef void (*unit_job_cb)(unit_job *j, int result, const char *detail, void *userdata);

int unit_job_new(unit_job **ret, sd_bus *bus, unit_job_cb cb, void *userdata);
unit_job *unit_job_free(unit_job *j);
DEFINE_FREE_FUNC(unit_job, unit_job_free);

/* Manager.METHOD(unit, "replace"), then wait for that job. */
int unit_job_run(unit_job *j, const char *method, const char *unit);
/* The unit's ActiveState (LoadUnit, then its property). */
int unit_job_active_state(unit_job *j, const char *unit);
