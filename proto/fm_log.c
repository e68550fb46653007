/* fm_log: see fm_log.h. */
#include "fm_log.h"

#include "fm_clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Atomic int fm_log_level = FM_LOG_INFO;

static const char *log_progname = "fieldmon";
static int log_fd = 2;

static const char *const level_names[] = {
    [FM_LOG_ERR] = "err",   [FM_LOG_WARNING] = "warning", [FM_LOG_NOTICE] = "notice",
    [FM_LOG_INFO] = "info", [FM_LOG_DEBUG] = "debug",
};

void fm_log_init(const char *progname, int fd)
{
    if (progname != NULL)
        log_progname = progname;
    log_fd = fd;
}

int fm_log_parse_level(const char *name)
{
    for (int i = FM_LOG_ERR; i <= FM_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0)
            return i;
    }
    return -1;
}

void fm_vlog(int level, const char *fmt, va_list ap)
{
    char line[2048];
    int64_t now_ms;
    time_t secs;
    struct tm tm;
    size_t n;
    int w;

    if (level < FM_LOG_ERR)
        level = FM_LOG_ERR;
    if (level > FM_LOG_DEBUG)
        level = FM_LOG_DEBUG;
    now_ms = fm_clock_wall_ms();
    secs = (time_t)(now_ms / 1000);
    gmtime_r(&secs, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03dZ %s[%d] %s: ", (int)(now_ms % 1000),
                 log_progname, (int)getpid(), level_names[level]);
    if (w > 0)
        n += (size_t)w;
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (w > 0)
        n += (size_t)w;
    if (n > sizeof(line) - 2) /* truncated: keep the newline */
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line so lines from threads never interleave. A failed
     * write to the log has nowhere to be reported. */
    if (write(log_fd, line, n) < 0)
        return;
}

void fm_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fm_vlog(level, fmt, ap);
    va_end(ap);
}
