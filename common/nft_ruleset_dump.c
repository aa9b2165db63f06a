/* Reading the live ruleset over netlink: a socket made inside a network namespace, the
 * generation alone, and the whole dump — or the messages of a few tables — checked against the
 * generation around it. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "nft_ruleset.h"
#include "nft_ruleset_private.h"
#include "nftnl_lib.h"

/* ---- the dump ---- */

static void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                (void) mnl_socket_close(*nl);
}

/* The socket is what binds a netlink conversation to a namespace: made inside it by a
 * throw-away thread (common/netns.h), so this thread never leaves its own. */
static int socket_open(const char *netns, struct mnl_socket **ret) {
        struct mnl_socket *nl;
        int fd, err;

        /* before the socket: the parse that follows calls libmnl's forwarders, which would only
         * fail quietly */
        err = nftnl_lib_load();
        if (err < 0)
                return err;
        fd = netns_socket(netns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return fd;
        nl = mnl_socket_fdopen(fd);
        if (!nl) {
                err = errno ? errno : EIO;
                (void) close(fd);
                return -err;
        }
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                err = errno;
                (void) mnl_socket_close(nl);
                return -err;
        }
        *ret = nl;
        return 0;
}

typedef struct dump_ctx {
        nft_ruleset *rs;
        nft_ruleset_msg_fn on_msg;
        void *userdata;
        uint32_t gen;
        bool want_gen;
        int error;
} dump_ctx;

static int dump_cb(const struct nlmsghdr *nlh, void *data) {
        dump_ctx *c = data;
        int r;

        if (c->on_msg)
                c->on_msg(nlh, c->userdata);
        if (c->want_gen) {
                if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN ||
                    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) ||
                    nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
                        r = -EBADMSG;
                else
                        r = nftr_msg_gen(nlh, &c->gen);
        } else
                r = nft_ruleset_add_nlmsg(c->rs, nlh);
        if (r < 0) {
                c->error = r;
                return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
}

/* Dumps larger than one buffer come as several datagrams; the kernel fills at most 32 KiB. */
#define DUMP_BUFFER_SIZE (64u * 1024u)

static int request(struct mnl_socket *nl, uint8_t *buf, struct nlmsghdr *nlh, dump_ctx *c) {
        uint32_t portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq;
        ssize_t n;
        int r;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, DUMP_BUFFER_SIZE);
                if (n < 0)
                        return -errno;
                c->error = 0;
                errno = 0;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, dump_cb, c);
                if (r < 0)
                        return c->error ? c->error : -(errno ? errno : EIO);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static int get_gen(struct mnl_socket *nl, uint8_t *buf, uint32_t seq, dump_ctx *c) {
        struct nlmsghdr *nlh;
        uint8_t req[256];

        nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
        c->want_gen = true;
        return request(nl, buf, nlh, c);
}

static int dump_once(struct mnl_socket *nl, uint8_t *buf, uint32_t *seq, dump_ctx *c) {
        static const uint16_t types[] = {NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETSET,
                                         NFT_MSG_GETRULE};
        struct nlmsghdr *nlh;
        uint8_t req[1024];
        int r;

        c->want_gen = false;
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                nlh = nftnl_nlmsg_build_hdr((char *) req, types[i], NFPROTO_UNSPEC,
                                            NLM_F_DUMP | NLM_F_ACK, ++*seq);
                r = request(nl, buf, nlh, c);
                if (r < 0)
                        return r;
        }
        /* Elements come per set; the set list is the model's, so a set created after the set
         * dump is caught by the generation check instead. */
        for (size_t i = 0; i < c->rs->n_sets; i++) {
                const nftr_set *s = &c->rs->sets[i];
                const nftr_table *t = &c->rs->tables[s->table];
                struct nftnl_set *ns = nftnl_set_alloc();

                if (!ns)
                        return -ENOMEM;
                nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETSETELEM, (uint16_t) t->family,
                                            NLM_F_DUMP | NLM_F_ACK, ++*seq);
                if (nftnl_set_set_str(ns, NFTNL_SET_TABLE, t->name) < 0 ||
                    nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name) < 0) {
                        nftnl_set_free(ns);
                        return -ENOMEM;
                }
                nftnl_set_elems_nlmsg_build_payload(nlh, ns);
                nftnl_set_free(ns);
                r = request(nl, buf, nlh, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define DUMP_ATTEMPTS 5

/* ---- the messages of some tables ---- */

typedef struct set_ref {
        int family;
        char table[NFTR_NAME_MAX], name[NFTR_NAME_MAX];
} set_ref;

typedef struct tables_ctx {
        const nft_table_key *keys;
        size_t n_keys;
        nft_ruleset_msg_fn on_msg;
        void *userdata;
        /* the table a request names, NULL for one of all: a kernel that ignores the table filter
         * answers with every table of the family, and two tables of one family asked for must
         * not give each other's objects twice */
        const nft_table_key *only;
        /* the named and anonymous sets of those tables: their elements are asked for one by one */
        set_ref *sets;
        size_t n_sets;
        int error;
} tables_ctx;

int nftr_msg_in_tables(const struct nlmsghdr *nlh, const nft_table_key *keys, size_t n, nftr_attr_tab *t) {
        char table[NFTR_NAME_MAX];
        int family;

        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN)
                return 0;
        /* attribute 1 names the table in every message of a dump (NFTA_TABLE_NAME, …_TABLE) */
        if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) || nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len) ||
            nftr_attrs_msg(nlh, t) < 0 || nftr_a_str(t->a[1], table) < 0)
                return -EBADMSG;
        family = ((const struct nfgenmsg *) mnl_nlmsg_get_payload(nlh))->nfgen_family;
        for (size_t i = 0; i < n; i++)
                if (keys[i].family == family && strcmp(keys[i].name, table) == 0)
                        return 1;
        return 0;
}

