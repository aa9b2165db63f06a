/* See nft_batch.h. Modelled on nftables' own mnl_batch_talk(): one send, then read the answers.
 * Only the last message asks for an acknowledgement (NLM_F_ACK): the kernel answers every message
 * that fails anyway, and delivers all answers of a batch in order once it has been processed, so
 * the last message's answer ends the conversation. An acknowledgement per message would be 10,000
 * answers for a 10,000-rule batch: more than a receive buffer holds (ENOBUFS), after the kernel
 * had applied it all. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "actions/nft_batch.h"
#include "netns.h"
#include "nftnl_lib.h"

#define MSG_ROOM 65536u
#define SEQ_BASE 0x1000u

struct nft_batch {
        uint32_t genid;
        uint8_t *buf;      /* the messages, after room for the batch-begin message */
        size_t len, cap;
        char **labels;
        size_t n, n_alloc;
        size_t last;       /* offset of the last message (the one that asks for an ack) */
};

static int test_rcvbuf;
static bool test_ack_each;

void nft_batch_test_knobs(int rcvbuf, bool ack_each) {
        test_rcvbuf = rcvbuf;
        test_ack_each = ack_each;
}

int nft_batch_new(nft_batch **ret, uint32_t genid) {
        nft_batch *b;
        int r = nftnl_lib_load(); /* a batch is built with libnftnl's and libmnl's forwarders */

        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->genid = genid;
        *ret = b;
        return 0;
}

nft_batch *nft_batch_free(nft_batch *b) {
        if (!b)
                return NULL;
        /* one more: the label of a message begun and never ended */
        for (size_t i = 0; i < b->n_alloc && i <= b->n; i++)
                free(b->labels[i]);
        free(b->labels);
        free(b->buf);
        free(b);
        return NULL;
}

size_t nft_batch_messages(const nft_batch *b) {
        return b->n;
}

static int room(nft_batch *b, size_t need) {
        if (b->len + need > NFT_BATCH_MAX || b->n >= NFT_BATCH_MSGS_MAX)
                return -E2BIG;
        if (b->len + need > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
                while (cap < b->len + need)
                        cap *= 2;
                uint8_t *p = realloc(b->buf, cap);
                if (!p)
                        return -ENOMEM;
                /* all of it is sent as is, padding included: no uninitialised byte may go out */
                memset(p + b->cap, 0, cap - b->cap);
                b->buf = p;
                b->cap = cap;
        }
        if (b->n == b->n_alloc) {
                size_t a = b->n_alloc ? b->n_alloc * 2 : 32;
                char **l = realloc(b->labels, a * sizeof(*l));
                if (!l)
                        return -ENOMEM;
                memset(l + b->n_alloc, 0, (a - b->n_alloc) * sizeof(*l));
                b->labels = l;
                b->n_alloc = a;
        }
        return 0;
}

struct nlmsghdr *nft_batch_begin_msg(nft_batch *b, uint16_t type, uint16_t family, uint16_t flags,
                                     const char *label) {
        if (room(b, MSG_ROOM) < 0)
                return NULL;
        memset(b->buf + b->len, 0, MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg));
        free(b->labels[b->n]); /* a message begun and never ended */
        if (!(b->labels[b->n] = strdup(label ? label : "?")))
                return NULL;
        return nftnl_nlmsg_build_hdr((char *) b->buf + b->len, type, family,
                                     flags | (test_ack_each ? NLM_F_ACK : 0), SEQ_BASE + (uint32_t) b->n);
}

/* A message that is not kept: its label goes, and its bytes are zeroed again (the buffer holds
 * zeros beyond the last message: padding the builders skip is sent as zeros). */
static int drop_msg(nft_batch *b, int r) {
        free(b->labels[b->n]);
        b->labels[b->n] = NULL;
        memset(b->buf + b->len, 0, MSG_ROOM);
        return r;
}

int nft_batch_end_msg(nft_batch *b, struct nlmsghdr *nlh) {
        if (nlh->nlmsg_len > MSG_ROOM)
                return drop_msg(b, -E2BIG);
        b->last = b->len;
        b->len += MNL_ALIGN(nlh->nlmsg_len);
        b->n++;
        return 0;
}

