/* The `http:` section of ikeheal.yaml: the agent's HTTP listener for a monitoring stack
 * (GET /metrics, GET /healthz, POST /alerts). Off unless configured.
 *
 *   http:
 *     enabled: false             # true without `listen`: 127.0.0.1:9469
 *     listen: ["127.0.0.1:9469"] # numeric "ADDR:PORT" or "[ADDR6]:PORT"; a non-empty list
 *                                # turns the listener on (unless enabled: false)
 *     metrics_token_file: …      # a bearer token per endpoint (none: no token asked);
 *     healthz_token_file: …      # each file root's, mode 0600 or stricter, one line
 *     alerts_token_file: …
 *     max_body_kib: 256          # request bodies (POST /alerts)
 *     max_connections: 64        # open at once, all clients
 *     max_connections_per_client: 8
 *     rate_per_second: 20        # requests per client address and second (0: unlimited)
 *     rate_burst: 40
 *     timeout: 10s               # an idle connection is closed after this
 *     metrics_per_peer: false    # /metrics: CHILD SA bytes/packets per peer identity too
 *                                # (a series per road-warrior client: off unless wanted)
 *
 * The token files are read when the configuration is loaded from a file (a reload reads them
 * again); a token that cannot be read refuses the configuration with the key's position. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "yaml_tree.h"

#define HTTP_DEFAULT_LISTEN "127.0.0.1:9469"
#define HTTP_TOKEN_MAX 4096u

typedef enum http_endpoint {
        HTTP_EP_METRICS,
        HTTP_EP_HEALTHZ,
        HTTP_EP_ALERTS,
        _HTTP_EP_MAX,
} http_endpoint;

typedef struct http_config {
        bool enabled;
        char **listen;                      /* NULL-terminated; at least one when enabled */
        char *token_file[_HTTP_EP_MAX];     /* NULL: that endpoint asks for no token */
        char *token[_HTTP_EP_MAX];          /* read from token_file (file-loaded configs only) */
        uint32_t max_body_kib;
        uint32_t max_connections, max_per_client;
        uint32_t rate_per_sec, rate_burst;
        uint64_t timeout_usec;
        bool metrics_per_peer;
        const ynode *node;                  /* the section (positions for later errors) */
} http_config;

void http_config_init(http_config *c);
void http_config_done(http_config *c);
/* Bind the section (node NULL or null: defaults, off). Errors, with positions, go to d; c is
 * replaced only on success. */
int http_config_bind(const ynode *node, http_config *c, ydiag *d);
/* Read the token files (a file-loaded configuration): root's, mode 0600 or stricter, not
 * empty, one line (a trailing newline is not part of the token). Errors to d. */
int http_config_read_tokens(http_config *c, ydiag *d);
/* Does `addr` parse as a listen address? Port in *ret_port. */
bool http_config_address_valid(const char *addr, uint16_t *ret_port);
/* Same listener (addresses, limits, tokens)? */
bool http_config_equal(const http_config *a, const http_config *b);
const char *http_endpoint_path(http_endpoint ep);
