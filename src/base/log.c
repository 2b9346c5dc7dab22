#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_threshold = LOG_INFO;

void log_set_level(log_level level) { atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed); }

log_level log_get_level(void) { return (log_level)atomic_load_explicit(&log_threshold, memory_order_relaxed); }

const char *log_level_str(log_level level) {
    switch (level) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    case LOG_OFF: return "off";
    }
    return "unknown";
}

int log_level_parse(const char *name) {
    static const struct { const char *name; log_level level; } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR}, {"off", LOG_OFF},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) return (int)names[i].level;
    return -1;
}

void log_msg(log_level level, const char *fmt, ...) {
    if (level < log_get_level() || level >= LOG_OFF) return;
    enum { line_max_bytes = 1024 };
    char line[line_max_bytes + 2];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, line_max_bytes, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, log_level_str(level));
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, (size_t)(line_max_bytes - n), fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > line_max_bytes - 1) len = line_max_bytes - 1;
    line[len++] = '\n';
    /* stderr is unbuffered; one write keeps the line whole. Nothing to do on failure. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
