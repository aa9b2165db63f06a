/* See registry.h. Order is the seeds' triage order, outermost and cheapest first: reachability,
 * firewall, daemon, SAs, certificates, revocation, clock, NAT/MTU, configuration, logs. Add a
 * kind with one line here and one extern below. */
#include <string.h>

#include "agent/checks/cert.h"
#include "agent/checks/clock.h"
#include "agent/checks/config_drift.h"
#include "agent/checks/conns.h"
#include "agent/checks/daemon.h"
#include "agent/checks/firewall.h"
#include "agent/checks/logs.h"
#include "agent/checks/nat_mtu.h"
#include "agent/checks/probe.h"
#include "agent/checks/sas.h"
#include "agent/checks/revocation.h"
#include "agent/checks/registry.h"

static const check_ops *const registry[] = {
        &probe_check_ops,
        &firewall_check_ops,
        &daemon_check_ops,
        &sas_check_ops,
        &cert_check_ops,
        &revocation_check_ops,
        &clock_check_ops,
        &nat_mtu_check_ops,
        &conns_check_ops,
        &config_drift_check_ops,
        &logs_check_ops,
        NULL, /* terminator: keeps the table valid while kinds are being added */
};

const check_ops *check_registry_find(const char *kind) {
        for (size_t i = 0; registry[i]; i++)
                if (strcmp(registry[i]->kind, kind) == 0)
                        return registry[i];
        return NULL;
}

const check_ops *const *check_registry_all(size_t *ret_n) {
        size_t n = 0;
        while (registry[n])
                n++;
        *ret_n = n;
        return registry;
}
