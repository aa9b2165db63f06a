/* The SAs check: see sas.c. */
#pragma once

#include "agent/checks/check.h"

extern const check_ops sas_check_ops;

typedef struct sas_tally sas_tally;
/* What a sas check counted per connection in its last complete run (NULL: c is no sas check).
 * Valid until its next run completes. */
const sas_tally *sas_check_tally(check *c);
/* Keep per-peer counts (sas_tally.peers) from its next run on, or stop (they are dropped at the
 * next run). No-op when c is no sas check. */
void sas_check_set_per_peer(check *c, bool on);
