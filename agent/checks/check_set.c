/* See check_set.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/check_set.h"

struct check_set {
        check **checks;
        size_t n;
};

int check_set_new(check_set **ret, const check_env *env, const config_check *checks, size_t n,
                  check_observer observer, void *userdata, ydiag *d) {
        _cleanup_(check_set_freep) check_set *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->checks = calloc(n ? n : 1, sizeof(*s->checks));
        if (!s->checks)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const config_check *cc = &checks[i];
                check *c = NULL;

                r = check_new(&c, env, cc->name, cc->ops, &cc->sched, observer, userdata);
                if (r < 0)
                        return r;
                s->checks[s->n++] = c;
                r = check_parse_params(c, cc->params, d);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

check_set *check_set_free(check_set *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                check_free(s->checks[i]);
        free(s->checks);
        free(s);
        return NULL;
}

int check_set_start(check_set *s) {
        int r = 0;
        for (size_t i = 0; i < s->n; i++) {
                int k = check_start(s->checks[i]);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

size_t check_set_size(const check_set *s) {
        return s ? s->n : 0;
}

check *check_set_get(check_set *s, size_t i) {
        return i < s->n ? s->checks[i] : NULL;
}

check *check_set_find(check_set *s, const char *name) {
        for (size_t i = 0; s && i < s->n; i++)
                if (strcmp(check_name(s->checks[i]), name) == 0)
                        return s->checks[i];
        return NULL;
}

void check_set_trigger_all(check_set *s) {
        for (size_t i = 0; s && i < s->n; i++)
                (void) check_trigger(s->checks[i]);
}

void check_set_mark_good(check_set *s) {
        for (size_t i = 0; s && i < s->n; i++)
                check_mark_good(s->checks[i]);
}

void check_set_forget(check_set *s) {
        for (size_t i = 0; s && i < s->n; i++)
                check_forget(s->checks[i]);
}

size_t check_set_reported(const check_set *s) {
        size_t n = 0;
        for (size_t i = 0; s && i < s->n; i++)
                if (check_last_finding(s->checks[i]))
                        n++;
        return n;
}
