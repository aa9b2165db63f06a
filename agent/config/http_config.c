/* The `http:` section (agent/config/http_config.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/config/http_config.h"
#include "file_read.h"
#include "yaml_bind.h"

#define OFF(f) offsetof(http_config, f)

static const yfield fields[] = {
        { "enabled", YF_BOOL, OFF(enabled) },
        { "listen", YF_STRV, OFF(listen), .max = 8 },
        { "metrics_token_file", YF_PATH, OFF(token_file[HTTP_EP_METRICS]), .max = 256 },
        { "healthz_token_file", YF_PATH, OFF(token_file[HTTP_EP_HEALTHZ]), .max = 256 },
        { "alerts_token_file", YF_PATH, OFF(token_file[HTTP_EP_ALERTS]), .max = 256 },
        { "max_body_kib", YF_U32, OFF(max_body_kib), .min = 1, .max = 1024 },
        { "max_connections", YF_U32, OFF(max_connections), .min = 1, .max = 4096 },
        { "max_connections_per_client", YF_U32, OFF(max_per_client), .min = 1, .max = 4096 },
        { "rate_per_second", YF_U32, OFF(rate_per_sec), .max = 100000 },
        { "rate_burst", YF_U32, OFF(rate_burst), .min = 1, .max = 100000 },
        { "timeout", YF_DURATION, OFF(timeout_usec), .min = USEC_PER_SEC, .max = 300 * USEC_PER_SEC },
        { "metrics_per_peer", YF_BOOL, OFF(metrics_per_peer) },
        {}
};

static const char *const key_of[_HTTP_EP_MAX] = {
        [HTTP_EP_METRICS] = "metrics_token_file",
        [HTTP_EP_HEALTHZ] = "healthz_token_file",
        [HTTP_EP_ALERTS] = "alerts_token_file",
};

const char *http_endpoint_path(http_endpoint ep) {
        static const char *const paths[_HTTP_EP_MAX] = {
                [HTTP_EP_METRICS] = "/metrics",
                [HTTP_EP_HEALTHZ] = "/healthz",
                [HTTP_EP_ALERTS] = "/alerts",
        };
        return ep < _HTTP_EP_MAX ? paths[ep] : NULL;
}

void http_config_init(http_config *c) {
        *c = (http_config){
                .max_body_kib = 256,
                .max_connections = 64,
                .max_per_client = 8,
                .rate_per_sec = 20,
                .rate_burst = 40,
                .timeout_usec = 10 * USEC_PER_SEC,
        };
}

static void tokens_wipe(http_config *c) {
        for (size_t i = 0; i < _HTTP_EP_MAX; i++)
                if (c->token[i]) {
                        explicit_bzero(c->token[i], strlen(c->token[i]));
                        free(c->token[i]);
                        c->token[i] = NULL;
                }
}

void http_config_done(http_config *c) {
        ybind_free(fields, c);
        tokens_wipe(c);
        http_config_init(c);
}

bool http_config_address_valid(const char *addr, uint16_t *ret_port) {
        char host[INET6_ADDRSTRLEN + 1];
        unsigned char buf[sizeof(struct in6_addr)];
        const char *colon;
        bool v6 = addr[0] == '[';
        size_t n;

        if (v6) {
                const char *end = strchr(addr, ']');
                if (!end || end[1] != ':')
                        return false;
                n = (size_t) (end - addr - 1);
                if (n >= sizeof(host))
                        return false;
                memcpy(host, addr + 1, n);
                colon = end + 1;
        } else {
                colon = strrchr(addr, ':');
                if (!colon)
                        return false;
                n = (size_t) (colon - addr);
                if (n >= sizeof(host))
                        return false;
                memcpy(host, addr, n);
        }
        host[n] = 0;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
                return false;
        char *e = NULL;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &e, 10);
        if (errno || !colon[1] || *e || colon[1] == '-' || colon[1] == '+' || port == 0 || port > 65535)
                return false;
        if (ret_port)
                *ret_port = (uint16_t) port;
        return true;
}

int http_config_bind(const ynode *node, http_config *c, ydiag *d) {
        http_config n;
        const ynode *enabled, *listen;
        int r = 0;

        http_config_init(&n);
        n.node = node;
        if (!node || ynode_is_null(node)) {
                http_config_done(c);
                *c = n;
                return 0;
        }
        r = ybind(node, fields, &n, d);
        if (r == -ENOMEM)
                goto fail;
        enabled = ynode_get(node, "enabled");
        listen = ynode_get(node, "listen");
        if (n.listen && n.listen[0] && !enabled)
                n.enabled = true;
        if (n.enabled && (!n.listen || !n.listen[0])) {
                strv_free(n.listen);
                n.listen = calloc(2, sizeof(char *));
                if (!n.listen || !(n.listen[0] = strdup(HTTP_DEFAULT_LISTEN))) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; listen && n.listen && n.listen[i]; i++) {
                const ynode *at = listen->type == YNODE_SEQ && i < listen->n_items ? listen->items[i] : listen;
                if (!http_config_address_valid(n.listen[i], NULL)) {
                        ydiag_add(d, at, "http.listen: '%s' is not a numeric ADDRESS:PORT or [ADDRESS6]:PORT "
                                  "(port 1-65535)", YQ(n.listen[i]));
                        r = -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(n.listen[i], n.listen[j]) == 0) {
                                ydiag_add(d, at, "http.listen: '%s' is listed twice", YQ(n.listen[i]));
                                r = -EINVAL;
                        }
        }
        if (n.rate_per_sec && n.rate_burst < n.rate_per_sec && ynode_get(node, "rate_burst")) {
                ydiag_add(d, ynode_get(node, "rate_burst"), "http.rate_burst %u is below http.rate_per_second %u",
                          n.rate_burst, n.rate_per_sec);
                r = -EINVAL;
        }
        if (r < 0)
                goto fail;
        http_config_done(c);
        *c = n;
        return 0;
fail:
        http_config_done(&n);
        return r;
}

/* One token file, read as the listener will use it. */
static int token_read(const char *path, const char *key, const ynode *at, char **ret, ydiag *d) {
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        r = file_read_all(path, HTTP_TOKEN_MAX, 0, &buf, &len, &st);
        if (r == -EFBIG)
                ydiag_add(d, at, "http.%s %s is larger than %u bytes", key, YQ_PATH(path), HTTP_TOKEN_MAX);
        else if (r < 0)
                ydiag_add(d, at, "http.%s %s: %s", key, YQ_PATH(path), file_read_strerror(r));
        else if (st.st_uid != 0)
                ydiag_add(d, at, "http.%s %s belongs to uid %u, not root", key, YQ_PATH(path), (unsigned) st.st_uid);
        else if (st.st_mode & 077)
                ydiag_add(d, at, "http.%s %s has mode %04o: others than root may read it (0600 or stricter)", key,
                          YQ_PATH(path), (unsigned) (st.st_mode & 07777));
        else {
                while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                        buf[--len] = 0;
                bool printable = len > 0;
                for (size_t i = 0; i < len; i++)
                        if (buf[i] <= ' ' || buf[i] == 0x7f)
                                printable = false;
                if (!printable)
                        ydiag_add(d, at, "http.%s %s: expected one line of printable characters without spaces",
                                  key, YQ_PATH(path));
                else {
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
        }
        if (buf)
                explicit_bzero(buf, len);
        return -EINVAL;
}

int http_config_read_tokens(http_config *c, ydiag *d) {
        int r = 0;

        tokens_wipe(c);
        for (size_t i = 0; i < _HTTP_EP_MAX; i++) {
                if (!c->token_file[i])
                        continue;
                const ynode *at = ynode_get(c->node, key_of[i]) ?: c->node;
                if (token_read(c->token_file[i], key_of[i], at, &c->token[i], d) < 0)
                        r = -EINVAL;
        }
        return r;
}

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool http_config_equal(const http_config *a, const http_config *b) {
        if (a->enabled != b->enabled || a->max_body_kib != b->max_body_kib || a->max_connections != b->max_connections ||
            a->max_per_client != b->max_per_client || a->rate_per_sec != b->rate_per_sec ||
            a->rate_burst != b->rate_burst || a->timeout_usec != b->timeout_usec)
                return false;
        for (size_t i = 0; i < _HTTP_EP_MAX; i++)
                if (!str_eq(a->token[i], b->token[i]))
                        return false;
        size_t i = 0;
        for (; a->listen && b->listen && a->listen[i] && b->listen[i]; i++)
                if (strcmp(a->listen[i], b->listen[i]) != 0)
                        return false;
        return (!a->listen || !a->listen[i]) && (!b->listen || !b->listen[i]);
}
