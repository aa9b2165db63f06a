/* See swconf_peer.h. */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "swconf_peer.h"

bool swconf_conn_has_peer(const swconf *c, const char *conn, const char *want) {
        char key[512], id[256] = "", addr[256] = "";
        const char *at = strrchr(want, '@');
        const char *subs[16];
        size_t n;

        if (at) {
                (void) snprintf(id, sizeof(id), "%.*s", (int) (at - want), want);
                (void) snprintf(addr, sizeof(addr), "%s", at + 1);
        } else {
                (void) snprintf(id, sizeof(id), "%s", want);
                (void) snprintf(addr, sizeof(addr), "%s", want);
        }
        (void) snprintf(key, sizeof(key), "connections.%s.remote_addrs", conn);
        const char *ra = swconf_get(c, key);
        if (ra && addr[0] && strstr(ra, addr))
                return true;
        (void) snprintf(key, sizeof(key), "connections.%s", conn);
        n = swconf_children(c, key, subs, ELEMENTSOF(subs));
        for (size_t i = 0; i < n && i < ELEMENTSOF(subs); i++) {
                if (strncmp(subs[i], "remote", 6) != 0)
                        continue;
                (void) snprintf(key, sizeof(key), "connections.%s.%s.id", conn, subs[i]);
                const char *v = swconf_get(c, key);
                if (v && id[0] && strcmp(v, id) == 0)
                        return true;
        }
        return false;
}

