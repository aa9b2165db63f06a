/* See nft_batch.h. Modelled on nftables' own mnl_batch_talk(): one send, then read until every
 * message has been answered (each carries NLM_F_ACK), or the batch itself was refused. */
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

#include "actions/nft_batch.h"
#include "netns.h"

#define MSG_ROOM 65536u
#define SEQ_BASE 0x1000u

struct nft_batch {
        uint32_t genid;
        uint8_t *buf;      /* the messages, after room for the batch-begin message */
        size_t len, cap;
        char **labels;
        size_t n, n_alloc;
};

#define BEGIN_ROOM 64u

int nft_batch_new(nft_batch **ret, uint32_t genid) {
        nft_batch *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        b->genid = genid;
        b->len = BEGIN_ROOM;
        *ret = b;
        return 0;
}

nft_batch *nft_batch_free(nft_batch *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
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
                b->buf = p;
                b->cap = cap;
        }
        if (b->n == b->n_alloc) {
                size_t a = b->n_alloc ? b->n_alloc * 2 : 32;
                char **l = realloc(b->labels, a * sizeof(*l));
                if (!l)
                        return -ENOMEM;
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
        if (!(b->labels[b->n] = strdup(label ? label : "?")))
                return NULL;
        return nftnl_nlmsg_build_hdr((char *) b->buf + b->len, type, family, flags | NLM_F_ACK,
                                     SEQ_BASE + (uint32_t) b->n);
}

int nft_batch_end_msg(nft_batch *b, struct nlmsghdr *nlh) {
        if (nlh->nlmsg_len > MSG_ROOM) {
                free(b->labels[b->n]);
                return -E2BIG;
        }
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
                if (!mnl_attr_put_check(nlh, MSG_ROOM, t, mnl_attr_get_payload_len(a), mnl_attr_get_payload(a))) {
                        free(b->labels[b->n]);
                        return -E2BIG;
                }
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

int nft_batch_commit(nft_batch *b, const char *netns, char *why, size_t why_size) {
        struct mnl_socket *nl = NULL;
        uint8_t rbuf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct nfgenmsg *g;
        size_t answered = 0;
        int first = 0, r, fd;

        why[0] = 0;
        if (b->n == 0)
                return 0;
        if ((r = room(b, MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg))) < 0)
                return r;
        /* batch end */
        nlh = mnl_nlmsg_put_header(b->buf + b->len);
        nlh->nlmsg_type = NFNL_MSG_BATCH_END;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = SEQ_BASE + (uint32_t) b->n;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->res_id = htons(NFNL_SUBSYS_NFTABLES);
        b->len += MNL_ALIGN(nlh->nlmsg_len);
        /* batch begin, in the room kept in front, with the generation the changes were made for */
        nlh = mnl_nlmsg_put_header(b->buf);
        nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = SEQ_BASE - 1;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->res_id = htons(NFNL_SUBSYS_NFTABLES);
        if (b->genid)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(b->genid));
        size_t begin = MNL_ALIGN(nlh->nlmsg_len);
        memmove(b->buf + begin, b->buf + BEGIN_ROOM, b->len - BEGIN_ROOM);
        size_t total = b->len - BEGIN_ROOM + begin;

        r = socket_in(netns, &nl);
        if (r < 0) {
                (void) snprintf(why, why_size, "netlink socket%s%s: %s", netns ? " in " : "", netns ? netns : "", strerror(-r));
                return r;
        }
        fd = mnl_socket_get_fd(nl);
        int sz = (int) (total + 65536);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        if (mnl_socket_sendto(nl, b->buf, total) < 0) {
                r = -errno;
                (void) snprintf(why, why_size, "sending the batch (%zu messages): %s", b->n, strerror(-r));
                mnl_socket_close(nl);
                return r;
        }
        /* restore the layout (a commit may be retried by the caller after a new read) */
        memmove(b->buf + BEGIN_ROOM, b->buf + begin, total - begin);
        b->len -= MNL_ALIGN(MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg));

        while (answered < b->n) {
                ssize_t k = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
                if (k < 0) {
                        r = -errno;
                        if (!first)
                                add_why(why, why_size, "waiting for the kernel's answers", -r);
                        first = first ?: r;
                        break;
                }
                for (nlh = (struct nlmsghdr *) rbuf; mnl_nlmsg_ok(nlh, (int) k); nlh = mnl_nlmsg_next(nlh, (int *) &k)) {
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
                                answered = b->n;
                                break;
                        }
                        size_t i = nlh->nlmsg_seq - SEQ_BASE;
                        if (i >= b->n)
                                continue;
                        answered++;
                        if (e->error) {
                                add_why(why, why_size, b->labels[i], -e->error);
                                first = first ?: e->error;
                        }
                }
        }
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