static int tables_cb(const struct nlmsghdr *nlh, void *data) {
        tables_ctx *c = data;
        char name[NFTR_NAME_MAX];
        nftr_attr_tab t;
        int r = nftr_msg_in_tables(nlh, c->only ? c->only : c->keys, c->only ? 1 : c->n_keys, &t);

        if (r < 0) {
                c->error = r;
                return MNL_CB_ERROR;
        }
        if (r == 0)
                return MNL_CB_OK; /* another table's (a kernel that ignores the filter) or the generation */
        if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSET) {
                if (nftr_a_str(t.a[NFTA_SET_NAME], name) < 0) {
                        c->error = -EBADMSG;
                        return MNL_CB_ERROR;
                }
                if (c->n_sets >= NFTR_SETS_MAX) {
                        c->error = -E2BIG;
                        return MNL_CB_ERROR;
                }
                if (nftr_grow((void **) &c->sets, c->n_sets, sizeof(*c->sets)) < 0) {
                        c->error = -ENOMEM;
                        return MNL_CB_ERROR;
                }
                c->sets[c->n_sets].family = ((const struct nfgenmsg *) mnl_nlmsg_get_payload(nlh))->nfgen_family;
                (void) nftr_a_str(t.a[NFTA_SET_TABLE], c->sets[c->n_sets].table);
                memcpy(c->sets[c->n_sets].name, name, sizeof(name));
                c->n_sets++;
        }
        c->on_msg(nlh, c->userdata);
        return MNL_CB_OK;
}

/* One dump request, its answer through tables_cb. */
static int tables_request(struct mnl_socket *nl, uint8_t *buf, struct nlmsghdr *nlh, tables_ctx *c) {
        uint32_t portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq;
        ssize_t n;
        int r;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, DUMP_BUFFER_SIZE);
                if (n < 0)
                        return -errno;
                c->error = 0;
                errno = 0;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, tables_cb, c);
                if (r < 0)
                        return c->error ? c->error : -(errno ? errno : EIO);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static int tables_once(struct mnl_socket *nl, uint8_t *buf, uint32_t *seq, tables_ctx *c) {
        static const uint16_t types[] = { NFT_MSG_GETCHAIN, NFT_MSG_GETSET, NFT_MSG_GETRULE };
        /* the table's name in each request: the kernel then walks that table alone */
        static const uint16_t table_attr[] = { NFTA_CHAIN_TABLE, NFTA_SET_TABLE, NFTA_RULE_TABLE };
        struct nlmsghdr *nlh;
        uint8_t req[1024];
        int r;

        c->n_sets = 0;
        nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP | NLM_F_ACK, ++*seq);
        if ((r = tables_request(nl, buf, nlh, c)) < 0)
                return r;
        for (size_t k = 0; k < c->n_keys; k++)
                for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                        nlh = nftnl_nlmsg_build_hdr((char *) req, types[i], (uint16_t) c->keys[k].family, NLM_F_DUMP | NLM_F_ACK,
                                                    ++*seq);
                        mnl_attr_put_strz(nlh, table_attr[i], c->keys[k].name);
                        c->only = &c->keys[k];
                        r = tables_request(nl, buf, nlh, c);
                        c->only = NULL;
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; i < c->n_sets; i++) {
                nlh = nftnl_nlmsg_build_hdr((char *) req, NFT_MSG_GETSETELEM, (uint16_t) c->sets[i].family,
                                            NLM_F_DUMP | NLM_F_ACK, ++*seq);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, c->sets[i].table);
                mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, c->sets[i].name);
                if ((r = tables_request(nl, buf, nlh, c)) < 0)
                        return r;
        }
        return 0;
}

