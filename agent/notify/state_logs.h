/* The agent's state logs as a whole: <state_dir>/engine.log, incidents.log and drills.log
 * (common/statelog.h). Before any store opens one, each is checked: a damaged log (a complete
 * record failing its CRC, a log emptied or cut shorter than its header) stops the start with
 * -EUCLEAN (ikeheald exits 78, naming the file) unless the operator started the agent with
 * --reset-state: then the log is kept aside as NAME.log.broken-TIME, the reset is audited and
 * the store starts empty (reverts still owed come back from their side record).
 * Also says once what a replay left out (a torn tail, undecodable records). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/notify/audit_trail.h"
#include "agent/notify/notifier.h"
#include "ev.h"
#include "statelog.h"

/* The state logs' names, NULL-terminated. */
extern const char *const state_log_names[];

/* Check every state log in `dir` (the audit trail must be open: a reset is audited to it and
 * said to the webhooks of *webhooks on the loop's first iteration). `reset`: --reset-state. 0, or
 * -EUCLEAN with each damaged log logged at error level. */
int state_logs_vet(const char *dir, bool reset, audit_trail *audit, notifier *const *webhooks, ev_loop *e);
/* A store opened its log: warn of a torn tail it cut and of the records it could not decode. */
void state_log_report(const statelog *l, uint64_t undecodable);
/* A store's open failed with r: say why (for -EBADMSG, what statelog_check() finds) and
 * return the error the agent exits with (-EUCLEAN for damage). */
int state_log_open_failed(const char *dir, const char *name, int r);
