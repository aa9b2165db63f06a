/* Fuzz the agent's control server as a client meets it: the input's first byte picks who
 * connects (root; an operator, a reader or an outsider by group) and the rest is the byte
 * stream the client sends, through a real socket pair into control_conn.c's connection: frame
 * cutting under PROTO_REQUEST_MAX, the header and version, the verb, authorisation of reads and
 * writes, the VICI body, the handler call with its reply, error and deferred answers, and the
 * connection's closing. The handlers are stand-ins (the verbs' own need a running agent): each
 * reads the request's body through the lookups the handlers use and answers in one of three
 * ways chosen by the verb. The server is built here without its listening socket, which
 * control_admit.c owns and which the lab covers. Seeds: requests as ikehealctl sends them.
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "agent/control/control_internal.h"
#include "log.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ev_loop *loop;
static control_server *server;
static ikeheal_config cfg;
static control_request *pending; /* a deferred request, answered on the next turn */

static void walk(const vici_node *n, unsigned depth) {
        for (const vici_node *c = n->child; c; c = c->next) {
                if (c->type == VICI_NODE_VALUE && c->value)
                        (void) strnlen(c->value, c->len + 1);
                if (c->child && depth < 64)
                        walk(c, depth + 1);
        }
}

static int handler(control_request *req, vici_builder *reply, void *userdata) {
        const vici_node *body = control_request_body(req);
        proto_verb verb = control_request_verb(req);

        (void) userdata;
        (void) control_request_peer(req);
        walk(body, 0);
        (void) vici_node_str(body, "name");
        switch (verb % 3) {
        case 0:
                vici_builder_add_str(reply, "verb", proto_verb_to_string(verb));
                return 0;
        case 1:
                control_request_set_error(req, "refused: %s", vici_node_str(body, "name") ?: "no name");
                return -EINVAL;
        default:
                if (pending)
                        return -EBUSY;
                control_request_defer(req);
                pending = req;
                return 0;
        }
}

static void setup(void) {
        static char *readers[] = { "nogroup", NULL }, *operators[] = { "users", NULL };

        log_set_max_level(LOG_CRIT); /* the refusals and requests it logs would drown the output */
        if (ev_new(&loop) < 0 || !(server = calloc(1, sizeof(*server))))
                abort();
        cfg.reader_groups = readers;
        cfg.operator_groups = operators;
        cfg.control_max_clients = 4;
        server->event = loop;
        server->cfg = &cfg;
        server->fd = -1;
        server->request_usec = 0; /* no deadline: the fuzzer's time is not the client's */
        for (int v = 1; v < _PROTO_VERB_MAX; v++)
                if (v % 5 != 4) /* leave some verbs unimplemented */
                        (void) control_server_register(server, (proto_verb) v, handler, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static gid_t groups[2];
        control_peer peer = { .uid = 1000, .gid = 1000, .pid = 4242 };
        uint8_t sink[4096];
        int fds[2];

        if (!loop)
                setup();
        if (size < 1)
                return 0;
        switch (data[0] & 3) {
        case 0:
                peer.uid = 0;
                break;
        case 1:
                groups[0] = getgrnam("users") ? getgrnam("users")->gr_gid : 100;
                break;
        case 2:
                groups[0] = 65534; /* nogroup, a reader */
                break;
        default:
                groups[0] = 4242;
        }
        snprintf(peer.user, sizeof(peer.user), "%u", (unsigned) peer.uid);
        if (!(peer.groups = malloc(sizeof(gid_t))))
                return 0;
        peer.groups[0] = groups[0];
        peer.n_groups = 1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
                abort();
        if (control_conn_new(server, fds[0], &peer, peer.uid == 0) < 0) {
                close(fds[1]);
                return 0;
        }
        size_t off = 1;
        bool shut = false;
        for (unsigned turn = 0; turn < 10000 && server->n_conns > 0; turn++) {
                if (off < size) {
                        ssize_t n = send(fds[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n > 0)
                                off += (size_t) n;
                } else if (!shut) {
                        (void) shutdown(fds[1], SHUT_WR); /* the client is done: EOF after its frames */
                        shut = true;
                }
                while (recv(fds[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
                        ;
                if (pending) {
                        control_request *req = pending;
                        pending = NULL;
                        (void) control_request_reply(req, 0, NULL);
                }
                if (ev_run(loop, 0) < 0)
                        break;
        }
        while (server->conns)
                control_conn_free(server->conns);
        if (pending) {
                control_request *req = pending;
                pending = NULL;
                (void) control_request_reply(req, 0, NULL);
        }
        close(fds[1]);
        return 0;
}
