/* See nftnl_lib.h. One X-macro list per library names each function the project calls with its
 * kind of failure value, return type, parameters and arguments; it generates the table of
 * pointers, the dl_symbol lists and the forwarders, so that the three cannot disagree. A
 * destructor given NULL returns at once, so that freeing nothing never maps the libraries. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "dl_table.h"
#include "macro.h"
#include "nftnl_lib.h"

/* X(kind, return type, name, (parameters), (arguments)); kind is the value a forwarder returns
 * when the libraries are not loaded: P NULL, I -1 with errno ENOSYS, Z 0, V nothing; F is a
 * destructor (one parameter x, nothing done for NULL). */
#define MNL_LIB_FUNCS(X)                                                                                             \
        X(P, void *, mnl_attr_get_payload, (const struct nlattr *a), (a))                                           \
        X(Z, uint16_t, mnl_attr_get_payload_len, (const struct nlattr *a), (a))                                     \
        X(P, const char *, mnl_attr_get_str, (const struct nlattr *a), (a))                                         \
        X(Z, uint16_t, mnl_attr_get_type, (const struct nlattr *a), (a))                                            \
        X(Z, uint32_t, mnl_attr_get_u32, (const struct nlattr *a), (a))                                             \
        X(V, void, mnl_attr_nest_end, (struct nlmsghdr * n, struct nlattr *s), (n, s))                              \
        X(P, struct nlattr *, mnl_attr_nest_start_check, (struct nlmsghdr * n, size_t l, uint16_t t), (n, l, t))    \
        X(P, struct nlattr *, mnl_attr_next, (const struct nlattr *a), (a))                                         \
        X(Z, bool, mnl_attr_ok, (const struct nlattr *a, int l), (a, l))                                            \
        X(I, int, mnl_attr_parse, (const struct nlmsghdr *n, unsigned int o, mnl_attr_cb_t cb, void *d),            \
          (n, o, cb, d))                                                                                             \
        X(I, int, mnl_attr_parse_nested, (const struct nlattr *a, mnl_attr_cb_t cb, void *d), (a, cb, d))           \
        X(Z, bool, mnl_attr_put_check, (struct nlmsghdr * n, size_t b, uint16_t t, size_t l, const void *d),        \
          (n, b, t, l, d))                                                                                           \
        X(V, void, mnl_attr_put_strz, (struct nlmsghdr * n, uint16_t t, const char *d), (n, t, d))                  \
        X(Z, bool, mnl_attr_put_strz_check, (struct nlmsghdr * n, size_t b, uint16_t t, const char *d),             \
          (n, b, t, d))                                                                                              \
        X(V, void, mnl_attr_put_u32, (struct nlmsghdr * n, uint16_t t, uint32_t d), (n, t, d))                      \
        X(Z, bool, mnl_attr_put_u32_check, (struct nlmsghdr * n, size_t b, uint16_t t, uint32_t d), (n, b, t, d))   \
        X(I, int, mnl_attr_validate, (const struct nlattr *a, enum mnl_attr_data_type t), (a, t))                   \
        X(I, int, mnl_cb_run, (const void *b, size_t n, unsigned int s, unsigned int p, mnl_cb_t cb, void *d),      \
          (b, n, s, p, cb, d))                                                                                       \
        X(P, void *, mnl_nlmsg_get_payload, (const struct nlmsghdr *n), (n))                                        \
        X(P, void *, mnl_nlmsg_get_payload_offset, (const struct nlmsghdr *n, size_t o), (n, o))                    \
        X(P, void *, mnl_nlmsg_get_payload_tail, (const struct nlmsghdr *n), (n))                                   \
        X(P, struct nlmsghdr *, mnl_nlmsg_next, (const struct nlmsghdr *n, int *l), (n, l))                         \
        X(Z, bool, mnl_nlmsg_ok, (const struct nlmsghdr *n, int l), (n, l))                                         \
        X(P, void *, mnl_nlmsg_put_extra_header, (struct nlmsghdr * n, size_t s), (n, s))                           \
        X(P, struct nlmsghdr *, mnl_nlmsg_put_header, (void *b), (b))                                               \
        X(I, int, mnl_socket_bind, (struct mnl_socket * nl, unsigned int g, pid_t p), (nl, g, p))                   \
        X(I, int, mnl_socket_close, (struct mnl_socket * nl), (nl))                                                 \
        X(P, struct mnl_socket *, mnl_socket_fdopen, (int fd), (fd))                                                \
        X(I, int, mnl_socket_get_fd, (const struct mnl_socket *nl), (nl))                                           \
        X(Z, unsigned int, mnl_socket_get_portid, (const struct mnl_socket *nl), (nl))                              \
        X(I, ssize_t, mnl_socket_recvfrom, (const struct mnl_socket *nl, void *b, size_t s), (nl, b, s))            \
        X(I, ssize_t, mnl_socket_sendto, (const struct mnl_socket *nl, const void *b, size_t s), (nl, b, s))