int nft_ruleset_socket_open(const char *netns, struct mnl_socket **ret) {
        return socket_open(netns, ret);
}

int nft_ruleset_generation(struct mnl_socket *nl, uint32_t *ret) {
        _cleanup_(freep) uint8_t *buf = malloc(DUMP_BUFFER_SIZE);
        dump_ctx c = {};
        int r;

        if (!buf)
                return -ENOMEM;
        r = get_gen(nl, buf, (uint32_t) time(NULL), &c);
        if (r < 0)
                return r;
        *ret = c.gen;
        return 0;
}

int nft_ruleset_dump_socket(struct mnl_socket *nl, nft_ruleset_msg_fn on_msg, void *userdata, nft_ruleset **ret) {
        _cleanup_(freep) uint8_t *buf = NULL;
        uint32_t seq = (uint32_t) time(NULL);
        int r;

        buf = malloc(DUMP_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        /* Netlink to the kernel answers at once; a dump of a few thousand rules takes
         * milliseconds, so doing it synchronously does not stall the agent's loop. */
        for (unsigned attempt = 0; attempt < DUMP_ATTEMPTS; attempt++) {
                _cleanup_(nft_ruleset_freep) nft_ruleset *rs = NULL;
                dump_ctx c = {.on_msg = on_msg, .userdata = userdata};
                uint32_t gen_before;

                r = nft_ruleset_new(&rs);
                if (r < 0)
                        return r;
                c.rs = rs;
                if (attempt > 0 && on_msg)
                        on_msg(NULL, userdata); /* starting over: what came before is void */
                r = get_gen(nl, buf, ++seq, &c);
                if (r < 0)
                        return r;
                gen_before = c.gen;
                r = dump_once(nl, buf, &seq, &c);
                if (r == -EINTR) /* NLM_F_DUMP_INTR: the ruleset changed under the dump */
                        continue;
                if (r < 0)
                        return r;
                r = get_gen(nl, buf, ++seq, &c);
                if (r < 0)
                        return r;
                if (c.gen != gen_before)
                        continue;
                nft_ruleset_set_generation(rs, c.gen);
                *ret = TAKE_PTR(rs);
                return 0;
        }
        return -EAGAIN;
}

int nft_ruleset_dump(const char *netns, nft_ruleset_msg_fn on_msg, void *userdata,
                     nft_ruleset **ret) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        int r;

        r = socket_open(netns, &nl);
        if (r < 0)
                return r;
        return nft_ruleset_dump_socket(nl, on_msg, userdata, ret);
}

int nft_ruleset_dump_tables(struct mnl_socket *nl, const nft_table_key *keys, size_t n, nft_ruleset_msg_fn on_msg, void *userdata,
                            uint32_t *ret_gen) {
        _cleanup_(freep) uint8_t *buf = malloc(DUMP_BUFFER_SIZE);
        uint32_t seq = (uint32_t) time(NULL);
        tables_ctx c = { .keys = keys, .n_keys = n, .on_msg = on_msg, .userdata = userdata };
        dump_ctx g = {};
        int r = -EAGAIN;

        if (!buf)
                return -ENOMEM;
        for (unsigned attempt = 0; attempt < DUMP_ATTEMPTS; attempt++) {
                uint32_t gen_before;

                if (attempt > 0)
                        on_msg(NULL, userdata);
                if ((r = get_gen(nl, buf, ++seq, &g)) < 0)
                        break;
                gen_before = g.gen;
                r = tables_once(nl, buf, &seq, &c);
                if (r == -EINTR)
                        continue;
                if (r < 0 || (r = get_gen(nl, buf, ++seq, &g)) < 0)
                        break;
                if (g.gen != gen_before) {
                        r = -EAGAIN;
                        continue;
                }
                *ret_gen = g.gen;
                r = 0;
                break;
        }
        free(c.sets);
        return r;
}
