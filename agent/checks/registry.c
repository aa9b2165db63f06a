/* See registry.h. The order is the diagnostic checklist, outermost and cheapest first (can IKE
 * reach us, is charon there, are its certificates good, …); `ikehealctl diagnose` lists checks in this order. A new kind: its header below and one
 * line in the table. */
#include <string.h>

#include "agent/checks/audit_damage.h"
#include "agent/checks/alerts.h"
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
#include "agent/checks/tunnels.h"
#include "agent/checks/vrrp.h"
#include "agent/checks/registry.h"

static const check_ops *const registry[] = {
        &probe_check_ops,        /* 1. UDP 500/4500 reachable from outside */
        &firewall_check_ops,     /*    … and what the local nftables does to them */
        &daemon_check_ops,       /* 2. charon running, answering, not flapping */
        &conns_check_ops,        /*    its connections loaded */
        &sas_check_ops,          /*    impact: who is up */
        &tunnels_check_ops,      /*    the site-to-site tunnels it must keep up */
        &cert_check_ops,         /* 3. certificates and keys */
        &revocation_check_ops,   /*    CRL/OCSP */
        &clock_check_ops,        /*    clock skew */
        &nat_mtu_check_ops,      /* 4. NAT and MTU */
        &config_drift_check_ops, /* 5. recent changes */
        &logs_check_ops,         /*    what charon says about each peer */
        &vrrp_check_ops,         /*    this gateway's role in its VRRP pair */
        &alerts_check_ops,       /*    what an external monitor says */
        &audit_damage_check_ops, /* 6. the agent's own audit log whole */
        NULL,
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

/* Keyed by kind, beside the table above: a kind's traits are read where its findings are read. */
static const struct {
        const char *kind;
        check_traits traits;
} traits[] = {
        { "ike_probe", { FAULT_REACHABILITY, CHECK_ROLE_OUTSIDE } },
        { "firewall", { FAULT_FIREWALL, 0 } },
        { "daemon", { FAULT_DAEMON, CHECK_ROLE_LIVENESS } },
        { "conns", { FAULT_DAEMON_CONFIG, CHECK_ROLE_LOADED } },
        { "sas", { FAULT_NONE, CHECK_ROLE_SA_COUNT } },
        { "tunnels", { FAULT_TUNNEL, 0 } },
        { "certificate", { FAULT_CERTIFICATE, 0 } },
        { "revocation", { FAULT_REVOCATION, 0 } },
        { "clock", { FAULT_CLOCK, 0 } },
        { "nat_mtu", { FAULT_NAT_MTU, 0 } },
        { "config", { FAULT_CONFIG_CHANGE, 0 } },
        { "logs", { FAULT_NONE, CHECK_ROLE_PEERS_SAY } },
        { "audit", { FAULT_INTEGRITY, 0 } },
        { "vrrp", { FAULT_NONE, CHECK_ROLE_VRRP } },
        { "alerts", { FAULT_REACHABILITY, CHECK_ROLE_OUTSIDE | CHECK_ROLE_EXTERNAL } },
};

check_traits check_kind_traits(const char *kind) {
        for (size_t i = 0; kind && i < ELEMENTSOF(traits); i++)
                if (strcmp(traits[i].kind, kind) == 0)
                        return traits[i].traits;
        return (check_traits){ FAULT_NONE, 0 };
}

bool check_kind_is(const char *kind, check_role role) {
        return (check_kind_traits(kind).roles & role) != 0;
}
