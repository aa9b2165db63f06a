/* See check_state.h. */
#include "agent/checks/check_state.h"

void check_state_init(check_state *s, unsigned rise, unsigned fall) {
        *s = (check_state){
                .rise = rise ? rise : 1,
                .fall = fall ? fall : 1,
                .reported = CHECK_UNKNOWN,
                .pending = CHECK_UNKNOWN,
        };
}

bool check_state_feed(check_state *s, check_status raw) {
        bool bad = raw != CHECK_OK;

        s->history = (s->history << 1) | (bad ? 1u : 0u);
        if (s->n_results < 32)
                s->n_results++;

        if (s->n_results == 1) {
                s->reported = s->pending = raw;
                s->streak = 1;
                return true;
        }

        /* Count the streak of the same class (ok vs not ok); a not-ok streak may mix WARN,
         * FAIL and UNKNOWN, and reports the latest one. */
        if ((raw != CHECK_OK) == (s->pending != CHECK_OK))
                s->streak++;
        else
                s->streak = 1;
        s->pending = raw;

        if (raw == s->reported)
                return false;
        if (raw == CHECK_OK) {
                if (s->streak < s->rise)
                        return false;
        } else if (s->reported == CHECK_OK || s->reported == CHECK_UNKNOWN) {
                /* leaving OK needs `fall` in a row; leaving the initial UNKNOWN too */
                if (s->reported == CHECK_OK && s->streak < s->fall)
                        return false;
        }
        /* among non-ok statuses (WARN ↔ FAIL ↔ UNKNOWN) the change is reported at once */
        s->reported = raw;
        return true;
}

unsigned check_state_flips(const check_state *s) {
        unsigned n = s->n_results, flips = 0;

        for (unsigned i = 1; i < n; i++)
                if (((s->history >> i) & 1u) != ((s->history >> (i - 1)) & 1u))
                        flips++;
        return flips;
}
