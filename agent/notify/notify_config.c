/* See notifier.h: the `notify:` section of the configuration, bound strictly (every unknown key,
 * bad URL, duplicate or malformed name and out-of-range value reported at its position, all of
 * them in one pass) into a notify_config the notifier copies. Every value an error quotes goes
 * through YQ()/YQ_PATH(), so a hostile one cannot forge a log line. This file does not log. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "agent/notify/notifier.h"
#include "file_read.h"
#include "hex.h"
#include "yaml_bind.h"

#define QUEUE_MAX_DEFAULT 64u
#define QUEUE_MAX_LIMIT 1024u
#define NAME_MAX_LEN 64u
#define URL_MAX_LEN 2048u

void notify_config_init(notify_config *c) {
        *c = (notify_config){.queue_max = QUEUE_MAX_DEFAULT,
                             .alertmanager = {.resend_usec = 60 * USEC_PER_SEC,
                                              .timeout_usec = 5 * USEC_PER_SEC,
                                              .retries = 3,
                                              .backoff_usec = USEC_PER_SEC}};
}

void notify_config_done(notify_config *c) {
        for (size_t i = 0; i < c->n_webhooks; i++) {
                free(c->webhooks[i].name);
                free(c->webhooks[i].url);
                free(c->webhooks[i].key_file);
                if (c->webhooks[i].key)
                        explicit_bzero(c->webhooks[i].key, c->webhooks[i].key_len);
                free(c->webhooks[i].key);
        }
        free(c->webhooks);
        free(c->alertmanager.url);
        free(c->alertmanager.token_file);
        if (c->alertmanager.token)
                explicit_bzero(c->alertmanager.token, strlen(c->alertmanager.token));
        free(c->alertmanager.token);
        free(c->alertmanager.instance);
        notify_config_init(c);
}

bool notify_config_has(const notify_config *c, const char *name) {
        for (size_t i = 0; c && name && i < c->n_webhooks; i++)
                if (strcmp(c->webhooks[i].name, name) == 0)
                        return true;
        return false;
}

int notify_sign(const unsigned char *key, size_t key_len, const char *body, size_t len, char ret[static 72]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;

        if (!HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) body, len, md, &md_len) || md_len != 32)
                return -EIO;
        memcpy(ret, "sha256=", 7);
        hex_encode(md, md_len, ret + 7);
        return 0;
}

/* A secret file (a signing key, a bearer token), read as deliveries will use it: root's, 0600 or
 * stricter, not empty. `key` names the setting in errors. */
static int secret_read(const char *key, const char *path, size_t max, const ynode *at, char **ret, size_t *ret_len,
                       ydiag *d) {
        char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int r = file_read_all(path, max, 0, &buf, &len, &st);

        if (r == -EFBIG)
                ydiag_add(d, at, "%s %s is larger than %zu bytes", key, YQ_PATH(path), max);
        else if (r < 0)
                ydiag_add(d, at, "%s %s: %s", key, YQ_PATH(path), file_read_strerror(r));
        else if (st.st_uid != 0)
                ydiag_add(d, at, "%s %s belongs to uid %u, not root", key, YQ_PATH(path), (unsigned) st.st_uid);
        else if (st.st_mode & 077)
                ydiag_add(d, at, "%s %s has mode %04o: others than root may read it (0600 or stricter)", key,
                          YQ_PATH(path), (unsigned) (st.st_mode & 07777));
        else if (len == 0)
                ydiag_add(d, at, "%s %s is empty", key, YQ_PATH(path));
        else {
                *ret = buf;
                *ret_len = len;
                return 0;
        }
        if (buf)
                explicit_bzero(buf, len);
        free(buf);
        return -EINVAL;
}

static int key_read(const char *path, const ynode *at, notify_webhook *w, ydiag *d) {
        char *buf = NULL;
        size_t len = 0;
        int r = secret_read("signing_key_file", path, NOTIFY_KEY_MAX, at, &buf, &len, d);

        if (r < 0)
                return r;
        w->key = (unsigned char *) buf;
        w->key_len = len;
        return 0;
}

/* A bearer token: the file's first line, printable ASCII (it goes into a header line). */
static int token_read(const char *path, const ynode *at, char **ret, ydiag *d) {
        char *buf = NULL;
        size_t len = 0, n;
        int r = secret_read("bearer_token_file", path, NOTIFY_TOKEN_MAX, at, &buf, &len, d);

        if (r < 0)
                return r;
        n = strcspn(buf, "\r\n");
        buf[n] = 0;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) buf[i] <= ' ' || (unsigned char) buf[i] >= 0x7f)
                        r = -EINVAL;
        if (n == 0 || r < 0) {
                ydiag_add(d, at, "bearer_token_file %s: the first line must be a token of printable characters "
                          "without spaces", YQ_PATH(path));
                explicit_bzero(buf, len);
                free(buf);
                return -EINVAL;
        }
        *ret = buf;
        return 0;
}

static bool name_valid(const char *s) {
        if (!*s || strlen(s) > NAME_MAX_LEN)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '-'))
                        return false;
        return true;
}

