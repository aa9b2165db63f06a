/* The values of the fleet's drill keys: the schedule (a YAML or JSON sequence bound exactly as
 * drills.schedule; all or nothing; errors at line:col of the value; drill names fit for an etcd
 * key; bounded size) and a drill's record of its last start ("UNIX_SECONDS GATEWAY"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/drill_config.h"
#include "agent/fleet/fleet.h"
#include "now.h"
#include "tap.h"

static int parse(const char *text, drill_schedule **v, size_t *n, char **msgs) {
        ydiag d;
        int r;

        ydiag_init(&d, "sched");
        r = drill_schedule_parse(text, strlen(text), v, n, &d);
        *msgs = ydiag_join(&d);
        ydiag_done(&d);
        return r;
}

int main(void) {
        drill_schedule *v = NULL;
        size_t n = 0;
        char *m = NULL, gw[80], *big;
        uint64_t t;

        CHECK(parse("- drill: fd\n  every: 1h\n  window: {days: [sun, sat], from: \"02:00\", to: \"24:00\", timezone: utc}\n"
                    "- drill: crl-1.2\n  every: 7d\n  window: {days: [mon], from: \"01:00\", to: \"02:00\"}\n",
                    &v, &n, &m) == 0 && n == 2,
              "two entries in YAML");
        CHECK(n == 2 && !strcmp(v[0].drill, "fd") && v[0].every_usec == 3600 * USEC_PER_SEC && v[0].window.utc &&
                      v[0].window.days == ((1u << 0) | (1u << 6)) && v[0].window.to_min == 24 * 60 &&
                      !strcmp(v[1].drill, "crl-1.2") && v[1].every_usec == 7 * 24 * 3600 * USEC_PER_SEC,
              "… bound as drills.schedule");
        drill_schedule_free(v, n);
        free(m);
        CHECK(parse("[{\"drill\": \"fd\", \"every\": \"2h\", \"window\": {\"days\": [\"sun\"], \"from\": \"00:00\", "
                    "\"to\": \"01:00\"}}]",
                    &v, &n, &m) == 0 && n == 1 && v[0].every_usec == 2 * 3600 * USEC_PER_SEC,
              "JSON too");
        drill_schedule_free(v, n);
        free(m);
        CHECK(parse("[]", &v, &n, &m) == 0 && n == 0 && !v, "an empty schedule");
        free(m);

        v = (drill_schedule *) 1;
        n = 9;
        CHECK(parse("- drill: fd\n  every: 1h\n  window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n"
                    "- drill: fd2\n  every: 10m\n  window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n",
                    &v, &n, &m) == -EINVAL,
              "one bad entry refuses the whole schedule");
        CHECK(v == (drill_schedule *) 1 && n == 9, "… nothing returned (never half-applied)");
        CHECK(m && strstr(m, "sched:5:10:"), "… the error at line:col of the value: %s", m ? m : "");
        free(m);
        CHECK(parse("- drill: ../x\n  every: 1h\n  window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n", &v, &n, &m) ==
                              -EINVAL &&
                      m && strstr(m, "sched:1:3:") && strstr(m, "is not a drill's name"),
              "a name that is no drill's (it becomes part of a key): %s", m ? m : "");
        free(m);
        CHECK(parse("drill: fd\n", &v, &n, &m) == -EINVAL && m && strstr(m, "expected a sequence"), "a mapping: %s", m ? m : "");
        free(m);
        CHECK(parse("", &v, &n, &m) == -EINVAL, "an empty value");
        free(m);
        CHECK(parse("- drill: fd\n  every: 1h\n  window: {days: [sun], from: \"02:00\", to: \"04:00\"}\n  when: now\n", &v, &n,
                    &m) == -EINVAL &&
                      m && strstr(m, "unknown key 'when'"),
              "an unknown key: %s", m ? m : "");
        free(m);
        big = malloc(DRILL_SCHEDULE_TEXT_MAX + 2);
        memset(big, ' ', DRILL_SCHEDULE_TEXT_MAX + 1);
        big[DRILL_SCHEDULE_TEXT_MAX + 1] = 0;
        CHECK(parse(big, &v, &n, &m) == -EMSGSIZE, "more than %u bytes", DRILL_SCHEDULE_TEXT_MAX);
        free(m);
        free(big);

        CHECK(fleet_drill_last_parse("1765000000 gw-1", &t, gw, sizeof(gw)) == 0 && t == 1765000000ULL * USEC_PER_SEC &&
                      !strcmp(gw, "gw-1"),
              "a record: when and where");
        CHECK(fleet_drill_last_parse("1765000000", &t, gw, sizeof(gw)) == -EBADMSG, "no gateway");
        CHECK(fleet_drill_last_parse("1765000000 gw 1", &t, gw, sizeof(gw)) == -EBADMSG, "two words");
        CHECK(fleet_drill_last_parse("-5 gw", &t, gw, sizeof(gw)) == -EBADMSG, "a sign");
        CHECK(fleet_drill_last_parse("0 gw", &t, gw, sizeof(gw)) == -EBADMSG, "time 0");
        CHECK(fleet_drill_last_parse("99999999999999999999 gw", &t, gw, sizeof(gw)) == -EBADMSG, "out of range");
        CHECK(fleet_drill_last_parse("", &t, gw, sizeof(gw)) == -EBADMSG, "empty");
        return TAP_END();
}
