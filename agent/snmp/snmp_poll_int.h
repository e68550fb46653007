/* snmp_poll internals shared by snmp_poll.c (schedule, sessions, loop
 * plumbing, reachability) and snmp_req.c (building requests and turning
 * responses into events). Not part of the poller's API. */
#ifndef AGENT_SNMP_POLL_INT_H
#define AGENT_SNMP_POLL_INT_H

#include "oid.h"
#include "poll_health.h"
#include "snmp_poll.h"
#include "snmp_target.h"

#include <stdbool.h>
#include <stdint.h>

/* A profile compiled for polling: its scalar and table points as OIDs.
 * Shared by every device of the profile. */
struct snmp__prof {
    const struct profile_cfg *cfg;
    size_t n_scalars;
    uint16_t *scalar_pt; /* index into cfg->points */
    oid_t *scalar_oid;
    size_t n_columns;
    uint16_t *column_pt;
    oid_t *column_oid;
    bool any_rate;
};

/* One table column being walked in the current poll. */
struct snmp__col {
    oid_t cursor; /* last OID returned; starts at the column */
    uint32_t rows;
    bool done;
};

/* Walk state, allocated only while a device walks its tables. */
struct snmp__walk {
    size_t n_sent;
    /* The outstanding request is a GETNEXT tried after the device answered
     * GETBULK with error-status trial_err (see on_walk in snmp_req.c). */
    bool trial;
    long trial_err;
    uint16_t *sent; /* columns in the outstanding request, in order */
    struct snmp__col cols[];
};

/* Adaptive request sizes of a device (snmp_adapt.c). */
struct snmp__adapt {
    unsigned start_chunk, start_rep; /* sizes when this poll began */
    unsigned low_chunk, low_rep;     /* lowest sizes logged so far */
    uint32_t clean;                  /* good polls in a row without lowering */
    uint32_t wait;                   /* clean polls before trying higher; 0: not set up */
    bool lowered;                    /* lowered during this poll */
    bool raised;                     /* this poll tries higher sizes */
};

struct snmp__rate {
    uint64_t key; /* 0: empty slot */
    uint64_t last;
    int64_t ts_ms;
};

enum snmp__state { DEV_IDLE, DEV_WAITING, DEV_ACTIVE };
enum snmp__step { STEP_PROBE, STEP_GET, STEP_WALK, STEP_DONE };
/* What a net-snmp callback asks the loop to do once net-snmp returns. */
enum snmp__action { ACT_NONE, ACT_NEXT, ACT_FAIL };

struct snmp__dev {
    snmp_poll_t *owner;
    const struct device_cfg *cfg;
    const struct snmp__prof *prof;
    void *sessp;
    int fd;
    /* The numeric address polled in its canonical form (fm_addr.h, at
     * most 64 bytes): the configured host, or what its name resolved to
     * ("" until then), and the resolution in flight. */
    char addr[64];
    uv_getaddrinfo_t resolve;
    bool resolving;
    uv_poll_t poll;
    uv_timer_t sched;
    /* In the poller's deadline list while a request is outstanding. */
    struct snmp__dev *dl_prev, *dl_next;
    uint64_t deadline_ms; /* loop time the request expires */
    bool dl_linked;
    struct snmp__dev *next_wait;
    struct snmp__dev *next_send; /* in the poller's send queue */
    enum snmp__state state;
    enum snmp__step step;
    enum snmp__action action;
    bool engine_known;
    bool discovered;   /* v3: this poll's engine id probe was answered */
    bool rediscovered; /* v3: an engine id change was taken in this poll */
    bool outstanding;
    bool answered; /* got at least one response in this poll */
    /* GET progress: next scalar to ask for, the adaptive chunk size, the
     * scalars in the outstanding request, scalars to skip this poll. */
    size_t get_next;
    unsigned chunk;
    unsigned max_rep;
    uint16_t *sent;
    size_t n_sent;
    /* The names in the request being sent (scalars or walk cursors), which
     * snmp__build encodes when net-snmp builds or resends it. */
    const oid_t **req;
    size_t n_req;
    const char *enc_err; /* why snmp__build failed, for the send's reason */
    uint8_t *skip;
    struct snmp__walk *walk;
    /* Tables are walked with GETNEXT: SNMPv1, `bulk: false`, or since the
     * device's GETBULK answers were found wrong (kept for the poller's
     * life; snmp_bulk.h). */
    bool getnext;
    struct snmp__adapt adapt;
    /* Health and schedule. */
    struct poll_health health;
    uint64_t due_ms; /* loop time this poll was due */
    uint32_t cycles_done;
    char reason[256];
    struct snmp__rate *rates;
    size_t rate_cap, rate_used;
    int closes_pending;
};

struct snmp_poll {
    uv_loop_t *loop;
    const struct agent_cfg *cfg;
    struct poll_owner po; /* sink, cycles, rounds, outcome: see poll_end */
    struct snmp__prof *profs;
    size_t n_profs;
    struct snmp__dev *devs;
    size_t n_devs;
    struct snmp__dev *wait_head, *wait_tail;
    /* Active devices whose next request goes out in the next idle phase:
     * the responses of one loop iteration are read first, then the requests
     * they release go out together (see flush_sends in snmp_poll.c). */
    struct snmp__dev *send_head, *send_tail;
    uv_idle_t flush;
    /* Outstanding requests by expiry, earliest first, and one timer for
     * them all (see deadline_add in snmp_poll.c). */
    struct snmp__dev *dl_head, *dl_tail;
    uv_timer_t expiry;
    uint64_t expiry_at; /* when expiry fires; 0: not armed */
    size_t active;
    size_t max_active;
    snmp_poll_done_cb done;
    void *done_arg;
    netsnmp_large_fd_set fdset;
    struct snmp_poll_stats stats;
    void (*freed_cb)(void *arg);
    void *freed_arg;
    int closes_pending;
    bool stopping;
};

/* snmp_req.c: starts the next request of d's poll (d->step tells which).
 * Returns 1 when a request went out, 0 when the poll is complete, or a
 * negative errno when the request could not be sent (d->reason says why). */
int snmp__send_next(struct snmp__dev *d);

/* v1/v2c requests are encoded by snmp__build; v3 ones by net-snmp. */
static inline bool snmp__encoded(const struct snmp__dev *d)
{
    return d->cfg->snmp.version != SNMP_VERSION_CFG_3;
}

/* snmp_req.c: net-snmp's build hook of v1/v2c sessions (see snmp_enc.h):
 * encodes d->req (the session's myvoid is d) at the start of *buf. */
int snmp__build(netsnmp_session *s, netsnmp_pdu *pdu, u_char **buf, size_t *buf_len, size_t *len);

/* snmp_req.c: the net-snmp callback of every request. */
int snmp__on_response(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic);

/* snmp_req.c: resets per-poll request state at the start of a poll. */
void snmp__begin(struct snmp__dev *d);

/* snmp_req.c: frees per-poll request state. */
void snmp__end(struct snmp__dev *d);

/* snmp_adapt.c: sets up (and perhaps raises) d's request sizes at the start
 * of a poll; keeps or undoes what the poll lowered at its end. */
void snmp__adapt_begin(struct snmp__dev *d);
void snmp__adapt_end(struct snmp__dev *d, bool ok);

/* snmp_adapt.c: lowers d's GETBULK max-repetitions (reps) or varbinds per
 * request to `to` (at least 1) because of `why` ("tooBig", ...), and logs
 * it once per new lowest value. */
void snmp__adapt_lower(struct snmp__dev *d, bool reps, unsigned to, const char *why);

#endif
