/* sender: the session with the collector (see sender.h).
 *
 * States: IDLE (waiting out a backoff) -> RESOLVING -> CONNECTING (TCP, TLS)
 * -> HELLO (Hello sent, waiting for HelloAck) -> STREAMING. Any error goes
 * back to IDLE through on_link_close, which schedules the next attempt:
 * the next endpoint at once while some remain in this round, else the first
 * endpoint again after a backoff. A session that reached STREAMING resets
 * the backoff, and its loss is followed by a short first retry (the
 * collector was there a moment ago: most often it is restarting), then
 * the backoff.
 *
 * In STREAMING, pump() reads spool records from the iterator, packs them
 * into batches and writes them while the unacknowledged window has room.
 * Acks move the spool's ack point and open the window again. On reconnect
 * the iterator restarts from HelloAck.last_committed_seq + 1, so everything
 * sent but not acknowledged is sent again; the collector drops what it
 * already committed. */
#include "sender_int.h"

#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void connect_next(sender_t *s);
static void pump(sender_t *s);

static const char *cur_endpoint(const sender_t *s)
{
    return s->endpoints[s->ep_idx];
}

/* ------------------------------------------------------------ backoff */

static void on_retry(uv_timer_t *t)
{
    sender_t *s = t->data;

    s->ep_idx = 0;
    connect_next(s);
}

/* Uniform in [lo, hi]. */
static int64_t jitter(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (uint64_t)(hi - lo + 1));
}

static void schedule_retry(sender_t *s)
{
    int64_t d = s->cfg->backoff_min_ms;

    for (unsigned i = 0; i < s->failures && d < s->cfg->backoff_max_ms; i++)
        d *= 2;
    if (d > s->cfg->backoff_max_ms)
        d = s->cfg->backoff_max_ms;
    /* Soon after a session was lost the collector is most likely
     * restarting: keep trying every 1-2 s for a minute. */
    if (s->lost_ms != 0 && uv_now(s->loop) - s->lost_ms < SENDER_LOST_FAST_MS &&
        d > SENDER_LOST_FAST_CAP_MS)
        d = SENDER_LOST_FAST_CAP_MS;
    d = jitter(d / 2, d);
    s->failures++;
    s->state = SENDER_IDLE;
    FM_INFO("sender: no collector reachable, next attempt in %" PRId64 " ms", d);
    uv_timer_start(&s->retry, on_retry, (uint64_t)d, 0);
}

/* After an established session is lost: one short first retry, uniform in
 * [SENDER_LOST_RETRY_MIN_MS, SENDER_LOST_RETRY_MAX_MS] (never above
 * backoff_max), so that agents come back as soon as a restarted collector
 * listens, spread enough that a fleet does not arrive in one instant. If
 * it fails, the backoff runs from backoff_min as usual, but capped at
 * SENDER_LOST_FAST_CAP_MS for SENDER_LOST_FAST_MS after the loss. */
static void schedule_first_retry(sender_t *s)
{
    int64_t hi = SENDER_LOST_RETRY_MAX_MS < s->cfg->backoff_max_ms ? SENDER_LOST_RETRY_MAX_MS
                                                                   : s->cfg->backoff_max_ms;
    int64_t lo = SENDER_LOST_RETRY_MIN_MS < hi ? SENDER_LOST_RETRY_MIN_MS : hi;
    int64_t d = jitter(lo, hi);

    s->failures = 0;
    s->lost_ms = uv_now(s->loop);
    s->state = SENDER_IDLE;
    FM_INFO("sender: session lost, first retry in %" PRId64 " ms", d);
    uv_timer_start(&s->retry, on_retry, (uint64_t)d, 0);
}

/* ------------------------------------------------------------ frames out */

static int send_env(sender_t *s, const Fm__Envelope *env)
{
    size_t cap = fmw_frame_size(env);
    uint8_t small[512];
    uint8_t *buf = cap <= sizeof(small) ? small : fm_xmalloc(cap);
    int64_t n = fmw_frame_pack(env, buf, cap, s->max_frame);
    int rc = n < 0 ? (int)n : stream_write(s->stream, buf, (size_t)n);

    if (buf != small)
        free(buf);
    s->last_tx_ms = uv_now(s->loop);
    return rc;
}

