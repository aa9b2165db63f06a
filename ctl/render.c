/* See render.h. The status layout follows the field list in common/proto.h; fields the agent
 * did not send are left out rather than shown as empty, and top-level fields this version of
 * ikehealctl does not know are shown after the known ones, so a newer agent loses nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ctl/json.h"
#include "ctl/render.h"
#include "duration.h"

#define LABEL_WIDTH 12

/* Print a value with control characters (C0, DEL, and C1 as UTF-8) and invalid UTF-8 made
 * visible as \xNN, so a hostile string cannot move the cursor or rewrite the terminal. */
static void put_safe(FILE *f, const char *s, size_t len) {
        for (size_t i = 0; i < len;) {
                const unsigned char *p = (const unsigned char *) s + i;
                size_t n = *p < 0x80 ? 1 : json_utf8_char_len(p, len - i);

                if (n == 0 || *p < 0x20 || *p == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
                        fprintf(f, "\\x%02x", *p);
                        i++;
                        continue;
                }
                fwrite(p, 1, n, f);
                i += n;
        }
}

static void put_str(FILE *f, const char *s) {
        put_safe(f, s, strlen(s));
}

void render_put_str(FILE *f, const char *s) {
        put_safe(f, s ? s : "", s ? strlen(s) : 0);
}

static void label(FILE *f, const char *l) {
        fprintf(f, "%-*s", LABEL_WIDTH, l);
}

static const char *str(const vici_node *b, const char *path) {
        return vici_node_str(b, path);
}

static void put_time(FILE *f, const vici_node *b, const char *path) {
        uint64_t t;
        char buf[64];
        struct tm tm;
        time_t tt;

        if (vici_node_u64(b, path, &t) < 0)
                return;
        tt = (time_t) t;
        if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                return;
        fputs(buf, f);
}

static void put_duration_sec(FILE *f, uint64_t sec) {
        char buf[64];

        if (sec > DURATION_MAX_USEC / USEC_PER_SEC)
                fprintf(f, "%llus", (unsigned long long) sec);
        else
                fputs(duration_format(sec * USEC_PER_SEC, buf, sizeof(buf)), f);
}

static void render_tree_level(FILE *f, const vici_node *sec, unsigned depth) {
        for (const vici_node *n = sec->child; n; n = n->next) {
                fprintf(f, "%*s", (int) depth * 2, "");
                put_str(f, n->name ? n->name : "");
                switch (n->type) {
                case VICI_NODE_VALUE:
                        fputs(": ", f);
                        put_safe(f, n->value ? n->value : "", n->len);
                        fputc('\n', f);
                        break;
                case VICI_NODE_SECTION:
                        fputs(":\n", f);
                        render_tree_level(f, n, depth + 1);
                        break;
                case VICI_NODE_LIST:
                        fputs(":\n", f);
                        for (const vici_node *it = n->child; it; it = it->next) {
                                fprintf(f, "%*s- ", (int) (depth + 1) * 2, "");
                                put_safe(f, it->value ? it->value : "", it->len);
                                fputc('\n', f);
                        }
                        break;
                }
        }
}

void render_tree(FILE *f, const vici_node *body) {
        if (body)
                render_tree_level(f, body, 0);
}

static void render_status_charon(FILE *f, const vici_node *b) {
        const char *state = str(b, "charon.state"), *v;
        uint64_t u;

        if (!vici_node_get(b, "charon"))
                return;
        label(f, "Charon:");
        put_str(f, state ? state : "unknown");
        if ((v = str(b, "charon.socket"))) {
                fputs(" (", f);
                put_str(f, v);
                fputc(')', f);
        }
        if ((v = str(b, "charon.error"))) {
                fputs(": ", f);
                put_str(f, v);
        }
        fputc('\n', f);

        if (str(b, "charon.daemon") || str(b, "charon.version")) {
                label(f, "Daemon:");
                put_str(f, str(b, "charon.daemon") ?: "charon");
                if ((v = str(b, "charon.version"))) {
                        fputc(' ', f);
                        put_str(f, v);
                }
                if ((v = str(b, "charon.sysname"))) {
                        fputs(", ", f);
                        put_str(f, v);
                        if ((v = str(b, "charon.release"))) {
                                fputc(' ', f);
                                put_str(f, v);
                        }
                        if ((v = str(b, "charon.machine"))) {
                                fputc(' ', f);
                                put_str(f, v);
                        }
                }
                if (vici_node_u64(b, "charon.uptime", &u) >= 0) {
                        fputs(", up ", f);
                        put_duration_sec(f, u);
                }
                fputc('\n', f);
        }
}

