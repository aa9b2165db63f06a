/* See logs_tail.h. Files are read with pread() in 64 KiB chunks, lines split in place with
 * memchr(); only a line cut by the chunk's end is copied (into `partial`). Whatever is left when
 * the budget runs out is read in the next loop iteration (a defer source), after the events that
 * became pending meanwhile: sd-event dispatches the longest-pending source of a priority first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "agent/checks/logs_tail.h"
#include "charon_log.h"
#include "file_read.h"
#include "macro.h"
#include "now.h"
#include "systemd_lib.h"

#define CHUNK (64u * 1024u)
#define JOURNAL_CHECK_EVERY 64u
#define JOURNAL_LINE_MAX 4096 /* charon's own message buffer */

typedef struct tail_file {
        char *path;
        int fd;
        ino_t ino;
        off_t off;
        char partial[CHARON_LOG_LINE_MAX];
        size_t n_partial;
        bool more; /* the budget ran out before the end */
} tail_file;

struct logs_tail {
        ev_loop *event;
        logs_tail_line_cb cb;
        void *userdata;
        tail_file files[LOGS_TAIL_FILES_MAX];
        size_t n_files;
        int inotify_fd;
        ev_source *inotify_source, *poll_timer, *more_source;
        sd_journal *journal;
        ev_source *journal_source;
        bool journal_wanted, journal_more;
        int journal_error; /* why the journal could not be opened */
        char *chunk;
};

/* Split [p, p+n) into lines; the unterminated tail goes to partial. */
static void file_lines(logs_tail *t, tail_file *f, const char *p, size_t n) {
        const char *end = p + n;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (size_t) ((nl ? nl : end) - p);
                if (f->n_partial || !nl) {
                        size_t room = sizeof(f->partial) - f->n_partial, take = len < room ? len : room;
                        memcpy(f->partial + f->n_partial, p, take);
                        f->n_partial += take;
                        if (nl) {
                                t->cb(f->partial, f->n_partial, t->userdata);
                                f->n_partial = 0;
                        }
                } else
                        t->cb(p, len, t->userdata);
                p = nl ? nl + 1 : end;
        }
}

/* Read one file until its end or the deadline. */
static void file_read(logs_tail *t, tail_file *f, uint64_t deadline) {
        struct stat st;

        f->more = false;
        if (f->fd < 0 || fstat(f->fd, &st) < 0 || (stat(f->path, &st) == 0 && st.st_ino != f->ino)) {
                /* rotated (or not there before): follow the new file from its start */
                if (f->fd >= 0)
                        close(f->fd);
                f->fd = file_read_open(f->path, FILE_READ_FOLLOW, NULL); /* regular files only, never blocks */
                f->off = 0;
                f->n_partial = 0;
                if (f->fd < 0 || fstat(f->fd, &st) < 0)
                        return;
                f->ino = st.st_ino;
                /* a watch follows the inode: the new file gets its own, so its lines wake us at
                 * once rather than at the next poll (the old file's watch goes with it) */
                (void) inotify_add_watch(t->inotify_fd, f->path, IN_MODIFY);
        }
        if (st.st_size < f->off) { /* truncated */
                f->off = 0;
                f->n_partial = 0;
        }
        for (;;) {
                ssize_t n = pread(f->fd, t->chunk, CHUNK, f->off);
                if (n <= 0)
                        return;
                f->off += n;
                file_lines(t, f, t->chunk, (size_t) n);
                if ((size_t) n == CHUNK && mono_usec() >= deadline) {
                        f->more = true;
                        return;
                }
        }
}

/* A journal field's value ("NAME=value"), cut to fit buf; "" when the record has none. */
static void journal_field(sd_journal *j, const char *name, char *buf, size_t size) {
        size_t skip = strlen(name) + 1, len;
        const void *data;

        buf[0] = 0;
        if (sd_journal_get_data(j, name, &data, &len) < 0 || len < skip)
                return;
        len = min_size(len - skip, size - 1);
        memcpy(buf, (const char *) data + skip, len);
        buf[len] = 0;
}

/* charon-systemd writes charon's message alone and its thread and subsystem as fields of their
 * own (THREAD=, GROUP=), where charon's other loggers write "NN[GRP] message": the line is put
 * back together so that the classifier reads both alike. Any other record is its MESSAGE. */
static size_t journal_line(sd_journal *j, char *buf, size_t size) {
        char group[8], thread[8];
        const void *data;
        size_t len;
        int n;

        journal_field(j, "GROUP", group, sizeof(group));
        journal_field(j, "THREAD", thread, sizeof(thread));
        if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len <= 8)
                return 0;
        if (!group[0] || !thread[0]) {
                len = min_size(len - 8, size);
                memcpy(buf, (const char *) data + 8, len);
                return len;
        }
        n = snprintf(buf, size, "%02d[%s] %.*s", atoi(thread), group, (int) min_size(len - 8, size), (const char *) data + 8);
        return n < 0 ? 0 : min_size((size_t) n, size - 1);
}

static void journal_read(logs_tail *t, uint64_t deadline) {
        char line[JOURNAL_LINE_MAX];

        t->journal_more = false;
        if (!t->journal)
                return;
        for (unsigned i = 1;; i++) {
                int r = sd_journal_next(t->journal);
                if (r <= 0)
                        return;
                size_t len = journal_line(t->journal, line, sizeof(line));
                if (len > 0)
                        t->cb(line, len, t->userdata);
                if (i % JOURNAL_CHECK_EVERY == 0 && mono_usec() >= deadline) {
                        t->journal_more = true;
                        return;
                }
        }
}

static int on_more(ev_source *s, void *userdata);

