/* What the SAs check counted per connection in its last complete `list-sas`: IKE SAs by state,
 * CHILD SAs by state, and the CHILD SAs' bytes and packets summed per connection (a road-warrior
 * connection with thousands of peers is one row, so the row count follows the configuration,
 * not the number of peers). Bounded: past SAS_TALLY_MAX connections the rest are summed into
 * one row named "_other". Plain data, no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/checks/sas_peers.h"

#define SAS_TALLY_MAX 512u
#define SAS_TALLY_OTHER "_other"

typedef enum sas_ike_state {
        SAS_IKE_ESTABLISHED,
        SAS_IKE_CONNECTING,
        SAS_IKE_OTHER,
        _SAS_IKE_MAX,
} sas_ike_state;

typedef struct sas_conn {
        char name[64];
        uint32_t ike[_SAS_IKE_MAX];
        uint32_t child_installed, child_other;
        uint64_t bytes_in, bytes_out, packets_in, packets_out;
} sas_conn;

typedef struct sas_tally {
        sas_conn *conns; /* in the order first seen */
        size_t n, cap;
        sas_peers peers; /* kept only when the check is asked to (sas_check_set_per_peer()) */
} sas_tally;

/* The row of `name` (made, or "_other" past the maximum); NULL only on -ENOMEM. */
sas_conn *sas_tally_row(sas_tally *t, const char *name);
void sas_tally_reset(sas_tally *t);
void sas_tally_done(sas_tally *t);
/* Exchange two tallies (the one being built becomes the last complete one). */
void sas_tally_swap(sas_tally *a, sas_tally *b);
sas_ike_state sas_ike_state_of(const char *vici_state);
const char *sas_ike_state_to_string(sas_ike_state s);
