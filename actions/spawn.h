/* A child process watched from the loop, for the actions that run programs (exec's scripts,
 * swanctl): started from an already opened executable (fexecve: what was checked is what runs)
 * in its own session, with /dev/null as stdin, stdout and stderr to a pipe whose last bytes are
 * kept, no other descriptor, an empty signal mask, "/" as cwd and umask 022; watched through a
 * pidfd, never SIGCHLD or a blocking wait. Freeing it kills the whole process group; a process
 * that is not gone yet is reaped later by the loop. Does not log. */
#pragma once

#include <signal.h>

#include "ev.h"
#include "macro.h"

#define SPAWN_OUTPUT_KEEP 960u

typedef struct spawn spawn;

/* code: CLD_EXITED (status: the exit status) or CLD_KILLED/CLD_DUMPED (status: the signal).
 * output: the end of what the child wrote, on one line ("; " between lines). The spawn may be
 * freed from the callback. */
typedef void (*spawn_done_cb)(spawn *s, int code, int status, const char *output, void *userdata);

/* exe_fd is duplicated (the caller keeps its own). argv/envp are copied by exec. */
int spawn_start(spawn **ret, ev_loop *e, int exe_fd, char *const argv[], char *const envp[], spawn_done_cb cb,
                void *userdata);
spawn *spawn_free(spawn *s);
DEFINE_FREE_FUNC(spawn, spawn_free);

/* In the child of spawn_fork(): out_fd is the pipe's write end; must not return. */
typedef void (*spawn_child_fn)(int out_fd, void *userdata);
/* fork() with the child's output on a pipe (both ends close-on-exec). In the parent: the child's
 * pid, a pidfd to watch it by and the pipe's read end, non-blocking. A child that cannot be
 * watched is killed and reaped at once: it must not outlive us unseen. 0 or -errno. */
int spawn_fork(spawn_child_fn fn, void *userdata, pid_t *ret_pid, int *ret_pidfd, int *ret_out);

/* Kill pid and its process group (SIGKILL) and reap it from the loop once it is gone, without
 * blocking: the loop takes *pidfd over (set to -1) when the process has not exited yet; a
 * process already gone is reaped here and *pidfd left to the caller to close. */
void spawn_reap_later(ev_loop *e, pid_t pid, int *pidfd);

