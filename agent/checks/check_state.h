/* Hysteresis for one check, kept apart from any I/O so it can be tested exactly.
 *
 * Raw results go in; a reported status comes out that changes only when the evidence is
 * sustained: `fall` consecutive non-ok results to leave OK, `rise` consecutive OK results to
 * return to it (keepalived's rise/fall). A bitmap of the last 32 raw results (Monit's idea) tells
 * how often the check flipped, which the policy uses for flap damping. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/checks/finding.h"

typedef struct check_state {
        unsigned rise, fall;      /* ≥ 1 */
        check_status reported;    /* starts UNKNOWN until the first verdict */
        check_status pending;     /* candidate status being confirmed */
        unsigned streak;          /* consecutive raw results equal to `pending`'s class */
        uint32_t history;         /* bit i = raw result i runs ago was not OK */
        unsigned n_results;       /* saturates at 32 for history arithmetic */
} check_state;

void check_state_init(check_state *s, unsigned rise, unsigned fall);
/* Feed one raw result; returns true if the reported status changed. The first result is
 * reported at once (there is no earlier state to protect against flapping). */
bool check_state_feed(check_state *s, check_status raw);
/* Transitions between OK and not-OK among the last min(n, 32) raw results. */
unsigned check_state_flips(const check_state *s);
