/* The lifetime of the event loop's sources (common/ev.h): a callback that drops its own source's
 * last reference, or another's pending in the same iteration; references held elsewhere; sources
 * added from callbacks; floating sources freed with the loop, or made non-floating inside their
 * own callback; each destroy callback called exactly once, whatever the path. Run under ASan:
 * a use after free in the loop fails here. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev_test.h"

/* ---- lifetime ---- */

typedef struct life_rec {
        unsigned destroys;
        unsigned calls;
        ev_source **self;      /* the caller's reference to this source, dropped in the callback */
        bool self_disable;     /* by ev_source_disable_unref(), else ev_source_unref() */
        ev_source **other;     /* another source's reference, dropped (or turned off) in the callback */
        bool other_off;
        bool set_destroy;      /* set the destroy callback from inside (sources added with ret NULL) */
        bool unfloat;          /* make this floating source non-floating from inside */
        unsigned destroys_inside;
        ev_loop *loop_seen;
        ev_source *added;      /* a defer source added from inside */
        cnt_rec *added_rec;
} life_rec;

static int life_act(ev_source *s, life_rec *r) {
        r->calls++;
        r->loop_seen = ev_source_get_loop(s);
        if (r->set_destroy)
                (void) ev_source_set_destroy_callback(s, on_destroy);
        if (r->other && *r->other) {
                if (r->other_off)
                        (void) ev_source_set_enabled(*r->other, EV_OFF);
                else
                        *r->other = ev_source_unref(*r->other);
        }
        if (r->self)
                *r->self = r->self_disable ? ev_source_disable_unref(*r->self) : ev_source_unref(*r->self);
        if (r->unfloat) {
                (void) ev_source_set_floating(s, false);
                r->destroys_inside = r->destroys;
        }
        if (r->added_rec && !r->added)
                (void) ev_add_defer(r->loop_seen, &r->added, on_defer, r->added_rec);
        return 0;
}

static int on_life_io(ev_source *s, int fd, uint32_t revents, void *userdata) {
        return life_act(s, userdata);
}

static int on_life_time(ev_source *s, uint64_t usec, void *userdata) {
        return life_act(s, userdata);
}

static int on_life_defer(ev_source *s, void *userdata) {
        return life_act(s, userdata);
}

enum { KIND_IO, KIND_TIME, KIND_DEFER };
static const char *const kind_name[] = { "io", "time", "defer" };

/* A source of `kind` that is pending as soon as it is added: a readable pipe that nobody drains,
 * a timer due at 0, a defer. */
static int add_pending(ev_loop *e, ev_source **ret, int kind, int rfd, life_rec *r) {
        int k;
        switch (kind) {
        case KIND_IO:
                k = ev_add_io(e, ret, rfd, EPOLLIN, on_life_io, r);
                break;
        case KIND_TIME:
                k = ev_add_time(e, ret, CLOCK_MONOTONIC, 0, 0, on_life_time, r);
                break;
        default:
                k = ev_add_defer(e, ret, on_life_defer, r);
        }
        if (k >= 0 && ret && *ret)
                k = ev_source_set_destroy_callback(*ret, on_destroy);
        return k;
}

