/* The `fleet:` section (agent/config/fleet_config.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/fleet_config.h"
#include "agent/config/runbook.h"
#include "yaml_bind.h"

#define OFF(f) offsetof(fleet_config, f)

static const yfield slot_fields[] = {
        { "fleet", YF_U32, OFF(slots_fleet), .min = 1, .max = FLEET_SLOTS_MAX },
        { "group", YF_U32, OFF(slots_group), .min = 1, .max = FLEET_SLOTS_MAX },
        {}
};

static const yfield fields[] = {
        { "endpoints", YF_STRV, OFF(endpoints), .max = 8 },
        { "prefix", YF_STRING, OFF(prefix) },
        { "name", YF_STRING, OFF(name) },
        { "lease_ttl", YF_DURATION, OFF(lease_ttl_usec), .min = 2 * USEC_PER_SEC, .max = 300 * USEC_PER_SEC },
        { "timeout", YF_DURATION, OFF(timeout_usec), .min = 100 * USEC_PER_MSEC, .max = 30 * USEC_PER_SEC },
        { "slots", YF_SECTION, 0, slot_fields },
        { "slot_wait", YF_DURATION, OFF(slot_wait_usec), .min = USEC_PER_SEC, .max = 24 * 3600 * USEC_PER_SEC },
        { "vrrp_group", YF_STRING, OFF(vrrp_group) },
        { "on_partition", YF_STRV, OFF(on_partition), .max = 64 },
        { "drill_wait", YF_DURATION, OFF(drill_wait_usec), .min = USEC_PER_SEC, .max = 24 * 3600 * USEC_PER_SEC },
        {}
};

void fleet_config_init(fleet_config *c) {
        *c = (fleet_config){
                .lease_ttl_usec = 10 * USEC_PER_SEC,
                .timeout_usec = 2 * USEC_PER_SEC,
                .slots_fleet = 1,
                .slots_group = 1,
                .slot_wait_usec = 5 * 60 * USEC_PER_SEC,
                .drill_wait_usec = 15 * 60 * USEC_PER_SEC,
        };
}

void fleet_config_done(fleet_config *c) {
        ybind_free(fields, c);
        fleet_config_init(c);
}

bool fleet_config_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > FLEET_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
                        return false;
        return true;
}

/* A prefix is path-like: no "..", no empty segment, the characters of names and '/'. */
static bool prefix_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > FLEET_PREFIX_MAX - 1 || s[0] != '/' || strstr(s, "//") || strstr(s, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/", s[i]))
                        return false;
        return true;
}

static bool endpoint_valid(const char *s) {
        const char *host = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : NULL;
        if (!host || !host[0] || strlen(s) > 256)
                return false;
        for (const char *p = host; *p; p++)
                if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
                        return false;
        return true;
}

/* The node of item i of a sequence key (or the key's node). */
static const ynode *item_at(const ynode *list, size_t i) {
        return list && list->type == YNODE_SEQ && i < list->n_items ? list->items[i] : list;
}

int fleet_config_bind(const ynode *node, fleet_config *c, ydiag *d) {
        fleet_config n;
        const ynode *list;
        int r = 0;

        fleet_config_init(&n);
        n.node = node;
        if (!node || ynode_is_null(node)) {
                fleet_config_done(c);
                *c = n;
                return 0;
        }
        r = ybind(node, fields, &n, d);
        if (r == -ENOMEM || node->type != YNODE_MAP)
                goto fail; /* not a mapping: said once, by ybind() */
        list = ynode_get(node, "endpoints");
        n.enabled = n.endpoints && n.endpoints[0];
        if (!n.enabled) {
                ydiag_add(d, list ?: node, "fleet.endpoints: at least one etcd endpoint (\"http://HOST:PORT\") is needed");
                r = -EINVAL;
        }
        for (size_t i = 0; n.endpoints && n.endpoints[i]; i++) {
                if (!endpoint_valid(n.endpoints[i])) {
                        ydiag_add(d, item_at(list, i), "fleet.endpoints: '%s' is not an http:// or https:// URL of an etcd member",
                                  YQ(n.endpoints[i]));
                        r = -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(n.endpoints[i], n.endpoints[j]) == 0) {
                                ydiag_add(d, item_at(list, i), "fleet.endpoints: '%s' is listed twice", YQ(n.endpoints[i]));
                                r = -EINVAL;
                        }
        }
        if (!n.prefix && !(n.prefix = strdup(FLEET_DEFAULT_PREFIX))) {
                r = -ENOMEM;
                goto fail;
        }
        if (!prefix_valid(n.prefix)) {
                ydiag_add(d, ynode_get(node, "prefix"), "fleet.prefix: '%s' is not a key prefix (starts with '/', at most %u "
                          "characters of letters, digits, '.', '_', '-' and '/', no empty or '..' segment)",
                          YQ(n.prefix), FLEET_PREFIX_MAX - 2);
                r = -EINVAL;
        } else if (n.prefix[strlen(n.prefix) - 1] != '/') {
                char *p;
                if (asprintf(&p, "%s/", n.prefix) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                free(n.prefix);
                n.prefix = p;
        }
        if (!n.name) {
                char host[256] = "";
                if (gethostname(host, sizeof(host) - 1) < 0 || !fleet_config_name_valid(host)) {
                        ydiag_add(d, node, "fleet.name: not given, and the host name '%s' is not a valid name", YQ(host));
                        r = -EINVAL;
                } else if (!(n.name = strdup(host))) {
                        r = -ENOMEM;
                        goto fail;
                }
        } else if (!fleet_config_name_valid(n.name)) {
                ydiag_add(d, ynode_get(node, "name"), "fleet.name: '%s' is not 1-%u letters, digits, '.', '_' or '-'",
                          YQ(n.name), FLEET_NAME_MAX);
                r = -EINVAL;
        }
        if (n.vrrp_group && !fleet_config_name_valid(n.vrrp_group)) {
                ydiag_add(d, ynode_get(node, "vrrp_group"), "fleet.vrrp_group: '%s' is not 1-%u letters, digits, '.', '_' or '-'",
                          YQ(n.vrrp_group), FLEET_NAME_MAX);
                r = -EINVAL;
        }
        list = ynode_get(node, "on_partition");
        for (size_t i = 0; n.on_partition && n.on_partition[i]; i++)
                if (!n.on_partition[i][0] || strlen(n.on_partition[i]) > RUNBOOK_NAME_MAX) {
                        ydiag_add(d, item_at(list, i), "fleet.on_partition: '%s' is not a runbook name", YQ(n.on_partition[i]));
                        r = -EINVAL;
                }
        if (r < 0)
                goto fail;
        fleet_config_done(c);
        *c = n;
        return 0;
fail:
        fleet_config_done(&n);
        return r;
}

bool fleet_config_on_partition(const fleet_config *c, const char *runbook_name) {
        return runbook_name && strv_contains(c->on_partition, runbook_name);
}
