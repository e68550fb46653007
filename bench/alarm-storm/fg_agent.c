/* fg_agent: see fg_agent.h. Blocking sockets and poll(2): a scenario is a
 * straight line of steps, so no event loop is needed. */
#include "fg_agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fm_alloc.h"

#define FG_HEARTBEAT_MS 1000

int64_t fg_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_env(struct fg_agent *a, const Fm__Envelope *env)
{
    size_t size = fmw_frame_size(env);
    uint8_t *buf = fm_xmalloc(size);
    int64_t n = fmw_frame_pack(env, buf, size, FMW_MAX_FRAME_LIMIT);
    size_t off = 0;

    if (n < 0) {
        fprintf(stderr, "fg_agent %s: pack: %s\n", a->id, fmw_strerror((int)n));
        free(buf);
        return -EINVAL;
    }
    while (off < (size_t)n) {
        ssize_t w = write(a->fd, buf + off, (size_t)n - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "fg_agent %s: write: %s\n", a->id, strerror(errno));
            free(buf);
            return -EPIPE;
        }
        off += (size_t)w;
    }
    free(buf);
    a->last_tx_ms = fg_now_ms();
    return 0;
}

static int heartbeat(struct fg_agent *a)
{
    Fm__Heartbeat hb = FM__HEARTBEAT__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;

    hb.sent_at_ms = fg_now_ms();
    env.body_case = FM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return send_env(a, &env);
}

/* Reads and handles frames for up to wait_ms. Returns 0, or negative when
 * the connection failed. *hello_ack is set when a HelloAck arrived. */
static int pump(struct fg_agent *a, int64_t wait_ms, bool *hello_ack)
{
    struct pollfd pfd = {.fd = a->fd, .events = POLLIN};
    uint8_t buf[65536];
    const uint8_t *payload;
    size_t len;
    int rc;

    if (fg_now_ms() - a->last_tx_ms >= FG_HEARTBEAT_MS && heartbeat(a) != 0)
        return -EPIPE;
    rc = poll(&pfd, 1, (int)wait_ms);
    if (rc <= 0)
        return rc < 0 && errno != EINTR ? -errno : 0;
    ssize_t n = read(a->fd, buf, sizeof(buf));
    if (n <= 0) {
        fprintf(stderr, "fg_agent %s: the collector closed the connection\n", a->id);
        return -ECONNRESET;
    }
    fmw_decoder_input(a->dec, buf, (size_t)n);
    while ((rc = fmw_decoder_next(a->dec, &payload, &len)) == 1) {
        Fm__Envelope *env = NULL;

        if (fmw_envelope_unpack(payload, len, NULL, &env) != 0)
            return -EPROTO;
        if (env->body_case == FM__ENVELOPE__BODY_HELLO_ACK) {
            a->acked = env->hello_ack->last_committed_seq;
            if (hello_ack)
                *hello_ack = true;
        } else if (env->body_case == FM__ENVELOPE__BODY_ACK) {
            if (env->ack->committed_seq > a->acked)
                a->acked = env->ack->committed_seq;
        } else if (env->body_case == FM__ENVELOPE__BODY_GOODBYE) {
            fprintf(stderr, "fg_agent %s: collector said goodbye: %s\n", a->id,
                    env->goodbye->detail);
            fmw_envelope_free(env, NULL);
            return -ECONNRESET;
        }
        fmw_envelope_free(env, NULL);
    }
    return rc < 0 ? rc : 0;
}

