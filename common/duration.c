/* See duration.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "macro.h"

static const struct {
        const char *suffix;
        uint64_t usec;
} units[] = {
        /* longest suffix first where one is a prefix of another ("ms" before "m") */
        { "ms", 1000ULL },
        { "us", 1ULL },
        { "s", 1000000ULL },
        { "m", 60ULL * 1000000ULL },
        { "h", 3600ULL * 1000000ULL },
        { "d", 86400ULL * 1000000ULL },
};

int duration_parse(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;

        if (!s || !*s)
                return -EINVAL;
        while (*s) {
                uint64_t v = 0;
                size_t i, digits = 0;

                while (*s >= '0' && *s <= '9') {
                        if (v > DURATION_MAX_USEC)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (*s - '0');
                        s++;
                        digits++;
                }
                if (digits == 0)
                        return -EINVAL;
                for (i = 0; i < ELEMENTSOF(units); i++) {
                        size_t l = strlen(units[i].suffix);
                        if (strncmp(s, units[i].suffix, l) == 0 &&
                            !(s[l] >= 'a' && s[l] <= 'z')) {
                                s += l;
                                break;
                        }
                }
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                if (v > DURATION_MAX_USEC / units[i].usec)
                        return -ERANGE;
                total += v * units[i].usec;
                if (total > DURATION_MAX_USEC)
                        return -ERANGE;
        }
        *ret_usec = total;
        return 0;
}

char *duration_format(uint64_t usec, char *buf, size_t size) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } order[] = { { "d", 86400000000ULL }, { "h", 3600000000ULL }, { "m", 60000000ULL },
                      { "s", 1000000ULL },     { "ms", 1000ULL },      { "us", 1ULL } };
        size_t n = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        if (usec == 0) {
                (void) snprintf(buf, size, "0s");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(order) && usec > 0; i++) {
                uint64_t q = usec / order[i].usec;
                if (q == 0)
                        continue;
                usec -= q * order[i].usec;
                int k = snprintf(buf + n, size - n, "%llu%s", (unsigned long long) q,
                                 order[i].suffix);
                if (k < 0 || (size_t) k >= size - n)
                        break;
                n += (size_t) k;
        }
        return buf;
}
