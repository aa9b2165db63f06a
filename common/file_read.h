/* Opening and reading a file the agent takes as input: its configuration, runbooks, drills,
 * keys, certificates, CRLs, scripts, state and logs. The open never blocks (O_NONBLOCK: a FIFO
 * or a device planted where a file was expected answers at once instead of freezing the event
 * loop), a symlink as the last component is refused unless the caller allows it (O_NOFOLLOW:
 * a configuration or runbook linked to a root-only file must not be read on root's behalf),
 * and anything that fstat() does not call a regular file is refused before a byte is read.
 *
 * Errors: -ELOOP a symlink (when not allowed), -EISDIR a directory, -EBADFD any other file that
 * is not regular (FIFO, socket, device), -EFBIG larger than the caller's limit, or the -errno
 * of open/read. file_read_strerror() says each in words. This module does not log. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>

typedef enum file_read_flags {
        /* follow a symlink in the last component (certificate trees, state snapshots) */
        FILE_READ_FOLLOW = 1u << 0,
} file_read_flags;

/* A descriptor (O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK) on a regular file, or -errno as
 * above. *ret_st (may be NULL) is the file's fstat(). */
int file_read_open(const char *path, unsigned flags, struct stat *ret_st);

/* The whole file, at most `max` bytes, in a malloc'ed buffer (NUL-terminated, the NUL not
 * counted in *ret_len); a file that grows past `max` while being read is -EFBIG too.
 * *ret_st (may be NULL) is its fstat() at open. */
int file_read_all(const char *path, size_t max, unsigned flags, char **ret, size_t *ret_len,
                  struct stat *ret_st);

/* What a result of the above means, for a message ("is a FIFO or another special file, not a
 * regular file"); strerror() for anything else. */
const char *file_read_strerror(int r);

/* May the agent, which runs as root, act on what this file or directory holds? It must belong
 * to root (or to the user running us, so `ikehealctl lint` can vet one's own drafts) and must
 * not be group- or world-writable: whoever may write it could make the agent run anything.
 * 0, or -EPERM with the reason in `why` ("is group- or world-writable (mode 0666)", "belongs
 * to uid 1000, not root"). */
int file_read_check_owner(const struct stat *st, char *why, size_t size);

/* The file type of `mode` in a word ("FIFO", "socket", "directory", …). */
const char *file_read_type(mode_t mode);
