/* Loading strongSwan's configuration with swanctl, for the actions that change it: swanctl runs
 * as a watched child (actions/spawn.h) against charon's VICI socket, with the swanctl tree and
 * strongswan.conf the agent's checks watch. swanctl exits 0 even when swanctl.conf has a syntax
 * error (charon then unloads every connection): its output is judged too. Does not log. */
#pragma once

#include <stdbool.h>

#include "actions/action.h"
#include "actions/spawn.h"

#define SWANCTL_DEFAULT "/usr/sbin/swanctl"

/* `swanctl --load-all --noprompt [--clear]` for swanctl_dir (NULL: swanctl's default) and conf
 * (NULL: the default strongswan.conf), against env->vici_socket. */
int swanctl_load_all(spawn **ret, const action_env *env, const char *bin, const char *swanctl_dir, const char *conf,
                     bool clear_creds, spawn_done_cb cb, void *userdata);
/* `swanctl --load-creds --noprompt`, likewise (certificates, keys, CRLs, secrets). */
int swanctl_load_creds(spawn **ret, const action_env *env, const char *bin, const char *swanctl_dir, const char *conf,
                       spawn_done_cb cb, void *userdata);
/* `swanctl WHAT --noprompt [--clear]` for any load command (--load-conns, --load-creds …). */
int swanctl_load(spawn **ret, const action_env *env, const char *bin, const char *what, const char *swanctl_dir,
                 const char *conf, bool clear, spawn_done_cb cb, void *userdata);
/* Did that fail, whatever the exit status said? */
bool swanctl_failed(int code, int status, const char *output);