int nft_batch_add_copy(nft_batch *b, const struct nlmsghdr *src, uint16_t type, uint16_t flags,
                       const uint16_t *strip, uint16_t add_type, uint32_t add_value, const char *label) {
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(src);
        const struct nlattr *a;
        struct nlmsghdr *nlh;

        if (src->nlmsg_len > MSG_ROOM || src->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
                return -EBADMSG;
        nlh = nft_batch_begin_msg(b, (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type), g->nfgen_family, flags, label);
        if (!nlh)
                return -ENOMEM;
        /* nftnl_nlmsg_build_hdr took the type without the subsystem: set it whole */
        nlh->nlmsg_type = (uint16_t) ((NFNL_SUBSYS_NFTABLES << 8) | type);
        mnl_attr_for_each(a, src, sizeof(*g)) {
                uint16_t t = mnl_attr_get_type(a);
                bool drop = false;
                for (size_t i = 0; strip && strip[i]; i++)
                        drop |= strip[i] == t;
                if (drop)
                        continue;
                if (!mnl_attr_put_check(nlh, MSG_ROOM, t, mnl_attr_get_payload_len(a), mnl_attr_get_payload(a)))
                        return drop_msg(b, -E2BIG);
                /* keep the nested flag of the original attribute */
                ((struct nlattr *) ((uint8_t *) nlh + nlh->nlmsg_len - MNL_ALIGN(a->nla_len)))->nla_type = a->nla_type;
        }
        if (add_type)
                mnl_attr_put_u32(nlh, add_type, htonl(add_value));
        return nft_batch_end_msg(b, nlh);
}

static int socket_in(const char *netns, struct mnl_socket **ret) {
        int fd = netns_socket(netns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        struct timeval tv = { .tv_sec = 5 };
        struct mnl_socket *nl;

        if (fd < 0)
                return fd;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        nl = mnl_socket_fdopen(fd);
        if (!nl) {
                close(fd);
                return -errno;
        }
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        *ret = nl;
        return 0;
}

static void add_why(char *why, size_t n, const char *label, int err) {
        size_t len = strlen(why);
        if (len + 4 < n)
                (void) snprintf(why + len, n - len, "%s%s: %s", len ? "; " : "", label, strerror(err));
}

/* The batch-begin message (with the generation the changes were made for) or the batch end. */
static size_t batch_marker(uint8_t *buf, uint16_t type, uint32_t seq, uint32_t genid) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nfgenmsg *g;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = seq;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->res_id = htons(NFNL_SUBSYS_NFTABLES);
        if (genid)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
        return MNL_ALIGN(nlh->nlmsg_len);
}

/* Room for the answers: one per failing message at most (without the request copied back:
 * NETLINK_CAP_ACK), in skbs the kernel accounts at about 1 KiB each. */
static void size_socket(int fd, const nft_batch *b, size_t total) {
        int one = 1, snd = (int) (total + 65536), rcv;
        size_t want = (b->n + 16) * 1024u;

        (void) setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd));
        rcv = test_rcvbuf ? test_rcvbuf : (int) (want < 256u * 1024u ? 256u * 1024u : want > 64u << 20 ? 64u << 20 : want);
        (void) setsockopt(fd, SOL_SOCKET, test_rcvbuf ? SO_RCVBUF : SO_RCVBUFFORCE, &rcv, sizeof(rcv));
}

