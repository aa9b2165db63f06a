/* See control_internal.h: a connection's output. A reply or an error is encoded as one frame
 * (common/proto.h) and queued behind what the client has not read yet; the queue is written as
 * far as the socket takes it, the rest when the socket is writable again. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/control/control_internal.h"

int control_frame_flush(control_conn *c) {
        while (c->woff < c->wlen) {
                ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                c->woff += (size_t) n;
        }
        free(c->wbuf);
        c->wbuf = NULL;
        c->wlen = c->woff = 0;
        return 0;
}

/* Takes `frame`. */
static int frame_queue(control_conn *c, uint8_t *frame, size_t len) {
        if (!c->wbuf) {
                c->wbuf = frame;
                c->wlen = len;
                c->woff = 0;
        } else {
                uint8_t *p = realloc(c->wbuf, c->wlen + len);
                if (!p) {
                        free(frame);
                        return -ENOMEM;
                }
                memcpy(p + c->wlen, frame, len);
                free(frame);
                c->wbuf = p;
                c->wlen += len;
        }
        return control_frame_flush(c);
}

int control_frame_reply(control_conn *c, uint16_t verb, int status, vici_builder *b,
                           const char *message) {
        _cleanup_(freep) uint8_t *body = NULL;
        _cleanup_(freep) char *why = NULL;
        uint8_t *frame = NULL;
        size_t body_len = 0, len;
        int r;

        if (status >= 0) {
                status = 0;
                r = b ? vici_builder_finish(b, &body, &body_len) : 0;
                if (r >= 0)
                        r = proto_frame_build(PROTO_KIND_RESPONSE, verb, 0, body, body_len, &frame,
                                              &len);
                if (r >= 0)
                        return frame_queue(c, frame, len);
                status = r;
                if (asprintf(&why, "internal error: the reply could not be encoded: %s",
                             strerror(-r)) < 0)
                        why = NULL;
                message = why;
        } else
                vici_builder_free(b);

        r = proto_frame_build_error(verb, status, message ?: strerror(-status), &frame, &len);
        if (r < 0)
                return r;
        return frame_queue(c, frame, len);
}

int control_frame_error(control_conn *c, uint16_t verb, int status, const char *fmt, ...) {
        char msg[CONTROL_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return control_frame_reply(c, verb, status, NULL, msg);
}