void logs_tail_pump(logs_tail *t) {
        uint64_t deadline = mono_usec() + LOGS_TAIL_BUDGET_USEC;
        bool more = false;

        for (size_t i = 0; i < t->n_files; i++) {
                file_read(t, &t->files[i], deadline);
                more |= t->files[i].more;
        }
        journal_read(t, deadline);
        more |= t->journal_more;
        if (!more)
                return;
        if (!t->more_source && ev_add_defer(t->event, &t->more_source, on_more, t) < 0)
                return; /* the next inotify event or the poll timer carries on */
        (void) ev_source_set_enabled(t->more_source, EV_ONESHOT);
}

static int on_more(ev_source *s, void *userdata) {
        logs_tail_pump(userdata);
        return 0;
}

static int on_inotify(ev_source *src, int fd, uint32_t revents, void *userdata) {
        logs_tail *t = userdata;
        char buf[4096];

        while (read(t->inotify_fd, buf, sizeof(buf)) > 0)
                ;
        logs_tail_pump(t);
        return 0;
}

static int on_poll(ev_source *src, uint64_t usec, void *userdata) {
        /* rotation creates a new inode inotify on the old one cannot see: look once a second (a
         * file found rotated is watched from then on) */
        logs_tail_pump(userdata);
        (void) ev_source_set_time_relative(src, USEC_PER_SEC);
        return ev_source_set_enabled(src, EV_ON);
}

static int on_journal(ev_source *src, int fd, uint32_t revents, void *userdata) {
        logs_tail *t = userdata;
        (void) sd_journal_process(t->journal);
        logs_tail_pump(t);
        return 0;
}

static int journal_open(logs_tail *t, char *const *units) {
        int r, fd;

        r = sd_journal_open(&t->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        for (size_t i = 0; units[i]; i++) {
                char m[300];
                (void) snprintf(m, sizeof(m), "_SYSTEMD_UNIT=%s", units[i]);
                if (i)
                        (void) sd_journal_add_disjunction(t->journal);
                r = sd_journal_add_match(t->journal, m, 0);
                if (r < 0)
                        return r;
        }
        r = sd_journal_seek_tail(t->journal);
        if (r >= 0)
                r = sd_journal_previous(t->journal);
        if (r < 0)
                return r;
        fd = sd_journal_get_fd(t->journal);
        if (fd < 0)
                return fd;
        return ev_add_io(t->event, &t->journal_source, fd, (uint32_t) sd_journal_get_events(t->journal),
                               on_journal, t);
}

static int files_open(logs_tail *t, char *const *files) {
        int r;

        t->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->inotify_fd < 0)
                return -errno;
        for (size_t i = 0; files[i] && t->n_files < LOGS_TAIL_FILES_MAX; i++) {
                tail_file *f = &t->files[t->n_files++];
                struct stat st;
                f->path = strdup(files[i]);
                if (!f->path)
                        return -ENOMEM;
                f->fd = file_read_open(f->path, FILE_READ_FOLLOW, NULL); /* regular files only, never blocks */
                if (f->fd >= 0 && fstat(f->fd, &st) == 0) {
                        f->ino = st.st_ino;
                        f->off = st.st_size; /* only what is new */
                }
                (void) inotify_add_watch(t->inotify_fd, f->path, IN_MODIFY);
        }
        r = ev_add_io(t->event, &t->inotify_source, t->inotify_fd, EPOLLIN, on_inotify, t);
        if (r < 0)
                return r;
        return ev_add_time_relative(t->event, &t->poll_timer, CLOCK_MONOTONIC, USEC_PER_SEC,
                                          100 * USEC_PER_MSEC, on_poll, t);
}

int logs_tail_new(logs_tail **ret, ev_loop *e, char *const *files, char *const *units, logs_tail_line_cb cb,
                  void *userdata) {
        logs_tail *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        t->event = ev_ref(e);
        t->cb = cb;
        t->userdata = userdata;
        t->inotify_fd = -1;
        for (size_t i = 0; i < LOGS_TAIL_FILES_MAX; i++)
                t->files[i].fd = -1;
        t->chunk = malloc(CHUNK);
        if (!t->chunk) {
                logs_tail_free(t);
                return -ENOMEM;
        }
        if (units && units[0]) {
                t->journal_wanted = true;
                r = journal_open(t, units);
                if (r < 0) {
                        t->journal_error = r;
                        t->journal_source = ev_source_disable_unref(t->journal_source);
                        sd_journal_close(t->journal);
                        t->journal = NULL;
                }
        }
        if (files && files[0]) {
                r = files_open(t, files);
                if (r < 0) {
                        logs_tail_free(t);
                        return r;
                }
        }
        *ret = t;
        return 0;
}

logs_tail *logs_tail_free(logs_tail *t) {
        if (!t)
                return NULL;
        t->journal_source = ev_source_disable_unref(t->journal_source);
        sd_journal_close(t->journal);
        t->inotify_source = ev_source_disable_unref(t->inotify_source);
        t->poll_timer = ev_source_disable_unref(t->poll_timer);
        t->more_source = ev_source_disable_unref(t->more_source);
        if (t->inotify_fd >= 0)
                close(t->inotify_fd);
        for (size_t i = 0; i < t->n_files; i++) {
                if (t->files[i].fd >= 0)
                        close(t->files[i].fd);
                free(t->files[i].path);
        }
        free(t->chunk);
        ev_unref(t->event);
        free(t);
        return NULL;
}

bool logs_tail_journal_unavailable(const logs_tail *t) {
        return t->journal_wanted && !t->journal;
}

const char *logs_tail_journal_reason(const logs_tail *t) {
        if (!logs_tail_journal_unavailable(t))
                return NULL;
        /* libsystemd refused (not installed, too old): its own words say which */
        return systemd_lib_error() ?: strerror(-t->journal_error);
}
