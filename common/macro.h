/* Small helpers every file may use: cleanup attributes, ownership transfer, array sizes.
 * Modelled on systemd's conventions: a _free() function takes NULL and
 * returns NULL, so `p = foo_free(p);` is always safe. */
#pragma once

#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Take ownership of a pointer out of a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _tp_ = (p);    \
                (p) = NULL;                  \
                _tp_;                        \
        })

#define TAKE_FD(fd)                          \
        ({                                   \
                int _tf_ = (fd);             \
                (fd) = -1;                   \
                _tf_;                        \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline size_t min_size(size_t a, size_t b) {
        return a < b ? a : b;
}

static inline size_t max_size(size_t a, size_t b) {
        return a > b ? a : b;
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                (void) close(*fd);
}

/* Declare a cleanup function for a type with a `type *name_free(type *)` destructor. */
#define DEFINE_FREE_FUNC(type, func)                 \
        static inline void func##p(type **p) {       \
                if (*p)                              \
                        (void) func(*p);             \
        }

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define NSEC_PER_USEC 1000ULL
