/* What the runbook and drill sets share when they load their files: the *.yaml / *.yml files of
 * directories in name order, a file read under a size limit with the refusal as a parse error,
 * and the list of every error of every file, one per line, that a refused set hands back. */
#pragma once

#include <stddef.h>

#include "macro.h"
#include "yaml_tree.h"

/* Every *.yaml / *.yml (not hidden) of each directory, as "DIR/NAME", in name order per
 * directory; a missing directory is skipped, an unreadable one, or one that does not belong to
 * root or is group- or world-writable, is an error in *errors ("DIR: cannot read the WHAT
 * directory: …"). *ret is a NULL-terminated list (strv_free). 0, or -ENOMEM. */
int yaml_set_list(char *const *dirs, const char *what, char ***ret, char **errors);

/* Read a whole file of at most `max` bytes, without following a symlink or waiting on a FIFO
 * (file_read.h); a larger or unreadable file, a symlink, anything not a regular file, and a
 * file not of root's or group- or world-writable are errors in d at 1:1 ("WHAT larger than MAX
 * bytes", "cannot read: …", "WHAT file is group- or world-writable (mode 0666), refusing…").
 * 0 or -errno. */
int yaml_set_read(const char *path, size_t max, const char *what, ydiag *d, char **ret, size_t *ret_len);

/* Append a message, or every message of d, to *errors (newline-separated). 0 or -ENOMEM. */
int yaml_set_error(char **errors, const char *fmt, ...) _printf_(2, 3);
int yaml_set_take(char **errors, const ydiag *d);
