/* The evidence an incident collected (packet captures …): files under
 * <state_dir>/evidence/<incident>/, directories 0700 and files 0600, owned by the agent's user
 * (root), so that only root reads them directly and others through the agent's approver-only
 * `evidence` verb. Incident 0 holds what was collected outside an incident (a manual run). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_FILES_MAX 256u
#define EVIDENCE_NAME_MAX 128u

typedef struct evidence_file {
        char name[EVIDENCE_NAME_MAX];
        uint64_t size;
        uint64_t mtime_usec; /* CLOCK_REALTIME */
} evidence_file;

/* "<state_dir>/evidence/<incident>", malloc'ed in *ret; -ENOMEM. */
int evidence_dir(const char *state_dir, uint64_t incident, char **ret);
/* The same, made (0700, and its parent) if missing; -errno. */
int evidence_dir_make(const char *state_dir, uint64_t incident, char **ret);
/* A plain file name of that directory: [A-Za-z0-9._-], not starting with '.'. 0 or -EINVAL. */
int evidence_name_valid(const char *name);
/* The regular files of incident's directory, sorted by name (at most EVIDENCE_FILES_MAX);
 * -ENOENT if it collected nothing. *ret malloc'ed. */
int evidence_list(const char *state_dir, uint64_t incident, evidence_file **ret, size_t *ret_n);
/* Up to max bytes of file name from offset into buf; *ret_len what was read, *ret_size the
 * file's size. -errno (-EINVAL bad name, -ENOENT, -ELOOP a symlink). */
int evidence_read(const char *state_dir, uint64_t incident, const char *name, uint64_t offset, void *buf, size_t max,
                  size_t *ret_len, uint64_t *ret_size);
