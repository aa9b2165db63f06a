/* The Prometheus text writer (common/prom_text.h) and histogram (common/prom_hist.h): exact
 * output for counters, gauges and a histogram, escaping of HELP and label values, bad UTF-8,
 * value formatting, and every refusal (bad names, a counter without _total, a family twice, a
 * sample outside its family, repeated or reserved labels) leaving the output untouched and the
 * error sticky. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "now.h"
#include "prom_text.h"
#include "tap.h"

static uint64_t now_usec_for_figure(void) {
        return mono_usec();
}

static const double bounds[] = { 0.005, 0.1, 1, 2.5 };

static void test_output(void) {
        _cleanup_(prom_text_freep) prom_text *p = NULL;
        _cleanup_(freep) char *text = NULL;
        prom_hist h;
        size_t len = 0;
        int r;

        CHECK(prom_text_new(&p) == 0, "new");
        CHECK(prom_hist_init(&h, bounds, ELEMENTSOF(bounds)) == 0, "hist init");
        prom_hist_observe(&h, 0.001);
        prom_hist_observe(&h, 0.1);
        prom_hist_observe(&h, 0.2);
        prom_hist_observe(&h, 99);
        prom_hist_observe(&h, NAN);

        CHECK(prom_text_family(p, "ikeheal_runs_total", PROM_COUNTER, "Runs by runbook and outcome.") == 0, "counter family");
        CHECK(prom_text_sample(p, (prom_label[]) { { "runbook", "restart" }, { "outcome", "ok" } }, 2, 3) == 0, "counter sample");
        CHECK(prom_text_family(p, "ikeheal_charon_up", PROM_GAUGE, "1 when charon answers,\nelse 0 \\ see docs") == 0, "gauge family");
        CHECK(prom_text_sample(p, NULL, 0, 1) == 0, "gauge without labels");
        CHECK(prom_text_sample(p, (prom_label[]) { { "peer", "CN=\"a\\b\"\nx" } }, 1, 0.25) == 0, "escaped value");
        CHECK(prom_text_sample(p, (prom_label[]) { { "peer", "caf\xc3\xa9 \xff\xc3" } }, 1, -0.0) == 0, "bad utf-8");
        CHECK(prom_text_family(p, "ikeheal_probe_latency_seconds", PROM_HISTOGRAM, "Probe latency.") == 0, "hist family");
        CHECK(prom_text_histogram(p, (prom_label[]) { { "port", "500" } }, 1, &h) == 0, "histogram");
        r = prom_text_finish(p, &text, &len);
        CHECK(r == 0, "finish (%d)", r);
        const char *want =
                "# HELP ikeheal_runs_total Runs by runbook and outcome.\n"
                "# TYPE ikeheal_runs_total counter\n"
                "ikeheal_runs_total{runbook=\"restart\",outcome=\"ok\"} 3\n"
                "# HELP ikeheal_charon_up 1 when charon answers,\\nelse 0 \\\\ see docs\n"
                "# TYPE ikeheal_charon_up gauge\n"
                "ikeheal_charon_up 1\n"
                "ikeheal_charon_up{peer=\"CN=\\\"a\\\\b\\\"\\nx\"} 0.25\n"
                "ikeheal_charon_up{peer=\"caf\xc3\xa9 ??\"} 0\n"
                "# HELP ikeheal_probe_latency_seconds Probe latency.\n"
                "# TYPE ikeheal_probe_latency_seconds histogram\n"
                "ikeheal_probe_latency_seconds_bucket{port=\"500\",le=\"0.005\"} 1\n"
                "ikeheal_probe_latency_seconds_bucket{port=\"500\",le=\"0.1\"} 2\n"
                "ikeheal_probe_latency_seconds_bucket{port=\"500\",le=\"1\"} 3\n"
                "ikeheal_probe_latency_seconds_bucket{port=\"500\",le=\"2.5\"} 3\n"
                "ikeheal_probe_latency_seconds_bucket{port=\"500\",le=\"+Inf\"} 4\n"
                "ikeheal_probe_latency_seconds_sum{port=\"500\"} 99.301\n"
                "ikeheal_probe_latency_seconds_count{port=\"500\"} 4\n";
        CHECK(text && strcmp(text, want) == 0, "exact output:\n%s", text ? text : "(null)");
        CHECK(len == strlen(want), "length %zu", len);
}

static void test_values(void) {
        static const struct { double v; const char *s; } cases[] = {
                { 0, "0" }, { -0.0, "0" }, { 1, "1" }, { -42, "-42" }, { 0.1, "0.1" }, { 1.5e-7, "1.5e-07" },
                { 1e20, "1e+20" }, { 123456789012345, "123456789012345" }, { 1.0 / 3, "0.3333333333333333" },
                { INFINITY, "+Inf" }, { -INFINITY, "-Inf" }, { NAN, "NaN" },
        };
        char b[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                prom_text_format_value(cases[i].v, b, sizeof(b));
                CHECK(strcmp(b, cases[i].s) == 0, "value %s (want %s)", b, cases[i].s);
        }
}

static void test_refusals(void) {
        static const double bad_bounds[] = { 1, 1 };
        _cleanup_(prom_text_freep) prom_text *p = NULL;
        char *text = NULL;
        prom_hist h;

        CHECK(prom_hist_init(&h, bad_bounds, 2) == -EINVAL, "bounds not increasing");
        CHECK(prom_hist_init(&h, bounds, 0) == -EINVAL, "no bounds");
        CHECK(prom_text_metric_name_valid("a:b_c9") && !prom_text_metric_name_valid("9a") &&
              !prom_text_metric_name_valid("a-b") && !prom_text_metric_name_valid(""), "metric names");
        CHECK(prom_text_label_name_valid("le") && !prom_text_label_name_valid("__name__") &&
              !prom_text_label_name_valid("a:b"), "label names");

        static const struct { const char *name; prom_type type; int want; } families[] = {
                { "bad-name", PROM_GAUGE, -EINVAL }, { "runs", PROM_COUNTER, -EINVAL },
                { "lat_bucket", PROM_HISTOGRAM, -EINVAL }, { "ok", PROM_GAUGE, -EEXIST },
        };
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                CHECK(prom_text_new(&p) == 0, "new");
                CHECK(prom_text_family(p, "ok", PROM_GAUGE, "x") == 0 && prom_text_sample(p, NULL, 0, 1) == 0, "first family");
                CHECK(prom_text_family(p, families[i].name, families[i].type, "y") == families[i].want,
                      "family %s refused", families[i].name);
                CHECK(prom_text_sample(p, NULL, 0, 2) == families[i].want, "error sticks");
                CHECK(prom_text_finish(p, &text, NULL) == families[i].want && !text, "finish returns it");
                /* the writer is usable again after finish */
                CHECK(prom_text_family(p, "ok", PROM_GAUGE, "x") == 0, "fresh after finish");
                p = prom_text_free(p);
        }

        static const prom_label dup[] = { { "a", "1" }, { "a", "2" } }, reserved[] = { { "__x", "1" } },
                                le[] = { { "le", "1" } }, null_value[] = { { "a", NULL } };
        const struct { const prom_label *l; size_t n; bool hist; } samples[] = {
                { dup, 2, false }, { reserved, 1, false }, { le, 1, true }, { null_value, 1, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                CHECK(prom_text_new(&p) == 0, "new");
                CHECK(prom_hist_init(&h, bounds, ELEMENTSOF(bounds)) == 0, "hist");
                if (samples[i].hist) {
                        CHECK(prom_text_family(p, "h", PROM_HISTOGRAM, "x") == 0, "hist family");
                        CHECK(prom_text_histogram(p, samples[i].l, samples[i].n, &h) == -EINVAL, "labels %zu refused", i);
                } else {
                        CHECK(prom_text_family(p, "g", PROM_GAUGE, "x") == 0, "gauge family");
                        CHECK(prom_text_sample(p, samples[i].l, samples[i].n, 1) == -EINVAL, "labels %zu refused", i);
                }
                p = prom_text_free(p);
        }

        /* a sample before any family, a gauge sample in a histogram family, and the reverse */
        CHECK(prom_text_new(&p) == 0 && prom_text_sample(p, NULL, 0, 1) == -EINVAL, "sample outside a family");
        p = prom_text_free(p);
        CHECK(prom_text_new(&p) == 0 && prom_text_family(p, "h", PROM_HISTOGRAM, "x") == 0 &&
              prom_text_sample(p, NULL, 0, 1) == -EINVAL, "plain sample in a histogram family");
        p = prom_text_free(p);
        CHECK(prom_text_new(&p) == 0 && prom_text_family(p, "g", PROM_GAUGE, "x") == 0 &&
              prom_text_histogram(p, NULL, 0, &h) == -EINVAL, "histogram in a gauge family");
}