static void test_lifetime_kind(ev_loop *e, int kind, int rfd, int rfd2) {
        const char *kn = kind_name[kind];
        ev_source *a = NULL, *b = NULL, *extra = NULL;
        life_rec ra = {}, rb = {};

        /* a callback that drops its source's last reference */
        for (int disable = 0; disable < 2; disable++) {
                ra = (life_rec){ .self = &a, .self_disable = disable };
                CHECK(add_pending(e, &a, kind, rfd, &ra) >= 0, "lifetime %s: added", kn);
                CHECK(run1(e, SEC) > 0 && ra.calls == 1 && !a, "lifetime %s: its callback %s itself", kn,
                      disable ? "disable_unref'd" : "unref'd");
                CHECK(ra.loop_seen == e, "lifetime %s: get_loop in the callback", kn);
                CHECK(ra.destroys == 1, "lifetime %s: destroyed once, after its callback (%u)", kn, ra.destroys);
                run_for(e, 30 * MSEC);
                CHECK(ra.calls == 1 && ra.destroys == 1, "lifetime %s: never called again", kn);
        }

        /* a callback that drops the last reference of another source pending in the same iteration */
        ra = (life_rec){ .other = &b };
        rb = (life_rec){};
        CHECK(add_pending(e, &a, kind, rfd, &ra) >= 0 && add_pending(e, &b, kind, rfd2, &rb) >= 0 &&
                      ev_source_set_priority(a, -1) >= 0 && ev_source_set_priority(b, 1) >= 0,
              "lifetime %s: two pending sources", kn);
        (void) run1(e, SEC);
        CHECK(ra.calls == 1 && !b && rb.calls == 0, "lifetime %s: the one unref'd by the first is not called (%u)", kn,
              rb.calls);
        CHECK(rb.destroys == 1, "lifetime %s: and destroyed once (%u)", kn, rb.destroys);
        a = ev_source_unref(a);
        CHECK(ra.destroys == 1, "lifetime %s: unref by its owner destroys once", kn);
        run_for(e, 30 * MSEC);
        CHECK(rb.calls == 0 && rb.destroys == 1, "lifetime %s: nor later", kn);

        /* ... or turns it off */
        ra = (life_rec){ .other = &b, .other_off = true };
        rb = (life_rec){};
        if (add_pending(e, &a, kind, rfd, &ra) < 0 || add_pending(e, &b, kind, rfd2, &rb) < 0)
                return;
        (void) ev_source_set_priority(a, -1);
        (void) ev_source_set_priority(b, 1);
        (void) run1(e, SEC);
        CHECK(ra.calls == 1 && rb.calls == 0, "lifetime %s: the one turned off by the first is not called", kn);
        a = ev_source_unref(a);
        b = ev_source_unref(b);
        CHECK(rb.destroys == 1, "lifetime %s: destroyed once by its owner's unref", kn);

        /* ... but another reference keeps it: then it runs */
        ra = (life_rec){ .other = &b };
        rb = (life_rec){};
        if (add_pending(e, &a, kind, rfd, &ra) < 0 || add_pending(e, &b, kind, rfd2, &rb) < 0)
                return;
        (void) ev_source_set_priority(a, -1);
        (void) ev_source_set_priority(b, 1);
        extra = ev_source_ref(b);
        CHECK(extra == b, "lifetime %s: ref returns the source", kn);
        (void) run1(e, SEC);
        CHECK(!b && rb.calls == 1 && rb.destroys == 0, "lifetime %s: a source with a reference left still runs", kn);
        a = ev_source_unref(a);
        extra = ev_source_unref(extra);
        CHECK(rb.destroys == 1 && ra.destroys == 1, "lifetime %s: each destroyed once", kn);
}