#define NFTNL_LIB_FUNCS(X)                                                                                           \
        X(P, struct nftnl_chain *, nftnl_chain_alloc, (void), ())                                                    \
        X(F, void, nftnl_chain_free, (const struct nftnl_chain *x), (x))                                            \
        X(V, void, nftnl_chain_nlmsg_build_payload, (struct nlmsghdr * n, const struct nftnl_chain *c), (n, c))     \
        X(V, void, nftnl_chain_set_s32, (struct nftnl_chain * c, uint16_t a, int32_t d), (c, a, d))                 \
        X(I, int, nftnl_chain_set_str, (struct nftnl_chain * c, uint16_t a, const char *s), (c, a, s))              \
        X(V, void, nftnl_chain_set_u32, (struct nftnl_chain * c, uint16_t a, uint32_t d), (c, a, d))                \
        X(P, struct nftnl_expr *, nftnl_expr_alloc, (const char *name), (name))                                     \
        X(I, int, nftnl_expr_set, (struct nftnl_expr * e, uint16_t t, const void *d, uint32_t l), (e, t, d, l))     \
        X(I, int, nftnl_expr_set_str, (struct nftnl_expr * e, uint16_t t, const char *s), (e, t, s))                \
        X(V, void, nftnl_expr_set_u32, (struct nftnl_expr * e, uint16_t t, uint32_t d), (e, t, d))                  \
        X(V, void, nftnl_expr_set_u8, (struct nftnl_expr * e, uint16_t t, uint8_t d), (e, t, d))                    \
        X(P, struct nlmsghdr *, nftnl_nlmsg_build_hdr,                                                              \
          (char *b, uint16_t t, uint16_t fam, uint16_t fl, uint32_t s), (b, t, fam, fl, s))                         \
        X(V, void, nftnl_rule_add_expr, (struct nftnl_rule * r, struct nftnl_expr *e), (r, e))                      \
        X(P, struct nftnl_rule *, nftnl_rule_alloc, (void), ())                                                      \
        X(F, void, nftnl_rule_free, (const struct nftnl_rule *x), (x))                                              \
        X(P, const char *, nftnl_rule_get_str, (const struct nftnl_rule *r, uint16_t a), (r, a))                    \
        X(Z, uint32_t, nftnl_rule_get_u32, (const struct nftnl_rule *r, uint16_t a), (r, a))                        \
        X(V, void, nftnl_rule_nlmsg_build_payload, (struct nlmsghdr * n, struct nftnl_rule *r), (n, r))             \
        X(I, int, nftnl_rule_set_data, (struct nftnl_rule * r, uint16_t a, const void *d, uint32_t l),              \
          (r, a, d, l))                                                                                              \
        X(I, int, nftnl_rule_set_str, (struct nftnl_rule * r, uint16_t a, const char *s), (r, a, s))                \
        X(V, void, nftnl_rule_set_u32, (struct nftnl_rule * r, uint16_t a, uint32_t v), (r, a, v))                  \
        X(V, void, nftnl_rule_set_u64, (struct nftnl_rule * r, uint16_t a, uint64_t v), (r, a, v))                  \
        X(I, int, nftnl_rule_snprintf, (char *b, size_t s, const struct nftnl_rule *r, uint32_t t, uint32_t f),     \
          (b, s, r, t, f))                                                                                           \
        X(P, struct nftnl_set *, nftnl_set_alloc, (void), ())                                                        \
        X(V, void, nftnl_set_elem_add, (struct nftnl_set * s, struct nftnl_set_elem *e), (s, e))                    \
        X(P, struct nftnl_set_elem *, nftnl_set_elem_alloc, (void), ())                                              \
        X(I, int, nftnl_set_elem_set, (struct nftnl_set_elem * e, uint16_t a, const void *d, uint32_t l),           \
          (e, a, d, l))                                                                                              \
        X(V, void, nftnl_set_elem_set_u64, (struct nftnl_set_elem * e, uint16_t a, uint64_t v), (e, a, v))          \
        X(V, void, nftnl_set_elems_nlmsg_build_payload, (struct nlmsghdr * n, struct nftnl_set *s), (n, s))         \
        X(F, void, nftnl_set_free, (const struct nftnl_set *x), (x))                                                \
        X(V, void, nftnl_set_nlmsg_build_payload, (struct nlmsghdr * n, struct nftnl_set *s), (n, s))               \
        X(I, int, nftnl_set_set_str, (struct nftnl_set * s, uint16_t a, const char *v), (s, a, v))                  \
        X(V, void, nftnl_set_set_u32, (struct nftnl_set * s, uint16_t a, uint32_t v), (s, a, v))                    \
        X(P, struct nftnl_table *, nftnl_table_alloc, (void), ())                                                    \
        X(F, void, nftnl_table_free, (const struct nftnl_table *x), (x))                                            \
        X(V, void, nftnl_table_nlmsg_build_payload, (struct nlmsghdr * n, const struct nftnl_table *t), (n, t))     \
        X(I, int, nftnl_table_set_str, (struct nftnl_table * t, uint16_t a, const char *s), (t, a, s))              \
        X(V, void, nftnl_table_set_u32, (struct nftnl_table * t, uint16_t a, uint32_t d), (t, a, d))                \
        X(P, struct nftnl_udata_buf *, nftnl_udata_buf_alloc, (uint32_t s), (s))                                    \
        X(P, void *, nftnl_udata_buf_data, (const struct nftnl_udata_buf *b), (b))                                  \
        X(F, void, nftnl_udata_buf_free, (const struct nftnl_udata_buf *x), (x))                                    \
        X(Z, uint32_t, nftnl_udata_buf_len, (const struct nftnl_udata_buf *b), (b))                                 \
        X(Z, bool, nftnl_udata_put_strz, (struct nftnl_udata_buf * b, uint8_t t, const char *s), (b, t, s))

