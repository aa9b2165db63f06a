/* ikeheald's configuration: the typed result of parsing ikeheal.yaml (see etc/ikeheal.yaml for
 * every key with its default). A config is immutable once loaded; a reload builds a new one and
 * swaps it in only if it parsed and validated completely. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef struct ikeheal_config {
        char *path; /* file it came from */

        /* agent: */
        int log_level;           /* LOG_* */
        char *state_dir;         /* /var/lib/ikeheal */

        /* control: */
        char *control_socket;    /* /run/ikeheal/ikeheal.sock */
        mode_t control_mode;     /* 0660 */
        char *control_group;     /* group owning the socket; NULL: root's */
        char **reader_groups;    /* NULL-terminated; may send read-only requests */
        char **operator_groups;  /* NULL-terminated; may send state-changing requests */
        uint32_t control_max_clients;

        /* charon: */
        char *vici_socket;       /* /run/charon.vici */
        uint64_t vici_timeout_usec;
        uint64_t vici_reconnect_min_usec;
        uint64_t vici_reconnect_max_usec;
        char *charon_unit;       /* strongswan.service */
} ikeheal_config;

/* Parse and validate `path`. On error returns <0 and, if ret_error is non-NULL, a malloc'ed
 * message "file:line:col: what is wrong" (all errors, one per line). */
int config_load(const char *path, ikeheal_config **ret, char **ret_error);
/* The same from memory (no file mode check); for tests and the fuzzer. */
int config_parse_buffer(const char *name, const void *buf, size_t len, ikeheal_config **ret,
                        char **ret_error);
ikeheal_config *config_free(ikeheal_config *c);
DEFINE_FREE_FUNC(ikeheal_config, config_free);

/* Is `gid` (or one of `groups`) a member of one of the named groups? Unknown group names never
 * match. */
bool config_groups_match(char *const *names, gid_t gid, const gid_t *groups, size_t n_groups);
