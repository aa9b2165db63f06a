/* The one log module (after OpenBSD's log.c): the agent and the CLI log through here; the
 * project's libraries (actions/, policy/, parsers) do not log, they return errors.
 *
 * Under systemd (JOURNAL_STREAM set, or forced) records go to the journal with structured
 * fields (PRIORITY, CODE_FILE, CODE_LINE, IKEHEAL_* extras); otherwise to stderr as
 * "ikeheald[level]: message". Never pass secrets to these functions. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

typedef enum log_target {
        LOG_TARGET_AUTO,    /* journal when JOURNAL_STREAM matches stderr, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} log_target;

void log_setup(const char *ident, log_target target);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parse "debug", "info", "notice", "warning", "err"/"error", "crit"; -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Returns -abs(error) so callers can `return log_error_errno(r, "…");`. `fields` is an optional
 * NULL-terminated list of "KEY=value" strings added to the journal record. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *fmt, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal(level, error, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
/* With structured journal fields: log_fields(LOG_INFO, fields, "fmt", …) */
#define log_fields(level, fields, ...) \
        log_internal(level, 0, __FILE__, __LINE__, __func__, fields, __VA_ARGS__)
