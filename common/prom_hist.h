/* A Prometheus histogram as plain data: fixed upper bounds chosen by its owner, one count per
 * bucket, the sum and the count of what was observed. Its owner observes values as they happen
 * (a probe's latency, an incident's time to repair); common/prom_text.h renders it. No memory
 * of its own: the bounds are the owner's (usually a static const array). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PROM_HIST_MAX_BOUNDS 32

typedef struct prom_hist {
        const double *bounds;                      /* strictly increasing, finite */
        size_t n_bounds;
        uint64_t counts[PROM_HIST_MAX_BOUNDS + 1]; /* per bucket, not cumulative; the last is +Inf */
        double sum;
        uint64_t count;
} prom_hist;

/* 0, or -EINVAL when bounds are empty, more than PROM_HIST_MAX_BOUNDS, not finite or not
 * strictly increasing (h is then left zeroed and observes nothing). */
int prom_hist_init(prom_hist *h, const double *bounds, size_t n_bounds);
/* Counts v in the first bucket whose bound is >= v (the +Inf bucket past the last). A NaN is
 * ignored: it would make the sum NaN for the rest of the process's life. */
void prom_hist_observe(prom_hist *h, double v);
