/* A reader of strongSwan's settings syntax (strongswan.conf, strongswan.d/, swanctl.conf):
 * sections `name { … }` (with `name : template { … }` references ignored), `key = value`
 * (values unquoted to the end of the line, or "quoted" with \-escapes over several lines),
 * `#` comments, and `include PATTERN` (glob(3), relative to the including file, read into the
 * section it appears in). What is read is kept flat: one entry per key or section, named by
 * its dotted path ("charon.plugins.vici.socket"); a later definition of a key wins, as in
 * strongSwan. Used by `ikehealctl init` to read what the gateway is configured with, and by the
 * config check to tell a file charon could not load before it becomes "last good". */
#pragma once

#include <stddef.h>

#include "macro.h"

/* Limits on what one load may read: a file, the files of all includes, include depth, entries. */
#define SWCONF_FILE_MAX (256 * 1024)
#define SWCONF_FILES_MAX 256
#define SWCONF_DEPTH_MAX 8
#define SWCONF_ENTRIES_MAX 8192

typedef struct swconf swconf;

/* Read `path` and every file it includes. -errno (-ENOENT: `path` missing; -EBADMSG: a syntax
 * error; -E2BIG: a limit above); on -EBADMSG and -E2BIG `err` says FILE:LINE:COL: what. */
int swconf_load(const char *path, swconf **ret, char *err, size_t errlen);
/* The same for text in memory named `name`; includes are not followed (fuzzing, tests). */
int swconf_parse(const char *name, const char *text, size_t len, swconf **ret, char *err, size_t errlen);
swconf *swconf_free(swconf *c);
DEFINE_FREE_FUNC(swconf, swconf_free);

/* The value of a dotted key (the last definition), or NULL. */
const char *swconf_get(const swconf *c, const char *key);
/* Whether `section` was opened at least once. */
int swconf_has_section(const swconf *c, const char *section);
/* The names of the direct subsections of `section` (in order of first appearance, each once):
 * up to `max` into `ret` (pointers into `c`); returns how many there are. */
size_t swconf_children(const swconf *c, const char *section, const char **ret, size_t max);
/* How many files were read (the main file and its includes). */
size_t swconf_files(const swconf *c);
