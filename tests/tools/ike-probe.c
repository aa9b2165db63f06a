/* ike-probe: run the IKE probe (agent/checks/ike_probe.h) once and print its result, for the
 * integration tests and for people at a gateway. One line of key=value pairs:
 *
 *   verdict=ANSWERED port=500 rtt_us=412 attempts=1 notify=INVALID_KE_PAYLOAD ke_group=19
 *   sa=0 ke=0 nonce=0 cookie=0 detail="N(INVALID_KE_PAYLOAD) asks for group 19"
 *
 * Exit: 0 ANSWERED, 2 any other verdict, 1 usage or start-up error.
 *
 *   ike-probe [--netns NAME] [--port 500|4500] [--timeout MS] [--retries N] [--full]
 *             [--ke-group 19|31] [--capture FILE] ADDR */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/checks/ike_probe.h"

typedef struct run {
        ev_loop *event;
        const char *capture;
        uint16_t port;
        int exit_code;
} run;

static void on_result(ike_probe *p, const ike_probe_result *r, void *userdata) {
        run *ctx = userdata;
        const char *name = ikev2_msg_notify_to_string(r->notify);

        printf("verdict=%s port=%u rtt_us=%llu attempts=%u",
               ike_probe_verdict_to_string(r->verdict), ctx->port, (unsigned long long) r->rtt_usec,
               r->attempts);
        if (r->notify) {
                if (name)
                        printf(" notify=%s", name);
                else
                        printf(" notify=%u", r->notify);
        }
        if (r->ke_group)
                printf(" ke_group=%u", r->ke_group);
        printf(" sa=%d ke=%d nonce=%d cookie=%d", r->has_sa, r->has_ke, r->has_nonce, r->cookie);
        if (r->icmp)
                printf(" icmp=%u/%u", r->icmp_type, r->icmp_code);
        if (r->error)
                printf(" errno=%d", r->error);
        printf(" detail=\"%s\"\n", r->detail);
        fflush(stdout);

        if (ctx->capture && r->response) {
                FILE *f = fopen(ctx->capture, "we");
                if (!f || fwrite(r->response, 1, r->response_size, f) != r->response_size)
                        fprintf(stderr, "ike-probe: cannot write %s: %m\n", ctx->capture);
                if (f)
                        (void) fclose(f);
        }
        ctx->exit_code = r->verdict == IKE_PROBE_ANSWERED ? 0 : 2;
        (void) ev_exit(ctx->event, 0);
}

static void usage(void) {
        fprintf(stderr,
                "usage: ike-probe [--netns NAME] [--port 500|4500] [--timeout MS] [--retries N]\n"
                "                 [--full] [--ke-group 19|31] [--capture FILE] ADDR\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                {"netns", required_argument, NULL, 'n'},
                {"port", required_argument, NULL, 'p'},
                {"timeout", required_argument, NULL, 't'},
                {"retries", required_argument, NULL, 'r'},
                {"full", no_argument, NULL, 'f'},
                {"ke-group", required_argument, NULL, 'k'},
                {"capture", required_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        ike_probe_options o = {.timeout_usec = 2 * USEC_PER_SEC, .retries = 2};
        struct sockaddr_storage ss = {0};
        run ctx = {.port = 500, .exit_code = 1};
        ev_loop *e = NULL;
        ike_probe *p = NULL;
        unsigned long v;
        int c, r;

        while ((c = getopt_long(argc, argv, "n:p:t:r:fk:c:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        o.netns = optarg;
                        break;
                case 'p':
                        if (parse_uint(optarg, 65535, &v) < 0 || v == 0) {
                                usage();
                                return 1;
                        }
                        ctx.port = (uint16_t) v;
                        break;
                case 't':
                        if (parse_uint(optarg, IKE_PROBE_TIMEOUT_MAX_USEC / USEC_PER_MSEC, &v) <
                                    0 ||
                            v == 0) {
                                usage();
                                return 1;
                        }
                        o.timeout_usec = v * USEC_PER_MSEC;
                        break;
                case 'r':
                        if (parse_uint(optarg, IKE_PROBE_RETRIES_MAX, &v) < 0) {
                                usage();
                                return 1;
                        }
                        o.retries = (unsigned) v;
                        break;
                case 'f':
                        o.offer = IKE_PROBE_OFFER_FULL;
                        break;
                case 'k':
                        if (parse_uint(optarg, 65535, &v) < 0) {
                                usage();
                                return 1;
                        }
                        o.ke_group = (uint16_t) v;
                        break;
                case 'c':
                        ctx.capture = optarg;
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        return 1;
                }
        }
        if (optind != argc - 1) {
                usage();
                return 1;
        }
        /* 4500 means NAT-T framing: the non-ESP marker goes in front */
        o.natt = ctx.port == IKE_PROBE_PORT_NATT;
        if (inet_pton(AF_INET, argv[optind], &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
                ((struct sockaddr_in *) &ss)->sin_port = htons(ctx.port);
                o.addr_len = sizeof(struct sockaddr_in);
        } else if (inet_pton(AF_INET6, argv[optind], &((struct sockaddr_in6 *) &ss)->sin6_addr) ==
                   1) {
                ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *) &ss)->sin6_port = htons(ctx.port);
                o.addr_len = sizeof(struct sockaddr_in6);
        } else {
                fprintf(stderr, "ike-probe: not an IP address: %s\n", argv[optind]);
                return 1;
        }
        o.addr = (struct sockaddr *) &ss;

        r = ev_new(&e);
        if (r < 0) {
                fprintf(stderr, "ike-probe: ev_new: %s\n", strerror(-r));
                return 1;
        }
        ctx.event = e;
        r = ike_probe_start(&p, e, &o, on_result, &ctx);
        if (r < 0) {
                fprintf(stderr, "ike-probe: cannot start: %s\n", strerror(-r));
                ev_unref(e);
                return 1;
        }
        r = ev_loop_run(e);
        if (r < 0)
                fprintf(stderr, "ike-probe: event loop: %s\n", strerror(-r));
        ike_probe_free(p);
        ev_unref(e);
        return ctx.exit_code;
}