static int connect_tcp(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -errno;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        close(fd);
        return -EINVAL;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int fg_agent_open(struct fg_agent *a, const char *host, int port, const char *id, const char *site,
                  const struct fg_dev *devs, size_t n)
{
    Fm__Hello h = FM__HELLO__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__Inventory inv = FM__INVENTORY__INIT;
    Fm__Device *d = fm_xcalloc(n ? n : 1, sizeof(*d));
    Fm__Device **dp = fm_xcalloc(n ? n : 1, sizeof(*dp));
    Fm__Tag *t = fm_xcalloc(n ? n : 1, sizeof(*t));
    Fm__Tag **tp = fm_xcalloc(n ? n : 1, sizeof(*tp));
    bool got = false;
    int rc;

    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", id);
    snprintf(a->site, sizeof(a->site), "%s", site);
    a->epoch = 1;
    a->fd = connect_tcp(host, port);
    if (a->fd < 0) {
        fprintf(stderr, "fg_agent %s: connect %s:%d: %s\n", id, host, port, strerror(-a->fd));
        rc = a->fd;
        goto out;
    }
    a->dec = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    for (size_t i = 0; i < n; i++) {
        fm__device__init(&d[i]);
        d[i].name = (char *)devs[i].name;
        d[i].class_ = devs[i].cls;
        d[i].protocol = FM__PROTOCOL__PROTOCOL_SNMP;
        d[i].address = "127.0.0.1:161";
        d[i].parent = (char *)(devs[i].parent ? devs[i].parent : "");
        if (devs[i].tag_key) {
            fm__tag__init(&t[i]);
            t[i].key = (char *)devs[i].tag_key;
            t[i].value = (char *)devs[i].tag_value;
            tp[i] = &t[i];
            d[i].n_tags = 1;
            d[i].tags = &tp[i];
        }
        dp[i] = &d[i];
    }
    inv.n_devices = n;
    inv.devices = dp;
    h.agent_id = a->id;
    h.site_id = a->site;
    h.epoch = a->epoch;
    h.software_version = "fm-faultgen";
    h.inventory = &inv;
    h.max_frame = FMW_MAX_FRAME_DEFAULT;
    h.sent_at_ms = fg_now_ms();
    env.body_case = FM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    rc = send_env(a, &env);
    for (int64_t end = fg_now_ms() + 10000; rc == 0 && !got && fg_now_ms() < end;)
        rc = pump(a, 100, &got);
    if (rc == 0 && !got) {
        fprintf(stderr, "fg_agent %s: no HelloAck within 10 s\n", id);
        rc = -ETIMEDOUT;
    }
    a->next_seq = a->acked + 1;
out:
    free(d);
    free(dp);
    free(t);
    free(tp);
    return rc;
}

int fg_agent_send(struct fg_agent *a, const struct fg_event *ev, size_t n, uint64_t *last)
{
    Fm__Event *e = fm_xcalloc(n, sizeof(*e));
    Fm__Event **ep = fm_xcalloc(n, sizeof(*ep));
    Fm__AlarmTransition *al = fm_xcalloc(n, sizeof(*al));
    Fm__Reachability *re = fm_xcalloc(n, sizeof(*re));
    Fm__EventBatch b = FM__EVENT_BATCH__INIT;
    Fm__Envelope env = FM__ENVELOPE__INIT;
    int64_t now = fg_now_ms();
    int rc;

    for (size_t i = 0; i < n; i++) {
        fm__event__init(&e[i]);
        e[i].seq = a->next_seq++;
        e[i].ts_ms = now;
        e[i].device = (char *)ev[i].device;
        if (ev[i].code) {
            fm__alarm_transition__init(&al[i]);
            al[i].code = (char *)ev[i].code;
            al[i].state = ev[i].on ? FM__ALARM_STATE__ALARM_STATE_RAISED
                                   : FM__ALARM_STATE__ALARM_STATE_CLEARED;
            al[i].level = FM__ALARM_LEVEL__ALARM_LEVEL_STATE;
            al[i].message = "fm-faultgen";
            e[i].kind_case = FM__EVENT__KIND_ALARM;
            e[i].alarm = &al[i];
        } else {
            fm__reachability__init(&re[i]);
            re[i].reachable = ev[i].on;
            re[i].reason = ev[i].on ? "" : "timeout after 2 tries";
            e[i].kind_case = FM__EVENT__KIND_REACHABILITY;
            e[i].reachability = &re[i];
        }
        ep[i] = &e[i];
    }
    b.epoch = a->epoch;
    b.n_events = n;
    b.events = ep;
    env.body_case = FM__ENVELOPE__BODY_BATCH;
    env.batch = &b;
    rc = send_env(a, &env);
    if (last)
        *last = a->next_seq - 1;
    free(e);
    free(ep);
    free(al);
    free(re);
    return rc;
}

int fg_agent_wait_acked(struct fg_agent *a, uint64_t seq, int64_t timeout_ms)
{
    int64_t end = fg_now_ms() + timeout_ms;

    while (a->acked < seq) {
        int rc;

        if (fg_now_ms() >= end) {
            fprintf(stderr, "fg_agent %s: seq %llu not acked within %lld ms\n", a->id,
                    (unsigned long long)seq, (long long)timeout_ms);
            return -ETIMEDOUT;
        }
        if ((rc = pump(a, 50, NULL)) != 0)
            return rc;
    }
    return 0;
}

int fg_agent_idle(struct fg_agent *a, int64_t ms)
{
    int64_t end = fg_now_ms() + ms;

    while (fg_now_ms() < end) {
        int64_t left = end - fg_now_ms();
        int rc = pump(a, left < 100 ? left : 100, NULL);

        if (rc != 0)
            return rc;
    }
    return 0;
}

void fg_agent_close(struct fg_agent *a, bool goodbye)
{
    if (a->fd < 0)
        return;
    if (goodbye) {
        Fm__Goodbye g = FM__GOODBYE__INIT;
        Fm__Envelope env = FM__ENVELOPE__INIT;

        g.reason = FM__GOODBYE__REASON__REASON_SHUTDOWN;
        g.detail = "fm-faultgen done";
        env.body_case = FM__ENVELOPE__BODY_GOODBYE;
        env.goodbye = &g;
        send_env(a, &env);
    }
    close(a->fd);
    a->fd = -1;
    fmw_decoder_destroy(a->dec);
    a->dec = NULL;
}
