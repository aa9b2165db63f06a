/* The `fleet:` section of ikeheal.yaml: how this gateway coordinates with the others of its
 * fleet through etcd (its v3 JSON gateway). Off unless endpoints are given.
 *
 *   fleet:
 *     endpoints: ["http://127.0.0.1:2379"]  # etcd members, tried in order (at most 8)
 *     prefix: /ikeheal/          # every key of the fleet lives under it
 *     name: gw1                  # this gateway's record: <prefix>gateways/<name> (default: host name)
 *     lease_ttl: 10s             # the record and slots live this long after the agent stops
 *                                # renewing them (2s..5m); renewed every third of it
 *     timeout: 2s                # one request to etcd (100ms..30s)
 *     slots: {fleet: 1, group: 1} # disruptive steps at once in the fleet, in the VRRP group (1..64)
 *     vrrp_group: vg1            # the pair this gateway belongs to (none: no group slot)
 *     slot_wait: 5m              # a step waits this long for a slot (or for etcd), then the
 *                                # run is escalated (1s..24h)
 *     on_partition: [name]       # runbooks whose disruptive steps may go on without etcd
 *     drill_wait: 15m            # a drill waits this long for the fleet's drill slot (one
 *                                # drill at a time in the fleet), then is not started (1s..24h)
 *
 * Names (name, vrrp_group) are 1-63 characters of letters, digits, '.', '_' and '-'; the prefix
 * starts with '/' and is kept ending with '/'. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "yaml_tree.h"

#define FLEET_DEFAULT_PREFIX "/ikeheal/"
#define FLEET_NAME_MAX 63u
#define FLEET_PREFIX_MAX 128u
#define FLEET_SLOTS_MAX 64u

typedef struct fleet_config {
        bool enabled;              /* endpoints given */
        char **endpoints;          /* NULL-terminated */
        char *prefix;              /* ends with '/' */
        char *name;
        uint64_t lease_ttl_usec;
        uint64_t timeout_usec;
        uint32_t slots_fleet, slots_group;
        uint64_t slot_wait_usec;
        uint64_t drill_wait_usec;
        char *vrrp_group;          /* NULL: none */
        char **on_partition;       /* runbook names; NULL-terminated or NULL */
        const ynode *node;         /* the section (positions for later errors) */
} fleet_config;

void fleet_config_init(fleet_config *c);
void fleet_config_done(fleet_config *c);
/* Bind the section (node NULL or null: defaults, off). Errors, with positions, go to d; c is
 * replaced only on success. */
int fleet_config_bind(const ynode *node, fleet_config *c, ydiag *d);
/* A name as the section allows it (name, vrrp_group)? */
bool fleet_config_name_valid(const char *s);
/* May this runbook's disruptive steps go on while etcd cannot be reached? */
bool fleet_config_on_partition(const fleet_config *c, const char *runbook_name);
