/* What the unit tests of the libraries loaded on first use (curl_lib, mhd_lib, systemd_lib,
 * nftnl_lib, jsonc_lib) share: whether a library is mapped, and a body run in a child process
 * (a library's load result is kept once per process). */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

/* name: a part of the mapped file's path, e.g. "/libcurl". */
static inline bool lib_mapped(const char *name) {
        char line[512];
        bool found = false;
        FILE *f = fopen("/proc/self/maps", "re");

        if (!f)
                return true; /* cannot tell: fail the "absent" checks rather than pass them */
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, name) != NULL;
        fclose(f);
        return found;
}

/* Runs body in a child, whose checks print there; returns the child's exit code, the number of
 * its failures (1 or 0). */
static inline int lib_in_child(void (*body)(void)) {
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                tap_failures = 0; /* the child's own */
                body();
                fflush(stdout);
                _exit(tap_failures ? 1 : 0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
