/* keepalived's notify lines: the ones it writes parse to what they say; everything else is
 * refused with the column of the first byte that does not fit. */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "vrrp_notify.h"

static int parse(const char *s, vrrp_event *ev, size_t *col) {
        return vrrp_notify_parse(s, strlen(s), ev, col);
}

int main(void) {
        vrrp_event ev;
        size_t col = 0;

        CHECK(parse("INSTANCE \"VI_IKE\" MASTER 150\n", &ev, &col) == 0 && ev.object == VRRP_INSTANCE &&
                      strcmp(ev.name, "VI_IKE") == 0 && ev.state == VRRP_MASTER && ev.priority == 150,
              "an instance becomes MASTER at priority 150");
        CHECK(parse("INSTANCE \"VI 2\" BACKUP 100", &ev, &col) == 0 && ev.state == VRRP_BACKUP &&
                      strcmp(ev.name, "VI 2") == 0,
              "a name with a space, no newline");
        CHECK(parse("GROUP \"G1\" FAULT", &ev, &col) == 0 && ev.object == VRRP_GROUP && ev.priority == -1 &&
                      ev.state == VRRP_FAULT,
              "a group line without priority");
        CHECK(parse("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\r\n", &ev, &col) == 0 &&
                      ev.state == VRRP_MASTER_RX_LOWER_PRI,
              "MASTER_RX_LOWER_PRI is not MASTER");
        CHECK(parse("INSTANCE \"VI_1\" STOP 0", &ev, &col) == 0 && ev.state == VRRP_STOP && ev.priority == 0, "STOP");
        CHECK(parse("VS [198.18.0.1]:tcp:80 UP", &ev, &col) == -EOPNOTSUPP, "a checker line is another subsystem's");

        CHECK(parse("INSTANCE \"VI_1\" MASTERX 150", &ev, &col) == -EINVAL && col == 17, "unknown state at col 17 (%zu)", col);
        CHECK(parse("INSTANCE \"VI_1\" MASTER 256", &ev, &col) == -EINVAL && col == 24, "priority 256 (col %zu)", col);
        CHECK(parse("INSTANCE \"VI_1\" MASTER 1500", &ev, &col) == -EINVAL, "four digits");
        CHECK(parse("INSTANCE \"VI_1\" MASTER ", &ev, &col) == -EINVAL, "a trailing space");
        CHECK(parse("INSTANCE \"VI_1\" MASTER -1", &ev, &col) == -EINVAL, "a negative priority");
        CHECK(parse("INSTANCE \"VI_1 MASTER 100", &ev, &col) == -EINVAL, "an unterminated name");
        CHECK(parse("INSTANCE \"\" MASTER 100", &ev, &col) == -EINVAL, "an empty name");
        CHECK(parse("INSTANCE \"a\\\"b\" MASTER 100", &ev, &col) == -EINVAL && col == 12, "a backslash (col %zu)", col);
        CHECK(parse("INSTANCE VI_1 MASTER 100", &ev, &col) == -EINVAL && col == 9, "a name without quotes (col %zu)", col);
        CHECK(parse("instance \"VI_1\" MASTER 100", &ev, &col) == -EINVAL && col == 1, "lower case type");
        CHECK(parse("INSTANCE \"VI\x01\" MASTER 100", &ev, &col) == -EINVAL && col == 13, "a control byte");
        CHECK(parse("", &ev, &col) == -EINVAL, "an empty line");
        char longname[200];
        memset(longname, 'a', sizeof(longname));
        longname[sizeof(longname) - 1] = 0;
        char line[300];
        snprintf(line, sizeof(line), "INSTANCE \"%s\" MASTER 1", longname);
        CHECK(parse(line, &ev, &col) == -EINVAL, "a name longer than %u bytes", VRRP_NAME_MAX);
        CHECK(vrrp_notify_parse("INSTANCE \"VI_1\" MASTER 100", 8, &ev, &col) == -EINVAL, "a line cut short is no line");
        CHECK(strcmp(vrrp_state_to_string(VRRP_UNKNOWN), "unknown") == 0 &&
                      strcmp(vrrp_state_to_string(VRRP_BACKUP), "BACKUP") == 0,
              "state names");
        return TAP_END();
}
