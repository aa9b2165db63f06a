/* dpkg's log (/var/log/dpkg.log): which packages a dpkg run changed. Each line is
 * "YYYY-MM-DD HH:MM:SS ACTION …"; the lines whose ACTION is install, upgrade, remove or purge
 * name a package and its versions ("upgrade PKG:ARCH OLD NEW"). Every other line (status,
 * configure, trigproc, startup, conffile) and every malformed one is skipped: the log is read for
 * a summary, not judged. Does not log. */
#pragma once

#include <stddef.h>

#define DPKG_LOG_PACKAGES_MAX 64u

/* The packages buf[0..len) names, as "PKG VERSION (ACTION)" joined by ", " into out (always
 * NUL-terminated; a summary that does not fit ends with "…"); *ret_n: how many were found
 * (each package once, its last action). 0, or -EINVAL for size 0. */
int dpkg_log_packages(const char *buf, size_t len, char *out, size_t size, size_t *ret_n);
