/* What the checks borrow and how a check set is built and started: the charon hub (charon's
 * pushed events, fanned out; it lives across reloads), the system bus, the state directory
 * (incidents, the checks' last-good snapshots) and the VICI client, lent to every check as its
 * environment (check_env). A reload builds a new set before anything is swapped; the old one is
 * dropped before the VICI client it may use goes away. */
#pragma once

#include "agent/checks/check.h"
#include "agent/config/config.h"
#include "ev.h"
#include "sysbus.h"

typedef struct check_host check_host;
typedef struct check_set check_set;
typedef struct charon_hub charon_hub;
typedef struct vici_client vici_client;

/* Create the hub and the system bus's handle (connected when a check or an action first needs
 * it; where it cannot be, unit and timedated facts are unavailable: said then, once, ignored)
 * and prepare the state directory. Logs what fails. */
int check_host_new(check_host **ret, ev_loop *e, const ikeheal_config *config);
check_host *check_host_free(check_host *h);
charon_hub *check_host_hub(const check_host *h);
sysbus *check_host_bus(const check_host *h);

/* Build (not start) the checks of `config`, reporting findings to observer; on error *ret_error
 * says why. */
int check_host_prepare(check_host *h, const ikeheal_config *config, check_observer observer, void *userdata,
                       check_set **ret, char **ret_error);
/* Start `set` (built for `config`) on the current VICI client. */
int check_host_start(check_host *h, const ikeheal_config *config, vici_client *vici, check_set *set);
