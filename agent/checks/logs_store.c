/* See logs_store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/logs_store.h"
#include "atomic_file.h"
#include "macro.h"

#define MAGIC "ikeheal-logs-peers 1\n"

static uint64_t to_real(uint64_t mono, uint64_t now_mono, uint64_t now_real) {
        return mono >= now_mono ? now_real : now_real - (now_mono - mono);
}

static uint64_t to_mono(uint64_t real, uint64_t now_mono, uint64_t now_real) {
        uint64_t ago = real >= now_real ? 0 : now_real - real;
        return ago >= now_mono ? 1 : now_mono - ago;
}

int logs_store_save(const char *path, const logs_tally *t, uint64_t now_mono, uint64_t now_real) {
        _cleanup_(freep) char *buf = malloc(LOGS_STORE_MAX);
        size_t used;

        if (!buf)
                return -ENOMEM;
        used = (size_t) snprintf(buf, LOGS_STORE_MAX, MAGIC);
        for (size_t k = 1; k < _FAULT_CLASS_MAX; k++)
                for (size_t i = 0; i < t->cls[k].n_top; i++) {
                        const logs_tally_peer *p = &t->cls[k].top[i];
                        if (!p->sticky)
                                continue;
                        int n = snprintf(buf + used, LOGS_STORE_MAX - used, "%s %u %llu %llu %llu %llu %s %s\n",
                                         fault_class_to_string((fault_class) k), p->event,
                                         (unsigned long long) (p->count - p->err), /* the certain part */
                                         (unsigned long long) to_real(p->first, now_mono, now_real),
                                         (unsigned long long) to_real(p->last, now_mono, now_real),
                                         (unsigned long long) p->gap_max, p->addr[0] ? p->addr : "-",
                                         p->id[0] ? p->id : "-");
                        if (n < 0 || (size_t) n >= LOGS_STORE_MAX - used)
                                return -E2BIG;
                        used += (size_t) n;
                }
        return atomic_file_write(path, buf, used, 0600);
}

/* One blank-separated field [*p, …) into out (size incl. NUL); advances *p. */
static int field(const char **p, const char *end, char *out, size_t size) {
        const char *s = *p;
        size_t n = 0;

        while (s < end && *s != ' ') {
                if (n + 1 >= size || (unsigned char) *s <= 0x20 || *s == 0x7f)
                        return -EINVAL;
                out[n++] = *s++;
        }
        if (n == 0)
                return -EINVAL;
        out[n] = 0;
        *p = s < end ? s + 1 : s;
        return 0;
}

static int number(const char **p, const char *end, uint64_t *ret) {
        char b[24], *e;
        int r = field(p, end, b, sizeof(b));
        if (r < 0 || b[0] < '0' || b[0] > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(b, &e, 10);
        if (errno || *e)
                return -EINVAL;
        *ret = v;
        return 0;
}

int logs_store_parse_line(const char *line, size_t len, fault_class *ret_cls, logs_tally_peer *ret) {
        const char *p = line, *end = line + len;
        logs_tally_peer e = { .sticky = true };
        char cls[32];
        uint64_t ev;
        fault_class c;

        if (field(&p, end, cls, sizeof(cls)) < 0 || fault_class_from_string(cls, &c) < 0 || c == FAULT_NONE ||
            number(&p, end, &ev) < 0 || ev > 255 || number(&p, end, &e.count) < 0 ||
            number(&p, end, &e.first) < 0 || number(&p, end, &e.last) < 0 || e.first > e.last ||
            number(&p, end, &e.gap_max) < 0 || field(&p, end, e.addr, sizeof(e.addr)) < 0 ||
            field(&p, end, e.id, sizeof(e.id)) < 0 || p != end)
                return -EINVAL;
        if (strcmp(e.addr, "-") == 0)
                e.addr[0] = 0;
        if (strcmp(e.id, "-") == 0)
                e.id[0] = 0;
        if (!e.addr[0] && !e.id[0])
                return -EINVAL;
        e.event = (unsigned) ev;
        *ret_cls = c;
        *ret = e;
        return 0;
}

int logs_store_load(const char *path, logs_tally *t, uint64_t now_mono, uint64_t now_real, size_t *ret_bad) {
        _cleanup_(freep) char *buf = NULL;
        size_t len, bad = 0;
        int r, n = 0;

        r = atomic_file_read(path, LOGS_STORE_MAX, &buf, &len);
        if (r < 0)
                return r;
        if (len < strlen(MAGIC) || memcmp(buf, MAGIC, strlen(MAGIC)) != 0)
                return -EBADMSG;
        for (const char *p = buf + strlen(MAGIC), *end = buf + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = (size_t) ((nl ? nl : end) - p);
                logs_tally_peer e;
                fault_class c;
                if (l && logs_store_parse_line(p, l, &c, &e) >= 0) {
                        e.first = to_mono(e.first, now_mono, now_real);
                        e.last = to_mono(e.last, now_mono, now_real);
                        logs_tally_restore(t, c, &e);
                        n++;
                } else if (l)
                        bad++;
                p = nl ? nl + 1 : end;
        }
        if (ret_bad)
                *ret_bad = bad;
        return n;
}