static void test_lifetime(void) {
        ev_loop *e = NULL;
        ev_source *s = NULL, *t = NULL;
        int p[2], q[2];
        life_rec r = {};

        if (ev_new(&e) < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(q, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        (void) !write(p[1], "x", 1);
        (void) !write(q[1], "x", 1);
        for (int k = KIND_IO; k <= KIND_DEFER; k++)
                test_lifetime_kind(e, k, p[0], q[0]);

        /* an outside unref of the last reference: never called again */
        r = (life_rec){};
        CHECK(add_pending(e, &s, KIND_IO, p[0], &r) >= 0 && ev_source_ref(s) == s, "lifetime: io, two references");
        CHECK(!ev_source_unref(s) && r.destroys == 0, "lifetime: one unref of two destroys nothing");
        CHECK(run1(e, SEC) > 0 && r.calls == 1 && r.destroys == 0, "lifetime: one reference left, it runs");
        s = ev_source_unref(s);
        CHECK(!s && r.destroys == 1, "lifetime: the last unref destroys it");
        run_for(e, 30 * MSEC);
        CHECK(r.calls == 1, "lifetime: a readable fd whose source is gone is not dispatched");
        CHECK(!ev_source_unref(NULL) && !ev_unref(NULL), "lifetime: unref of NULL is NULL");

        /* a source added from inside a callback runs, in that iteration or the next */
        cnt_rec added = {};
        r = (life_rec){ .added_rec = &added };
        CHECK(ev_add_defer(e, &s, on_life_defer, &r) == 0, "lifetime: a defer that adds a defer");
        (void) run1(e, SEC);
        (void) run1(e, 0);
        CHECK(r.calls == 1 && added.calls == 1, "lifetime: the added source ran (%u)", added.calls);
        r.added = ev_source_unref(r.added);
        s = ev_source_unref(s);

        /* the loop's reference count */
        CHECK(ev_ref(e) == e, "lifetime: ev_ref returns the loop");
        CHECK(!ev_unref(e), "lifetime: ev_unref returns NULL");
        CHECK(ev_add_defer(e, &s, on_defer, &added) == 0 && run1(e, SEC) > 0 && added.calls == 2,
              "lifetime: the loop lives on after ref + unref");
        s = ev_source_unref(s);
        ev_unref(e);

        /* floating sources: added with ret NULL, or made floating, live on and go with the loop */
        life_rec fio = { .set_destroy = true }, fdef = { .set_destroy = true }, ftime = {};
        unsigned before = destroyed;
        if (ev_new(&e) < 0)
                return;
        CHECK(ev_add_io(e, NULL, p[0], EPOLLIN, on_life_io, &fio) == 0 &&
                      ev_add_defer(e, NULL, on_life_defer, &fdef) == 0,
              "floating: io and defer added with ret NULL");
        CHECK(ev_add_time_relative(e, &t, CLOCK_MONOTONIC, 20 * MSEC, 0, on_life_time, &ftime) == 0 &&
                      ev_source_set_destroy_callback(t, on_destroy) >= 0 && ev_source_set_floating(t, true) >= 0,
              "floating: a timer made floating");
        t = ev_source_unref(t);
        CHECK(ftime.destroys == 0, "floating: the caller's unref leaves it to the loop");
        for (int i = 0; i < 3; i++)
                (void) run1(e, SEC);
        run_until(e, &ftime.calls, 1, 2 * SEC);
        CHECK(fio.calls >= 3 && fdef.calls == 1 && ftime.calls == 1 && fio.destroys + fdef.destroys == 0,
              "floating: they live on (io %u calls, defer %u, timer %u)", fio.calls, fdef.calls, ftime.calls);
        ev_unref(e);
        CHECK(fio.destroys == 1 && fdef.destroys == 1 && ftime.destroys == 1 && destroyed == before + 3,
              "floating: freed with the loop, each destroyed once (%u %u %u)", fio.destroys, fdef.destroys,
              ftime.destroys);

        /* a floating source made non-floating in its own callback: freed once the callback returns */
        r = (life_rec){ .set_destroy = true, .unfloat = true };
        if (ev_new(&e) < 0)
                return;
        CHECK(ev_add_io(e, NULL, p[0], EPOLLIN, on_life_io, &r) == 0, "unfloat: a floating io source, readable");
        (void) run1(e, SEC);
        CHECK(r.calls == 1 && r.destroys_inside == 0, "unfloat: not freed inside its callback (%u)", r.destroys_inside);
        CHECK(r.destroys == 1, "unfloat: freed after it, destroyed once (%u)", r.destroys);
        run_for(e, 30 * MSEC);
        CHECK(r.calls == 1, "unfloat: never called again");
        ev_unref(e);
        CHECK(r.destroys == 1, "unfloat: not destroyed again with the loop");
        close(p[0]);
        close(p[1]);
        close(q[0]);
        close(q[1]);
}

int main(void) {
        alarm(120); /* a loop that never wakes fails the test rather than hanging the suite */
        setvbuf(stdout, NULL, _IOLBF, 0);
        test_lifetime();
        return TAP_END();
}
