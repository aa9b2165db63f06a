/* See proto.h: the verb table, frame encoding/decoding, and the blocking client used by
 * ikehealctl and the tests. The decoders check every length before touching the bytes, since
 * both sides of the socket may be talking to something hostile (any local user can connect). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "now.h"
#include "proto.h"

typedef struct proto_verb_info {
        const char *name;
        bool write;
        const char *summary;
} proto_verb_info;

/* The one table that says which verbs change state; agent/control/control.c authorises by it. */
static const proto_verb_info verb_table[_PROTO_VERB_MAX] = {
        [PROTO_STATUS] = { "status", false, "show the agent's and charon's state" },
        [PROTO_RELOAD] = { "reload", true, "re-read the configuration file" },
        [PROTO_DIAGNOSE] = { "diagnose", false, "run the checks now and name what is wrong" },
        [PROTO_CHECKS] = { "checks", false, "list the checks with their last results" },
        [PROTO_INCIDENTS] = { "incidents", false, "list open and recent incidents" },
        [PROTO_PLAN] = { "plan", false, "show the runbook plan for an incident" },
        [PROTO_PENDING] = { "pending", false, "list steps waiting for approval" },
        [PROTO_APPROVE] = { "approve", true, "approve a pending step" },
        [PROTO_DENY] = { "deny", true, "deny a pending step" },
        [PROTO_RUN] = { "run", true, "run a runbook" },
        [PROTO_MEASURES] = { "measures", false, "list temporary measures in force" },
        [PROTO_EXTEND] = { "extend", true, "extend a temporary measure's expiry" },
        [PROTO_REVERT] = { "revert", true, "revert a temporary measure now" },
        [PROTO_AUDIT] = { "audit", false, "show the audit log" },
        [PROTO_PAUSE] = { "pause", true, "stop automatic remediation" },
        [PROTO_RESUME] = { "resume", true, "resume automatic remediation" },
        [PROTO_DRILL] = { "drill", true, "run or abort a chaos drill" },
        [PROTO_RUNS] = { "runs", false, "runbook runs, active and recent" },
        [PROTO_PSK] = { "psk", true, "show a temporary PSK fallback's secret" },
        [PROTO_DRILLS] = { "drills", false, "chaos drills: list, status, report" },
        [PROTO_ACCEPT] = { "accept", true, "accept the current state as the last good one" },
        [PROTO_GUARD] = { "guard", true, "a change that confirms itself or is rolled back" },
        [PROTO_DRAIN] = { "drain", true, "take the gateway out of the load balancers' pool for a while" },
        [PROTO_UNDRAIN] = { "undrain", true, "put the gateway back into the load balancers' pool" },
        [PROTO_GUARDS] = { "guards", false, "the guarded change in progress, or the last one" },
        [PROTO_EVIDENCE] = { "evidence", true, "list or export what an incident collected" },
        [PROTO_FLEET] = { "fleet", true, "pause, resume or freeze automatic remediation fleet-wide" },
        [PROTO_FLEET_STATUS] = { "fleet_status", false, "this gateway in its fleet: lease, slots, pause, freeze" },
};

bool proto_verb_is_valid(int verb) {
        return verb > 0 && verb < _PROTO_VERB_MAX && verb_table[verb].name;
}

bool proto_verb_is_write(int verb) {
        return proto_verb_is_valid(verb) ? verb_table[verb].write : true;
}

const char *proto_verb_to_string(int verb) {
        return proto_verb_is_valid(verb) ? verb_table[verb].name : NULL;
}

const char *proto_verb_summary(int verb) {
        return proto_verb_is_valid(verb) ? verb_table[verb].summary : NULL;
}

int proto_verb_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int v = 1; v < _PROTO_VERB_MAX; v++)
                if (verb_table[v].name && strcmp(verb_table[v].name, s) == 0)
                        return v;
        return -EINVAL;
}

