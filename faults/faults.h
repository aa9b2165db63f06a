/* Fault injectors for chaos drills (agent/config/drill.h): the real faults a gateway meets, made on
 * purpose and removed on time. Each kind is an action_ops table (actions/action.h) — the same
 * typed parameters, plan, asynchronous apply / verify / revert on the loop — kept in a registry
 * of its own so that no runbook can name an injector and no drill can name a remedy.
 *
 *   apply    inject the fault
 *   verify   the fault is in place
 *   revert   remove it; idempotent, and only what is still the injected fault: a file a
 *            runbook has since repaired is left as the runbook made it
 *
 * A drill records the fault (parameters and hard deadline) durably before apply, and reverts it
 * at the deadline whatever else happened, also after an agent restart. Where the kernel can
 * enforce the deadline itself (nftables set element timeouts), the injector uses it, so the
 * fault goes even while the agent is down. */
#pragma once

#include "actions/action.h"

extern const action_ops fault_nft_drop;     /* drop UDP 500/4500 (and ESP) in a table of its own */
extern const action_ops fault_daemon;       /* stop or SIGKILL charon (its unit, else its pid file) */
extern const action_ops fault_cert_swap;    /* an expired / not-yet-valid certificate in place of the live one */
extern const action_ops fault_config_swap;  /* break the configuration (syntax error, proposals, a replacement file) */
extern const action_ops fault_crl_swap;     /* a stale CRL in place of the cached one, or the CRL removed */

/* The registry (faults/registry.c). */
const action_ops *fault_find(const char *kind);
size_t fault_kinds(const action_ops *const **ret);
