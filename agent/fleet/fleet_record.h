/* A gateway's record in the fleet: what the others (and `ikehealctl fleet status`) read at
 * <prefix>gateways/<name>. One JSON object, made here from plain data; nothing else. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fault.h"

typedef struct fleet_record {
        const char *name, *version;
        const char *health;          /* "healthy", "degraded" (an incident active) */
        const char *vrrp_role;       /* "" or NULL: unknown */
        const char *vrrp_group;      /* NULL: none */
        uint32_t incidents[_FAULT_CLASS_MAX]; /* active, by class */
        bool drained;
        uint32_t drills_running;     /* runs answering a drill's fault */
        uint32_t slots_held;         /* runs holding a fleet slot */
        uint64_t updated_usec;       /* CLOCK_REALTIME */
} fleet_record;

/* The record as JSON in *ret (malloc'ed). -ENOMEM. */
int fleet_record_format(const fleet_record *r, char **ret);
