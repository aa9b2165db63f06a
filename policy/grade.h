/* Grades: who may run a runbook (or one of its steps).
 *
 *   observe   nobody: the agent records and notifies only (no action with effects)
 *   auto      the agent, unattended
 *   approve   the agent, once authorised operators approved the exact plan
 *   manual    an operator, from the CLI; the agent only proposes the plan
 *
 * Policy may raise a grade (auto → approve → manual), never lower it. `observe` is not on that
 * ladder: an observe runbook has nothing to run, so raising it would not make it safer, and
 * lowering it would give it effects it was never written to have. */
#pragma once

typedef enum grade {
        GRADE_OBSERVE,
        GRADE_AUTO,
        GRADE_APPROVE,
        GRADE_MANUAL,
        _GRADE_MAX,
        _GRADE_INVALID = -22,
} grade;

const char *grade_to_string(grade g);
/* -EINVAL for anything else. */
grade grade_from_string(const char *s);
/* The stricter of two on the ladder; observe stays observe whatever `to` is. */
grade grade_raise(grade g, grade to);
