/* See notifier.h: the bodies webhooks receive. Everything that comes from outside (log text, peer
 * identities, runbook names) is escaped so the body is always valid JSON: quotes, backslashes
 * and control characters escaped, invalid UTF-8 replaced by U+FFFD, the text capped at
 * NOTIFY_TEXT_MAX bytes on a character boundary. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The inside of a JSON string: at most `max` bytes of s, cut on a character boundary. */
static void json_chars(FILE *f, const char *s, size_t max) {
        static const char esc[] = {['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r',
                                   ['\t'] = 't', ['\b'] = 'b',  ['\f'] = 'f'};

        for (size_t i = 0; s && s[i];) {
                unsigned char ch = (unsigned char) s[i];
                size_t l = utf8_len((const unsigned char *) s + i);

                if (i + (l ? l : 1) > max)
                        break;
                if (l == 0)
                        fputs("\\ufffd", f);
                else if (l > 1)
                        fwrite(s + i, 1, l, f);
                else if (ch < sizeof(esc) && esc[ch])
                        fprintf(f, "\\%c", esc[ch]);
                else if (ch < 0x20 || ch == 0x7f)
                        fprintf(f, "\\u%04x", ch);
                else
                        fputc(ch, f);
                i += l ? l : 1;
        }
}

static void json_member(FILE *f, const char *key, const char *value) {
        fprintf(f, ",\"%s\":\"", key);
        json_chars(f, value, SIZE_MAX);
        fputc('"', f);
}

char *notify_render(notify_format fmt, const char *host, const notify_message *m) {
        char *buf = NULL, when[32];
        size_t len = 0;
        struct tm tm;
        uint64_t usec = m->time_usec;
        FILE *f;

        if (usec == 0)
                usec = real_usec();
        time_t t = (time_t) (usec / USEC_PER_SEC);
        if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(when, sizeof(when), "1970-01-01T00:00:00Z");

        f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        if (fmt == NOTIFY_SLACK) {
                fputs("{\"text\":\"[ikeheal ", f);
                json_chars(f, host, SIZE_MAX);
                fputs("] ", f);
                json_chars(f, m->event, SIZE_MAX);
                if (m->runbook) {
                        fputs(": ", f);
                        json_chars(f, m->runbook, SIZE_MAX);
                }
                if (m->incident)
                        fprintf(f, " (incident %llu)", (unsigned long long) m->incident);
                fputs(": ", f);
                json_chars(f, m->text, NOTIFY_TEXT_MAX);
                fputs("\"}", f);
        } else {
                fputs("{\"source\":\"ikeheal\"", f);
                json_member(f, "host", host);
                json_member(f, "time", when);
                json_member(f, "event", m->event);
                if (m->incident)
                        fprintf(f, ",\"incident\":%llu", (unsigned long long) m->incident);
                if (m->runbook)
                        json_member(f, "runbook", m->runbook);
                if (m->grade)
                        json_member(f, "grade", m->grade);
                fputs(",\"text\":\"", f);
                json_chars(f, m->text, NOTIFY_TEXT_MAX);
                fputs("\"}", f);
        }
        if (ferror(f)) {
                fclose(f);
                free(buf);
                return NULL;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
