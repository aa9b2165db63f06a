/* A private D-Bus broker for the unit tests of the bus code: a real dbus-daemon with the session
 * configuration, listening on a socket in a fresh temporary directory, and made the "system bus"
 * of this process (DBUS_SYSTEM_BUS_ADDRESS, which sd_bus_open_system() honours). Stopped and
 * removed by bus_daemon_stop(). */
#pragma once

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct bus_daemon {
        pid_t pid;
        char dir[64];
        char path[96];
} bus_daemon;

/* 0, or -1 with *why set (no dbus-daemon here: the caller skips). */
static inline int bus_daemon_start(bus_daemon *d, const char **why) {
        char address[128], arg[160];
        struct stat st;

        *d = (bus_daemon){ .pid = -1 };
        if (access("/usr/bin/dbus-daemon", X_OK) < 0) {
                *why = "no /usr/bin/dbus-daemon";
                return -1;
        }
        snprintf(d->dir, sizeof(d->dir), "/tmp/ikeheal-bus-XXXXXX");
        if (!mkdtemp(d->dir)) {
                *why = "mkdtemp failed";
                return -1;
        }
        snprintf(d->path, sizeof(d->path), "%s/bus", d->dir);
        snprintf(address, sizeof(address), "unix:path=%s", d->path);
        snprintf(arg, sizeof(arg), "--address=%s", address);
        fflush(stdout);
        d->pid = fork();
        if (d->pid == 0) {
                execl("/usr/bin/dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile",
                      "--nosyslog", arg, (char *) NULL);
                _exit(127);
        }
        if (d->pid < 0) {
                *why = "fork failed";
                return -1;
        }
        for (int i = 0; i < 500 && stat(d->path, &st) < 0; i++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        if (stat(d->path, &st) < 0) {
                *why = "dbus-daemon did not listen within 5 s";
                return -1;
        }
        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
        return 0;
}

static inline void bus_daemon_stop(bus_daemon *d) {
        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                (void) waitpid(d->pid, NULL, 0);
                d->pid = -1;
        }
        if (d->path[0])
                unlink(d->path);
        if (d->dir[0])
                rmdir(d->dir);
}
