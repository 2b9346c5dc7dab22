/*
 * One line per event, with a level, to stderr.
 * The level is set once at startup (before worker threads exist) and only read
 * afterwards; it is the one piece of process-wide state, kept atomic so a late
 * change (tests) is still well-defined.
 */
#ifndef RINGPAD_LOG_H
#define RINGPAD_LOG_H

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
    LOG_OFF = 4,
} log_level;

/* Messages below `level` are dropped. Default: LOG_INFO. */
void log_set_level(log_level level);
log_level log_get_level(void);

/* "debug", "info", "warn", "error", "off". */
const char *log_level_str(log_level level);

/* Parses a level name (case-insensitive; "warning" accepted); -1 when unknown. */
int log_level_parse(const char *name);

/* Writes "LEVEL message\n" to stderr in one write(2) so lines from different
 * workers never interleave. Lines longer than 1 KiB are truncated. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif /* RINGPAD_LOG_H */
