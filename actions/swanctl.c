/* See swanctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actions/swanctl.h"

static int run(spawn **ret, const action_env *env, const char *bin, const char *what, const char *swanctl_dir,
               const char *conf, bool clear_creds, spawn_done_cb cb, void *userdata) {
        char e_dir[4200], e_conf[4200], uri[300];
        char *argv[8] = { (char *) bin, (char *) what, "--noprompt" }, *envp[5] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                                                                  "LANG=C" };
        size_t a = 3, e = 2;
        _cleanup_(closep) int fd = open(bin, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (strcmp(what, "--load-conns") == 0) /* the one load command without --noprompt */
                a = 2;
        if (strcmp(what, "--reload-settings") == 0) /* not a load command: no --noprompt either */
                a = 2;
        if (clear_creds)
                argv[a++] = "--clear";
        if (env->vici_socket) {
                (void) snprintf(uri, sizeof(uri), "unix://%s", env->vici_socket);
                argv[a++] = "--uri";
                argv[a++] = uri;
        }
        argv[a] = NULL;
        if (swanctl_dir) {
                (void) snprintf(e_dir, sizeof(e_dir), "SWANCTL_DIR=%s", swanctl_dir);
                envp[e++] = e_dir;
        }
        if (conf) {
                (void) snprintf(e_conf, sizeof(e_conf), "STRONGSWAN_CONF=%s", conf);
                envp[e++] = e_conf;
        }
        envp[e] = NULL;
        return spawn_start(ret, env->event, fd, argv, envp, cb, userdata);
}

int swanctl_load_all(spawn **ret, const action_env *env, const char *bin, const char *swanctl_dir, const char *conf,
                     bool clear_creds, spawn_done_cb cb, void *userdata) {
        return run(ret, env, bin, "--load-all", swanctl_dir, conf, clear_creds, cb, userdata);
}

int swanctl_load_creds(spawn **ret, const action_env *env, const char *bin, const char *swanctl_dir, const char *conf,
                       spawn_done_cb cb, void *userdata) {
        return run(ret, env, bin, "--load-creds", swanctl_dir, conf, false, cb, userdata);
}

int swanctl_load(spawn **ret, const action_env *env, const char *bin, const char *what, const char *swanctl_dir,
                 const char *conf, bool clear, spawn_done_cb cb, void *userdata) {
        return run(ret, env, bin, what, swanctl_dir, conf, clear, cb, userdata);
}

bool swanctl_failed(int code, int status, const char *out) {
        return code != CLD_EXITED || status != 0 || strcasestr(out, "syntax error") || strcasestr(out, "invalid config") ||
               strcasestr(out, "failed");
}
