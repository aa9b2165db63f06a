/* The agent's control socket (server side of common/proto.h) on the agent's sd-event loop.
 *
 * It listens on cfg->control_socket, identifies every client by SO_PEERCRED (uid, gid, pid)
 * and SO_PEERGROUPS (supplementary groups), and authorises each request by the verb table in
 * proto.c: read-only verbs for root and members of reader_groups or operator_groups,
 * state-changing verbs for root and members of operator_groups only. Refusals, unknown verbs
 * and handler errors are answered with a status and an "error" reason; a malformed frame or an
 * unknown protocol version is answered and the connection closed.
 *
 * Handlers are registered per verb. A handler gets the decoded request body, the peer and an
 * empty reply builder. It either answers at once (return 0: the builder's content is the reply;
 * return <0: an error reply, with the reason set by control_request_set_error() or strerror),
 * or calls control_request_defer() and answers later with control_request_reply() — e.g.
 * status after a VICI round trip to charon. While a request is being handled the connection
 * reads nothing more and its request deadline is stopped; if the client goes away meanwhile the
 * request is detached and its late reply is dropped.
 *
 * Who gets a connection when many want one (per-uid limits, slots kept for root, operators and
 * approvers, refusals logged once per interval) is agent/control/control_admit.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config/config.h"
#include "ev.h"
#include "proto.h"
#include "vici_msg.h"

/* A connection must deliver each complete request within this long of being ready for it
 * (accepted, or its previous answer queued), and read the answer within the same time. It is a
 * deadline, not an idle timer: bytes trickled in do not push it back. */
#define CONTROL_REQUEST_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* control.max_clients and control.max_clients_per_uid when a config built in code leaves them 0 */
#define CONTROL_MAX_CLIENTS_DEFAULT 16u
#define CONTROL_MAX_CLIENTS_PER_UID_DEFAULT 4u
/* Connections beyond control.max_clients that only root, operators and approvers may use; when
 * these are taken too, the oldest reader's connection is closed to make room (control_admit.c). */
#define CONTROL_RESERVED_SLOTS 4u
/* Refused connections are logged once, then summed up in one line per this interval. */
#define CONTROL_REFUSAL_LOG_USEC (10 * USEC_PER_SEC)
/* Supplementary groups we look at per peer; more than this is refused (-E2BIG). */
#define CONTROL_PEER_GROUPS_MAX 1024u

typedef struct control_server control_server;
typedef struct control_request control_request;

typedef struct control_peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        char user[64];   /* user name, or the uid in decimal when it has none */
        gid_t *groups;   /* supplementary groups (SO_PEERGROUPS) */
        size_t n_groups;
} control_peer;

typedef int (*control_handler)(control_request *req, vici_builder *reply, void *userdata);

/* Bind and listen on cfg->control_socket. The parent directory is created (0755) if missing;
 * a stale socket left by a dead agent is replaced, a live one is -EADDRINUSE, anything that is
 * not a socket at that path is -EEXIST (never unlinked). The socket gets cfg->control_mode and
 * is chowned to root:cfg->control_group (-ENOENT if that group does not exist). `cfg` is
 * borrowed: it must outlive the server or be replaced by control_server_set_config(). */
int control_server_new(control_server **ret, ev_loop *e, const ikeheal_config *cfg);
/* Closes every connection (pending requests are detached) and removes the socket file if it is
 * still the one we created. */
control_server *control_server_free(control_server *s);
DEFINE_FREE_FUNC(control_server, control_server_free);

/* A reload whose socket path did not change: take the new group lists, client limit, mode and
 * group without re-binding. Connected clients are authorised by the new lists from their next
 * request on. Returns <0 if the mode/group could not be applied (the new lists are in force
 * anyway). */
int control_server_set_config(control_server *s, const ikeheal_config *cfg);
/* Replaces any earlier handler for the verb. -EINVAL for an unknown verb. */
int control_server_register(control_server *s, proto_verb verb, control_handler handler,
                            void *userdata);
/* For tests; 0 disables the request deadline. */
void control_server_set_request_timeout(control_server *s, uint64_t usec);
/* For tests: the interval of the refusal summary line (CONTROL_REFUSAL_LOG_USEC). */
void control_server_set_refusal_interval(control_server *s, uint64_t usec);
/* Connections currently open. */
unsigned control_server_n_clients(const control_server *s);
/* Connections refused, and readers' connections closed to make room, since the start. */
uint64_t control_server_n_refused(const control_server *s);
uint64_t control_server_n_evicted(const control_server *s);

/* The request, valid during the handler call; beyond it only if deferred or referenced. */
proto_verb control_request_verb(const control_request *req);
/* The decoded body; an empty root section if the request had none. Never NULL. */
const vici_node *control_request_body(const control_request *req);
const control_peer *control_request_peer(const control_request *req);
/* The reason sent with an error status (printf-style; truncated to a sane length). */
void control_request_set_error(control_request *req, const char *fmt, ...) _printf_(2, 3);

control_request *control_request_ref(control_request *req);
control_request *control_request_unref(control_request *req);
DEFINE_FREE_FUNC(control_request, control_request_unref);

/* Answer later: call in the handler, then return 0. Takes a reference that
 * control_request_reply() drops; the reply builder the handler got stays valid until then. */
void control_request_defer(control_request *req);
/* Send the deferred answer. `reply`: NULL or the builder the handler got means that one; any
 * other builder is taken over (and freed). status <0 sends an error reply as above. Returns
 * -ENOTCONN if the client went away (the reply is dropped), -EALREADY if already answered,
 * <0 if the reply could not be encoded (the client then gets an error reply). */
int control_request_reply(control_request *req, int status, vici_builder *reply);
