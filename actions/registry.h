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
