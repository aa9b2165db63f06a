/* log-classify: run common/charon_log.c over charon log lines (a file log or journal text, one
 * per line) from FILE or stdin. Prints "EVENT CLASS PEER" per classified line with -v, and
 * always the totals: "lines=N charon=N classified=N" and "class NAME N" per class. Used by the
 * benchmark (bench/log-classify.sh) and to look at captured fixtures.
 *
 *   log-classify [-v] [FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "charon_log.h"

int main(int argc, char **argv) {
        unsigned long long lines = 0, charon = 0, classified = 0, per_class[_FAULT_CLASS_MAX] = {};
        bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
        const char *path = argc > (verbose ? 2 : 1) ? argv[verbose ? 2 : 1] : NULL;
        FILE *f = path ? fopen(path, "re") : stdin;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        struct timespec t0, t1;
        struct rusage ru;

        if (!f) {
                perror(path);
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while ((n = getline(&line, &cap, f)) >= 0) {
                charon_log_line l;
                lines++;
                if (charon_log_parse_text(line, (size_t) n, &l) < 0)
                        continue;
                charon++;
                if (l.cls == FAULT_NONE)
                        continue;
                classified++;
                per_class[l.cls]++;
                if (verbose)
                        printf("%s %s %s\n", charon_log_event_to_string(l.event),
                               fault_class_to_string(l.cls), l.peer[0] ? l.peer : "-");
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        free(line);
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
