/* fm_log: the one logger of every fieldmon program.
 *
 * Messages read `module: object: what failed: why`, one line per event. The
 * FM_ERR..FM_DEBUG macros test the level before evaluating their arguments, so
 * a debug line costs one comparison when debug is off. Thread-safe: each line
 * is written with one write(2) call. */
#ifndef FM_LOG_H
#define FM_LOG_H

#include <stdarg.h>
#include <stdatomic.h>

/* Syslog levels. */
enum fm_log_level {
    FM_LOG_ERR = 3,
    FM_LOG_WARNING = 4,
    FM_LOG_NOTICE = 5,
    FM_LOG_INFO = 6,
    FM_LOG_DEBUG = 7,
};

/* The level in force. Written on SIGHUP by the loop thread while worker
 * threads log, so it is atomic (relaxed is enough: a line logged at the old
 * level just before a reload is harmless). */
extern _Atomic int fm_log_level;

/* Sets the program name shown on each line (borrowed; must outlive logging)
 * and the destination file descriptor (default 2, stderr). */
void fm_log_init(const char *progname, int fd);

/* Parses "err", "warning", "notice", "info" or "debug". Returns the level or -1. */
int fm_log_parse_level(const char *name);

void fm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fm_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define FM_LOG_AT(lvl, ...)                                                                        \
    do {                                                                                           \
        if ((lvl) <= fm_log_level)                                                                 \
            fm_log((lvl), __VA_ARGS__);                                                            \
    } while (0)
#define FM_ERR(...) FM_LOG_AT(FM_LOG_ERR, __VA_ARGS__)
#define FM_WARN(...) FM_LOG_AT(FM_LOG_WARNING, __VA_ARGS__)
#define FM_NOTICE(...) FM_LOG_AT(FM_LOG_NOTICE, __VA_ARGS__)
#define FM_INFO(...) FM_LOG_AT(FM_LOG_INFO, __VA_ARGS__)
#define FM_DEBUG(...) FM_LOG_AT(FM_LOG_DEBUG, __VA_ARGS__)

#endif
