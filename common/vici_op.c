/* See vici_op.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vici_msg.h"
#include "vici_op.h"

vici_op *vici_op_free(vici_op *op) {
        if (!op)
                return NULL;
        for (size_t i = 0; i < _STEP_MAX; i++)
                free(op->pkt[i]);
        free(op->event);
        free(op);
        return NULL;
}

int vici_op_new_request(op_kind kind, const char *cmd, const char *event, const uint8_t *msg, size_t len,
                        vici_item_cb item_cb, vici_reply_cb reply_cb, void *userdata, vici_op **ret) {
        _cleanup_(vici_op_freep) vici_op *op = calloc(1, sizeof(*op));
        int r;

        if (!op)
                return -ENOMEM;
        op->kind = kind;
        op->reply_cb = reply_cb;
        op->item_cb = item_cb;
        op->userdata = userdata;
        r = vici_packet_build(VICI_CMD_REQUEST, cmd, msg, len, &op->pkt[STEP_COMMAND],
                              &op->pkt_len[STEP_COMMAND]);
        if (r < 0)
                return r;
        if (kind == OP_STREAM) {
                op->event = strdup(event);
                if (!op->event)
                        return -ENOMEM;
                r = vici_packet_build(VICI_EVENT_REGISTER, event, NULL, 0, &op->pkt[STEP_REGISTER],
                                      &op->pkt_len[STEP_REGISTER]);
                if (r >= 0)
                        r = vici_packet_build(VICI_EVENT_UNREGISTER, event, NULL, 0,
                                              &op->pkt[STEP_UNREGISTER],
                                              &op->pkt_len[STEP_UNREGISTER]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(op);
        return 0;
}

void vici_op_queue_append(vici_op_queue *q, vici_op *op) {
        if (q->tail)
                q->tail->next = op;
        else
                q->head = op;
        q->tail = op;
        q->n++;
        if (op->kind != OP_REGISTER)
                q->n_user++;
}

vici_op *vici_op_queue_pop(vici_op_queue *q) {
        vici_op *op = q->head;

        if (!op)
                return NULL;
        q->head = op->next;
        if (!q->head)
                q->tail = NULL;
        op->next = NULL;
        q->n--;
        if (op->kind != OP_REGISTER)
                q->n_user--;
        return op;
}

void vici_op_queue_clear(vici_op_queue *q) {
        while (q->head) {
                vici_op *op = q->head;
                q->head = op->next;
                vici_op_free(op);
        }
        q->tail = NULL;
        q->n = q->n_user = 0;
}

int vici_op_queue_register(vici_op_queue *q, const char *event) {
        _cleanup_(vici_op_freep) vici_op *op = calloc(1, sizeof(vici_op));
        int r;

        if (!op)
                return -ENOMEM;
        op->kind = OP_REGISTER;
        op->event = strdup(event);
        if (!op->event)
                return -ENOMEM;
        r = vici_packet_build(VICI_EVENT_REGISTER, event, NULL, 0, &op->pkt[STEP_REGISTER],
                              &op->pkt_len[STEP_REGISTER]);
        if (r < 0)
                return r;
        vici_op_queue_append(q, TAKE_PTR(op));
        return 0;
}

void vici_op_queue_forget(vici_op_queue *q, const void *userdata) {
        for (vici_op *op = q->head; op; op = op->next)
                if (op->userdata == userdata) {
                        op->reply_cb = NULL;
                        op->item_cb = NULL;
                }
}