static struct {
        int state; /* 0 = not tried, 1 = loaded, <0 = -errno of the failure */
        const char *error;
#define FIELD(kind, type, name, params, args) type(*name) params;
        MNL_LIB_FUNCS(FIELD)
        NFTNL_LIB_FUNCS(FIELD)
#undef FIELD
} lib;

#define SYMBOL(kind, type, name, params, args) { #name, offsetof(__typeof__(lib), name) },
static const dl_symbol mnl_symbols[] = { MNL_LIB_FUNCS(SYMBOL) };
static const dl_symbol nftnl_symbols[] = { NFTNL_LIB_FUNCS(SYMBOL) };
#undef SYMBOL

static int load_fail(int r, const char *why) {
        lib.state = r;
        lib.error = why;
        return r;
}

int nftnl_lib_load_as(const char *mnl_soname, const char *nftnl_soname) {
        int r;

        if (lib.state)
                return lib.state > 0 ? 0 : lib.state;
        /* libmnl first: libnftnl needs it, and a missing libmnl is the clearer reason. RTLD_NOW
         * (in dl_table): a missing dependency fails here, not mid-call. The handles are never
         * closed: sockets and objects made by the libraries may live until the end. */
        r = dl_table_load(mnl_soname, mnl_symbols, ELEMENTSOF(mnl_symbols), &lib);
        if (r < 0)
                return load_fail(r, r == -ELIBACC ? "libnftnl could not be loaded: cannot load " MNL_SONAME
                                                  : "libnftnl could not be loaded: " MNL_SONAME
                                                    " lacks a function ikeheald calls");
        r = dl_table_load(nftnl_soname, nftnl_symbols, ELEMENTSOF(nftnl_symbols), &lib);
        if (r < 0)
                return load_fail(r, r == -ELIBACC ? "libnftnl could not be loaded: cannot load " NFTNL_SONAME
                                                  : "libnftnl could not be loaded: " NFTNL_SONAME
                                                    " lacks a function ikeheald calls");
        lib.state = 1;
        return 0;
}

int nftnl_lib_load(void) {
        return nftnl_lib_load_as(MNL_SONAME, NFTNL_SONAME);
}

bool nftnl_lib_loaded(void) {
        return lib.state > 0;
}

const char *nftnl_lib_error(void) {
        return lib.state < 0 ? lib.error : NULL;
}

const char *nftnl_lib_strerror(int r) {
        if (lib.state < 0 && r == lib.state)
                return lib.error;
        return strerror(r < 0 ? -r : r);
}

/* ---- the forwarders ---- */

#define FORWARD_P(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return nftnl_lib_load() < 0 ? NULL : lib.name args;                                                  \
        }
#define FORWARD_I(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                if (nftnl_lib_load() < 0) {                                                                          \
                        errno = ENOSYS;                                                                              \
                        return -1;                                                                                   \
                }                                                                                                    \
                return lib.name args;                                                                                \
        }
#define FORWARD_Z(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                return nftnl_lib_load() < 0 ? 0 : lib.name args;                                                     \
        }
#define FORWARD_V(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                if (nftnl_lib_load() >= 0)                                                                           \
                        lib.name args;                                                                               \
        }
#define FORWARD_F(type, name, params, args)                                                                          \
        type name params {                                                                                           \
                if (x && nftnl_lib_load() >= 0)                                                                      \
                        lib.name args;                                                                               \
        }
#define FORWARD(kind, type, name, params, args) FORWARD_##kind(type, name, params, args)
MNL_LIB_FUNCS(FORWARD)
NFTNL_LIB_FUNCS(FORWARD)
