/* Which swanctl.conf connections are for a peer: what the actions that act on "the tunnels to
 * the incident's peers" (mss_clamp, encap) need of the configuration. Pure, over a parsed
 * swconf. */
#pragma once

#include <stdbool.h>

#include "swconf.h"

/* Is `want` (an identity, an address, or "identity@address") one of the peers of connection
 * `conn`: an address in its remote_addrs, or the id of one of its remote sections? */
bool swconf_conn_has_peer(const swconf *c, const char *conn, const char *want);