static bool url_valid(const char *s) {
        size_t skip = strncasecmp(s, "http://", 7) == 0    ? 7
                      : strncasecmp(s, "https://", 8) == 0 ? 8
                                                           : 0;

        if (skip == 0 || !s[skip] || strlen(s) > URL_MAX_LEN)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' ||
                    *s == 0x7f) /* curl would refuse it later, silently */
                        return false;
        return true;
}

/* A scalar string value, or NULL with an error at the value. */
static const char *want_string(const ynode *k, const ynode *v, ydiag *d) {
        if (v->type == YNODE_SCALAR && !ynode_is_null(v))
                return v->value;
        ydiag_add(d, v, "%s: expected a string", YQ(k->value));
        return NULL;
}

static int bind_webhook(const ynode *map, notify_config *c, const ynode **names, ydiag *d) {
        notify_webhook w = {.format = NOTIFY_JSON,
                            .timeout_usec = 5 * USEC_PER_SEC,
                            .retries = 3,
                            .backoff_usec = USEC_PER_SEC};
        const ynode *name = NULL, *url = NULL;
        bool ok = true;

        if (map->type != YNODE_MAP) {
                ydiag_add(d, map, "webhooks: each item must be a mapping (name, url, …)");
                return -EINVAL;
        }
        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const ynode *k = map->items[i], *v = map->items[i + 1];
                const char *s;

                if (strcmp(k->value, "name") == 0) {
                        if (!(s = want_string(k, v, d)))
                                ok = false;
                        else if (!name_valid(s)) {
                                ydiag_add(d, v,
                                          "name: '%s' is not a valid webhook name ([a-z0-9_-]+, at "
                                          "most %u)",
                                          YQ(s), NAME_MAX_LEN);
                                ok = false;
                        } else
                                name = v;
                } else if (strcmp(k->value, "url") == 0) {
                        if (!(s = want_string(k, v, d)))
                                ok = false;
                        else if (!url_valid(s)) {
                                ydiag_add(d, v,
                                          "url: expected an http:// or https:// URL, got '%s'", YQ_PATH(s));
                                ok = false;
                        } else
                                url = v;
                } else if (strcmp(k->value, "format") == 0) {
                        if (!(s = want_string(k, v, d)))
                                ok = false;
                        else if (strcmp(s, "json") == 0 || strcmp(s, "slack") == 0)
                                w.format = s[0] == 'j' ? NOTIFY_JSON : NOTIFY_SLACK;
                        else {
                                ydiag_add(d, v, "format: expected json or slack, got '%s'", YQ(s));
                                ok = false;
                        }
                } else if (strcmp(k->value, "timeout") == 0)
                        ok &= ybind_scalar_duration(v, d, USEC_PER_MSEC, 60 * USEC_PER_SEC,
                                                    &w.timeout_usec) >= 0;
                else if (strcmp(k->value, "retries") == 0)
                        ok &= ybind_scalar_u32(v, d, 0, 10, &w.retries) >= 0;
                else if (strcmp(k->value, "backoff") == 0)
                        ok &= ybind_scalar_duration(v, d, USEC_PER_MSEC, 3600 * USEC_PER_SEC,
                                                    &w.backoff_usec) >= 0;
                else if (strcmp(k->value, "signing_key_file") == 0) {
                        if (!(s = want_string(k, v, d)))
                                ok = false;
                        else if (s[0] != '/') {
                                ydiag_add(d, v, "signing_key_file: expected an absolute path");
                                ok = false;
                        } else if (!w.key && key_read(s, v, &w, d) < 0)
                                ok = false;
                        else if (!w.key_file && !(w.key_file = strdup(s)))
                                return -ENOMEM;
                } else {
                        ydiag_add(d, k,
                                  "unknown key '%s' (expected one of: name, url, format, timeout, "
                                  "retries, backoff, signing_key_file)",
                                  YQ(k->value));
                        ok = false;
                }
        }
        /* a duplicate is the later one's error */
        if (name)
                for (size_t i = 0; names[i] && names[i] != name; i++)
                        if (strcmp(names[i]->value, name->value) == 0) {
                                ydiag_add(d, name, "name: webhook '%s' already defined at line %u",
                                          YQ(name->value), names[i]->line);
                                ok = false;
                                break;
                        }
        if (!name && !ynode_get(map, "name"))
                ydiag_add(d, map, "webhook: missing key 'name'");
        if (!url && !ynode_get(map, "url"))
                ydiag_add(d, map, "webhook: missing key 'url'");
        if (!ok || !name || !url) {
                free(w.key_file);
                if (w.key)
                        explicit_bzero(w.key, w.key_len);
                free(w.key);
                return -EINVAL;
        }
        w.name = strdup(name->value);
        w.url = strdup(url->value);
        c->webhooks[c->n_webhooks++] = w; /* freed by notify_config_done() even if NULL */
        return w.name && w.url ? 0 : -ENOMEM;
}

static bool instance_valid(const char *s) {
        if (!*s || strlen(s) > 255)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == ',')
                        return false;
        return true;
}

