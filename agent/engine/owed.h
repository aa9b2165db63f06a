/* The owed reverts' side record: one small file per change the agent still has to undo — a
 * temporary measure in force (<state_dir>/owed/measure-ID, the record engine.log holds) or a
 * drill's fault not yet removed (owed/drill-ID, the record drills.log holds). Written (synced,
 * renamed, directory synced) with each record of it, removed once it is undone, so a revert
 * that is owed survives the loss of its log: the stores compare the two at start
 * (agent/engine/engine_store.c, agent/drill/drill_store.c). KIND: "measure" or "drill". Does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record the state (buf) of KIND `id` durably. */
int owed_write(const char *state_dir, const char *kind, uint64_t id, const void *buf, size_t len);
/* Is there a record of KIND `id`? */
bool owed_exists(const char *state_dir, const char *kind, uint64_t id);
/* Nothing is owed for it any more; a missing file is fine. */
int owed_remove(const char *state_dir, const char *kind, uint64_t id);
/* Every owed record of KIND, in no particular order: cb(id, buf, len, path); buf NULL if it
 * cannot be read. <0 from cb stops. */
typedef int (*owed_cb)(uint64_t id, const void *buf, size_t len, const char *path, void *userdata);
int owed_load(const char *state_dir, const char *kind, owed_cb cb, void *userdata);
/* Keep an undecodable record for a human: rename it to PATH.broken. */
int owed_set_aside(const char *path);
