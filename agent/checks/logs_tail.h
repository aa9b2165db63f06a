/* The logs check's text sources: charon's log files (tailed on inotify, rotation and truncation
 * followed) and the journal of charon's units, read on the event loop. A wake-up reads for at
 * most LOGS_TAIL_BUDGET_USEC, then yields to the loop and carries on in its next iteration, so a
 * burst is read at full speed without starving the control socket or anything else on the loop.
 * Only what is written after the source is opened is read: history is not today's incident. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"

#define LOGS_TAIL_BUDGET_USEC 5000u
#define LOGS_TAIL_FILES_MAX 8u

typedef struct logs_tail logs_tail;
/* One line, without its newline; valid during the call only. */
typedef void (*logs_tail_line_cb)(const char *line, size_t len, void *userdata);

/* files, units: NULL-terminated, either may be NULL. A source that cannot be opened now is not
 * an error: a file is looked for again every second, the journal is reported unavailable. */
int logs_tail_new(logs_tail **ret, ev_loop *e, char *const *files, char *const *units, logs_tail_line_cb cb,
                  void *userdata);
logs_tail *logs_tail_free(logs_tail *t);
/* Units were asked for but the journal could not be opened. */
bool logs_tail_journal_unavailable(const logs_tail *t);
/* Why (a static string), or NULL if it was opened or not asked for. */
const char *logs_tail_journal_reason(const logs_tail *t);
/* Read what is there now, within the budget (tests, and a check run that wants the latest). */
void logs_tail_pump(logs_tail *t);
