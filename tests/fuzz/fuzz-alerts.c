/* Fuzz the alert intake past the payload parser: an Alertmanager webhook body (its parser is
 * fuzzed by fuzz-am-payload) whose alerts are handed to a real alerts check — the label mapping,
 * the table of held alerts (filling, updating, resolving), and the finding built from it. Seeds:
 * firing and resolved payloads with and without the ikeheal_* labels. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/checks/alerts.h"
#include "am_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ev_loop *ev;
static check_env env;
static check *chk;

static void observer(check *c, const finding *f, bool changed, void *userdata) {
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        am_webhook *w = NULL;
        char err[AM_ERROR_MAX], why[160];

        if (!ev) {
                ydiag d;
                check_schedule sched = { .interval_usec = 3600 * USEC_PER_SEC, .timeout_usec = USEC_PER_SEC, .rise = 1, .fall = 1 };
                if (ev_new(&ev) < 0)
                        abort();
                env.event = ev;
                if (check_new(&chk, &env, "alerts", &alerts_check_ops, &sched, observer, NULL) < 0)
                        abort();
                ydiag_init(&d, "fuzz");
                if (check_parse_params(chk, NULL, &d) < 0)
                        abort();
                ydiag_done(&d);
        }
        if (am_webhook_parse((const char *) data, size, NULL, &w, err) < 0)
                return 0;
        for (size_t i = 0; i < w->n_alerts; i++)
                (void) alerts_check_take(chk, &w->alerts[i], why, sizeof(why));
        (void) check_trigger(chk);
        (void) ev_run(ev, 0);
        am_webhook_free(w);
        return 0;
}
