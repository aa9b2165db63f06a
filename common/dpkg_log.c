/* Reading dpkg's log for the packages a run changed (common/dpkg_log.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dpkg_log.h"

#define FIELD_MAX 128u

typedef struct pkg {
        char name[FIELD_MAX], version[FIELD_MAX], action[16];
} pkg;

/* The next blank-separated field of line[*at..end) into buf (shorter than FIELD_MAX); false
 * when there is none or it does not fit. */
static bool field(const char *line, size_t end, size_t *at, char *buf) {
        size_t i = *at, start;

        while (i < end && line[i] == ' ')
                i++;
        start = i;
        while (i < end && line[i] != ' ')
                i++;
        if (i == start || i - start >= FIELD_MAX)
                return false;
        memcpy(buf, line + start, i - start);
        buf[i - start] = 0;
        *at = i;
        return true;
}

static bool printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x21 || (unsigned char) *s > 0x7e)
                        return false;
        return true;
}

/* One line: a package action, or false. */
static bool parse_line(const char *line, size_t end, pkg *ret) {
        static const char *const actions[] = { "install", "upgrade", "remove", "purge" };
        char date[FIELD_MAX], time[FIELD_MAX], action[FIELD_MAX], old[FIELD_MAX];
        size_t at = 0;
        bool known = false;

        if (!field(line, end, &at, date) || !field(line, end, &at, time) || !field(line, end, &at, action))
                return false;
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
                known = known || strcmp(action, actions[i]) == 0;
        if (!known || strlen(date) != 10 || date[4] != '-' || strlen(time) != 8 || time[2] != ':')
                return false;
        if (!field(line, end, &at, ret->name) || !field(line, end, &at, old) || !field(line, end, &at, ret->version))
                return false;
        if (!printable(ret->name) || !printable(ret->version))
                return false;
        (void) snprintf(ret->action, sizeof(ret->action), "%.15s", action);
        /* a removal's new version is "<none>": the old one says what went */
        if (strcmp(ret->version, "<none>") == 0 && printable(old))
                (void) snprintf(ret->version, sizeof(ret->version), "%s", old);
        return true;
}

int dpkg_log_packages(const char *buf, size_t len, char *out, size_t size, size_t *ret_n) {
        pkg pkgs[DPKG_LOG_PACKAGES_MAX];
        size_t n = 0, w = 0, start = 0;
        bool more = false;

        if (size == 0)
                return -EINVAL;
        out[0] = 0;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && buf[i] != '\n')
                        continue;
                pkg p;
                if (parse_line(buf + start, i - start, &p)) {
                        size_t k = 0;
                        while (k < n && strcmp(pkgs[k].name, p.name) != 0)
                                k++;
                        if (k < n)
                                pkgs[k] = p;
                        else if (n < DPKG_LOG_PACKAGES_MAX)
                                pkgs[n++] = p;
                        else
                                more = true;
                }
                start = i + 1;
        }
        for (size_t k = 0; k < n; k++) {
                int c = snprintf(out + w, size - w, "%s%s %s (%s)", k ? ", " : "", pkgs[k].name, pkgs[k].version, pkgs[k].action);
                if (c < 0 || (size_t) c >= size - w) {
                        more = true;
                        out[w] = 0;
                        break;
                }
                w += (size_t) c;
        }
        if (more && size - w > 4)
                (void) snprintf(out + w, size - w, "%s…", w ? ", " : "");
        if (ret_n)
                *ret_n = n;
        return 0;
}