/* Figures: what a /metrics of a gateway with n CHILD SAs (one connection each, per-connection
 * series in four families) costs to render. Printed, never asserted. */
static void figure_render(unsigned n) {
        _cleanup_(prom_text_freep) prom_text *p = NULL;
        _cleanup_(freep) char *text = NULL;
        static const char *const dirs[] = { "in", "out" };
        size_t len = 0;
        uint64_t t0;
        int r;

        CHECK(prom_text_new(&p) == 0, "new");
        t0 = now_usec_for_figure();
        (void) prom_text_family(p, "ikeheal_child_sas", PROM_GAUGE, "CHILD SAs by connection and state.");
        for (unsigned i = 0; i < n; i++) {
                char conn[32];
                (void) snprintf(conn, sizeof(conn), "rw-%u", i);
                (void) prom_text_sample(p, (prom_label[]) { { "connection", conn }, { "state", "INSTALLED" } }, 2, 1);
        }
        (void) prom_text_family(p, "ikeheal_child_sa_bytes_total", PROM_COUNTER, "Bytes per connection.");
        for (unsigned i = 0; i < n; i++)
                for (size_t d = 0; d < 2; d++) {
                        char conn[32];
                        (void) snprintf(conn, sizeof(conn), "rw-%u", i);
                        (void) prom_text_sample(p, (prom_label[]) { { "connection", conn }, { "direction", dirs[d] } }, 2,
                                                1e9 + i * 1234.5);
                }
        (void) prom_text_family(p, "ikeheal_child_sa_packets_total", PROM_COUNTER, "Packets per connection.");
        for (unsigned i = 0; i < n; i++)
                for (size_t d = 0; d < 2; d++) {
                        char conn[32];
                        (void) snprintf(conn, sizeof(conn), "rw-%u", i);
                        (void) prom_text_sample(p, (prom_label[]) { { "connection", conn }, { "direction", dirs[d] } }, 2, 1e6 + i);
                }
        r = prom_text_finish(p, &text, &len);
        CHECK(r == 0, "rendered %u CHILD SAs", n);
        printf("figure: prom_text %u CHILD SAs: %zu bytes in %llu us\n", n, len,
               (unsigned long long) (now_usec_for_figure() - t0));
}

int main(void) {
        figure_render(2);
        figure_render(2000);
        test_output();
        test_values();
        test_refusals();
        return TAP_END();
}
