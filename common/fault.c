/* See fault.h: the names of failure classes and scopes. */
#include <errno.h>
#include <string.h>

#include "fault.h"
#include "macro.h"

static const char *const class_names[_FAULT_CLASS_MAX] = {
        [FAULT_NONE] = "none",
        [FAULT_REACHABILITY] = "reachability",
        [FAULT_FIREWALL] = "firewall",
        [FAULT_DAEMON] = "daemon",
        [FAULT_DAEMON_CONFIG] = "daemon_config",
        [FAULT_CERTIFICATE] = "certificate",
        [FAULT_REVOCATION] = "revocation",
        [FAULT_CLOCK] = "clock",
        [FAULT_PROPOSAL] = "proposal",
        [FAULT_AUTHENTICATION] = "authentication",
        [FAULT_TRAFFIC_SELECTORS] = "traffic_selectors",
        [FAULT_NAT_MTU] = "nat_mtu",
        [FAULT_RESOURCE] = "resource",
        [FAULT_CONFIG_CHANGE] = "config_change",
        [FAULT_TUNNEL] = "tunnel",
        [FAULT_INTEGRITY] = "integrity",
};

static const char *const scope_names[_FAULT_SCOPE_MAX] = {
        [FAULT_SCOPE_UNKNOWN] = "unknown",
        [FAULT_SCOPE_LOCAL] = "local",
        [FAULT_SCOPE_GLOBAL] = "global",
};

const char *fault_class_to_string(fault_class c) {
        return (unsigned) c < _FAULT_CLASS_MAX ? class_names[c] : NULL;
}

int fault_class_from_string(const char *s, fault_class *ret) {
        for (unsigned i = 0; s && i < _FAULT_CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0) {
                        *ret = (fault_class) i;
                        return 0;
                }
        return -EINVAL;
}

const char *fault_scope_to_string(fault_scope s) {
        return (unsigned) s < _FAULT_SCOPE_MAX ? scope_names[s] : NULL;
}

int fault_scope_from_string(const char *s, fault_scope *ret) {
        for (unsigned i = 0; s && i < _FAULT_SCOPE_MAX; i++)
                if (strcmp(s, scope_names[i]) == 0) {
                        *ret = (fault_scope) i;
                        return 0;
                }
        return -EINVAL;
}
