/* keepalived's VRRP notify lines, as it writes them to its notify FIFO (vrrp_notify_fifo):
 *
 *   INSTANCE "VI_1" MASTER 150
 *   GROUP "G1" BACKUP
 *
 * one event a line: what kind of object changed, its name, its new state and (instances only)
 * its configured priority. A line is outside input: parsed strictly, bounded, never trusted to
 * hold a terminator. This module does not log. */
#pragma once

#include <stddef.h>

#define VRRP_NAME_MAX 64u   /* bytes of an instance or group name, without the NUL */
#define VRRP_LINE_MAX 256u  /* bytes of one line; a longer one is refused */

typedef enum vrrp_object {
        VRRP_INSTANCE,
        VRRP_GROUP,
} vrrp_object;

typedef enum vrrp_state {
        VRRP_UNKNOWN, /* nothing heard yet */
        VRRP_MASTER,
        VRRP_BACKUP,
        VRRP_FAULT,
        VRRP_STOP,
        VRRP_DELETED,
        VRRP_MASTER_RX_LOWER_PRI, /* a master heard a lower-priority advert: no change of role */
        _VRRP_STATE_MAX,
} vrrp_state;

typedef struct vrrp_event {
        vrrp_object object;
        char name[VRRP_NAME_MAX + 1];
        vrrp_state state;
        int priority; /* 0…255; -1 when the line has none (groups) */
} vrrp_event;

/* Parse one line (without its newline; a trailing '\r' or '\n' is allowed). 0 and *ret filled;
 * -EINVAL for anything that is not such a line, with *ret_col (if given) the 1-based column of
 * the first byte that does not fit; -EOPNOTSUPP for a well-formed line of another subsystem
 * (keepalived's checker writes "VS …" and "RS …" lines to a shared FIFO). */
int vrrp_notify_parse(const char *line, size_t len, vrrp_event *ret, size_t *ret_col);

/* "MASTER", "BACKUP", …, "unknown" for VRRP_UNKNOWN. */
const char *vrrp_state_to_string(vrrp_state s);
