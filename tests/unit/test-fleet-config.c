/* The `fleet:` section: off without it, defaults, every bad value refused with file:line:col and
 * the key, the prefix kept ending with '/', the host name as the default name, on_partition. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "tap.h"

static ikeheal_config *parse(const char *text, char **ret_err) {
        ikeheal_config *c = NULL;
        *ret_err = NULL;
        (void) config_parse_buffer("f.yaml", text, strlen(text), &c, ret_err);
        return c;
}

static void expect(const char *text, const char *want) {
        char *err = NULL;
        ikeheal_config *c = parse(text, &err);
        if (!want)
                CHECK(c && !err, "accepts: %.60s%s%s", text, err ? " — " : "", err ? err : "");
        else
                CHECK(!c && err && strstr(err, want), "rejected with '%s' (got: %s)", want, err ? err : "(none)");
        config_free(c);
        free(err);
}

int main(void) {
        char *err = NULL, host[256] = "";
        ikeheal_config *c;

        c = parse("agent:\n  log_level: info\n", &err);
        CHECK(c && !c->fleet.enabled && !c->fleet.endpoints, "no fleet section: off");
        config_free(c);
        free(err);

        c = parse("fleet:\n  endpoints: [\"http://127.0.0.1:2379\", \"http://127.0.0.1:2381\"]\n  name: gw-1\n", &err);
        CHECK(c && c->fleet.enabled && c->fleet.endpoints[1] && !c->fleet.endpoints[2], "two endpoints: on");
        CHECK(c && !strcmp(c->fleet.prefix, "/ikeheal/") && !strcmp(c->fleet.name, "gw-1"), "default prefix, the name given");
        CHECK(c && c->fleet.lease_ttl_usec == 10 * USEC_PER_SEC && c->fleet.timeout_usec == 2 * USEC_PER_SEC &&
                      c->fleet.slots_fleet == 1 && c->fleet.slots_group == 1 && !c->fleet.vrrp_group &&
                      c->fleet.slot_wait_usec == 300 * USEC_PER_SEC && c->fleet.drill_wait_usec == 900 * USEC_PER_SEC &&
                      !c->fleet.on_partition,
              "defaults: lease 10s, timeout 2s, one slot in the fleet and in the group, no group, wait 5m, drills 15m");
        config_free(c);
        free(err);

        c = parse("fleet:\n  endpoints: [\"https://etcd1:2379\"]\n  prefix: /dc1/gws\n  name: a\n  lease_ttl: 3s\n"
                  "  timeout: 500ms\n  slots: {fleet: 3, group: 1}\n  vrrp_group: pair-7\n  on_partition: [crash-loop]\n",
                  &err);
        CHECK(c && !strcmp(c->fleet.prefix, "/dc1/gws/"), "the prefix is kept ending with '/' (%s)", c ? c->fleet.prefix : err);
        CHECK(c && c->fleet.lease_ttl_usec == 3 * USEC_PER_SEC && c->fleet.timeout_usec == 500 * USEC_PER_MSEC &&
                      c->fleet.slots_fleet == 3 && c->fleet.slots_group == 1 && !strcmp(c->fleet.vrrp_group, "pair-7"),
              "every key bound");
        CHECK(c && fleet_config_on_partition(&c->fleet, "crash-loop") && !fleet_config_on_partition(&c->fleet, "other") &&
                      !fleet_config_on_partition(&c->fleet, NULL),
              "on_partition names the runbooks let through");
        config_free(c);
        free(err);

        if (gethostname(host, sizeof(host) - 1) == 0 && fleet_config_name_valid(host)) {
                c = parse("fleet:\n  endpoints: [\"http://127.0.0.1:2379\"]\n", &err);
                CHECK(c && !strcmp(c->fleet.name, host), "no name: the host name (%s)", host);
                config_free(c);
                free(err);
        }

        expect("fleet:\n  prefix: /x/\n", "f.yaml:2:3: fleet.endpoints: at least one etcd endpoint");
        expect("fleet:\n  endpoints: []\n", "f.yaml:2:14: fleet.endpoints: at least one");
        expect("fleet:\n  endpoints: [\"127.0.0.1:2379\"]\n", "f.yaml:2:15: fleet.endpoints: '127.0.0.1:2379' is not an http://");
        expect("fleet:\n  endpoints: [\"http://a:1\", \"http://user@b:1\"]\n", "f.yaml:2:29: fleet.endpoints: 'http://user@b:1'");
        expect("fleet:\n  endpoints: [\"http://a:1\", \"http://a:1\"]\n", "f.yaml:2:29: fleet.endpoints: 'http://a:1' is listed twice");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  prefix: ikeheal/\n", "f.yaml:3:11: fleet.prefix: 'ikeheal/' is not a key");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  prefix: /a/../b/\n", "f.yaml:3:11: fleet.prefix:");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  prefix: /a//b/\n", "f.yaml:3:11: fleet.prefix:");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  name: \"gw 1\"\n", "f.yaml:3:9: fleet.name: 'gw 1' is not");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  name: gw/1\n", "f.yaml:3:9: fleet.name:");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  vrrp_group: \"\"\n", "f.yaml:3:15: fleet.vrrp_group:");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  lease_ttl: 1s\n", "f.yaml:3:14: ");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  timeout: 1m\n", "f.yaml:3:12: ");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  slots: {fleet: 0}\n", "f.yaml:3:18: value 0 out of range");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  slots: {fleet: 65}\n", "f.yaml:3:18: ");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  slots: {pair: 1}\n", "f.yaml:3:11: unknown key 'pair'");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  slot_wait: 0s\n", "f.yaml:3:14: ");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  drill_wait: 2d\n", "f.yaml:3:15: ");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  bogus: 1\n", "f.yaml:3:3: unknown key 'bogus'");
        expect("fleet:\n  endpoints: [\"http://a:1\"]\n  on_partition: [\"\"]\n", "f.yaml:3:18: fleet.on_partition: '' is not");
        expect("fleet: [1]\n", "f.yaml:1:8: expected a mapping");
        {
                char *e2 = NULL;
                ikeheal_config *c2 = parse("fleet: [1]\n", &e2);
                CHECK(!c2 && e2 && !strchr(e2, '\n'), "not a mapping: one error, not a cascade (%s)", e2 ? e2 : "");
                free(e2);
        }
        return TAP_END();
}
