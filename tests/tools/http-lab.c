/* A small server for the observability lab tests, built on the agent's own HTTP pieces
 * (common/http_server.h, prom_text.h, am_payload.h, am_alert_body.h):
 *
 *   http-lab serve PORTFILE LOGFILE SECONDS [TOKEN] [NAME=VALUE…]
 *       listens on 127.0.0.1 (a free port, written to PORTFILE); GET /metrics renders a gauge
 *       per NAME=VALUE (family "NAME"), a counter of the requests served, a histogram with
 *       fixed observations and a label value that needs escaping; POST /alerts (bearer TOKEN
 *       if given) parses an Alertmanager webhook payload and appends one line per alert to
 *       LOGFILE ("alert STATUS name=value …" with labels and the fingerprint), or a line
 *       "refused STATUS …" for a payload it refuses (400) and for every refusal the server
 *       reports; exits after SECONDS (the test's upper bound) or on SIGTERM.
 *   http-lab metrics
 *       prints what GET /metrics answers (without the request counter's increments).
 *   http-lab am-body ID CLASS SCOPE SEVERITY REASON STARTS_UNIX [ENDS_UNIX|0] [PEER…]
 *       prints the Alertmanager v2 alerts body for one incident. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_alert_body.h"
#include "am_payload.h"
#include "http_server.h"
#include "prom_text.h"

typedef struct lab {
        char **gauges; /* NAME=VALUE */
        size_t n_gauges;
        unsigned long requests;
        FILE *log;
} lab;

static const double latency_bounds[] = { 0.001, 0.01, 0.1, 1 };

static int render(lab *l, char **ret, size_t *ret_len) {
        _cleanup_(prom_text_freep) prom_text *p = NULL;
        prom_hist h;
        int r;

        r = prom_text_new(&p);
        if (r < 0)
                return r;
        (void) prom_text_family(p, "ikeheal_build_info", PROM_GAUGE, "Build of the lab server; always 1.");
        (void) prom_text_sample(p, (prom_label[]) { { "version", IKEHEAL_VERSION } }, 1, 1);
        for (size_t i = 0; i < l->n_gauges; i++) {
                char name[128];
                const char *eq = strchr(l->gauges[i], '=');
                size_t n = eq ? (size_t) (eq - l->gauges[i]) : 0;
                if (n == 0 || n >= sizeof(name))
                        return -EINVAL;
                memcpy(name, l->gauges[i], n);
                name[n] = '\0';
                (void) prom_text_family(p, name, PROM_GAUGE, "A value given on the lab server's command line.");
                (void) prom_text_sample(p, (prom_label[]) { { "peer", "CN=\"gw\\1\"" } }, 1, strtod(eq + 1, NULL));
        }
        (void) prom_text_family(p, "ikeheal_lab_requests_total", PROM_COUNTER, "Requests the lab server answered.");
        (void) prom_text_sample(p, NULL, 0, (double) l->requests);
        (void) prom_hist_init(&h, latency_bounds, ELEMENTSOF(latency_bounds));
        for (int i = 0; i < 10; i++)
                prom_hist_observe(&h, 0.0005 * (1 << i));
        (void) prom_text_family(p, "ikeheal_probe_latency_seconds", PROM_HISTOGRAM, "Fixed observations.");
        (void) prom_text_histogram(p, (prom_label[]) { { "target", "198.18.0.1" }, { "port", "500" } }, 2, &h);
        return prom_text_finish(p, ret, ret_len);
}

static int on_metrics(const http_request *req, http_reply *reply, void *userdata) {
        lab *l = userdata;
        int r;

        l->requests++;
        r = render(l, &reply->body, &reply->body_len);
        if (r < 0)
                return r;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return 0;
}

static int on_alerts(const http_request *req, http_reply *reply, void *userdata) {
        _cleanup_(am_webhook_freep) am_webhook *w = NULL;
        char err[AM_ERROR_MAX], msg[AM_ERROR_MAX + 32];
        lab *l = userdata;
        int r, n;

        l->requests++;
        r = am_webhook_parse(req->body, req->body_len, NULL, &w, err);
        if (r < 0) {
                fprintf(l->log, "refused 400 %s %s /alerts: %s\n", req->peer, req->method, err);
                n = snprintf(msg, sizeof(msg), "400 %s\n", err);
                return http_reply_set(reply, 400, NULL, msg, (size_t) n);
        }
        for (size_t i = 0; i < w->n_alerts; i++) {
                const am_alert *a = &w->alerts[i];
                fprintf(l->log, "alert %s", a->firing ? "firing" : "resolved");
                for (size_t j = 0; j < a->n_labels; j++)
                        fprintf(l->log, " %s=%s", a->labels[j].name, a->labels[j].value);
                fprintf(l->log, " fingerprint=%s\n", a->fingerprint);
        }
        return http_reply_set(reply, 200, NULL, "ok\n", 3);
}

