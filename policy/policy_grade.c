/* Grade raising by policy (see policy.h): a global pause, freeze windows, staffed hours and the
 * blast radius of a step. Each rule that actually raised the grade says so in `why`, with the
 * numbers, since an operator asked to approve something will first ask "why not automatic?". */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "policy/policy.h"
#include "rfc3339.h"

#define REASON_MAX 512u

/* Indexed as struct tm's tm_wday, as the bits of policy_hours.days are. */
static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static void why_add(char *why, size_t size, const char *reason) {
        size_t n;

        if (!why || size == 0)
                return;
        n = strnlen(why, size - 1);
        snprintf(why + n, size - n, "%s%s", n ? "; " : "", reason);
}

static grade raise_by(grade g, grade to, const char *reason, char *why, size_t size) {
        grade r = grade_raise(g, to);

        if (r != g)
                why_add(why, size, reason);
        return r;
}

/* Position 0 is Monday: ranges read the way people write them ("mon-fri", "sat,sun"). */
static bool has_day(unsigned days, unsigned pos) {
        return days & (1u << ((pos + 1) % 7));
}

static void format_days(unsigned days, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = 0;
        for (unsigned i = 0; i < 7; i++) {
                unsigned j = i;

                if (!has_day(days, i))
                        continue;
                while (j + 1 < 7 && has_day(days, j + 1))
                        j++;
                if (j - i >= 2) {
                        snprintf(buf + n, size - n, "%s%s-%s", n ? "," : "", day_names[(i + 1) % 7],
                                 day_names[(j + 1) % 7]);
                        n = strnlen(buf, size - 1);
                } else
                        for (unsigned k = i; k <= j; k++) {
                                snprintf(buf + n, size - n, "%s%s", n ? "," : "",
                                         day_names[(k + 1) % 7]);
                                n = strnlen(buf, size - 1);
                        }
                i = j;
        }
}

bool policy_in_hours(const policy_hours *h, uint64_t now_usec) {
        time_t t = (time_t) (now_usec / USEC_PER_SEC);
        struct tm tm;
        unsigned min;

        /* If the time cannot be broken down, nobody can say it is within hours: be strict. */
        if (!(h->utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
                return false;
        min = (unsigned) (tm.tm_hour * 60 + tm.tm_min);
        return (h->days & (1u << tm.tm_wday)) && min >= h->from_min && min < h->to_min;
}

grade policy_grade_at(const policy_config *p, grade base, bool paused, uint64_t now_usec, char *why,
                      size_t why_size) {
        char reason[REASON_MAX];
        grade g = base;

        if (why && why_size)
                why[0] = 0;
        if (paused)
                g = raise_by(g, GRADE_MANUAL, "remediation paused", why, why_size);
        for (size_t i = 0; i < p->n_freezes; i++) {
                const policy_freeze *f = &p->freezes[i];
                char stamp[32];

                if (now_usec < f->start_usec || now_usec >= f->end_usec)
                        continue;
                rfc3339_format(f->end_usec, stamp, sizeof(stamp));
                if (f->reason)
                        snprintf(reason, sizeof(reason), "freeze until %s (%s)", stamp, f->reason);
                else
                        snprintf(reason, sizeof(reason), "freeze until %s", stamp);
                g = raise_by(g, f->grade, reason, why, why_size);
        }
        if (p->hours.set && !policy_in_hours(&p->hours, now_usec)) {
                char days[64];

                format_days(p->hours.days, days, sizeof(days));
                snprintf(reason, sizeof(reason), "outside staffed hours (%s %02u:%02u-%02u:%02u)",
                         days, p->hours.from_min / 60, p->hours.from_min % 60, p->hours.to_min / 60,
                         p->hours.to_min % 60);
                g = raise_by(g, p->hours.outside, reason, why, why_size);
        }
        return g;
}

grade policy_grade_blast(const policy_config *p, grade base, uint32_t sas, char *why,
                         size_t why_size) {
        char reason[128];

        if (why && why_size)
                why[0] = 0;
        if (sas <= p->blast_max_sas)
                return base;
        snprintf(reason, sizeof(reason),
                 "drops %" PRIu32 " established SAs (more than policy blast_radius.max_sas %" PRIu32
                 ")",
                 sas, p->blast_max_sas);
        return raise_by(base, GRADE_APPROVE, reason, why, why_size);
}
