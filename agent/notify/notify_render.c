/* See notifier.h: the bodies webhooks receive, written by json-c (the project's one JSON library),
 * so the body is always valid JSON whatever comes from outside (log text, peer identities,
 * runbook names). JSON wants valid UTF-8, which json-c does not check: invalid bytes are
 * replaced by U+FFFD first, and the text capped at NOTIFY_TEXT_MAX bytes on a character
 * boundary. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/notify/notifier.h"
#include "now.h"

/* Length of the valid UTF-8 sequence at s (1…4), or 0: webhooks want valid JSON, and JSON wants
 * valid UTF-8, whatever a log line or a peer's identity put into the text. */
static size_t utf8_len(const unsigned char *s) {
        uint32_t c;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, c = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, c = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, c = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
            (n == 4 && (c < 0x10000 || c > 0x10ffff)))
                return 0;
        return n;
}

/* s with every invalid UTF-8 byte replaced by U+FFFD, at most `max` bytes, cut on a character
 * boundary (malloc'ed; NULL on -ENOMEM). */
static char *utf8_clean(const char *s, size_t max) {
        size_t n = 0, cap = 64;
        char *out = malloc(cap);

        if (!out)
                return NULL;
        for (size_t i = 0; s && s[i];) {
                size_t l = utf8_len((const unsigned char *) s + i);
                const char *src = l ? s + i : "\xef\xbf\xbd";
                size_t w = l ? l : 3;
                if (n + w > max)
                        break;
                if (n + w + 1 > cap) {
                        char *m = realloc(out, cap = 2 * (n + w + 1));
                        if (!m) {
                                free(out);
                                return NULL;
                        }
                        out = m;
                }
                memcpy(out + n, src, w);
                n += w;
                i += l ? l : 1;
        }
        out[n] = 0;
        return out;
}

/* Adds key: the cleaned value (a string member); false on -ENOMEM. */
static bool add_str(json_object *o, const char *key, const char *value, size_t max) {
        char *clean = utf8_clean(value, max);
        json_object *v = clean ? json_object_new_string(clean) : NULL;

        free(clean);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return false;
        }
        return true;
}

/* What the incident is: class, scope, severity, reason, peers, and its run (JSON members). */
static bool add_incident(json_object *o, const notify_message *m) {
        json_object *peers, *run;

        if (!m->class_name)
                return true;
        if (!add_str(o, "class", m->class_name, 64) || (m->scope && !add_str(o, "scope", m->scope, 64)) ||
            (m->severity && !add_str(o, "severity", m->severity, 64)) ||
            (m->reason && !add_str(o, "reason", m->reason, 256)))
                return false;
        if (!(peers = json_object_new_array()) || json_object_object_add(o, "peers", peers) < 0) {
                json_object_put(peers);
                return false;
        }
        for (size_t i = 0; i < m->n_peers; i++) {
                char *clean = utf8_clean(m->peers[i], 512);
                json_object *v = clean ? json_object_new_string(clean) : NULL;
                free(clean);
                if (!v || json_object_array_add(peers, v) < 0) {
                        json_object_put(v);
                        return false;
                }
        }
        if (!m->run)
                return true;
        if (!(run = json_object_new_object()) || json_object_object_add(o, "run", run) < 0) {
                json_object_put(run);
                return false;
        }
        return json_object_object_add(run, "id", json_object_new_uint64(m->run)) >= 0 &&
               (!m->run_runbook || add_str(run, "runbook", m->run_runbook, 256)) &&
               (!m->run_state || add_str(run, "state", m->run_state, 64));
}

/* For people: "class/scope severity (reason), peers a, b; run 7 of RUNBOOK: STATE" (malloc'ed;
 * "" when the message is not about an incident). */
static char *incident_line(const notify_message *m) {
        char *s = NULL, *p = NULL, *run = NULL;
        size_t len = 0;

        if (!m->class_name)
                return strdup("");
        for (size_t i = 0; i < m->n_peers; i++)
                len += strlen(m->peers[i]) + 2;
        if (!(p = calloc(1, len + 1)))
                return NULL;
        for (size_t i = 0; i < m->n_peers; i++) {
                if (i)
                        strcat(p, ", ");
                strcat(p, m->peers[i]);
        }
        if (m->run && asprintf(&run, "; run %llu of %s: %s", (unsigned long long) m->run, m->run_runbook ?: "?",
                               m->run_state ?: "?") < 0)
                run = NULL;
        if (asprintf(&s, " [%s/%s %s (%s)%s%s%s]", m->class_name, m->scope ?: "?", m->severity ?: "?",
                     m->reason ?: "?", *p ? ", peers " : "", p, run ?: "") < 0)
                s = NULL;
        free(p);
        free(run);
        return s;
}

char *notify_render(notify_format fmt, const char *host, const notify_message *m) {
        char when[32], *text = NULL, *out = NULL;
        struct tm tm;
        uint64_t usec = m->time_usec;
        json_object *o = json_object_new_object();
        bool ok = o != NULL;

        if (usec == 0)
                usec = real_usec();
        time_t t = (time_t) (usec / USEC_PER_SEC);
        if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(when, sizeof(when), "1970-01-01T00:00:00Z");

        if (ok && fmt == NOTIFY_SLACK) {
                /* one line for people: "[ikeheal HOST] EVENT: RUNBOOK (incident N): TEXT" */
                char *body = utf8_clean(m->text, NOTIFY_TEXT_MAX), inc[48] = "", *what = incident_line(m);
                if (m->incident)
                        (void) snprintf(inc, sizeof(inc), " (incident %llu)", (unsigned long long) m->incident);
                if (!body || !what ||
                    asprintf(&text, "[ikeheal %s] %s%s%s%s%s: %s", host, m->event, m->runbook ? ": " : "",
                             m->runbook ?: "", inc, what, body) < 0) {
                        text = NULL;
                        ok = false;
                }
                free(body);
                free(what);
                ok = ok && add_str(o, "text", text, SIZE_MAX);
        } else if (ok) {
                ok = add_str(o, "source", "ikeheal", SIZE_MAX) && add_str(o, "host", host, SIZE_MAX) &&
                     add_str(o, "time", when, SIZE_MAX) && add_str(o, "event", m->event, SIZE_MAX);
                if (ok && m->incident)
                        ok = json_object_object_add(o, "incident", json_object_new_uint64(m->incident)) >= 0;
                if (ok && m->runbook)
                        ok = add_str(o, "runbook", m->runbook, SIZE_MAX);
                if (ok && m->grade)
                        ok = add_str(o, "grade", m->grade, SIZE_MAX);
                ok = ok && add_incident(o, m) && add_str(o, "text", m->text, NOTIFY_TEXT_MAX);
        }
        if (ok) {
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                out = s ? strdup(s) : NULL;
        }
        free(text);
        json_object_put(o);
        return out;
}
