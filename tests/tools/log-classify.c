/* log-classify: run common/charon_log.c over charon log lines (a file log or journal text, one
 * per line) from FILE or stdin. Prints "EVENT CLASS PEER" per classified line with -v (PEER as
 * the line names it: identity@address, identity, address or -), and
 * always the totals: "lines=N charon=N classified=N" and "class NAME N" per class. Used by the
 * benchmark (bench/log-classify.sh) and to look at captured fixtures.
 *
 *   log-classify [-v] [FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "charon_log.h"

int main(int argc, char **argv) {
        unsigned long long lines = 0, charon = 0, classified = 0, per_class[_FAULT_CLASS_MAX] = {};
        bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
        const char *path = argc > (verbose ? 2 : 1) ? argv[verbose ? 2 : 1] : NULL;
        FILE *f = path ? fopen(path, "re") : stdin;
        /* read in large blocks and split with memchr: the line reader is not what is measured */
        size_t cap = 1u << 20, have = 0;
        char *buf = malloc(cap);
        struct timespec t0, t1;
        struct rusage ru;

        if (!f || !buf) {
                perror(path ? path : "malloc");
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                ssize_t n = read(fileno(f), buf + have, cap - have);
                if (n < 0) {
                        perror(path ? path : "stdin");
                        return 1;
                }
                size_t end = have + (size_t) n, start = 0;
                for (;;) {
                        char *nl = memchr(buf + start, '\n', end - start);
                        if (!nl && (n > 0 || start == end))
                                break; /* an incomplete line waits for more (or nothing left) */
                        size_t len = nl ? (size_t) (nl - buf) - start + 1 : end - start;
                        charon_log_line l;
                        lines++;
                        if (charon_log_parse_text(buf + start, len, &l) >= 0) {
                                charon++;
                                if (l.cls != FAULT_NONE) {
                                        classified++;
                                        per_class[l.cls]++;
                                        if (verbose)
                                                printf("%s %s %s%s%s\n", charon_log_event_to_string(l.event),
                                                       fault_class_to_string(l.cls), l.peer_id,
                                                       l.peer_id[0] && l.peer[0] ? "@" : "",
                                                       l.peer[0] || l.peer_id[0] ? l.peer : "-");
                                }
                        }
                        start += len;
                        if (!nl)
                                break;
                }
                if (n == 0)
                        break;
                /* keep the incomplete tail; a line longer than the buffer is cut */
                have = end - start;
                if (have == cap)
                        have = 0;
                memmove(buf, buf + start, have);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        free(buf);
        if (path)
                fclose(f);
        double s = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        getrusage(RUSAGE_SELF, &ru);
        printf("lines=%llu charon=%llu classified=%llu seconds=%.3f lines_per_s=%.0f maxrss_kb=%ld\n", lines,
               charon, classified, s, s > 0 ? (double) lines / s : 0, ru.ru_maxrss);
        for (int c = 1; c < _FAULT_CLASS_MAX; c++)
                if (per_class[c])
                        printf("class %s %llu\n", fault_class_to_string((fault_class) c), per_class[c]);
        return 0;
}
