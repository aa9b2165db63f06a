/* The stream of etcd's v3 watch through its JSON gateway (POST /v3/watch): one long HTTP
 * response made of JSON objects one after the other — {"result":{"header":…,"created":true}}
 * first, then {"result":{"events":[{"type":"DELETE","kv":{…}}, …]}} as keys change, or
 * {"error":{…}} when the server ends it. Bytes go in as they arrive, in pieces of any size; each
 * complete object comes out decoded. The framer counts braces and brackets outside strings (it
 * trusts no length the peer states), holds at most ETCD_WATCH_MSG_MAX bytes of one object and
 * ETCD_WATCH_EVENTS_MAX events, and an error names where in the stream: "LINE:COL: what" (from
 * 1, the stream's own lines and bytes) or the field ("events[1].kv.key: not base64"). After an
 * error the stream is not read further. proto3 JSON omits defaults: a PUT has no "type". This
 * module does not log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd_reply.h"
#include "macro.h"

#define ETCD_WATCH_MSG_MAX (256u * 1024u) /* bytes of one object */
#define ETCD_WATCH_EVENTS_MAX 1024u

typedef struct etcd_watch_event {
        bool is_delete;               /* DELETE; else PUT */
        etcd_kv kv;                   /* key, value ("" for a DELETE), revisions, lease */
} etcd_watch_event;

typedef struct etcd_watch_msg {
        int64_t revision;             /* header.revision */
        bool created, canceled;
        int64_t compact_revision;     /* canceled because the start revision was compacted */
        char cancel_reason[ETCD_ERROR_MAX];
        bool is_error;                /* the server ended the stream: code and message */
        int code;
        char message[ETCD_ERROR_MAX];
        etcd_watch_event *events;
        size_t n_events;
} etcd_watch_msg;

typedef struct etcd_watch_parser etcd_watch_parser;

/* One decoded object; msg is valid during the call. A result < 0 stops the feed and is returned. */
typedef int (*etcd_watch_msg_cb)(const etcd_watch_msg *msg, void *userdata);

int etcd_watch_parser_new(etcd_watch_parser **ret);
etcd_watch_parser *etcd_watch_parser_free(etcd_watch_parser *p);
DEFINE_FREE_FUNC(etcd_watch_parser, etcd_watch_parser_free);

/* Feed the next bytes of the stream: cb once per object completed by them. 0, the callback's
 * error, or -EBADMSG / -EMSGSIZE / -ENOMEM with `error` (ETCD_ERROR_MAX bytes) saying where;
 * the same error again on every later feed. */
int etcd_watch_parser_feed(etcd_watch_parser *p, const char *data, size_t len, etcd_watch_msg_cb cb, void *userdata,
                           char *error);
/* Bytes of an object begun and not yet complete (0 between objects). */
size_t etcd_watch_parser_pending(const etcd_watch_parser *p);

/* Decode one complete object (the parser's second half, usable alone): 0 and *ret, or an error
 * as above (locations relative to data). */
int etcd_watch_msg_parse(const char *data, size_t len, etcd_watch_msg **ret, char *error);
etcd_watch_msg *etcd_watch_msg_free(etcd_watch_msg *m);
DEFINE_FREE_FUNC(etcd_watch_msg, etcd_watch_msg_free);
