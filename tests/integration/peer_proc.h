/* peer_proc: starts a real peer process for an integration test (a Modbus
 * server, the simulator) and reads the port it bound from its stdout, so
 * tests never hard-code ports.
 *
 * The peer's stdin is a pipe held open by the test: peers that stop at EOF
 * on stdin also stop if the test dies. peer_stop sends SIGTERM, waits, and
 * sends SIGKILL after a grace period. */
#ifndef TESTS_PEER_PROC_H
#define TESTS_PEER_PROC_H

#include <sys/types.h>

struct peer_proc {
    pid_t pid;
    int in_fd;  /* write end of the peer's stdin */
    int out_fd; /* read end of the peer's stdout */
};

/* Starts argv[0] (a path) with argv. Returns 0 or -errno. */
int peer_start(struct peer_proc *p, char *const argv[]);

/* Reads the peer's stdout until a line "key=value" and returns value as an
 * integer, or -ETIMEDOUT after timeout_ms, -EPIPE if the peer exited. */
long peer_wait_value(struct peer_proc *p, const char *key, int timeout_ms);

/* Stops the peer (SIGTERM, then SIGKILL after 3 s) and reaps it; returns
 * its wait status. Safe on a stopped peer (pid 0). */
int peer_stop(struct peer_proc *p);

#endif