static void send_hello(sender_t *s)
{
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__Hello h = FM__HELLO__INIT;
    struct spool_stats st;

    spool_get_stats(s->spool, &st);
    h.agent_id = (char *)s->id->agent_id;
    h.site_id = (char *)s->id->site_id;
    h.site_name = (char *)(s->id->site_name ? s->id->site_name : "");
    h.epoch = st.epoch;
    h.software_version = FM_VERSION;
    if (s->id->config_digest != NULL) {
        h.config_digest.data = (uint8_t *)s->id->config_digest;
        h.config_digest.len = FMW_DIGEST_LEN;
    }
    h.inventory = (Fm__Inventory *)s->id->inventory;
    h.max_frame = FMW_MAX_FRAME_DEFAULT;
    h.sent_at_ms = fm_clock_wall_ms();
    env.body_case = FM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s->max_frame = FMW_MAX_FRAME_LIMIT; /* our own Hello may be large */
    if (send_env(s, &env) < 0)
        stream_close(s->stream, -EPROTO, "cannot send Hello");
    s->max_frame = FMW_MAX_FRAME_DEFAULT;
    s->state = SENDER_HELLO;
}

/* ------------------------------------------------------------ streaming */

static void inflight_push(sender_t *s, uint64_t last_seq, size_t bytes)
{
    if (s->n_inflight == s->inflight_cap) {
        s->inflight_cap = s->inflight_cap ? s->inflight_cap * 2 : 64;
        s->inflight = fm_xrealloc(s->inflight, s->inflight_cap * sizeof(*s->inflight));
    }
    s->inflight[s->n_inflight++] = (struct sender__inflight){last_seq, bytes};
    s->inflight_bytes += bytes;
}

/* Sends batches while the window has room and the spool has records. */
static void pump(sender_t *s)
{
    size_t max_bytes = s->cfg->batch_bytes;

    if (s->state != SENDER_STREAMING || s->pumping)
        return;
    s->pumping = true;
    if (max_bytes + SENDER_BATCH_HEADROOM > s->max_frame)
        max_bytes = s->max_frame - SENDER_BATCH_HEADROOM;
    while (s->state == SENDER_STREAMING && s->inflight_bytes < s->cfg->window_bytes) {
        struct spool_rec rec;
        int rc = 1;

        sender_batch_reset(&s->batch);
        if (s->have_held) {
            sender_batch_add(&s->batch, &s->held, max_bytes);
            s->have_held = false;
        }
        while (s->batch.n_events < s->cfg->batch_events &&
               (rc = spool_iter_next(s->spool, &s->it, &rec)) == 1) {
            if (sender_batch_add(&s->batch, &rec, max_bytes) < 0) {
                /* Full: keep this record for the next batch. */
                s->held_buf = fm_xrealloc(s->held_buf, rec.len ? rec.len : 1);
                memcpy(s->held_buf, rec.payload, rec.len);
                s->held = rec;
                s->held.payload = s->held_buf;
                s->have_held = true;
                break;
            }
        }
        if (rc < 0) {
            stream_close(s->stream, -EIO, "spool read error");
            break;
        }
        if (s->batch.n_events == 0)
            break;
        size_t len;
        const uint8_t *frame = sender_batch_finish(&s->batch, s->epoch, &len);
        if (stream_write(s->stream, frame, len) < 0)
            break;
        s->last_tx_ms = uv_now(s->loop);
        spool_sent(s->spool, s->batch.last_seq);
        inflight_push(s, s->batch.last_seq, len);
        s->stats.batches_sent++;
        s->stats.events_sent += s->batch.n_events;
        s->stats.bytes_sent += len;
    }
    s->pumping = false;
}

void sender_kick(sender_t *s)
{
    pump(s);
}

static void on_ack(sender_t *s, const Fm__Ack *a)
{
    size_t k = 0;

    if (a->epoch != s->epoch) {
        FM_WARN("sender: %s: ack for epoch %" PRIu64 ", ours is %" PRIu64 ": ignored",
                cur_endpoint(s), a->epoch, s->epoch);
        return;
    }
    spool_ack(s->spool, a->committed_seq);
    if (a->committed_seq > s->stats.acked_seq)
        s->stats.acked_seq = a->committed_seq;
    while (k < s->n_inflight && s->inflight[k].last_seq <= a->committed_seq) {
        s->inflight_bytes -= s->inflight[k].bytes;
        k++;
    }
    memmove(s->inflight, s->inflight + k, (s->n_inflight - k) * sizeof(*s->inflight));
    s->n_inflight -= k;
    pump(s);
}

