/* Hysteresis and flap counting of check_state, result by result. */
#include "agent/checks/check_state.h"
#include "tap.h"

int main(void) {
        check_state s;

        check_state_init(&s, 2, 3);
        CHECK(check_state_feed(&s, CHECK_OK) && s.reported == CHECK_OK, "first result reported at once");
        CHECK(!check_state_feed(&s, CHECK_FAIL) && s.reported == CHECK_OK, "1 fail of fall=3: still ok");
        CHECK(!check_state_feed(&s, CHECK_FAIL) && s.reported == CHECK_OK, "2 fails: still ok");
        CHECK(check_state_feed(&s, CHECK_FAIL) && s.reported == CHECK_FAIL, "3 fails: fail");
        CHECK(!check_state_feed(&s, CHECK_OK) && s.reported == CHECK_FAIL, "1 ok of rise=2: still fail");
        CHECK(!check_state_feed(&s, CHECK_FAIL), "a fail resets the ok streak");
        CHECK(!check_state_feed(&s, CHECK_OK), "1 ok again");
        CHECK(check_state_feed(&s, CHECK_OK) && s.reported == CHECK_OK, "2 ok: ok");
        CHECK(!check_state_feed(&s, CHECK_WARN) && !check_state_feed(&s, CHECK_FAIL),
              "warn then fail: streak of not-ok counts both");
        CHECK(check_state_feed(&s, CHECK_UNKNOWN) && s.reported == CHECK_UNKNOWN,
              "third not-ok in a row reported with the latest status");
        CHECK(check_state_feed(&s, CHECK_FAIL) && s.reported == CHECK_FAIL,
              "unknown → fail is reported at once");

        check_state_init(&s, 1, 1);
        for (int i = 0; i < 10; i++)
                (void) check_state_feed(&s, i % 2 ? CHECK_FAIL : CHECK_OK);
        CHECK(check_state_flips(&s) == 9, "10 alternating results = 9 flips (%u)", check_state_flips(&s));
        for (int i = 0; i < 40; i++)
                (void) check_state_feed(&s, CHECK_OK);
        CHECK(check_state_flips(&s) == 0, "history window is 32 results: old flips age out");

        check_state_init(&s, 0, 0);
        CHECK(s.rise == 1 && s.fall == 1, "rise/fall of 0 mean 1");
        (void) check_state_feed(&s, CHECK_OK);
        CHECK(check_state_feed(&s, CHECK_FAIL), "fall=1: first fail reported");
        return TAP_END();
}
