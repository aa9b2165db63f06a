/* The tunnels this gateway must keep up and what charon has of each. A tunnel is one CHILD_SA
 * named by its connection and child ("s2s/net"). Expected are the children that swanctl.conf
 * starts by itself (start_action start or trap: charon 5.9's list-conns does not report it)
 * and those a check lists by hand; charon's list-conns says which connections are loaded and
 * which peer each is for (remote identity and address); list-sas says, per tunnel, the state
 * of its IKE_SA, whether its CHILD_SA is INSTALLED and its counters.
 *
 * Pure: built from parsed settings and VICI messages, no I/O, no allocation; every string
 * from charon is bounded (a longer one is cut, never trusted to fit). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swconf.h"
#include "vici_msg.h"

#define TUNNELS_MAX 64u
#define TUNNEL_NAME_MAX 64u  /* a connection's or a child's name, with its NUL */
#define TUNNEL_PEER_MAX 128u /* a peer's identity or address, with its NUL */

typedef enum tunnel_ike {
        TUNNEL_IKE_NONE,        /* no IKE_SA of the connection */
        TUNNEL_IKE_OTHER,       /* CREATED, DELETING, DESTROYING, PASSIVE … */
        TUNNEL_IKE_CONNECTING,  /* being set up */
        TUNNEL_IKE_ESTABLISHED, /* up (REKEYING and REKEYED count as up too) */
} tunnel_ike;

enum {
        TUNNEL_FROM_START = 1u << 0, /* start_action = start in swanctl.conf */
        TUNNEL_FROM_TRAP = 1u << 1,  /* start_action = trap */
        TUNNEL_FROM_LIST = 1u << 2,  /* listed in the check's parameters */
};

#define TUNNEL_NEVER UINT64_MAX

typedef struct tunnel {
        char conn[TUNNEL_NAME_MAX];
        char child[TUNNEL_NAME_MAX];
        unsigned origin;                 /* TUNNEL_FROM_* bits */
        /* list-conns */
        bool loaded;                     /* charon has the connection and this child */
        char peer_id[TUNNEL_PEER_MAX];   /* configured remote identity, else the IKE_SA's */
        char peer_addr[TUNNEL_PEER_MAX]; /* first configured remote address, else the IKE_SA's */
        /* list-sas */
        tunnel_ike ike;
        bool installed;                  /* a CHILD_SA of this name INSTALLED */
        bool trapped;                    /* its trap policy installed (list-policies trap): the
                                          * CHILD_SA comes with the first packet */
        unsigned children;               /* INSTALLED CHILD_SAs of this name (2 while rekeying) */
        bool encap;                      /* one of them carries ESP in UDP (list-sas encap=yes) */
        uint64_t bytes_in, bytes_out, packets_in, packets_out; /* summed over those */
        uint64_t idle_in, idle_out;      /* seconds since the last packet in/out; TUNNEL_NEVER */
        uint64_t installed_for;          /* seconds since the newest was installed; TUNNEL_NEVER */
} tunnel;

typedef struct tunnel_set {
        tunnel t[TUNNELS_MAX];
        size_t n;
        size_t dropped; /* expected tunnels beyond TUNNELS_MAX, not watched */
} tunnel_set;

/* "conn/child" into its two names (each 1…TUNNEL_NAME_MAX-1 bytes, no '/', no blank or
 * control character). -EINVAL otherwise. */
int tunnel_name_split(const char *s, char conn[TUNNEL_NAME_MAX], char child[TUNNEL_NAME_MAX]);
/* Expect conn/child (again: the origins are merged). -E2BIG when full (counted in dropped),
 * -EINVAL for a name that does not fit. */
int tunnel_set_add(tunnel_set *s, const char *conn, const char *child, unsigned origin);
tunnel *tunnel_set_find(tunnel_set *s, const char *conn, const char *child);
/* Expect every child of swanctl.conf's connections whose start_action says start or trap. */
void tunnel_set_from_swanctl(tunnel_set *s, const swconf *c);
/* Forget what charon said last (loaded, peers, SA states, counters); keep the expected set. */
void tunnel_set_reset(tunnel_set *s);
/* One list-conn item: { <conn> { remote_addrs [...], remote-1 { id }, children { <child> … } } }. */
void tunnel_set_conn(tunnel_set *s, const vici_node *item);
/* One list-sa item: { <conn> { state, remote-host, remote-id, child-sas { <x> { name, state,
 * bytes-in … use-in … } } } }. */
void tunnel_set_sa(tunnel_set *s, const vici_node *item);

/* One list-policy item of `list-policies {trap = yes}`: { <name> { child, ike, mode … } }. */
void tunnel_set_policy(tunnel_set *s, const vici_node *item);

/* How findings name the tunnel's peer: "identity@address", or the one that is known, or "?". */
void tunnel_peer(const tunnel *t, char *out, size_t size);
const char *tunnel_ike_to_string(tunnel_ike i);
