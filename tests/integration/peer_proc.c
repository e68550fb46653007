/* peer_proc: see peer_proc.h. */
#include "peer_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int peer_start(struct peer_proc *p, char *const argv[])
{
    int in[2], out[2];

    if (pipe(in) != 0)
        return -errno;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return -errno;
    }
    p->pid = fork();
    if (p->pid < 0) {
        int err = errno;
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return -err;
    }
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(argv[0], argv);
        fprintf(stderr, "peer_proc: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];
    p->out_fd = out[0];
    return 0;
}

long peer_wait_value(struct peer_proc *p, const char *key, int timeout_ms)
{
    char line[256];
    size_t len = 0, klen = strlen(key);
    long deadline = now_ms() + timeout_ms;

    for (;;) {
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0)
            return -ETIMEDOUT;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = read(p->out_fd, line + len, 1);
        if (n <= 0)
            return -EPIPE;
        if (line[len] != '\n' && len + 2 < sizeof(line)) {
            len++;
            continue;
        }
        line[len] = '\0';
        len = 0;
        if (strncmp(line, key, klen) == 0 && line[klen] == '=')
            return strtol(line + klen + 1, NULL, 10);
    }
}

int peer_stop(struct peer_proc *p)
{
    int status = 0;

    if (p->pid <= 0)
        return 0;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid)
            goto out;
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
out:
    close(p->in_fd);
    close(p->out_fd);
    p->pid = 0;
    return status;
}
