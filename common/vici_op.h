/* The VICI client's requests ("ops", see vici.c) and their FIFO: what one request sends at each
 * step, and the queue whose head is the op in flight. Private to the client (vici.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "vici.h"

typedef enum op_kind {
        OP_COMMAND,
        OP_STREAM,
        OP_REGISTER, /* a persistent subscription's registration; no user callback */
} op_kind;

typedef enum op_step {
        STEP_REGISTER,
        STEP_COMMAND,
        STEP_UNREGISTER,
        _STEP_MAX,
} op_step;

typedef struct vici_op vici_op;
struct vici_op {
        vici_op *next;
        op_kind kind;
        op_step step;
        char *event;             /* STREAM, REGISTER */
        uint8_t *pkt[_STEP_MAX]; /* encoded packet of each step; NULL: step not used */
        size_t pkt_len[_STEP_MAX];
        bool skip_registration; /* STREAM: the event is registered by a subscription */
        bool started;           /* in flight (only ever the head) */
        bool replied;           /* reply_cb has run (a stream may still unregister) */
        vici_reply_cb reply_cb;
        vici_item_cb item_cb;
        void *userdata;
};

typedef struct vici_op_queue {
        vici_op *head, *tail;
        size_t n;      /* every op */
        size_t n_user; /* commands and streams (not the subscriptions' registrations) */
} vici_op_queue;

vici_op *vici_op_free(vici_op *op);
DEFINE_FREE_FUNC(vici_op, vici_op_free);
/* A command (OP_COMMAND: cmd) or a stream (OP_STREAM: cmd streaming `event`), every step's
 * packet encoded. -ENOMEM, or vici_packet_build()'s error. */
int vici_op_new_request(op_kind kind, const char *cmd, const char *event, const uint8_t *msg, size_t len,
                        vici_item_cb item_cb, vici_reply_cb reply_cb, void *userdata, vici_op **ret);

void vici_op_queue_append(vici_op_queue *q, vici_op *op);
/* The head, taken off the queue (NULL: empty). */
vici_op *vici_op_queue_pop(vici_op_queue *q);
void vici_op_queue_clear(vici_op_queue *q);
/* Queue the wire registration of a persistent subscription. */
int vici_op_queue_register(vici_op_queue *q, const char *event);
/* Ops of userdata stay queued (charon's answers must still be consumed in order) with nobody
 * to tell any more. */
void vici_op_queue_forget(vici_op_queue *q, const void *userdata);
