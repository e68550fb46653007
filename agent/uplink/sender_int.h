/* sender_int: what the sender's files share; not part of its API. */
#ifndef SENDER_INT_H
#define SENDER_INT_H

#include "stream.h"
#include "sender.h"
#include "spool_seg.h"

enum sender__state {
    SENDER_IDLE,
    SENDER_RESOLVING,
    SENDER_CONNECTING,
    SENDER_HELLO,
    SENDER_STREAMING,
};

struct sender__inflight {
    uint64_t last_seq;
    size_t bytes;
};

struct sender {
    uv_loop_t *loop;
    const struct sender_cfg *cfg;
    char *const *endpoints;
    size_t n_endpoints, ep_idx;
    const struct sender_identity *id;
    spool_t *spool;
    fm_tls_ctx_t *tls;     /* NULL: plain TCP */
    fm_tls_ctx_t *old_tls; /* replaced by a reload, freed when its session ends */

    int state;
    stream_t *stream;
    fmw_decoder_t *dec;
    uv_getaddrinfo_t resolve;
    bool resolving;
    uv_timer_t retry, tick;
    int handles; /* open timers */
    unsigned failures;
    uint64_t lost_ms; /* uv_now when an established session was lost; 0: none since */
    uint64_t last_rx_ms, last_tx_ms;
    int64_t heartbeat_ms;
    int64_t dead_ms; /* dead_after, or more for a collector with slow heartbeats */
    size_t max_frame;
    uint64_t epoch;

    struct spool_iter it;
    struct sender_batch batch;
    struct spool_rec held; /* a record that did not fit the last batch */
    uint8_t *held_buf;
    bool have_held, pumping;
    struct sender__inflight *inflight;
    size_t n_inflight, inflight_cap;
    size_t inflight_bytes;

    sender_command_cb command_cb;
    void *command_ud;
    bool stopping;
    void (*done)(void *ud);
    void *done_ud;
    struct sender_stats stats;
};

/* Splits "host:port" or "[v6]:port". */
void sender__split_endpoint(const char *ep, char *host, size_t hlen, char *port, size_t plen);
/* Runs a collector command through the handler and answers it. */
void sender__command(sender_t *s, const Fm__Command *cmd);
/* Frees the sender once its stream, resolver and timers are all gone. */
void sender__maybe_done(sender_t *s);

#endif
