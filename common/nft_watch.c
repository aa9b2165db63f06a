/* See nft_watch.h. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "atomic_file.h"
#include "netns.h"
#include "nft_change.h"
#include "nft_ruleset_private.h"
#include "nft_watch.h"

/* Notifications of one transaction kept until its NEWGEN: beyond this, the model is read again. */
#define PENDING_MAX (8u << 20)
/* The monitor socket's receive buffer: a transaction of a few thousand rules fits; a bigger one
 * overruns it (ENOBUFS) and the model is read again, which is what it would cost anyway. */
#define MONITOR_RCVBUF (4 << 20)
#define MONITOR_READ_SIZE (64u * 1024u)
/* The messages of the tables a restore changes: up to a whole ruleset's (a 50,000-rule table
 * dumps ~23 MiB). */
#define RAW_TABLES_MAX (64u << 20)
/* nft_watch_dump_to()'s writes, gathered */
#define SPOOL_BUF (64u * 1024u)

struct nft_watch {
        unsigned n_ref;
        bool shared;
        struct nft_watch *next_shared;
        char *netns;
        struct mnl_socket *nl;
        nft_ruleset *rs;

        /* the raw dump of rs */
        uint8_t *raw;
        size_t raw_len, raw_cap, raw_max;
        bool raw_ok, overflow;

        nft_verdict_result verdict[2][_NFT_VERDICT_PROBE_MAX];
        bool have_verdict[2][_NFT_VERDICT_PROBE_MAX];
        char hash[2 * NFT_RULESET_HASH_SIZE + 1];
        bool have_hash;

        /* the nftables multicast group, joined before each full read; -1: none (then every
         * generation change is a full read) */
        int mon;
        uint8_t *rbuf;
        /* the messages of the transaction being received, back to back */
        uint8_t *pend;
        size_t pend_len, pend_cap;
        bool lost;
        unsigned full_reads, followed;
};

/* The watches shared within this process, one per namespace. */
static nft_watch *shared_list;

static bool same_ns(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int nft_watch_shared(nft_watch **ret, const char *netns, size_t raw_max) {
        nft_watch *w;
        int r;

        for (w = shared_list; w; w = w->next_shared)
                if (same_ns(w->netns, netns)) {
                        if (raw_max > w->raw_max)
                                w->raw_max = raw_max; /* kept from the next read on */
                        w->n_ref++;
                        *ret = w;
                        return 0;
                }
        if ((r = nft_watch_new(&w, netns, raw_max)) < 0)
                return r;
        w->shared = true;
        w->next_shared = shared_list;
        shared_list = w;
        *ret = w;
        return 0;
}

int nft_watch_new(nft_watch **ret, const char *netns, size_t raw_max) {
        nft_watch *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        w->n_ref = 1;
        w->mon = -1;
        if (netns && !(w->netns = strdup(netns))) {
                free(w);
                return -ENOMEM;
        }
        w->raw_max = raw_max;
        *ret = w;
        return 0;
}

nft_watch *nft_watch_free(nft_watch *w) {
        if (!w || --w->n_ref > 0)
                return NULL;
        for (nft_watch **p = &shared_list; w->shared && *p; p = &(*p)->next_shared)
                if (*p == w) {
                        *p = w->next_shared;
                        break;
                }
        if (w->nl)
                (void) mnl_socket_close(w->nl);
        if (w->mon >= 0)
                (void) close(w->mon);
        nft_ruleset_free(w->rs);
        nft_watch_raw_release(w);
        free(w->rbuf);
        free(w->pend);
        free(w->netns);
        free(w);
        return NULL;
}

static void keep(const struct nlmsghdr *nlh, void *userdata) {
        nft_watch *w = userdata;
        size_t n;

        if (!nlh) { /* the dump starts over */
                w->raw_len = 0;
                w->overflow = false;
                return;
        }
        n = MNL_ALIGN(nlh->nlmsg_len);
        if (w->overflow || w->raw_len + n > w->raw_max) {
                w->overflow = true;
                return;
        }
        if (w->raw_len + n > w->raw_cap) {
                size_t cap = w->raw_cap ? w->raw_cap * 2 : 65536;
                while (cap < w->raw_len + n)
                        cap *= 2;
                if (cap > w->raw_max)
                        cap = w->raw_max;
                /* mapped, not from the heap: released, its pages go back to the system at once
                 * instead of staying behind the model's allocations made while it grew */
                void *p = w->raw ? mremap(w->raw, w->raw_cap, cap, MREMAP_MAYMOVE)
                                 : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        w->overflow = true;
                        return;
                }
                w->raw = p;
                w->raw_cap = cap;
        }
        memcpy(w->raw + w->raw_len, nlh, n);
        w->raw_len += n;
}

