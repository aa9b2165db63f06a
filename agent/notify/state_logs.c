/* See state_logs.h. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "agent/notify/notify_later.h"
#include "agent/notify/state_logs.h"
#include "log.h"

const char *const state_log_names[] = { "engine", "incidents", "drills", NULL };

static void say_damaged(const char *dir, const char *name, const statelog_check_result *c) {
        log_error("state log %s/%s.log is damaged: %s (at byte %llu of %llu, after %llu good records); refusing "
                  "to start. Keep the file for inspection; 'ikeheald --reset-state' sets it aside and starts anew",
                  dir, name, c->why, (unsigned long long) c->bad_offset, (unsigned long long) c->size,
                  (unsigned long long) c->records);
}

int state_logs_vet(const char *dir, bool reset_state, audit_trail *audit, notifier *const *webhooks, ev_loop *e) {
        unsigned damaged = 0, reset = 0;
        int r;

        for (const char *const *n = state_log_names; *n; n++) {
                statelog_check_result c;
                char aside[512];

                r = statelog_check(dir, *n, &c);
                if (r == -ENOENT || r >= 0)
                        continue;
                if (r != -EBADMSG)
                        return log_error_errno(r, "cannot read the state log %s/%s.log", dir, *n);
                if (!reset_state) {
                        say_damaged(dir, *n, &c);
                        damaged++;
                        continue;
                }
                r = statelog_set_aside(dir, *n, (uint64_t) time(NULL), aside, sizeof(aside));
                if (r < 0)
                        return log_error_errno(r, "--reset-state: cannot set the damaged state log %s/%s.log aside",
                                               dir, *n);
                log_warning("--reset-state: state log %s/%s.log was damaged (%s, at byte %llu); kept as %s, "
                            "starting a new one", dir, *n, c.why, (unsigned long long) c.bad_offset, aside);
                audit_trail_add(audit, "state_reset", "%s/%s.log damaged (%s, at byte %llu of %llu, %llu good records); set "
                            "aside as %s by --reset-state", dir, *n, c.why, (unsigned long long) c.bad_offset,
                            (unsigned long long) c.size, (unsigned long long) c.records, aside);
                char text[900];
                (void) snprintf(text, sizeof(text), "state log %s/%s.log was damaged (%s); set aside as %s by "
                                "--reset-state: what it held is lost", dir, *n, c.why, aside);
                notifier_send_later(webhooks, e, "state_reset", text);
                reset++;
        }
        if (reset_state && reset == 0)
                log_notice("--reset-state: no state log is damaged, none set aside");
        return damaged ? -EUCLEAN : 0;
}

void state_log_report(const statelog *l, uint64_t undecodable) {
        if (statelog_dropped_bytes(l) > 0)
                log_warning("%s: an incomplete last record (%llu bytes, a write the crash interrupted) was cut off",
                            statelog_path(l), (unsigned long long) statelog_dropped_bytes(l));
        if (undecodable > 0)
                log_warning("%s: %llu records could not be decoded, ignoring them", statelog_path(l),
                            (unsigned long long) undecodable);
}

int state_log_open_failed(const char *dir, const char *name, int r) {
        statelog_check_result c;

        if (r != -EBADMSG)
                return log_error_errno(r, "cannot open the state log %s/%s.log", dir, name);
        if (statelog_check(dir, name, &c) == -EBADMSG)
                say_damaged(dir, name, &c);
        else
                log_error("state log %s/%s.log is damaged; refusing to start ('ikeheald --reset-state' sets it aside)",
                          dir, name);
        return -EUCLEAN;
}
