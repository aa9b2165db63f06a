/* The asynchronous VICI client: ikeheald's one connection to charon's control socket, driven
 * entirely by sd-event (non-blocking connect, buffered writes, incremental reads, timers), so a
 * slow or absent charon never stalls the loop. Messages are encoded and decoded by
 * common/vici_msg.h; this module adds the conversation on top and does not log.
 *
 * Ordering. charon answers the requests of one connection in order, but events (ours, and the
 * streamed items of a list command) may arrive between any two answers. A streamed command is a
 * three-step exchange (EVENT_REGISTER "list-sa", CMD_REQUEST "list-sas" → items as EVENTs →
 * CMD_RESPONSE, EVENT_UNREGISTER) and its items must be told apart from anything else. So the
 * client serialises: one request in flight at a time, the rest wait in a bounded FIFO
 * (VICI_CLIENT_QUEUE_MAX). An event whose name matches the in-flight stream goes to that
 * stream's item callback (and to persistent subscribers of the same name, if any). If the
 * stream's event is already registered by a persistent subscription, the stream neither
 * registers nor unregisters it, so it cannot cancel the subscription.
 *
 * Failures. Every request gets exactly one reply callback: the answer (error 0), -EOPNOTSUPP
 * (charon does not know the command or stream event), -ETIMEDOUT (no answer within the timeout;
 * for a stream, no progress: each item re-arms it) or -ECONNRESET (the connection went away).
 * A timeout also resets the connection, because a late answer could no longer be told from the
 * next request's. A malformed packet, one over VICI_PACKET_MAX, or one charon should never send
 * in the current state is a protocol error: disconnect, then reconnect. Requests are refused
 * with -ENOTCONN while disconnected, and with -ENOBUFS when the queue is full.
 *
 * Connection. vici_client_start() connects from the loop; on failure or loss it retries after
 * a backoff that doubles from backoff_min to backoff_max and resets after a successful connect.
 * Persistent subscriptions are registered again after every connect, before any request the
 * state callback issues. The state callback reports changes: connected, and disconnected with
 * a reason (-ENOENT/-ECONNREFUSED: no charon; -ECONNRESET: EOF; -EMSGSIZE, -EBADMSG, -EPROTO:
 * protocol errors; -ETIMEDOUT); the first failed attempt after start counts as a change.
 *
 * Callbacks run from the event loop only, never from inside an API call. They may issue new
 * requests and may even free the client. vici_client_free() drops pending requests WITHOUT
 * calling their callbacks (their owner is the one tearing things down). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ev.h"
#include "macro.h"
#include "vici_msg.h"

#define VICI_CLIENT_QUEUE_MAX 64u         /* requests waiting or in flight */
#define VICI_CLIENT_SUBSCRIPTIONS_MAX 32u /* persistent event subscriptions */

typedef struct vici_client vici_client;

/* error < 0, or 0 and the reply message (valid during the call only) */
typedef void (*vici_reply_cb)(vici_client *c, int error, const vici_node *reply, void *userdata);
/* one streamed item of a list command (valid during the call only) */
typedef void (*vici_item_cb)(vici_client *c, const char *event, const vici_node *item,
                             void *userdata);
/* a pushed event of a persistent subscription */
typedef void (*vici_event_cb)(vici_client *c, const char *event, const vici_node *msg,
                              void *userdata);
/* connected, or disconnected with a reason (<0) */
typedef void (*vici_state_cb)(vici_client *c, bool connected, int reason, void *userdata);
/* every packet received, raw (after the length prefix), before it is decoded; for capture */
typedef void (*vici_packet_cb)(vici_client *c, const uint8_t *packet, size_t len, void *userdata);

/* `path` is the UNIX socket (e.g. /run/charon.vici); the timeout applies to each request. */
int vici_client_new(vici_client **ret, ev_loop *e, const char *path, uint64_t timeout_usec,
                    uint64_t backoff_min_usec, uint64_t backoff_max_usec, vici_state_cb cb,
                    void *userdata);
vici_client *vici_client_free(vici_client *c);
DEFINE_FREE_FUNC(vici_client, vici_client_free);

/* Begin connecting (from the loop). -EALREADY if started. */
int vici_client_start(vici_client *c);
bool vici_client_is_connected(const vici_client *c);
/* Why the last connection attempt failed or the connection was lost; 0 if never. */
int vici_client_last_error(const vici_client *c);
/* Disconnected: try again now instead of after the rest of the backoff (someone knows charon
 * is back, e.g. its unit became active), and start the backoff over. 0 if connected already. */
int vici_client_reconnect_now(vici_client *c);
/* The pid of the process listening on the socket (SO_PEERCRED of this connection, in our pid
 * namespace); 0 while disconnected or unknown. */
pid_t vici_client_peer_pid(const vici_client *c);
/* When charon last answered a request or streamed an item of one (CLOCK_MONOTONIC µs; 0:
 * never): progress, also of a long stream that holds other requests in the queue. Pushed
 * events do not count. */
uint64_t vici_client_last_progress(const vici_client *c);
/* Requests waiting or in flight. */
size_t vici_client_pending(const vici_client *c);

/* Send command `cmd` with the encoded message msg/len (may be empty) and call cb once. */
int vici_client_command(vici_client *c, const char *cmd, const uint8_t *msg, size_t len,
                        vici_reply_cb cb, void *userdata);
/* A streamed list command: items of `event` go to item_cb, then done_cb gets the command's
 * reply. E.g. cmd "list-sas" with event "list-sa", "list-conns" with "list-conn". done_cb runs
 * as soon as the reply is there; the EVENT_UNREGISTER that follows is the client's business
 * (it still holds the queue, so nothing can interleave with it). */
int vici_client_stream(vici_client *c, const char *cmd, const char *event, const uint8_t *msg,
                       size_t len, vici_item_cb item_cb, vici_reply_cb done_cb, void *userdata);
/* Drop the callbacks of every queued or in-flight request made with `userdata`: none of them
 * will be called. For an owner going away (a check cancelled or freed) while charon still owes
 * it an answer. NULL-safe. */
void vici_client_forget(vici_client *c, const void *userdata);
/* A persistent subscription, kept across reconnects. Several callbacks may subscribe to the
 * same event. An event charon does not know (EVENT_UNKNOWN) is simply never delivered. */
int vici_client_subscribe(vici_client *c, const char *event, vici_event_cb cb, void *userdata);
/* Deferred events: while no request is queued or in flight, pushed events stay in the socket
 * instead of waking the loop; they are delivered, in order, before the answer to the next
 * request, or before the disconnect when charon closes the connection (which is seen at once).
 * For an owner whose listeners can wait for its next request. Off by default. */
int vici_client_defer_events(vici_client *c, bool defer);
/* Observe every received packet (NULL to stop). */
void vici_client_set_packet_hook(vici_client *c, vici_packet_cb cb, void *userdata);