static void on_refusal(const http_refusal *r, void *userdata) {
        lab *l = userdata;
        fprintf(l->log, "refused %u %s %s %s: %s\n", r->status, r->peer, r->method ? r->method : "-",
                r->path ? r->path : "-", r->reason);
}

static int on_signal(ev_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return ev_exit(ev_source_get_loop(s), 0);
}

static int on_deadline(ev_source *s, uint64_t usec, void *userdata) {
        return ev_exit(ev_source_get_loop(s), 0);
}

static int serve(int argc, char **argv) {
        _cleanup_(http_server_freep) http_server *s = NULL;
        ev_loop *e = NULL;
        lab l = { 0 };
        const char *token = NULL;
        uint16_t port = 0;
        FILE *pf;
        int r, first = 5;

        if (argc < 5)
                return -EINVAL;
        if (argc > 5 && !strchr(argv[5], '=')) {
                token = argv[5];
                first = 6;
        }
        l.gauges = argv + first;
        l.n_gauges = (size_t) (argc - first);
        l.log = fopen(argv[3], "ae");
        if (!l.log)
                return -errno;
        setvbuf(l.log, NULL, _IOLBF, 0);
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        r = ev_new(&e);
        if (r >= 0) r = ev_add_signal(e, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0) r = ev_add_signal(e, NULL, SIGINT, on_signal, NULL);
        if (r >= 0) r = ev_add_time_relative(e, NULL, CLOCK_MONOTONIC, strtoull(argv[4], NULL, 10) * USEC_PER_SEC,
                                                   USEC_PER_SEC, on_deadline, NULL);
        if (r >= 0) r = http_server_new(&s, e, &(http_server_limits){ .max_body = 256 * 1024, .rate_per_sec = 50 });
        if (r >= 0) r = http_server_listen(s, "127.0.0.1:0", &port);
        if (r >= 0) r = http_server_handle(s, "GET", "/metrics", NULL, on_metrics, &l);
        if (r >= 0) r = http_server_handle(s, "POST", "/alerts", token, on_alerts, &l);
        if (r >= 0) {
                http_server_on_refusal(s, on_refusal, &l);
                pf = fopen(argv[2], "we");
                if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0)
                        r = -EIO;
        }
        if (r >= 0)
                r = ev_loop_run(e);
        s = http_server_free(s);
        ev_unref(e);
        fclose(l.log);
        return r;
}

static int am_body(int argc, char **argv) {
        _cleanup_(freep) char *body = NULL;
        am_incident inc;
        int r;

        if (argc < 8)
                return -EINVAL;
        inc = (am_incident){
                .id = argv[2], .class_name = argv[3], .scope = argv[4], .severity = argv[5], .reason = argv[6],
                .instance = "ikeheal-lab", .summary = "lab incident", .evidence = "made by http-lab",
                .runbook = "none", .starts_usec = strtoull(argv[7], NULL, 10) * USEC_PER_SEC,
                .ends_usec = argc > 8 ? strtoull(argv[8], NULL, 10) * USEC_PER_SEC : 0,
                .peers = argc > 9 ? (const char *const *) argv + 9 : NULL, .n_peers = argc > 9 ? (size_t) (argc - 9) : 0,
        };
        r = am_alert_body(&inc, 1, &body, NULL);
        if (r < 0)
                return r;
        puts(body);
        return 0;
}

int main(int argc, char **argv) {
        int r = -EINVAL;

        if (argc > 1 && strcmp(argv[1], "serve") == 0)
                r = serve(argc, argv);
        else if (argc > 1 && strcmp(argv[1], "am-body") == 0)
                r = am_body(argc, argv);
        else if (argc > 1 && strcmp(argv[1], "metrics") == 0) {
                char *g[] = { "ikeheal_lab_value=42" };
                lab l = { .gauges = g, .n_gauges = 1 };
                char *text = NULL;
                r = render(&l, &text, NULL);
                if (r >= 0)
                        fputs(text, stdout);
                free(text);
        }
        if (r < 0)
                fprintf(stderr, "http-lab: %s\nusage: see tests/tools/http-lab.c\n", strerror(-r));
        return r < 0 ? 1 : 0;
}