static void put_u32(uint8_t *p, uint32_t v) {
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

static uint32_t get_u32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

int proto_frame_build(proto_kind kind, uint16_t verb, int32_t status, const void *body,
                      size_t body_len, uint8_t **ret_buf, size_t *ret_len) {
        size_t max;
        uint8_t *buf;

        if (kind == PROTO_KIND_REQUEST)
                max = PROTO_REQUEST_MAX;
        else if (kind == PROTO_KIND_RESPONSE)
                max = PROTO_RESPONSE_MAX;
        else
                return -EINVAL;
        if (body_len > 0 && !body)
                return -EINVAL;
        if (body_len > max - PROTO_HEADER_SIZE)
                return -EMSGSIZE;

        buf = malloc(PROTO_LENGTH_SIZE + PROTO_HEADER_SIZE + body_len);
        if (!buf)
                return -ENOMEM;
        put_u32(buf, PROTO_HEADER_SIZE + body_len);
        buf[4] = PROTO_MAGIC_VERSION;
        buf[5] = kind;
        buf[6] = verb >> 8;
        buf[7] = verb;
        put_u32(buf + 8, (uint32_t) status);
        if (body_len > 0)
                memcpy(buf + PROTO_LENGTH_SIZE + PROTO_HEADER_SIZE, body, body_len);
        *ret_buf = buf;
        *ret_len = PROTO_LENGTH_SIZE + PROTO_HEADER_SIZE + body_len;
        return 0;
}

int proto_frame_build_error(uint16_t verb, int32_t status, const char *message, uint8_t **ret_buf,
                            size_t *ret_len) {
        _cleanup_(vici_builder_freep) vici_builder *b = NULL;
        _cleanup_(freep) uint8_t *body = NULL;
        size_t body_len = 0;
        int r;

        r = vici_builder_new(&b);
        if (r < 0)
                return r;
        /* a VICI value holds at most 65535 bytes: cut an overlong reason rather than fail */
        vici_builder_add(b, "error", message, strnlen(message, 65535));
        r = vici_builder_finish(TAKE_PTR(b), &body, &body_len);
        if (r < 0)
                return r;
        return proto_frame_build(PROTO_KIND_RESPONSE, verb, status, body, body_len, ret_buf,
                                 ret_len);
}

int proto_frame_peek(const void *buf, size_t len, size_t max, size_t *ret_frame_len) {
        uint32_t n;

        if (len < PROTO_LENGTH_SIZE)
                return -EAGAIN;
        n = get_u32(buf);
        if (n < PROTO_HEADER_SIZE)
                return -EBADMSG;
        if (n > max)
                return -EMSGSIZE;
        *ret_frame_len = PROTO_LENGTH_SIZE + (size_t) n;
        return 0;
}

int proto_header_parse(const void *buf, size_t len, proto_header *ret) {
        const uint8_t *p = buf;
        proto_header h;

        if (len < PROTO_HEADER_SIZE)
                return -EBADMSG;
        if ((p[0] >> 4) != PROTO_MAGIC)
                return -EBADMSG;
        if (p[1] != PROTO_KIND_REQUEST && p[1] != PROTO_KIND_RESPONSE)
                return -EBADMSG;
        h = (proto_header){
                .version = p[0] & 0x0f,
                .kind = p[1],
                .verb = (uint16_t) (p[2] << 8 | p[3]),
                .status = (int32_t) get_u32(p + 4),
        };
        *ret = h;
        if (h.version != PROTO_VERSION)
                return -EPROTONOSUPPORT;
        return 0;
}

int proto_frame_parse(const void *buf, size_t len, proto_header *ret_header, vici_node **ret_body) {
        proto_header h;
        vici_node *body = NULL;
        int r;

        r = proto_header_parse(buf, len, &h);
        if (r < 0)
                return r;
        r = vici_msg_parse((const uint8_t *) buf + PROTO_HEADER_SIZE, len - PROTO_HEADER_SIZE, &body);
        if (r < 0)
                return r;
        *ret_header = h;
        if (ret_body)
                *ret_body = body;
        else
                vici_node_free(body);
        return 0;
}

uint64_t proto_now_usec(void) {
        return mono_usec();
}

int proto_connect(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(closep) int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Wait for `events` on fd until the deadline: 0 ready, -ETIMEDOUT, or -errno. */
static int proto_wait(int fd, short events, uint64_t deadline_usec) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int timeout_ms = -1, n;

                if (deadline_usec > 0) {
                        uint64_t now = mono_usec();
                        if (now >= deadline_usec)
                                return -ETIMEDOUT;
                        /* round up so we never spin on a sub-millisecond remainder */
                        uint64_t ms = (deadline_usec - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
                        timeout_ms = ms > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : (int) ms;
                }
                n = poll(&p, 1, timeout_ms);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n > 0)
                        return 0;
        }
}