static void on_hello_ack(sender_t *s, const Fm__HelloAck *ha)
{
    struct spool_stats st;
    uint64_t from;

    spool_get_stats(s->spool, &st);
    if (ha->epoch != st.epoch) {
        stream_close(s->stream, -EPROTO, "HelloAck for another epoch");
        return;
    }
    s->epoch = st.epoch;
    from = ha->last_committed_seq + 1;
    if (ha->last_committed_seq > st.written_seq) {
        /* The collector has more of this epoch than the spool ever wrote:
         * the spool directory was restored from an old copy. Sending the
         * same sequences again would be dropped as duplicates. */
        FM_ERR("sender: %s: collector committed seq %" PRIu64 " of epoch %" PRIu64
               " but the spool only reached %" PRIu64 "; events %" PRIu64 "..%" PRIu64
               " will be treated as duplicates",
               cur_endpoint(s), ha->last_committed_seq, st.epoch, st.written_seq,
               st.written_seq + 1, ha->last_committed_seq);
    }
    /* The collector's word on everything sent before: what the spool's cap
     * removed above it is dropped, at or below it committed. */
    spool_confirm(s->spool, ha->last_committed_seq);
    spool_iter_close(&s->it);
    spool_iter_init(&s->it, from);
    s->have_held = false;
    s->n_inflight = 0;
    s->inflight_bytes = 0;
    if (ha->max_frame >= 4096 && ha->max_frame < s->max_frame)
        s->max_frame = ha->max_frame;
    if (ha->heartbeat_s > 0 && (int64_t)ha->heartbeat_s * 1000 < s->heartbeat_ms)
        s->heartbeat_ms = (int64_t)ha->heartbeat_s * 1000;
    /* A collector with nothing to ack is silent until its own heartbeat:
     * a quiet but healthy session must outlive two of them. */
    if (ha->heartbeat_s > 0 && (int64_t)ha->heartbeat_s * 2000 + 1000 > s->dead_ms) {
        s->dead_ms = (int64_t)ha->heartbeat_s * 2000 + 1000;
        FM_NOTICE("sender: %s: dead_after raised to %" PRId64 " ms for this session: the "
                  "collector sends heartbeats only every %u s",
                  cur_endpoint(s), s->dead_ms, ha->heartbeat_s);
    }
    s->state = SENDER_STREAMING;
    s->failures = 0;
    s->stats.connects++;
    s->stats.connected = true;
    s->stats.acked_seq = ha->last_committed_seq;
    FM_NOTICE("sender: %s: session up (collector %s, %s), resuming after seq %" PRIu64
              " of epoch %" PRIu64 ", %" PRIu64 " events to send",
              cur_endpoint(s), ha->collector_id ? ha->collector_id : "?",
              s->tls ? "TLS" : "plain TCP", ha->last_committed_seq, st.epoch,
              st.written_seq > ha->last_committed_seq ? st.written_seq - ha->last_committed_seq
                                                      : 0);
    pump(s);
}

static void on_envelope(sender_t *s, const Fm__Envelope *env)
{
    switch (env->body_case) {
    case FM__ENVELOPE__BODY_HELLO_ACK:
        if (s->state == SENDER_HELLO)
            on_hello_ack(s, env->hello_ack);
        else
            stream_close(s->stream, -EPROTO, "unexpected HelloAck");
        break;
    case FM__ENVELOPE__BODY_ACK:
        if (s->state == SENDER_STREAMING)
            on_ack(s, env->ack);
        break;
    case FM__ENVELOPE__BODY_HEARTBEAT:
        break;
    case FM__ENVELOPE__BODY_GOODBYE: {
        char why[300];
        snprintf(why, sizeof(why), "collector said goodbye (reason %d): %s",
                 (int)env->goodbye->reason, env->goodbye->detail ? env->goodbye->detail : "");
        stream_close(s->stream, -ECONNRESET, why);
        break;
    }
    case FM__ENVELOPE__BODY_COMMAND:
        sender__command(s, env->command);
        break;
    default:
        stream_close(s->stream, -EPROTO, "unexpected message from the collector");
    }
}

static void on_link_data(stream_t *l, const uint8_t *p, size_t n, void *ud)
{
    sender_t *s = ud;
    const uint8_t *payload;
    size_t len;
    int rc;

    s->last_rx_ms = uv_now(s->loop);
    fmw_decoder_input(s->dec, p, n);
    while ((rc = fmw_decoder_next(s->dec, &payload, &len)) == 1) {
        Fm__Envelope *env;
        char why[256];
        if (fmw_envelope_unpack(payload, len, NULL, &env) != 0) {
            stream_close(l, -EPROTO, "undecodable frame from the collector");
            return;
        }
        if (fmw_envelope_validate(env, fm_clock_wall_ms(), why, sizeof(why)) != 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "invalid message from the collector: %s", why);
            fmw_envelope_free(env, NULL);
            stream_close(l, -EPROTO, msg);
            return;
        }
        on_envelope(s, env);
        fmw_envelope_free(env, NULL);
        if (s->stream != l)
            return;
    }
    if (rc < 0)
        stream_close(l, -EPROTO, fmw_strerror(rc));
}

/* ------------------------------------------------------------ connection */

