/* Every action kind, in one static table. A kind not listed here does not exist: runbooks
 * naming it are refused at parse time. */
#include <string.h>

#include "actions/action.h"
#include "actions/registry.h"

static const action_ops *const kinds[] = {
        &action_exec,
        &action_notify,
        &action_nft_open,
        &action_nft_restore,
        &action_config_rollback,
        &action_unit,
        &action_cert_standby,
        &action_psk_temp,
        &action_sa,
        &action_crl_cache,
        &action_cert_issue,
        &action_file_mode,
        &action_tunnel_initiate,
        &action_failover,
        &action_drain,
        &action_mss_clamp,
        &action_log_level,
        &action_capture,
        &action_encap,
};

const action_ops *action_find(const char *kind) {
        for (size_t i = 0; kind && i < ELEMENTSOF(kinds); i++)
                if (strcmp(kinds[i]->kind, kind) == 0)
                        return kinds[i];
        return NULL;
}

size_t action_kinds(const action_ops *const **ret) {
        *ret = kinds;
        return ELEMENTSOF(kinds);
}
