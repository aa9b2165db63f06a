/* Where the checks keep their last-good state: <state_dir>/snapshots/<check>.<ext> (the config
 * check's "config.manifest", the firewall's "firewall.nft.bin", …), written by the checks, read
 * by the actions that restore from it and by ikehealctl. The check's name is a path component
 * here, and names can come from runbooks (an action's `check` parameter): only a plain name
 * (a-z, 0-9, '-', '_', at most SNAPSHOT_NAME_MAX) makes a path. */
#pragma once

#include <stdbool.h>

#define SNAPSHOT_SUBDIR "snapshots"
#define SNAPSHOT_NAME_MAX 64u

bool snapshot_name_valid(const char *name);
/* "<state_dir>/snapshots", malloc'ed. -EINVAL without a state directory, -ENOMEM. */
int snapshot_dir(const char *state_dir, char **ret);
/* "<state_dir>/snapshots/<name>.<ext>", malloc'ed. -EINVAL without a state directory, for a name
 * that snapshot_name_valid() refuses or an ext that is empty or holds '/'; -ENOMEM. */
int snapshot_path(const char *state_dir, const char *name, const char *ext, char **ret);
