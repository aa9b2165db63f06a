/* The one log module. The target is chosen once at start-up: the journal (its native protocol,
 * spoken by journal_send.c, with structured fields) when stderr is the journal stream systemd
 * gave us, plain stderr otherwise. Messages above the max level are dropped before any
 * formatting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "journal_send.h"
#include "log.h"

static const char *log_ident = "ikehealctl";
static int log_max_level = LOG_INFO;
static bool log_to_journal;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",  [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",    [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected stderr to; only if stderr is
 * still that stream do we switch to the native protocol (a redirected stderr must win). */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident, log_target target) {
        log_ident = ident;
        switch (target) {
        case LOG_TARGET_JOURNAL:
                log_to_journal = true;
                break;
        case LOG_TARGET_STDERR:
                log_to_journal = false;
                break;
        case LOG_TARGET_AUTO:
                log_to_journal = stderr_is_journal();
                break;
        }
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (strcmp(s, "err") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (level_names[i] && strcmp(s, level_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved_errno = errno;

        error = error < 0 ? -error : error;
        if (level > log_max_level)
                return -error;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (error != 0) {
                size_t n = strlen(msg);
                (void) snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(error));
        }

        if (log_to_journal) {
                struct iovec iov[16];
                char buf[6][64];
                char *m = NULL;
                size_t n = 0;

                if (asprintf(&m, "MESSAGE=%s", msg) >= 0) {
                        iov[n++] = (struct iovec){ m, strlen(m) };
                        (void) snprintf(buf[0], sizeof(buf[0]), "PRIORITY=%d", level);
                        (void) snprintf(buf[1], sizeof(buf[1]), "CODE_LINE=%d", line);
                        (void) snprintf(buf[2], sizeof(buf[2]), "SYSLOG_IDENTIFIER=%s", log_ident);
                        (void) snprintf(buf[3], sizeof(buf[3]), "ERRNO=%d", error);
                        for (size_t i = 0; i < 4; i++)
                                if (i != 3 || error != 0)
                                        iov[n++] = (struct iovec){ buf[i], strlen(buf[i]) };
                        char *cf = NULL, *cfn = NULL;
                        if (asprintf(&cf, "CODE_FILE=%s", file) >= 0)
                                iov[n++] = (struct iovec){ cf, strlen(cf) };
                        if (asprintf(&cfn, "CODE_FUNC=%s", func) >= 0)
                                iov[n++] = (struct iovec){ cfn, strlen(cfn) };
                        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                                iov[n++] = (struct iovec){ (void *) fields[i], strlen(fields[i]) };
                        if (journal_sendv(iov, (int) n) < 0)
                                fprintf(stderr, "<%d>%s\n", level, msg);
                        free(cf);
                        free(cfn);
                        free(m);
                }
        } else if (stderr_is_journal() || getenv("INVOCATION_ID")) {
                /* stderr is captured by systemd but we were told not to use the native
                 * protocol: keep the kernel-style level prefix so priorities survive. */
                fprintf(stderr, "<%d>%s\n", level, msg);
        } else
                fprintf(stderr, "%s[%s]: %s\n", log_ident, level_names[level], msg);

        errno = saved_errno;
        return -error;
}