int nft_batch_commit(nft_batch *b, const char *netns, char *why, size_t why_size) {
        _cleanup_(freep) uint8_t *rbuf = NULL;
        struct mnl_socket *nl = NULL;
        uint8_t head[64] = {}, tail[64] = {};
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        struct iovec iov[3];
        struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = iov, .msg_iovlen = 3 };
        uint32_t last_seq = SEQ_BASE + (uint32_t) b->n - 1;
        bool done = false;
        int first = 0, r, fd;

        why[0] = 0;
        if (b->n == 0)
                return 0;
        /* the last message asks for the acknowledgement that ends the conversation */
        ((struct nlmsghdr *) (b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
        iov[0] = (struct iovec){ head, batch_marker(head, NFNL_MSG_BATCH_BEGIN, SEQ_BASE - 1, b->genid) };
        iov[1] = (struct iovec){ b->buf, b->len };
        iov[2] = (struct iovec){ tail, batch_marker(tail, NFNL_MSG_BATCH_END, SEQ_BASE + (uint32_t) b->n, 0) };
        if (!(rbuf = malloc(MNL_SOCKET_BUFFER_SIZE)))
                return -ENOMEM;

        r = socket_in(netns, &nl);
        if (r < 0) {
                (void) snprintf(why, why_size, "netlink socket%s%s: %s", netns ? " in " : "", netns ? netns : "", nftnl_lib_strerror(r));
                return r;
        }
        fd = mnl_socket_get_fd(nl);
        size_socket(fd, b, iov[0].iov_len + b->len + iov[2].iov_len);
        if (sendmsg(fd, &mh, 0) < 0) {
                r = -errno;
                (void) snprintf(why, why_size, "sending the batch (%zu messages): %s", b->n, nftnl_lib_strerror(r));
                mnl_socket_close(nl);
                return r;
        }

        while (!done) {
                ssize_t k = mnl_socket_recvfrom(nl, rbuf, MNL_SOCKET_BUFFER_SIZE);
                if (k < 0) {
                        /* ENOBUFS: answers were lost; EAGAIN: none in time. Either way the kernel
                         * has the batch and may have applied it: only a fresh read can tell. */
                        r = errno;
                        add_why(why, why_size, "the kernel's answers were lost, the outcome is unknown", r);
                        mnl_socket_close(nl);
                        return NFT_BATCH_UNKNOWN;
                }
                for (struct nlmsghdr *nlh = (struct nlmsghdr *) rbuf; mnl_nlmsg_ok(nlh, (int) k);
                     nlh = mnl_nlmsg_next(nlh, (int *) &k)) {
                        const struct nlmsgerr *e;
                        if (nlh->nlmsg_type != NLMSG_ERROR ||
                            nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct nlmsgerr))
                                continue;
                        e = mnl_nlmsg_get_payload(nlh);
                        if (nlh->nlmsg_seq == SEQ_BASE - 1) { /* the batch itself was refused */
                                if (e->error == -ERESTART)
                                        (void) snprintf(why, why_size, "the ruleset changed since it was read "
                                                        "(generation check): nothing applied");
                                else
                                        add_why(why, why_size, "batch", -e->error);
                                first = first ?: e->error;
                                done = true;
                                break;
                        }
                        if (nlh->nlmsg_seq < SEQ_BASE || nlh->nlmsg_seq > last_seq)
                                continue;
                        if (e->error) {
                                add_why(why, why_size, b->labels[nlh->nlmsg_seq - SEQ_BASE], -e->error);
                                first = first ?: e->error;
                        }
                        /* answers come in order: the last message's is the last one */
                        if (nlh->nlmsg_seq == last_seq) {
                                done = true;
                                break;
                        }
                }
        }
        ((struct nlmsghdr *) (b->buf + b->last))->nlmsg_flags &= (uint16_t) ~NLM_F_ACK;
        if (test_ack_each)
                ((struct nlmsghdr *) (b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
        mnl_socket_close(nl);
        return first;
}

int nft_generation(const char *netns, uint32_t *ret) {
        struct mnl_socket *nl = NULL;
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        int r = socket_in(netns, &nl);

        if (r < 0)
                return r;
        nlh = nftnl_nlmsg_build_hdr((char *) buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, 1);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        r = -EBADMSG;
        for (int tries = 0; tries < 4 && r == -EBADMSG; tries++) {
                ssize_t k = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (k <= 0) {
                        r = k < 0 ? -errno : -EBADMSG;
                        break;
                }
                for (nlh = (struct nlmsghdr *) buf; mnl_nlmsg_ok(nlh, (int) k); nlh = mnl_nlmsg_next(nlh, (int *) &k)) {
                        const struct nlattr *a;
                        if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWGEN)
                                continue;
                        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
                                if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
                                        *ret = ntohl(mnl_attr_get_u32(a));
                                        r = 0;
                                }
                }
        }
        mnl_socket_close(nl);
        return r;
}

const char *nft_action_check(const action_params *p) {
        const action_value *v = action_param(p, "check");
        return v ? v->str : "firewall";
}

const char *nft_action_netns(const action_params *p, const action_env *env) {
        const action_value *v = action_param(p, "netns");
        if (v)
                return v->str;
        return env && env->check_param ? env->check_param(env->check_userdata, nft_action_check(p), "netns") : NULL;
}