int proto_send_all(int fd, const void *buf, size_t len, uint64_t deadline_usec) {
        const uint8_t *p = buf;
        int r;

        while (len > 0) {
                r = proto_wait(fd, POLLOUT, deadline_usec);
                if (r < 0)
                        return r;
                /* MSG_NOSIGNAL: an agent going away must be an error, not a SIGPIPE */
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return errno == EPIPE ? -ECONNRESET : -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int proto_recv_all(int fd, void *buf, size_t len, uint64_t deadline_usec) {
        uint8_t *p = buf;
        int r;

        while (len > 0) {
                r = proto_wait(fd, POLLIN, deadline_usec);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int proto_recv_response(int fd, uint64_t deadline_usec, proto_header *ret_header,
                        vici_node **ret_body) {
        uint8_t lenbuf[PROTO_LENGTH_SIZE];
        _cleanup_(freep) uint8_t *frame = NULL;
        _cleanup_(vici_node_freep) vici_node *body = NULL;
        proto_header h;
        size_t total;
        int r;

        r = proto_recv_all(fd, lenbuf, sizeof(lenbuf), deadline_usec);
        if (r < 0)
                return r;
        r = proto_frame_peek(lenbuf, sizeof(lenbuf), PROTO_RESPONSE_MAX, &total);
        if (r < 0)
                return r;
        frame = malloc(total - PROTO_LENGTH_SIZE);
        if (!frame)
                return -ENOMEM;
        r = proto_recv_all(fd, frame, total - PROTO_LENGTH_SIZE, deadline_usec);
        if (r < 0)
                return r;
        r = proto_frame_parse(frame, total - PROTO_LENGTH_SIZE, &h, &body);
        if (r < 0)
                return r;
        if (h.kind != PROTO_KIND_RESPONSE)
                return -EBADMSG;
        *ret_header = h;
        if (ret_body)
                *ret_body = TAKE_PTR(body);
        return 0;
}

int proto_call(int fd, uint16_t verb, const void *body, size_t body_len, uint64_t timeout_usec,
               proto_header *ret_header, vici_node **ret_body) {
        _cleanup_(freep) uint8_t *frame = NULL;
        uint64_t deadline = timeout_usec > 0 ? mono_usec() + timeout_usec : 0;
        size_t len;
        int r;

        r = proto_frame_build(PROTO_KIND_REQUEST, verb, 0, body, body_len, &frame, &len);
        if (r < 0)
                return r;
        r = proto_send_all(fd, frame, len, deadline);
        if (r == -ECONNRESET) {
                /* The agent may have refused us at accept time (too many clients) and closed
                 * before we wrote: its reason is still waiting in our receive queue. */
                if (proto_recv_response(fd, deadline, ret_header, ret_body) == 0)
                        return 0;
                return r;
        }
        if (r < 0)
                return r;
        return proto_recv_response(fd, deadline, ret_header, ret_body);
}