static int bind_alertmanager(const ynode *map, notify_alertmanager *a, ydiag *d) {
        const char *s;

        if (ynode_is_null(map))
                return 0;
        if (map->type != YNODE_MAP) {
                ydiag_add(d, map, "alertmanager: expected a mapping (url, bearer_token_file, resend, …)");
                return -EINVAL;
        }
        for (size_t i = 0; i + 1 < map->n_items; i += 2) {
                const ynode *k = map->items[i], *v = map->items[i + 1];

                if (strcmp(k->value, "url") == 0) {
                        if (!(s = want_string(k, v, d)))
                                continue;
                        if (!url_valid(s))
                                ydiag_add(d, v, "url: expected an http:// or https:// URL, got '%s'", YQ_PATH(s));
                        else if (!a->url && !(a->url = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(k->value, "bearer_token_file") == 0) {
                        if (!(s = want_string(k, v, d)))
                                continue;
                        if (s[0] != '/')
                                ydiag_add(d, v, "bearer_token_file: expected an absolute path");
                        else if (!a->token && token_read(s, v, &a->token, d) >= 0 && !(a->token_file = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(k->value, "instance") == 0) {
                        if (!(s = want_string(k, v, d)))
                                continue;
                        if (!instance_valid(s))
                                ydiag_add(d, v, "instance: '%s' is not a label value for an instance (no spaces "
                                          "or commas, at most 255)", YQ(s));
                        else if (!a->instance && !(a->instance = strdup(s)))
                                return -ENOMEM;
                } else if (strcmp(k->value, "resend") == 0)
                        (void) ybind_scalar_duration(v, d, USEC_PER_SEC, 3600 * USEC_PER_SEC, &a->resend_usec);
                else if (strcmp(k->value, "timeout") == 0)
                        (void) ybind_scalar_duration(v, d, USEC_PER_MSEC, 60 * USEC_PER_SEC, &a->timeout_usec);
                else if (strcmp(k->value, "retries") == 0)
                        (void) ybind_scalar_u32(v, d, 0, 10, &a->retries);
                else if (strcmp(k->value, "backoff") == 0)
                        (void) ybind_scalar_duration(v, d, USEC_PER_MSEC, 3600 * USEC_PER_SEC, &a->backoff_usec);
                else
                        ydiag_add(d, k,
                                  "unknown key '%s' (expected one of: url, bearer_token_file, resend, timeout, "
                                  "retries, backoff, instance)",
                                  YQ(k->value));
        }
        if (!a->url && !ynode_get(map, "url"))
                ydiag_add(d, map, "alertmanager: missing key 'url'");
        return 0;
}

int notify_config_bind(const ynode *node, notify_config *c, ydiag *d) {
        _cleanup_(notify_config_done) notify_config t;
        const ynode *names[NOTIFY_WEBHOOKS_MAX + 1] = {};
        size_t before = d->n_msgs + d->n_dropped;

        notify_config_init(&t);
        if (ynode_is_null(node))
                goto done;
        if (node->type != YNODE_MAP) {
                ydiag_add(d, node, "notify: expected a mapping (webhooks, queue_max, alertmanager)");
                return -EINVAL;
        }
        for (size_t i = 0; i + 1 < node->n_items; i += 2) {
                const ynode *k = node->items[i], *v = node->items[i + 1];

                if (strcmp(k->value, "queue_max") == 0)
                        (void) ybind_scalar_u32(v, d, 1, QUEUE_MAX_LIMIT, &t.queue_max);
                else if (strcmp(k->value, "alertmanager") == 0) {
                        if (bind_alertmanager(v, &t.alertmanager, d) == -ENOMEM)
                                return -ENOMEM;
                }
                else if (strcmp(k->value, "webhooks") == 0) {
                        if (ynode_is_null(v))
                                continue;
                        if (v->type != YNODE_SEQ) {
                                ydiag_add(d, v, "webhooks: expected a sequence of mappings");
                                continue;
                        }
                        if (v->n_items > NOTIFY_WEBHOOKS_MAX) {
                                ydiag_add(d, v, "webhooks: more than %u", NOTIFY_WEBHOOKS_MAX);
                                continue;
                        }
                        free(t.webhooks);
                        t.webhooks = calloc(v->n_items + 1, sizeof(*t.webhooks));
                        if (!t.webhooks)
                                return -ENOMEM;
                        /* names first, so a duplicate is reported wherever it stands */
                        for (size_t j = 0, n = 0; j < v->n_items; j++) {
                                const ynode *nm = ynode_get(v->items[j], "name");
                                if (nm && nm->type == YNODE_SCALAR)
                                        names[n++] = nm;
                        }
                        for (size_t j = 0; j < v->n_items; j++)
                                if (bind_webhook(v->items[j], &t, names, d) == -ENOMEM)
                                        return -ENOMEM;
                } else
                        ydiag_add(d, k, "unknown key '%s' (expected one of: webhooks, queue_max, alertmanager)",
                                  YQ(k->value));
        }
        if (d->n_msgs + d->n_dropped > before)
                return -EINVAL;
done:
        notify_config_done(c);
        *c = t;
        notify_config_init(&t);
        return 0;
}
