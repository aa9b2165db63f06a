/* The one clock API of the project, in microseconds like sd-event. CLOCK_MONOTONIC measures
 * intervals and arms deadlines (it never jumps); CLOCK_REALTIME stamps what people read and what
 * must mean the same after a reboot (records on disk, audit lines). */
#pragma once

#include <stdint.h>
#include <time.h>

#include "macro.h"

/* `clock` read as µs; 0 if the clock cannot be read (never happens for the two below). */
uint64_t clock_usec(clockid_t clock);
static inline uint64_t mono_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}
static inline uint64_t real_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}
