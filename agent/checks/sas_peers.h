/* What the SAs check counted per peer, when asked to (GET /metrics with http.metrics_per_peer):
 * the CHILD SAs' bytes and packets summed per (connection, peer identity, CHILD_SA name), so a
 * rekey (two CHILD SAs of one name for a moment) is one row. A road-warrior gateway has a row
 * per client: it is off unless configured. Rows are found through a hash index (a list-sas of
 * thousands of SAs stays linear); past SAS_PEERS_MAX rows the rest are counted, not kept. Plain
 * data, no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SAS_PEERS_MAX 65536u

typedef struct sas_peer {
        char conn[64], peer[256], child[64];
        uint64_t bytes_in, bytes_out, packets_in, packets_out;
} sas_peer;

typedef struct sas_peers {
        sas_peer *rows;  /* in the order first seen */
        size_t n, cap;
        uint32_t *index; /* open addressing: row number + 1 (0: empty); its size a power of two */
        size_t index_size;
        uint64_t dropped; /* CHILD SAs past SAS_PEERS_MAX rows */
} sas_peers;

/* The row of (conn, peer, child), made if new; NULL past the maximum (counted) or on -ENOMEM. */
sas_peer *sas_peers_row(sas_peers *p, const char *conn, const char *peer, const char *child);
void sas_peers_reset(sas_peers *p);
void sas_peers_done(sas_peers *p);
