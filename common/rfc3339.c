/* See rfc3339.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "rfc3339.h"

static int digits(const char **p, unsigned n, unsigned *ret) {
        unsigned v = 0;

        for (unsigned i = 0; i < n; i++, (*p)++) {
                if (**p < '0' || **p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (**p - '0');
        }
        *ret = v;
        return 0;
}

static int expect(const char **p, const char *any) {
        if (**p == 0 || !strchr(any, **p))
                return -EINVAL;
        (*p)++;
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil); done
 * by hand because timegm() is not standard and mktime() would apply the agent's TZ. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

/* RFC 3339 date-time: 2026-12-20T00:00:00Z, optional fraction, Z or ±HH:MM. */
int rfc3339_parse(const char *s, uint64_t *ret_usec) {
        static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100000;
        const char *p = s;
        int sign = 0;
        int64_t t;

        if (digits(&p, 4, &y) < 0 || expect(&p, "-") < 0 || digits(&p, 2, &mo) < 0 ||
            expect(&p, "-") < 0 || digits(&p, 2, &d) < 0 || expect(&p, "Tt") < 0 ||
            digits(&p, 2, &h) < 0 || expect(&p, ":") < 0 || digits(&p, 2, &mi) < 0 ||
            expect(&p, ":") < 0 || digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                if (*++p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                        frac += (unsigned) (*p - '0') * scale; /* past µs, scale is 0 */
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                sign = *p++ == '+' ? 1 : -1;
                if (digits(&p, 2, &oh) < 0 || expect(&p, ":") < 0 || digits(&p, 2, &om) < 0)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
            mi > 59 || sec > 60 || oh > 23 || om > 59)
                return -EINVAL;
        if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
                return -EINVAL;
        t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
            sign * (int) (oh * 3600 + om * 60);
        if (t < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) t * USEC_PER_SEC + frac;
        return 0;
}

char *rfc3339_format(uint64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "?");
        return buf;
}
