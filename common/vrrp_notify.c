/* See vrrp_notify.h. The grammar is keepalived's: TYPE SP '"' NAME '"' SP STATE [SP PRIORITY].
 * Names are printable ASCII without quotes or backslashes (keepalived writes them unescaped,
 * so a quote inside could not be told from the end); states are the closed set keepalived
 * writes. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"
#include "vrrp_notify.h"

static const char *const state_names[_VRRP_STATE_MAX] = {
        [VRRP_UNKNOWN] = "unknown",  [VRRP_MASTER] = "MASTER", [VRRP_BACKUP] = "BACKUP",
        [VRRP_FAULT] = "FAULT",      [VRRP_STOP] = "STOP",     [VRRP_DELETED] = "DELETED",
        [VRRP_MASTER_RX_LOWER_PRI] = "MASTER_RX_LOWER_PRI",
};

const char *vrrp_state_to_string(vrrp_state s) {
        return s >= 0 && s < _VRRP_STATE_MAX ? state_names[s] : "unknown";
}

/* The token at *pos up to a space or the end; advances past it. */
static size_t token(const char *line, size_t len, size_t *pos) {
        size_t start = *pos;
        while (*pos < len && line[*pos] != ' ')
                (*pos)++;
        return *pos - start;
}

static bool token_is(const char *t, size_t n, const char *word) {
        return n == strlen(word) && memcmp(t, word, n) == 0;
}

static int fail(size_t *ret_col, size_t pos) {
        if (ret_col)
                *ret_col = pos + 1;
        return -EINVAL;
}

int vrrp_notify_parse(const char *line, size_t len, vrrp_event *ret, size_t *ret_col) {
        vrrp_event ev = { .priority = -1 };
        size_t pos = 0, n, start;
        bool found = false;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len > VRRP_LINE_MAX)
                return fail(ret_col, VRRP_LINE_MAX);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) line[i] < 0x20 || (unsigned char) line[i] > 0x7e)
                        return fail(ret_col, i);

        n = token(line, len, &pos);
        if (token_is(line, n, "INSTANCE"))
                ev.object = VRRP_INSTANCE;
        else if (token_is(line, n, "GROUP"))
                ev.object = VRRP_GROUP;
        else if (token_is(line, n, "VS") || token_is(line, n, "RS"))
                return -EOPNOTSUPP;
        else
                return fail(ret_col, 0);

        if (pos >= len || line[pos] != ' ' || pos + 1 >= len || line[pos + 1] != '"')
                return fail(ret_col, pos);
        pos += 2;
        start = pos;
        while (pos < len && line[pos] != '"') {
                if (line[pos] == '\\')
                        return fail(ret_col, pos);
                pos++;
        }
        if (pos >= len || pos == start || pos - start > VRRP_NAME_MAX)
                return fail(ret_col, pos >= len ? len : start);
        memcpy(ev.name, line + start, pos - start);
        ev.name[pos - start] = 0;
        pos++;

        if (pos >= len || line[pos] != ' ')
                return fail(ret_col, pos);
        pos++;
        start = pos;
        n = token(line, len, &pos);
        for (size_t s = VRRP_MASTER; s < _VRRP_STATE_MAX; s++)
                if (token_is(line + start, n, state_names[s])) {
                        ev.state = (vrrp_state) s;
                        found = true;
                }
        if (!found)
                return fail(ret_col, start);

        if (pos < len) {
                unsigned v = 0;
                pos++; /* the space */
                start = pos;
                if (pos >= len)
                        return fail(ret_col, pos);
                for (; pos < len; pos++) {
                        if (line[pos] < '0' || line[pos] > '9' || pos - start >= 3)
                                return fail(ret_col, pos);
                        v = v * 10 + (unsigned) (line[pos] - '0');
                }
                if (v > 255)
                        return fail(ret_col, start);
                ev.priority = (int) v;
        }
        *ret = ev;
        return 0;
}
