/* See finding_wire.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/finding_wire.h"

#define MAGIC "IHF1"
#define MAGIC_SIZE 4u

typedef struct out {
        char *buf;
        size_t size, cap;
        bool failed;
} out;

static void put(out *o, const void *d, size_t n) {
        if (o->failed)
                return;
        if (o->size + n > o->cap) {
                size_t cap = o->cap ? o->cap : 1024;
                char *b;
                while (cap < o->size + n)
                        cap *= 2;
                b = realloc(o->buf, cap);
                if (!b) {
                        o->failed = true;
                        return;
                }
                o->buf = b;
                o->cap = cap;
        }
        memcpy(o->buf + o->size, d, n);
        o->size += n;
}

static void put_u32(out *o, uint32_t v) {
        uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
        put(o, b, sizeof(b));
}

static void put_text(out *o, const char *s) {
        size_t n = s ? strlen(s) : 0;
        put_u32(o, (uint32_t) n);
        put(o, s, n);
}

int finding_pack(const finding *f, char **ret, size_t *ret_size) {
        out o = {};
        uint8_t status = (uint8_t) f->status;

        put(&o, MAGIC, MAGIC_SIZE);
        put(&o, &status, 1);
        put_u32(&o, (uint32_t) f->n_evidence_dropped);
        if (f->summary) {
                put(&o, "T", 1);
                put_text(&o, f->summary);
        }
        for (size_t i = 0; i < f->n_facts; i++) {
                put(&o, "F", 1);
                put_text(&o, f->facts[i].key);
                put_text(&o, f->facts[i].value);
        }
        for (size_t i = 0; i < f->n_evidence; i++) {
                put(&o, "E", 1);
                put_text(&o, f->evidence[i]);
        }
        if (o.failed) {
                free(o.buf);
                return -ENOMEM;
        }
        *ret = o.buf;
        *ret_size = o.size;
        return 0;
}

typedef struct in {
        const uint8_t *p;
        size_t left;
} in;

static bool get_u32(in *i, uint32_t *v) {
        if (i->left < 4)
                return false;
        *v = (uint32_t) i->p[0] | (uint32_t) i->p[1] << 8 | (uint32_t) i->p[2] << 16 | (uint32_t) i->p[3] << 24;
        i->p += 4;
        i->left -= 4;
        return true;
}

/* A text of at most FINDING_TEXT_MAX bytes and no NUL, copied into buf (FINDING_TEXT_MAX + 1). */
static bool get_text(in *i, char *buf) {
        uint32_t n;

        if (!get_u32(i, &n) || n > FINDING_TEXT_MAX || n > i->left || memchr(i->p, 0, n))
                return false;
        memcpy(buf, i->p, n);
        buf[n] = 0;
        i->p += n;
        i->left -= n;
        return true;
}

int finding_unpack(const void *buf, size_t size, finding **ret) {
        _cleanup_(finding_freep) finding *f = NULL;
        char a[FINDING_TEXT_MAX + 1], b[FINDING_TEXT_MAX + 1];
        in i = { .p = buf, .left = size };
        uint32_t dropped;
        uint8_t status;
        int r;

        if (size < MAGIC_SIZE + 1 + 4 || memcmp(buf, MAGIC, MAGIC_SIZE) != 0)
                return -EBADMSG;
        i.p += MAGIC_SIZE;
        i.left -= MAGIC_SIZE;
        status = *i.p++;
        i.left--;
        if (status >= _CHECK_STATUS_MAX || !get_u32(&i, &dropped))
                return -EBADMSG;
        r = finding_new(&f);
        if (r < 0)
                return r;
        f->status = (check_status) status;
        f->n_evidence_dropped = dropped;
        /* in the writer's order: the summary, the facts, the evidence */
        for (int stage = 0; i.left > 0;) {
                uint8_t tag = *i.p++;
                int at = tag == 'T' ? 1 : tag == 'F' ? 2 : 3;

                i.left--;
                if (at < stage || (at == 1 && stage == 1))
                        return -EBADMSG;
                stage = at;
                switch (tag) {
                case 'T':
                        if (f->summary || !get_text(&i, a))
                                return -EBADMSG;
                        r = finding_set(f, (check_status) status, "%s", a);
                        break;
                case 'F':
                        if (!get_text(&i, a) || !get_text(&i, b) || !a[0] || finding_fact_get(f, a))
                                return -EBADMSG;
                        r = finding_fact_set(f, a, "%s", b);
                        if (r == -E2BIG)
                                return -EBADMSG;
                        break;
                case 'E':
                        if (f->n_evidence >= FINDING_EVIDENCE_MAX || !get_text(&i, a))
                                return -EBADMSG;
                        r = finding_evidence(f, "%s", a);
                        break;
                default:
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(f);
        return 0;
}