static void render_status_sas(FILE *f, const vici_node *b) {
        const char *v;

        if ((v = str(b, "ikesas.total"))) {
                label(f, "IKE SAs:");
                put_str(f, v);
                fputs(" total", f);
                if ((v = str(b, "ikesas.half_open"))) {
                        fputs(", ", f);
                        put_str(f, v);
                        fputs(" half-open", f);
                }
                fputc('\n', f);
        }
        if ((v = str(b, "childsas.total"))) {
                label(f, "CHILD SAs:");
                put_str(f, v);
                fputc('\n', f);
        }
}

static void render_status_events(FILE *f, const vici_node *b) {
        static const char *const keys[] = { "connects",     "disconnects", "ike_updown",
                                            "child_updown", "log" };
        bool any = false;
        const char *v;
        char path[64];

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                (void) snprintf(path, sizeof(path), "events.%s", keys[i]);
                if (!(v = str(b, path)))
                        continue;
                if (!any)
                        label(f, "Events:");
                fputs(any ? ", " : "", f);
                put_str(f, v);
                fputc(' ', f);
                fputs(keys[i], f);
                any = true;
        }
        if (any)
                fputc('\n', f);
        if ((v = str(b, "events.last"))) {
                label(f, "Last event:");
                put_str(f, v);
                if (str(b, "events.last_time")) {
                        fputs(" at ", f);
                        put_time(f, b, "events.last_time");
                }
                fputc('\n', f);
        }
}

/* "Runbooks:   5 loaded, 1 running, 2 waiting for approval, …" and, when paused, why. */
static void render_status_runbooks(FILE *f, const vici_node *b) {
        static const struct {
                const char *key, *what;
        } counts[] = {
                { "loaded", "loaded" },
                { "running", "running" },
                { "waiting", "waiting for approval" },
                { "measures", "temporary measures in force" },
                { "breakers_open", "circuit breakers open" },
        };
        const char *v;
        char path[64];
        bool any = false;

        if (!vici_node_get(b, "runbooks"))
                return;
        label(f, "Runbooks:");
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                (void) snprintf(path, sizeof(path), "runbooks.%s", counts[i].key);
                if (!(v = str(b, path)))
                        continue;
                fputs(any ? ", " : "", f);
                put_str(f, v);
                fprintf(f, " %s", counts[i].what);
                any = true;
        }
        fputc('\n', f);
        if (strcmp(str(b, "runbooks.paused") ?: "no", "yes") == 0) {
                label(f, "");
                fputs("automatic remediation PAUSED: ", f);
                put_str(f, str(b, "runbooks.pause_reason") ?: "");
                fputc('\n', f);
        }
        if (str(b, "runbooks.notify_delivered")) {
                label(f, "Webhooks:");
                put_str(f, str(b, "runbooks.notify_delivered"));
                fputs(" delivered, ", f);
                put_str(f, str(b, "runbooks.notify_failed") ?: "0");
                fputs(" failed or dropped\n", f);
        }
}

/* A node this ikehealctl has no layout for (a newer agent's), on one line: a value as it is, a
 * section as "key value, …" with nested sections in braces, a list in brackets; nothing the
 * agent sent is lost. */
