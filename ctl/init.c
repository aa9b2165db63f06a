/* `ikehealctl init`: detect (init_detect.c), write (init_write.c), then have the agent itself
 * judge the result: `ikeheald --check-config -c FILE`, the same check its unit runs before every
 * start. The notes go to stderr as well when the configuration goes to a file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/init.h"
#include "macro.h"

extern char **environ;

/* ikeheald beside this ikehealctl (a build directory, or /usr/bin with /usr/sbin), else the
 * installed one. */
static int find_agent(char *buf, size_t size) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        static const char *const fixed[] = { "/usr/sbin/ikeheald", "/usr/local/sbin/ikeheald" };

        if (n > 0) {
                char *slash;
                self[n] = 0;
                if ((slash = strrchr(self, '/'))) {
                        (void) snprintf(buf, size, "%.*s/ikeheald", (int) (slash - self), self);
                        if (access(buf, X_OK) == 0)
                                return 0;
                        (void) snprintf(buf, size, "%.*s/../sbin/ikeheald", (int) (slash - self), self);
                        if (access(buf, X_OK) == 0)
                                return 0;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (access(fixed[i], X_OK) == 0) {
                        (void) snprintf(buf, size, "%s", fixed[i]);
                        return 0;
                }
        return -ENOENT;
}

/* 0 the agent accepts the file, 1 it refused it (its message on stderr), -errno it did not run. */
static int check_config(const char *path) {
        char agent[PATH_MAX];
        char *argv[] = { agent, (char *) "--check-config", (char *) "-c", (char *) path, NULL };
        pid_t pid;
        int status, r;

        if (find_agent(agent, sizeof(agent)) < 0)
                return -ENOENT;
        posix_spawn_file_actions_t fa;
        /* its verdict goes to our stderr: stdout carries the configuration alone */
        if ((r = posix_spawn_file_actions_init(&fa)) != 0)
                return -r;
        if ((r = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO)) == 0)
                r = posix_spawn(&pid, agent, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return -r;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        fprintf(stderr, "init: %s --check-config -c %s: %s\n", agent, path,
                WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "accepted" : "REFUSED (above)");
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

void ctl_init_usage(FILE *f) {
        fputs("Usage: ikehealctl init [-o FILE] [--strongswan-conf FILE] [--swanctl-dir DIR]\n"
              "                       [--standby DIR] [--no-check]\n"
              "\n"
              "Write a first ikeheal.yaml from what is on this host: strongSwan's flavour and unit,\n"
              "the VICI socket, the swanctl tree, certificates, a standby pair, the addresses charon\n"
              "listens on, NTP servers, the nftables input path. Every choice is explained in the\n"
              "file's comments; the result is checked with `ikeheald --check-config`.\n"
              "\n"
              "  -o, --output=FILE        write FILE (mode 0640, replaced atomically) instead of stdout\n"
              "      --strongswan-conf=F  default $STRONGSWAN_CONF, else /etc/strongswan.conf\n"
              "      --swanctl-dir=DIR    default $SWANCTL_DIR, else /etc/swanctl\n"
              "      --standby=DIR        where the standby certificate and key are\n"
              "      --no-check           do not run ikeheald --check-config on the result\n", f);
}

int ctl_init(int argc, char **argv) {
        enum { ARG_SWCONF = 0x100, ARG_SWANCTL, ARG_STANDBY, ARG_NOCHECK };
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "strongswan-conf", required_argument, NULL, ARG_SWCONF },
                { "swanctl-dir", required_argument, NULL, ARG_SWANCTL },
                { "standby", required_argument, NULL, ARG_STANDBY },
                { "no-check", no_argument, NULL, ARG_NOCHECK },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        init_opts o = { .etc = "/etc" };
        const char *output = NULL;
        _cleanup_(freep) char *tmp = NULL, *text = NULL;
        init_facts f;
        bool check = true;
        size_t size = 0;
        FILE *mem;
        int c, r;

        /* argv[0] is "init": getopt starts after it */
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", options, NULL)) >= 0)
                switch (c) {
                case 'o': output = optarg; break;
                case ARG_SWCONF: o.strongswan_conf = optarg; break;
                case ARG_SWANCTL: o.swanctl_dir = optarg; break;
                case ARG_STANDBY: o.standby_dir = optarg; break;
                case ARG_NOCHECK: check = false; break;
                case 'h': ctl_init_usage(stdout); return 0;
                default: ctl_init_usage(stderr); return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "ikehealctl init: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        r = init_detect(&o, &f);
        if (r < 0) {
                init_facts_done(&f);
                fprintf(stderr, "ikehealctl init: %s\n", strerror(-r));
                return 1;
        }
        if (!(mem = open_memstream(&text, &size))) {
                init_facts_done(&f);
                return 1;
        }
        r = init_write(&f, mem);
        if (fclose(mem) != 0 && r >= 0)
                r = -ENOMEM;
        if (output)
                for (size_t i = 0; i < f.notes.n; i++)
                        fprintf(stderr, "init: %s\n", f.notes.v[i]);
        init_facts_done(&f);
        if (r < 0) {
                fprintf(stderr, "ikehealctl init: %s\n", strerror(-r));
                return 1;
        }
        /* The file (or, for stdout, a private copy to check) is written whole, then renamed: a
         * configuration is never seen half-written. */
        if (asprintf(&tmp, "%s.XXXXXX", output ? output : "/tmp/ikeheal-init") < 0)
                return 1;
        {
                _cleanup_(closep) int fd = mkostemp(tmp, O_CLOEXEC);
                if (fd < 0 || fchmod(fd, 0640) < 0 || write(fd, text, size) != (ssize_t) size || fsync(fd) < 0) {
                        fprintf(stderr, "ikehealctl init: %s: %s\n", tmp, strerror(errno));
                        if (fd >= 0)
                                (void) unlink(tmp);
                        return 1;
                }
        }
        if (check) {
                r = check_config(tmp);
                if (r < 0)
                        fprintf(stderr, "init: ikeheald not found beside ikehealctl nor in /usr/sbin: not checked\n");
        } else
                r = 0;
        if (output && r > 0) {
                /* an existing configuration is not replaced by one the agent refuses */
                fprintf(stderr, "init: %s left as it was; the refused configuration is in %s\n", output, tmp);
                return 1;
        }
        if (output) {
                if (rename(tmp, output) < 0) {
                        fprintf(stderr, "ikehealctl init: %s: %s\n", output, strerror(errno));
                        (void) unlink(tmp);
                        return 1;
                }
                fprintf(stderr, "init: wrote %s\n", output);
        } else {
                (void) unlink(tmp);
                if (fwrite(text, 1, size, stdout) != size || fflush(stdout) != 0)
                        return 1;
        }
        return r > 0 ? 1 : 0;
}