void nft_watch_raw_release(nft_watch *w) {
        if (w->raw)
                (void) munmap(w->raw, w->raw_cap);
        w->raw = NULL;
        w->raw_len = w->raw_cap = 0;
        w->raw_ok = false;
}

static void monitor_close(nft_watch *w) {
        if (w->mon >= 0)
                (void) close(w->mon);
        w->mon = -1;
        w->pend_len = 0;
        w->lost = false;
}

/* Joined before the dump: every transaction after it is either in the dump (its NEWGEN is not
 * newer than the dump's generation: skipped) or follows it. */
static void monitor_open(nft_watch *w) {
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1u << (NFNLGRP_NFTABLES - 1)};
        int size = MONITOR_RCVBUF;

        monitor_close(w);
        if (!w->rbuf && !(w->rbuf = malloc(MONITOR_READ_SIZE)))
                return;
        w->mon = netns_socket(w->netns, AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (w->mon < 0) {
                w->mon = -1;
                return;
        }
        if (setsockopt(w->mon, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(w->mon, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (bind(w->mon, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                monitor_close(w);
}

static int full_read(nft_watch *w, bool *ret_changed) {
        nft_ruleset *rs = NULL;
        int r;

        monitor_open(w);
        /* the old model goes first: at most one model and one dump in memory at any time */
        w->rs = nft_ruleset_free(w->rs);
        w->raw_len = 0;
        w->raw_ok = false;
        w->overflow = false;
        r = nft_ruleset_dump_socket(w->nl, w->raw_max ? keep : NULL, w, &rs);
        if (r < 0) {
                /* a namespace made anew, a socket overrun: the next refresh starts clean */
                (void) mnl_socket_close(w->nl);
                w->nl = NULL;
                monitor_close(w);
                return r;
        }
        w->rs = rs;
        w->raw_ok = w->raw_max && !w->overflow;
        memset(w->have_verdict, 0, sizeof(w->have_verdict));
        w->have_hash = false;
        w->full_reads++;
        if (ret_changed)
                *ret_changed = true;
        return 0;
}

/* One transaction has ended with generation `gen`: apply what it did, unless the model has it. */
static int transaction_end(nft_watch *w, uint32_t gen, bool *changed) {
        nft_change_batch b = {};
        int32_t ahead = (int32_t) (gen - w->rs->generation);
        int r = 0;

        if (w->lost)
                r = -ESTALE;
        else if (ahead > 1)
                r = -ESTALE; /* a transaction between went missing */
        else if (ahead == 1) {
                for (size_t off = 0; off < w->pend_len && r >= 0;) {
                        const struct nlmsghdr *nlh = (const struct nlmsghdr *) (w->pend + off);
                        r = nft_change_apply(w->rs, nlh, &b);
                        off += NLMSG_ALIGN(nlh->nlmsg_len);
                }
                r = r < 0 ? r : nft_change_finish(w->rs, &b);
                nft_change_batch_done(&b);
                if (r >= 0) {
                        nft_ruleset_set_generation(w->rs, gen);
                        w->followed++;
                        if (b.changed) {
                                nft_watch_raw_release(w); /* no longer the model's: megabytes for nothing */
                                w->have_hash = false;
                                *changed = true;
                        }
                        if (b.input || b.layout)
                                memset(w->have_verdict, 0, sizeof(w->have_verdict));
                }
        }
        w->pend_len = 0;
        w->lost = false;
        return r;
}

static int pend_add(nft_watch *w, const struct nlmsghdr *nlh) {
        size_t n = NLMSG_ALIGN(nlh->nlmsg_len);

        if (w->lost)
                return 0;
        if (w->pend_len + n > PENDING_MAX) {
                w->lost = true;
                return 0;
        }
        if (w->pend_len + n > w->pend_cap) {
                size_t cap = w->pend_cap ? w->pend_cap * 2 : 16384;
                uint8_t *p;
                while (cap < w->pend_len + n)
                        cap *= 2;
                if (!(p = realloc(w->pend, cap))) {
                        w->lost = true;
                        return 0;
                }
                w->pend = p;
                w->pend_cap = cap;
        }
        memcpy(w->pend + w->pend_len, nlh, nlh->nlmsg_len);
        memset(w->pend + w->pend_len + nlh->nlmsg_len, 0, n - nlh->nlmsg_len);
        w->pend_len += n;
        return 0;
}

/* Everything the monitor socket holds: -ENOBUFS when the kernel dropped some (the socket was
 * full), -ESTALE when the model cannot follow. */
static int drain(nft_watch *w, bool *changed) {
        for (;;) {
                ssize_t n = recv(w->mon, w->rbuf, MONITOR_READ_SIZE, MSG_DONTWAIT);
                const struct nlmsghdr *nlh;
                size_t len;
                int r;

                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len = (size_t) n;
                for (nlh = (const struct nlmsghdr *) w->rbuf; mnl_nlmsg_ok(nlh, (int) len); nlh = mnl_nlmsg_next(nlh, (int *) &len)) {
                        nftr_attr_tab a;
                        uint32_t gen;

                        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
                            nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
                                continue;
                        if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN) {
                                (void) pend_add(w, nlh);
                                continue;
                        }
                        if (nftr_attrs_msg(nlh, &a) < 0 || !a.a[NFTA_GEN_ID] || nftr_a_u32(a.a[NFTA_GEN_ID], &gen) < 0)
                                return -EBADMSG;
                        if ((r = transaction_end(w, gen, changed)) < 0)
                                return r;
                }
        }
}

int nft_watch_refresh(nft_watch *w, bool *ret_changed) {
        bool changed = false;
        uint32_t gen;
        int r;

        if (ret_changed)
                *ret_changed = false;
        if (!w->nl && (r = nft_ruleset_socket_open(w->netns, &w->nl)) < 0)
                return r;
        r = nft_ruleset_generation(w->nl, &gen);
        if (r < 0) {
                (void) mnl_socket_close(w->nl);
                w->nl = NULL;
                w->rs = nft_ruleset_free(w->rs);
                monitor_close(w);
                return r;
        }
        if (w->rs && w->mon >= 0) {
                r = drain(w, &changed);
                /* the kernel's generation may have moved again since it was asked: not behind it */
                if (r >= 0 && (int32_t) (gen - w->rs->generation) <= 0) {
                        if (ret_changed)
                                *ret_changed = changed;
                        return 0;
                }
        } else if (w->rs && gen == w->rs->generation)
                return 0;
        return full_read(w, ret_changed);
}

unsigned nft_watch_full_reads(const nft_watch *w) {
        return w->full_reads;
}

unsigned nft_watch_followed(const nft_watch *w) {
        return w->followed;
}

const nft_ruleset *nft_watch_ruleset(const nft_watch *w) {
        return w->rs;
}

int nft_watch_raw(nft_watch *w, const uint8_t **ret, size_t *ret_len) {
        int r;

        if (!w->rs)
                return -EINVAL;
        if (!w->raw_ok && w->raw_max && !w->overflow) {
                /* followed by notifications since the dump: the dump is read again */
                if ((r = full_read(w, NULL)) < 0)
                        return r;
        }
        if (!w->raw_ok)
                return -E2BIG;
        *ret = w->raw;
        *ret_len = w->raw_len;
        return 0;
}

typedef struct rawcopy {
        uint8_t *p;
        size_t len, cap, max;
        int error;
} rawcopy;

static void copy_msg(const struct nlmsghdr *nlh, void *userdata) {
        rawcopy *b = userdata;
        size_t n;

        if (!nlh) { /* the dump starts over */
                b->len = 0;
                return;
        }
        n = NLMSG_ALIGN(nlh->nlmsg_len);
        if (b->error)
                return;
        if (b->len + n > b->max) {
                b->error = -E2BIG;
                return;
        }
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 16384;
                uint8_t *p;
                while (cap < b->len + n)
                        cap *= 2;
                if (!(p = realloc(b->p, cap))) {
                        b->error = -ENOMEM;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, nlh, nlh->nlmsg_len);
        memset(b->p + b->len + nlh->nlmsg_len, 0, n - nlh->nlmsg_len);
        b->len += n;
}

int nft_watch_raw_tables(nft_watch *w, const nft_table_key *keys, size_t n, uint8_t **ret, size_t *ret_len) {
        rawcopy b = { .max = w->raw_max > RAW_TABLES_MAX ? w->raw_max : RAW_TABLES_MAX };
        uint32_t gen;
        int r = 0;

        if (!w->rs)
                return -EINVAL;
        if (w->raw_ok) {
                for (size_t off = 0; off < w->raw_len && r >= 0;) {
                        const struct nlmsghdr *nlh = (const struct nlmsghdr *) (w->raw + off);
                        nftr_attr_tab t;
                        if ((r = nftr_msg_in_tables(nlh, keys, n, &t)) > 0)
                                copy_msg(nlh, &b);
                        off += NLMSG_ALIGN(nlh->nlmsg_len);
                }
        } else {
                if (!w->nl && (r = nft_ruleset_socket_open(w->netns, &w->nl)) < 0)
                        return r;
                r = nft_ruleset_dump_tables(w->nl, keys, n, copy_msg, &b, &gen);
                if (r >= 0 && gen != w->rs->generation)
                        r = -ESTALE;
        }
        if (r >= 0 && b.error)
                r = b.error;
        if (r < 0) {
                free(b.p);
                return r;
        }
        *ret = b.p;
        *ret_len = b.len;
        return 0;
}

typedef struct spool {
        int fd;
        uint8_t *buf;
        size_t len, total, max;
        int error;
} spool;

static void spool_flush(spool *sp) {
        int r;
        if (sp->error || sp->len == 0)
                return;
        if ((r = atomic_file_write_all(sp->fd, sp->buf, sp->len)) < 0)
                sp->error = r;
        sp->len = 0;
}

static void spool_msg(const struct nlmsghdr *nlh, void *userdata) {
        static const uint8_t pad[NLMSG_ALIGNTO];
        spool *sp = userdata;
        size_t n;

        if (!nlh) { /* the dump starts over: so does the file */
                sp->len = sp->total = 0;
                if (!sp->error && (lseek(sp->fd, 0, SEEK_SET) < 0 || ftruncate(sp->fd, 0) < 0))
                        sp->error = -errno;
                return;
        }
        n = NLMSG_ALIGN(nlh->nlmsg_len);
        if (sp->error)
                return;
        if (sp->total + n > sp->max) {
                sp->error = -E2BIG;
                return;
        }
        if (sp->len + n > SPOOL_BUF)
                spool_flush(sp);
        if (n > SPOOL_BUF) { /* larger than the buffer: straight through */
                int r = atomic_file_write_all(sp->fd, nlh, nlh->nlmsg_len);
                if (r >= 0)
                        r = atomic_file_write_all(sp->fd, pad, n - nlh->nlmsg_len);
                if (r < 0)
                        sp->error = r;
        } else {
                memcpy(sp->buf + sp->len, nlh, nlh->nlmsg_len);
                memset(sp->buf + sp->len + nlh->nlmsg_len, 0, n - nlh->nlmsg_len);
                sp->len += n;
        }
        sp->total += n;
}

int nft_watch_dump_to(nft_watch *w, int fd, size_t max, nft_ruleset **ret, size_t *ret_len) {
        _cleanup_(freep) uint8_t *buf = malloc(SPOOL_BUF);
        spool sp = { .fd = fd, .buf = buf, .max = max };
        nft_ruleset *rs = NULL;
        int r;

        if (!w->rs)
                return -EINVAL;
        if (!buf)
                return -ENOMEM;
        if (!w->nl && (r = nft_ruleset_socket_open(w->netns, &w->nl)) < 0)
                return r;
        r = nft_ruleset_dump_socket(w->nl, spool_msg, &sp, &rs);
        if (r < 0) {
                (void) mnl_socket_close(w->nl);
                w->nl = NULL;
                return r;
        }
        spool_flush(&sp);
        if (sp.error || rs->generation != w->rs->generation) {
                nft_ruleset_free(rs);
                return sp.error ? sp.error : -ESTALE;
        }
        *ret = rs;
        if (ret_len)
                *ret_len = sp.total;
        return 0;
}

int nft_watch_verdict(nft_watch *w, uint8_t nfproto, nft_verdict_probe probe, const nft_verdict_result **ret) {
        size_t f = nfproto == NFPROTO_IPV6;
        nft_verdict_packet pkt;
        int r;

        if (!w->rs || (unsigned) probe >= _NFT_VERDICT_PROBE_MAX)
                return -EINVAL;
        if (!w->have_verdict[f][probe]) {
                nft_verdict_packet_for(probe, nfproto, &pkt);
                r = nft_verdict_eval(w->rs, &pkt, &w->verdict[f][probe]);
                if (r < 0)
                        return r;
                w->have_verdict[f][probe] = true;
        }
        *ret = &w->verdict[f][probe];
        return 0;
}

int nft_watch_hash(nft_watch *w, const char **ret_hex) {
        int r;

        if (!w->rs)
                return -EINVAL;
        if (!w->have_hash) {
                r = nft_ruleset_hash_hex(w->rs, w->hash);
                if (r < 0)
                        return r;
                w->have_hash = true;
        }
        *ret_hex = w->hash;
        return 0;
}