static void put_inline(FILE *f, const vici_node *n) {
        switch (n->type) {
        case VICI_NODE_VALUE:
                put_safe(f, n->value ? n->value : "", n->len);
                break;
        case VICI_NODE_SECTION:
                for (const vici_node *c = n->child; c; c = c->next) {
                        put_str(f, c->name ? c->name : "");
                        fputs(c->type == VICI_NODE_SECTION ? " {" : " ", f);
                        put_inline(f, c);
                        fputs(c->type == VICI_NODE_SECTION ? "}" : "", f);
                        fputs(c->next ? ", " : "", f);
                }
                break;
        case VICI_NODE_LIST:
                fputc('[', f);
                for (const vici_node *it = n->child; it; it = it->next) {
                        put_safe(f, it->value ? it->value : "", it->len);
                        fputs(it->next ? ", " : "", f);
                }
                fputc(']', f);
                break;
        }
}

/* Its key as the label: "webserver" → "Webserver:". */
static void render_status_other(FILE *f, const vici_node *n) {
        const char *name = n->name && n->name[0] ? n->name : "?"; /* the first byte is printed alone below */
        size_t len = strlen(name) + 1;

        if (name[0] >= 'a' && name[0] <= 'z')
                fputc(name[0] - 'a' + 'A', f);
        else
                put_safe(f, name, 1);
        put_str(f, name + 1);
        fputc(':', f);
        fprintf(f, "%*s", len < LABEL_WIDTH ? (int) (LABEL_WIDTH - len) : 1, "");
        put_inline(f, n);
        fputc('\n', f);
}

void render_status(FILE *f, const vici_node *b) {
        static const char *const known[] = { "version", "pid",     "uptime",          "started",
                                             "config",  "socket",  "reloads",         "reload_failures",
                                             "charon",  "ikesas",  "childsas",        "events", "runbooks" };
        const char *v;
        uint64_t u;

        if (!b)
                return;
        label(f, "Agent:");
        fputs("ikeheald", f);
        if ((v = str(b, "version"))) {
                fputc(' ', f);
                put_str(f, v);
        }
        if ((v = str(b, "pid"))) {
                fputs(", pid ", f);
                put_str(f, v);
        }
        fputc('\n', f);
        if (vici_node_u64(b, "uptime", &u) >= 0) {
                label(f, "Uptime:");
                put_duration_sec(f, u);
                if (str(b, "started")) {
                        fputs(" (since ", f);
                        put_time(f, b, "started");
                        fputc(')', f);
                }
                fputc('\n', f);
        }
        if ((v = str(b, "config"))) {
                label(f, "Config:");
                put_str(f, v);
                if (str(b, "reloads")) {
                        fputs(" (", f);
                        put_str(f, str(b, "reloads"));
                        fputs(" reloads", f);
                        if ((v = str(b, "reload_failures"))) {
                                fputs(", ", f);
                                put_str(f, v);
                                fputs(" rejected", f);
                        }
                        fputc(')', f);
                }
                fputc('\n', f);
        }
        if ((v = str(b, "socket"))) {
                label(f, "Control:");
                put_str(f, v);
                fputc('\n', f);
        }
        render_status_charon(f, b);
        render_status_sas(f, b);
        render_status_events(f, b);
        render_status_runbooks(f, b);

        for (const vici_node *n = b->child; n; n = n->next) {
                bool is_known = false;
                for (size_t i = 0; i < ELEMENTSOF(known) && n->name; i++)
                        if (strcmp(n->name, known[i]) == 0)
                                is_known = true;
                if (!is_known)
                        render_status_other(f, n);
        }
}

void render_reload(FILE *f, const vici_node *b) {
        const char *v = b ? vici_node_str(b, "config") : NULL;

        fputs("configuration reloaded", f);
        if (v) {
                fputs(" from ", f);
                put_str(f, v);
        }
        fputc('\n', f);
        /* the configuration's warnings, one per line (each line printed safely) */
        for (const char *l = b ? vici_node_str(b, "warnings") : NULL, *nl; l && *l; l = nl ? nl + 1 : NULL) {
                nl = strchr(l, '\n');
                put_safe(f, l, nl ? (size_t) (nl - l) : strlen(l));
                fputc('\n', f);
        }
}
