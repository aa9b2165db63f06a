/* See byte_size.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "byte_size.h"

static const char units[] = "KMGT";

int byte_size_parse(const char *s, uint64_t *ret) {
        uint64_t n = 0, mul = 1;
        const char *p = s;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > BYTE_SIZE_MAX / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t) (*p - '0');
        }
        if (*p) {
                const char *u = strchr(units, *p);
                if (!u || !*u)
                        return -EINVAL;
                mul = 1ULL << (10 * (u - units + 1));
                p++;
                if (strcmp(p, "") != 0 && strcmp(p, "B") != 0 && strcmp(p, "iB") != 0)
                        return -EINVAL;
        }
        if (n > BYTE_SIZE_MAX / mul)
                return -ERANGE;
        *ret = n * mul;
        return 0;
}

char *byte_size_format(uint64_t n, char *buf, size_t size) {
        int u = -1;
        while (n && u < 3 && n % 1024 == 0) {
                n /= 1024;
                u++;
        }
        if (u < 0)
                (void) snprintf(buf, size, "%llu", (unsigned long long) n);
        else
                (void) snprintf(buf, size, "%llu%c", (unsigned long long) n, units[u]);
        return buf;
}
