/* A finding as bytes, for a check whose work runs in a child process (agent/checks/
 * check_child.h) and hands its finding back through a pipe. The reader trusts nothing: every
 * length is bounded, a text holds no NUL, the finding's own limits apply (FINDING_FACTS_MAX,
 * FINDING_EVIDENCE_MAX, FINDING_TEXT_MAX), and anything short, long or malformed is refused as
 * a whole (-EBADMSG), never half read.
 *
 *   "IHF1", status u8, dropped evidence u32, then records in this order: at most one 'T'
 *   summary, 'F' key value (each key once), 'E' evidence line; each text a u32 length
 *   (little-endian) and its bytes. A finding has one form: what is read packs back to the same
 *   bytes. */
#pragma once

#include <stddef.h>

#include "agent/checks/finding.h"

/* The bytes of f, in a buffer to free. 0 or -ENOMEM. */
int finding_pack(const finding *f, char **ret, size_t *ret_size);
/* A new finding from exactly `size` bytes. 0, -EBADMSG or -ENOMEM. */
int finding_unpack(const void *buf, size_t size, finding **ret);
