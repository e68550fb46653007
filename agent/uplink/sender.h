/* sender: streams the spool to the collector, loss-free.
 *
 * Session (docs/wire.md): connect to the first reachable collector endpoint
 * in the configured order, TLS with mutual authentication (plain TCP only
 * with `transport: plain`), send Hello with the inventory, wait for
 * HelloAck, then stream EventBatches from the sequence after the one the
 * collector says it committed. The collector's Acks move the spool's ack
 * point, which deletes acknowledged segments; nothing else deletes data.
 *
 * Flow control: at most `window` bytes of batches are sent and not yet
 * acknowledged; a batch holds at most `batch_events` events and
 * `batch_bytes` bytes (and never more than the frame size the collector
 * announced).
 *
 * Liveness: a Heartbeat goes out every `heartbeat` when nothing else was
 * sent; a peer from which nothing arrived for `dead_after` is presumed dead
 * and the connection is dropped. Reconnects back off exponentially from
 * `backoff_min` to `backoff_max` with full jitter (the delay is uniform in
 * [d/2, d]), so a fleet of agents does not reconnect in lockstep after a
 * collector restart. A session that was up and is lost is first retried
 * after a short delay, uniform in [SENDER_LOST_RETRY_MIN_MS,
 * SENDER_LOST_RETRY_MAX_MS] (at most `backoff_max`): a restarted collector
 * has its agents back as soon as it listens; then the backoff as above,
 * capped at 2 s for the first minute after the loss.
 *
 * Loop thread only. */
#ifndef SENDER_H
#define SENDER_H

#include "spool.h"
#include "fm_tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum sender_transport { SENDER_TLS = 0, SENDER_PLAIN = 1 };

/* The first retry after an established session is lost (see above). */
#define SENDER_LOST_RETRY_MIN_MS 100
#define SENDER_LOST_RETRY_MAX_MS 500
/* For SENDER_LOST_FAST_MS after a session was lost, the retry wait is at
 * most SENDER_LOST_FAST_CAP_MS (jittered down to half): a collector that
 * restarts within a minute sees its agents back within 2 s of listening. */
#define SENDER_LOST_FAST_MS 60000
#define SENDER_LOST_FAST_CAP_MS 2000

/* Configuration (key `sender`; table in sender_conf.c). */
struct sender_cfg {
    int transport; /* enum sender_transport */
    struct fm_tls_cfg tls;
    int64_t connect_timeout_ms;
    int64_t heartbeat_ms;
    int64_t dead_after_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    uint64_t batch_events;
    uint64_t batch_bytes;
    uint64_t window_bytes;
};

/* Who the agent is, for Hello. All borrowed; must outlive the sender (or be
 * replaced with sender_set_identity). */
struct sender_identity {
    const char *agent_id;
    const char *site_id;
    const char *site_name;
    const uint8_t *config_digest; /* FMW_DIGEST_LEN bytes or NULL */
    const Fm__Inventory *inventory;
};

struct sender_stats {
    uint64_t connects;   /* sessions that reached HelloAck */
    uint64_t reconnects; /* sessions lost after being established */
    uint64_t connect_failures;
    uint64_t batches_sent, events_sent, bytes_sent;
    uint64_t acked_seq;
    bool connected;
    char endpoint[128]; /* current or last endpoint */
};

typedef struct sender sender_t;

/* Returns 0 and a new sender in *out, or a negative errno with the reason
 * logged (bad endpoint, unreadable certificate). Borrows everything; the
 * endpoints are "host:port" strings. Nothing happens before sender_start. */
int sender_create(uv_loop_t *loop, const struct sender_cfg *cfg, char *const *endpoints,
                  size_t n_endpoints, const struct sender_identity *id, spool_t *sp,
                  sender_t **out);

void sender_start(sender_t *s);

/* Replaces the configuration (SIGHUP). Takes effect at the next connect;
 * the current session, if any, is closed when endpoints or TLS changed.
 * Returns 0, or a negative errno (new TLS files unusable; old config kept). */
int sender_reload(sender_t *s, const struct sender_cfg *cfg, char *const *endpoints,
                  size_t n_endpoints, const struct sender_identity *id);

/* New data in the spool (the spool's flushed hook calls this). */
void sender_kick(sender_t *s);

/* Stops: says Goodbye if connected, closes every handle, then calls done
 * (from a later loop turn). The sender is freed before done runs. */
void sender_stop(sender_t *s, void (*done)(void *ud), void *ud);

void sender_get_stats(const sender_t *s, struct sender_stats *st);

/* Handles one collector command (cmd borrowed for the call): returns 0, or
 * a negative errno with a reason for the collector in why. The sender
 * answers with a CommandResult either way. Without a handler every command
 * is refused. */
typedef int (*sender_command_cb)(const Fm__Command *cmd, char *why, size_t whylen, void *ud);
void sender_set_command_cb(sender_t *s, sender_command_cb cb, void *ud);

/* Builds one framed EventBatch envelope from spool records, without
 * decoding them: the records already are packed fm.Event messages, so only
 * the enclosing tags and lengths are written (protobuf-c cannot embed
 * pre-packed sub-messages). Exposed for tests. */
struct sender_batch {
    uint8_t *buf; /* frame under construction; headroom at the front */
    size_t cap, len;
    uint64_t first_seq, last_seq;
    uint32_t n_events;
};
#define SENDER_BATCH_HEADROOM 48u
void sender_batch_reset(struct sender_batch *b);
/* Appends one packed event; returns 0 or -ENOSPC when max_bytes would be
 * exceeded (the batch is left unchanged). */
int sender_batch_add(struct sender_batch *b, const struct spool_rec *rec, size_t max_bytes);
/* Writes the headers; returns a pointer to the frame and its length. */
const uint8_t *sender_batch_finish(struct sender_batch *b, uint64_t epoch, size_t *len);
void sender_batch_free(struct sender_batch *b);

#endif
