/* The ledger: per failure signature (check, class, peer — e.g. "firewall|firewall|"), what the
 * agent did automatically and how often the fault came back, so that a fault that is "fixed"
 * and returns does not make the agent loop.
 *
 *  - budget: at most policy.budget_runs automatic runs per policy.budget_window; one more trips
 *    the signature's circuit breaker. An open breaker means "a human now": the engine escalates
 *    instead of running. It closes only after policy.breaker_reset of sustained health of that
 *    signature (no incident of it opened meanwhile), or by an operator (`resume`).
 *  - flap damping: more than policy.flap_opens incidents of the signature opened within
 *    policy.flap_window is flapping; automatic runs are held until it has been quiet (no new
 *    opening) for a whole window.
 *
 * Pure bookkeeping over times the caller passes (CLOCK_REALTIME µs); it is saved and restored
 * by the engine (to_vici / from_vici) so an agent restart does not reset a budget. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "policy/policy.h"
#include "vici_msg.h"

#define LEDGER_SIGNATURES_MAX 256u /* oldest idle signatures are forgotten beyond this */
#define LEDGER_HISTORY 32u         /* run and opening times kept per signature */
#define LEDGER_SIGNATURE_MAX 192u

typedef struct policy_ledger policy_ledger;

typedef enum ledger_verdict {
        LEDGER_ALLOW,
        LEDGER_BREAKER_OPEN, /* budget exhausted (now or earlier): escalate to a human */
        LEDGER_FLAPPING,     /* held: the fault comes and goes */
} ledger_verdict;

int policy_ledger_new(policy_ledger **ret);
policy_ledger *policy_ledger_free(policy_ledger *l);
DEFINE_FREE_FUNC(policy_ledger, policy_ledger_free);

/* Build "check|class|peer" into buf (truncated to LEDGER_SIGNATURE_MAX). */
const char *policy_signature(char *buf, size_t size, const char *check, const char *cls, const char *peer);

/* An incident of this signature opened at now. Both note functions: -EINVAL for an empty
 * signature, -ENOSPC when every one of LEDGER_SIGNATURES_MAX slots holds an open breaker. */
int policy_ledger_note_open(policy_ledger *l, const char *sig, uint64_t now_usec);
/* An automatic run of this signature started at now (counts against the budget). */
int policy_ledger_note_run(policy_ledger *l, const char *sig, uint64_t now_usec);
/* May an automatic run start now? Trips the breaker when the budget is spent (and stays
 * tripped). `why` says which rule and the numbers. */
ledger_verdict policy_ledger_check(policy_ledger *l, const policy_config *p, const char *sig,
                                   uint64_t now_usec, char *why, size_t why_size);
/* Trip the breaker now, whatever the budget says (a temporary measure expired on this
 * signature: the next automatic run waits for a human). `why` is kept as the reason. */
void policy_ledger_trip(policy_ledger *l, const char *sig, uint64_t now_usec, const char *why);
/* Close breakers whose signature has been quiet for policy.breaker_reset; returns how many
 * closed. Called on every healthy diagnosis. */
size_t policy_ledger_heal(policy_ledger *l, const policy_config *p, uint64_t now_usec);
/* Operator reset (resume): close every breaker, forget flapping history. */
void policy_ledger_reset(policy_ledger *l);
bool policy_ledger_breaker_open(const policy_ledger *l, const char *sig);

/* Persistence: one section "ledger" with a subsection per signature. from_vici replaces the
 * content; malformed input is -EBADMSG and leaves the ledger empty. */
void policy_ledger_to_vici(const policy_ledger *l, vici_builder *b);
int policy_ledger_from_vici(policy_ledger *l, const vici_node *section);
/* For `status`: signatures with an open breaker / flapping at now. */
size_t policy_ledger_count_open(const policy_ledger *l);
