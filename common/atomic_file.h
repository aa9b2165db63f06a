/* Replace a file so that a crash at any moment leaves either the old content or the new one,
 * never a mix: write a temporary file in the same directory, fsync it, rename it over the
 * target, fsync the directory. Used for snapshots and small state files. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Write all of buf to fd, across short writes and EINTR. 0 or -errno. */
int atomic_file_write_all(int fd, const void *buf, size_t len);
/* fsync a directory (a new or removed entry in it made durable). */
int atomic_file_sync_dir(const char *dir);
/* fsync the directory a file is in (the file's new entry made durable). */
int atomic_file_sync_dir_of(const char *path);
/* 0 or -errno; on failure the target is untouched and no temporary file is left. */
int atomic_file_write(const char *path, const void *buf, size_t len, mode_t mode);
/* The same, the file owned by uid:gid (a live file replaced as its owner had it). */
int atomic_file_write_owned(const char *path, const void *buf, size_t len, mode_t mode, uid_t uid, gid_t gid);
/* A file written as a stream, then put in place the same way: atomic_file_begin() opens a
 * temporary file beside path (mode 0600 until the commit; its name into *ret_tmp, malloc'ed)
 * and returns its descriptor or -errno; atomic_file_commit() gives it `mode`, fsyncs and
 * closes it, renames it over path and fsyncs the directory (on failure the temporary file is
 * removed); atomic_file_abort() closes and removes it. */
int atomic_file_begin(const char *path, char **ret_tmp);
int atomic_file_commit(int fd, const char *tmp, const char *path, mode_t mode);
void atomic_file_abort(int fd, const char *tmp);
/* Read a whole file of at most `max` bytes into a malloc'ed buffer (NUL-terminated for
 * convenience, not counted in *ret_len). -EFBIG past max. A symlink is followed; the open never
 * blocks and anything but a regular file is refused (file_read_all(), common/file_read.h). */
int atomic_file_read(const char *path, size_t max, char **ret, size_t *ret_len);