static void on_link_open(stream_t *l, void *ud)
{
    sender_t *s = ud;

    FM_INFO("sender: %s: connected (%s%s%s)", cur_endpoint(s),
            s->tls ? "TLS, collector " : "plain TCP", s->tls ? stream_peer_cn(l) : "", "");
    s->last_rx_ms = uv_now(s->loop);
    fmw_decoder_destroy(s->dec);
    s->dec = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    send_hello(s);
}

static void on_link_close(stream_t *l, int status, const char *why, void *ud)
{
    sender_t *s = ud;
    bool was_up = s->state == SENDER_STREAMING;

    (void)l;
    s->stream = NULL;
    s->stats.connected = false;
    fm_tls_ctx_destroy(s->old_tls);
    s->old_tls = NULL;
    s->heartbeat_ms = s->cfg->heartbeat_ms;
    s->dead_ms = s->cfg->dead_after_ms;
    s->max_frame = FMW_MAX_FRAME_DEFAULT;
    if (s->stopping) {
        s->state = SENDER_IDLE;
        sender__maybe_done(s);
        return;
    }
    if (was_up) {
        s->stats.reconnects++;
        FM_WARN("sender: %s: session lost: %s; reconnecting", cur_endpoint(s), why);
        s->ep_idx = 0;
        schedule_first_retry(s);
        return;
    }
    s->stats.connect_failures++;
    /* TLS refusals are configuration errors an operator must see. */
    if (status == -EPROTO)
        FM_ERR("sender: %s: TLS session refused: %s", cur_endpoint(s), why);
    else
        FM_WARN("sender: %s: %s", cur_endpoint(s), why);
    s->ep_idx++;
    if (s->ep_idx < s->n_endpoints)
        connect_next(s);
    else
        schedule_retry(s);
}

static const struct stream_cbs stream_cbs = {
    .on_open = on_link_open,
    .on_data = on_link_data,
    .on_close = on_link_close,
};

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sender_t *s = req->data;

    s->resolving = false;
    if (s->stopping) {
        uv_freeaddrinfo(res);
        sender__maybe_done(s);
        return;
    }
    if (status < 0 || res == NULL) {
        FM_WARN("sender: %s: cannot resolve: %s", cur_endpoint(s), uv_strerror(status));
        uv_freeaddrinfo(res);
        s->stats.connect_failures++;
        s->ep_idx++;
        if (s->ep_idx < s->n_endpoints)
            connect_next(s);
        else
            schedule_retry(s);
        return;
    }
    s->state = SENDER_CONNECTING;
    s->stream = stream_create(s->loop, s->tls, &stream_cbs, s);
    stream_connect(s->stream, res->ai_addr, s->cfg->connect_timeout_ms);
    uv_freeaddrinfo(res);
}

static void connect_next(sender_t *s)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};

    if (s->stopping)
        return;
    sender__split_endpoint(cur_endpoint(s), host, sizeof(host), port, sizeof(port));
    snprintf(s->stats.endpoint, sizeof(s->stats.endpoint), "%s", cur_endpoint(s));
    s->state = SENDER_RESOLVING;
    s->resolving = true;
    s->resolve.data = s;
    if (uv_getaddrinfo(s->loop, &s->resolve, on_resolved, host, port, &hints) < 0) {
        s->resolving = false;
        schedule_retry(s);
    }
}

/* Heartbeats out, and the dead-peer check in. */
static void on_tick(uv_timer_t *t)
{
    sender_t *s = t->data;
    uint64_t now = uv_now(s->loop);

    if (s->stream == NULL || (s->state != SENDER_HELLO && s->state != SENDER_STREAMING))
        return;
    if ((int64_t)(now - s->last_rx_ms) >= s->dead_ms) {
        char why[128];
        snprintf(why, sizeof(why), "nothing received for %" PRId64 " ms, peer presumed dead",
                 (int64_t)(now - s->last_rx_ms));
        stream_close(s->stream, -ETIMEDOUT, why);
        return;
    }
    if (s->state == SENDER_STREAMING && (int64_t)(now - s->last_tx_ms) >= s->heartbeat_ms) {
        Fm__Envelope env = FM__ENVELOPE__INIT;
        Fm__Heartbeat hb = FM__HEARTBEAT__INIT;
        hb.sent_at_ms = fm_clock_wall_ms();
        env.body_case = FM__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        send_env(s, &env);
    }
}

void sender_start(sender_t *s)
{
    uint64_t tick =
        (uint64_t)(s->cfg->heartbeat_ms < s->cfg->dead_after_ms ? s->cfg->heartbeat_ms
                                                                : s->cfg->dead_after_ms) /
        4;

    uv_timer_start(&s->tick, on_tick, tick ? tick : 1, tick ? tick : 1);
    s->ep_idx = 0;
    connect_next(s);
}

void sender_get_stats(const sender_t *s, struct sender_stats *st)
{
    *st = s->stats;
}
