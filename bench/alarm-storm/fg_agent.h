/* fg_agent: a small blocking client for the agent side of the wire
 * contract (plain TCP), for fm-faultgen's scenarios: Hello with an
 * inventory, batches of alarm and reachability events, heartbeats while it
 * waits, and an abrupt close that looks like a killed agent.
 *
 * Every function returns 0 or a negative errno and prints the reason on
 * stderr once. One thread. */
#ifndef FG_AGENT_H
#define FG_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "fmwire.h"

struct fg_dev {
    const char *name;
    int cls; /* Fm__DeviceClass */
    const char *parent;
    const char *tag_key, *tag_value; /* one tag, or NULL */
};

/* One event to send: an alarm (code set) or a reachability change. */
struct fg_event {
    const char *device;
    const char *code; /* NULL: reachability */
    bool on;          /* raised, or reachable */
};

struct fg_agent {
    int fd;
    fmw_decoder_t *dec;
    char id[FMW_MAX_ID + 1];
    char site[FMW_MAX_ID + 1];
    uint64_t epoch;
    uint64_t next_seq, acked;
    int64_t last_tx_ms;
};

/* Connects to host:port and says Hello with devs; waits for the HelloAck. */
int fg_agent_open(struct fg_agent *a, const char *host, int port, const char *id, const char *site,
                  const struct fg_dev *devs, size_t n);

/* Sends events as one batch (seq numbers follow on). *last receives the
 * last sequence sent. */
int fg_agent_send(struct fg_agent *a, const struct fg_event *ev, size_t n, uint64_t *last);

/* Reads acks (and sends heartbeats) until seq is acked or timeout_ms. */
int fg_agent_wait_acked(struct fg_agent *a, uint64_t seq, int64_t timeout_ms);

/* Keeps talking for ms: reads, and a heartbeat every second. */
int fg_agent_idle(struct fg_agent *a, int64_t ms);

/* Closes. goodbye false: just drops the connection, as a killed agent. */
void fg_agent_close(struct fg_agent *a, bool goodbye);

int64_t fg_now_ms(void);

#endif
