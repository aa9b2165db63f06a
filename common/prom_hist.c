/* See prom_hist.h. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "prom_hist.h"

int prom_hist_init(prom_hist *h, const double *bounds, size_t n_bounds) {
        *h = (prom_hist){0};
        if (!bounds || n_bounds == 0 || n_bounds > PROM_HIST_MAX_BOUNDS)
                return -EINVAL;
        for (size_t i = 0; i < n_bounds; i++)
                if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                        return -EINVAL;
        h->bounds = bounds;
        h->n_bounds = n_bounds;
        return 0;
}

void prom_hist_observe(prom_hist *h, double v) {
        size_t i = 0;

        if (isnan(v) || !h->bounds)
                return;
        while (i < h->n_bounds && v > h->bounds[i])
                i++;
        h->counts[i]++;
        h->sum += v;
        h->count++;
}
