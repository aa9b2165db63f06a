/* The owed reverts' side record: one small file per temporary measure in force,
 * <state_dir>/owed/measure-ID, holding the same encoded record as engine.log. Written (synced,
 * renamed, directory synced) whenever a live measure is recorded, removed once it is reverted,
 * so a revert that is owed survives the loss of engine.log: the engine compares the two at
 * start (agent/engine_store.c). Does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Record measure `id`'s state (buf) durably. */
int owed_write(const char *state_dir, uint64_t id, const void *buf, size_t len);
/* The measure is no longer owed a revert; a missing file is fine. */
int owed_remove(const char *state_dir, uint64_t id);
/* Every owed record, in no particular order: cb(id, buf, len, path). <0 from cb stops. */
typedef int (*owed_cb)(uint64_t id, const void *buf, size_t len, const char *path, void *userdata);
int owed_load(const char *state_dir, owed_cb cb, void *userdata);
/* Keep an undecodable record for a human: rename it to PATH.broken. */
int owed_set_aside(const char *path);
