/* journal-send: send one record to the journal with common/journal_send.h, for the integration
 * tests (a real journald must take what the unit test's own socket took, the sealed memfd of a
 * large record included). Each argument is one field, "NAME=value"; --big N adds a field
 * BIG=… of N bytes (a–z repeated, a newline every 1000 bytes, so the binary-safe form too);
 * --linger S stays S seconds after sending, so that journald still finds the sender's cgroup
 * (its _SYSTEMD_UNIT) when it reads the record.
 *
 *   journal-send [--linger S] [--big N] FIELD=VALUE…
 *
 * Exit: 0 sent, 1 refused or not sent (the error on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_send.h"

int main(int argc, char **argv) {
        struct iovec iov[64];
        size_t big = 0;
        char *b = NULL;
        unsigned linger = 0;
        int n = 0, i = 1, r;

        if (argc > i + 1 && strcmp(argv[i], "--linger") == 0) {
                linger = (unsigned) strtoul(argv[i + 1], NULL, 10);
                i += 2;
        }
        if (argc > i + 1 && strcmp(argv[i], "--big") == 0) {
                big = strtoul(argv[i + 1], NULL, 10);
                i += 2;
        }
        if (big > 0) {
                b = malloc(big + 5);
                if (!b) {
                        perror("malloc");
                        return 1;
                }
                memcpy(b, "BIG=", 4);
                for (size_t k = 0; k < big; k++)
                        b[4 + k] = k % 1000 == 999 ? '\n' : (char) ('a' + k % 26);
                iov[n++] = (struct iovec){ b, 4 + big };
        }
        for (; i < argc && n < (int) (sizeof(iov) / sizeof(iov[0])); i++)
                iov[n++] = (struct iovec){ argv[i], strlen(argv[i]) };
        if (n == 0) {
                fprintf(stderr, "usage: journal-send [--linger S] [--big N] FIELD=VALUE…\n");
                return 1;
        }
        r = journal_sendv(iov, n);
        free(b);
        if (r < 0) {
                fprintf(stderr, "journal-send: %s\n", strerror(-r));
                return 1;
        }
        if (linger)
                (void) sleep(linger);
        return 0;
}
