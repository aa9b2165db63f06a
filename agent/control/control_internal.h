/* What the control server's files share: the server and connection structures, and each file's
 * entry points for the others. They call downwards only: control_server.c (the listening
 * socket) → control_admit.c (who gets a connection) → control_conn.c (connections and their
 * requests) → control_frame.c (replies as frames) and control_auth.c (who may use a verb).
 * Nothing outside agent/control/ includes this header. */
#pragma once

#include "agent/control/control.h"

typedef struct control_conn control_conn;

struct control_conn {
        control_server *server;
        control_conn *prev, *next; /* newest first: the list's tail is the oldest connection */
        int fd;
        ev_source *io;
        ev_source *timer;
        control_peer peer;
        bool privileged;   /* root, an operator or an approver when it connected */
        bool timer_armed;  /* the request deadline runs (it is not pushed back by input) */
        uint8_t *rbuf;
        size_t rlen, ralloc;
        uint8_t *wbuf;
        size_t wlen, woff;
        bool closing;     /* close once the write buffer is empty */
        bool in_dispatch; /* guards against re-entry from a handler that replies at once */
        control_request *current;
};

typedef struct control_slot {
        control_handler handler;
        void *userdata;
} control_slot;

/* Refused connections of one interval, said in one line when it ends. */
typedef struct control_refusals {
        ev_source *timer; /* runs while an interval has refusals to sum up */
        unsigned n;             /* refused since the last line */
        unsigned n_uids;        /* distinct uids among them (up to ELEMENTSOF(uids)) */
        uid_t uids[4];
        unsigned uid_n[4];
        const char *last_reason;
        uint64_t total;
        uint64_t interval_usec; /* CONTROL_REFUSAL_LOG_USEC; tests shorten it */
} control_refusals;

struct control_server {
        ev_loop *event;
        const ikeheal_config *cfg;
        char *path;
        int fd;
        dev_t dev;
        ino_t ino;
        ev_source *listen_source;
        ev_source *backoff_timer;
        control_slot slots[_PROTO_VERB_MAX];
        control_conn *conns;
        unsigned n_conns;
        uint64_t request_usec;
        uint64_t evicted;
        control_refusals refusals;
};

/* The longest error reason sent to a client. */
#define CONTROL_ERROR_MAX 1024u

/* control_conn.c: set up a connection for an admitted peer (takes fd and peer->groups). */
int control_conn_new(control_server *s, int fd, control_peer *peer, bool privileged);
/* control_conn.c: close a connection now (a pending request is detached). Not from inside its
 * own dispatch. */
void control_conn_free(control_conn *c);
/* control_conn.c: the connection's poll events and request deadline for its state now;
 * <0: close it. */
int control_conn_update(control_conn *c);

/* control_frame.c: write what the socket takes of the queued output. */
int control_frame_flush(control_conn *c);
/* control_frame.c: encode and queue a reply (takes b). On an error status the body is just
 * { error = message } (strerror when message is NULL). */
int control_frame_reply(control_conn *c, uint16_t verb, int status, vici_builder *b, const char *message);
int control_frame_error(control_conn *c, uint16_t verb, int status, const char *fmt, ...) _printf_(4, 5);

/* control_auth.c: may peer p use the verb (`write`: a state-changing one)? If not, *why says
 * who may (at most why_size bytes). */
bool control_auth_check(const ikeheal_config *cfg, const control_peer *p, bool write, char *why,
                        size_t why_size, const char *verb);

/* control_admit.c: the listening socket's callback (accept, identify, admit or refuse). */
int control_admit_on_listen(ev_source *es, int fd, uint32_t revents, void *userdata);
/* control_admit.c: end the refusals' interval now (its summary said if it has one). */
void control_admit_done_refusals(control_server *s);
/* control_admit.c: drop the timers of admission (server teardown). */
void control_admit_done(control_server *s);
