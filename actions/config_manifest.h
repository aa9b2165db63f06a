/* The config check's manifest of strongSwan's configuration, as the actions that restore from it
 * read it: one line per file, "<sha256 or -> <mode octal> <uid> <gid> <absolute path>", written
 * by agent/checks/config_drift.c as <state_dir>/snapshots/<check>.manifest when the gateway is
 * healthy (the last-good one). */
#pragma once

#include <stdbool.h>
#include <stddef.h>


#define CONFIG_MANIFEST_FILES_MAX 2000u
#define CONFIG_MANIFEST_MAX (CONFIG_MANIFEST_FILES_MAX * 400u)

typedef struct config_manifest_entry {
        char hash[65]; /* "-": absent */
        unsigned mode, uid, gid;
        char *path;
} config_manifest_entry;

typedef struct config_manifest {
        config_manifest_entry *e;
        size_t n;
} config_manifest;

/* <state_dir>/snapshots/<check>.manifest<suffix>, malloc'ed (snapshot_path(): -EINVAL without a
 * state directory or for a check name that is no plain name; -ENOMEM). */
int config_manifest_path(const char *state_dir, const char *check, const char *suffix, char **ret);
/* The manifest's text (as the check writes it), strictly: -EBADMSG for a line that does not
 * parse and for more than CONFIG_MANIFEST_FILES_MAX lines, -ENOMEM. */
int config_manifest_parse(const char *text, config_manifest *ret);
/* -ENOENT (none yet), -EBADMSG (a line that does not parse), -ENOMEM, or a read error. */
int config_manifest_read(const char *path, config_manifest *ret);
/* Append a copy of e (its path duplicated). */
int config_manifest_add(config_manifest *m, const config_manifest_entry *e);
const config_manifest_entry *config_manifest_find(const config_manifest *m, const char *path);
void config_manifest_done(config_manifest *m);

/* The line every file a temporary measure writes into the configuration begins with (psk_temp,
 * encap, log_level). Such a file is the measure's, removed by its revert: no part of the
 * configuration's state — not in a manifest (so never restored after its expiry), not removed
 * by a rollback (the measure is still in force). */
#define CONFIG_MEASURE_FILE_MARK "# Written by ikeheald"
bool config_manifest_measure_text(const char *data, size_t len);
/* The file at path begins with the mark (false when it cannot be read). */
bool config_manifest_measure_file(const char *path);
