/* The action kinds, one file each under actions/ (registered in actions/registry.c). */
#pragma once

#include "actions/action.h"

extern const action_ops action_exec;
extern const action_ops action_notify;
extern const action_ops action_nft_open;
extern const action_ops action_nft_restore;
extern const action_ops action_config_rollback;
extern const action_ops action_unit;
extern const action_ops action_cert_standby;
extern const action_ops action_psk_temp;
extern const action_ops action_sa;
extern const action_ops action_crl_cache;
extern const action_ops action_cert_issue;
extern const action_ops action_file_mode;
extern const action_ops action_tunnel_initiate;
extern const action_ops action_failover;
extern const action_ops action_drain;
extern const action_ops action_mss_clamp;
extern const action_ops action_log_level;
extern const action_ops action_capture;
extern const action_ops action_encap;

/* Where psk_temp keeps a fallback's secret (for `ikehealctl psk`); malloc'ed. */
char *psk_secret_path(const char *state_dir, const char *tag);
/* encap's override: `connections { NAME { encap = yes } … }` after its ownership mark, for n
 * connection names (letters, digits, '-', '_'; else -EINVAL); malloc'ed. */
int encap_override_text(char *const *conns, size_t n, char **ret, size_t *ret_size);
