/* conn: one agent connection (internal to server.c and conn.c).
 *
 * A connection goes ACCEPTED -> (TLS handshake) -> HELLO_WAIT -> HELLO_SENT
 * (waiting for the writer to register the agent; not read meanwhile) ->
 * READY (batches flow; each is acked after its commit) and ends CLOSING
 * (handle closing; freed when the close callback has run and no writer job
 * refers to it any more). */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "collconf.h"
#include "dbwriter.h"
#include "faults.h"
#include "fmwire.h"
#include "fm_tls.h"

enum conn_state {
    CONN_HELLO_WAIT,
    CONN_HELLO_SENT,
    CONN_READY,
    CONN_CLOSING,
};

struct server {
    uv_loop_t *loop;
    const struct collconf *cfg;
    fm_tls_ctx_t *tls;
    const char *collector_id;
    uv_tcp_t listener;
    uv_timer_t sweep;
    dbw_t *dbw;
    faults_t *faults;   /* NULL when faults.enabled is false */
    struct conn *conns; /* list of open connections */
    size_t nconns;
    bool paused; /* writer queue over its limit: nobody is read */
    bool stopping;
    int handles;         /* listener, sweep */
    uint64_t rate_last;  /* events_committed at the last sweep */
    double rate;         /* its moving average, events/s */
    uint8_t rbuf[65536]; /* socket reads (processed before the next read) */
    uint8_t pbuf[65536]; /* TLS plaintext */
};

struct conn {
    struct conn *prev, *next;
    struct server *srv;
    uv_tcp_t tcp;
    enum conn_state state;
    bool reading;
    bool tls_ready;
    int refs; /* writer jobs holding this connection */
    bool handle_open;
    char peer[64];
    char agent_id[FMW_MAX_ID + 1];
    char site_id[FMW_MAX_ID + 1];
    uint64_t epoch;
    uint64_t fed_seq; /* events up to here were given to the fault engine */
    fm_tls_t *tls;
    fmw_decoder_t *dec;
    size_t inflight;        /* memory of decoded envelopes not yet committed */
    struct dbw_chain chain; /* the writer's: stop after a batch that failed */
    uint64_t opened_ms, last_rx_ms, last_tx_ms;
};

/* conn.c */
void conn__accept(struct server *s);
void conn__close(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends a Goodbye with the reason (when the channel is up), then closes. */
void conn__fail(struct conn *c, Fm__Goodbye__Reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void conn__job_done(struct dbw_job *job, void *arg);
/* Starts or stops reading as the limits and backpressure say. */
void conn__update_reading(struct conn *c);
/* Timeouts and heartbeats; called once a second. */
void conn__sweep(struct conn *c, uint64_t now_ms);

#endif
