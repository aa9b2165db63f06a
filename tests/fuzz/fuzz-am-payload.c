/* Fuzz the Alertmanager webhook payload parser (common/am_payload.h) with small limits, so
 * every limit is reached; what parses must hold what the header promises: labels and
 * annotations sorted and found again by name, statuses and strings set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "am_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pairs(const am_pair *p, size_t n, const am_alert *a, bool labels) {
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && strcmp(p[i - 1].name, p[i].name) >= 0)
                        abort();
                const char *v = labels ? am_alert_label(a, p[i].name) : am_alert_annotation(a, p[i].name);
                if (!v || strcmp(v, p[i].value) != 0)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const am_limits lim = { .max_bytes = 64 * 1024, .max_alerts = 16, .max_pairs = 8, .max_name = 32, .max_value = 64 };
        char err[AM_ERROR_MAX];
        am_webhook *w = NULL;

        if (am_webhook_parse((const char *) data, size, &lim, &w, err) == 0) {
                if (!w || !w->receiver || !w->group_key || !w->external_url || w->n_alerts > lim.max_alerts)
                        abort();
                for (size_t i = 0; i < w->n_alerts; i++) {
                        const am_alert *a = &w->alerts[i];
                        if (a->n_labels > lim.max_pairs || !a->fingerprint || !a->generator_url)
                                abort();
                        check_pairs(a->labels, a->n_labels, a, true);
                        check_pairs(a->annotations, a->n_annotations, a, false);
                }
        } else if (w || !memchr(err, '\0', sizeof(err)))
                abort();
        am_webhook_free(w);
        return 0;
}
