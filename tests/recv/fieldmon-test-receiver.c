/* fieldmon-test-receiver: a small collector stand-in for the agent's
 * integration tests and benchmark. It speaks the wire contract (Hello ->
 * HelloAck with the last committed sequence, batches -> Ack), writes every
 * new event as one line to a file, fdatasyncs it, and only then acks, so it
 * can be killed at any moment and restarted without losing or repeating an
 * acknowledged event. Events at or below the committed sequence of their
 * agent and epoch are dropped as duplicates, exactly as the collector does.
 *
 * Output lines: `<agent> <epoch> <seq> <ts_ms> <kind> <device> <detail...>`.
 * The committed sequences are recovered from the file at start.
 *
 * usage: fieldmon-test-receiver --out FILE [--listen HOST:PORT] [--port-file F]
 *          (--plain | --ca CA --cert CERT --key KEY) [--heartbeat-s N] [--mute]
 *          [--calibrate DEVICE/POINT/OFFSET/GAIN]...
 *   --mute       complete TCP/TLS but never answer (a hung collector).
 *   --calibrate  after each HelloAck, send a SetCalibration command; the
 *                CommandResult is logged (`command N: ok` / `refused: ...`). */
#include "fm_tls.h"
#include "stream.h"

#include "fm_addr.h"
#include "fm_alloc.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fmwire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

struct committed {
    char agent[FMW_MAX_ID + 1];
    uint64_t epoch, seq;
};

struct recv {
    uv_loop_t *loop;
    uv_tcp_t server;
    uv_signal_t sigterm, sigint;
    fm_tls_ctx_t *tls;
    FILE *out;
    struct committed *c;
    size_t n_c;
    unsigned heartbeat_s;
    bool mute;
    uint64_t events, dups;
    char *cal[4]; /* DEVICE/POINT/OFFSET/GAIN */
    size_t n_cal;
};

struct conn {
    struct recv *r;
    stream_t *stream;
    fmw_decoder_t *dec;
    struct committed *who; /* after Hello */
};

static struct committed *committed_for(struct recv *r, const char *agent, uint64_t epoch)
{
    for (size_t i = 0; i < r->n_c; i++) {
        if (r->c[i].epoch == epoch && strcmp(r->c[i].agent, agent) == 0)
            return &r->c[i];
    }
    r->c = fm_xrealloc(r->c, (r->n_c + 1) * sizeof(*r->c));
    struct committed *c = &r->c[r->n_c++];
    snprintf(c->agent, sizeof(c->agent), "%s", agent);
    c->epoch = epoch;
    c->seq = 0;
    return c;
}

/* Reads back what earlier runs committed. */
static void load_committed(struct recv *r, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096], agent[FMW_MAX_ID + 1];
    uint64_t epoch, seq;

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%64s %" SCNu64 " %" SCNu64, agent, &epoch, &seq) == 3) {
            struct committed *c = committed_for(r, agent, epoch);
            if (seq > c->seq)
                c->seq = seq;
        }
    }
    fclose(f);
}

static void send_env(struct conn *c, const Fm__Envelope *env)
{
    uint8_t buf[1024];
    int64_t n = fmw_frame_pack(env, buf, sizeof(buf), FMW_MAX_FRAME_DEFAULT);

    if (n > 0)
        stream_write(c->stream, buf, (size_t)n);
}

static void write_event(struct recv *r, const struct committed *w, const Fm__Event *ev)
{
    fprintf(r->out, "%s %" PRIu64 " %" PRIu64 " %" PRId64 " ", w->agent, w->epoch, ev->seq,
            ev->ts_ms);
    const char *dev = ev->device && ev->device[0] ? ev->device : "-";
    switch (ev->kind_case) {
    case FM__EVENT__KIND_MEASUREMENT:
        fprintf(r->out, "measurement %s %s %.17g raw=%.17g\n", dev, ev->measurement->point,
                ev->measurement->value, ev->measurement->raw);
        break;
    case FM__EVENT__KIND_ALARM:
        fprintf(r->out, "alarm %s %s %s %s value=%.17g limit=%.17g\n", dev,
                ev->alarm->point[0] ? ev->alarm->point : "-", ev->alarm->code,
                ev->alarm->state == FM__ALARM_STATE__ALARM_STATE_RAISED ? "raised" : "cleared",
                ev->alarm->value, ev->alarm->limit);
        break;
    case FM__EVENT__KIND_OVERFLOW:
        fprintf(r->out, "overflow %s dropped=%" PRIu64 " first=%" PRIu64 " last=%" PRIu64 "\n", dev,
                ev->overflow->dropped, ev->overflow->first_seq, ev->overflow->last_seq);
        break;
    case FM__EVENT__KIND_STATUS:
        fprintf(r->out,
                "status %s spool_events=%" PRIu64 " spool_bytes=%" PRIu64 " dropped=%" PRIu64
                " reconnects=%" PRIu64 "\n",
                dev, ev->status->spool_events, ev->status->spool_bytes, ev->status->dropped_events,
                ev->status->reconnects);
        break;
    case FM__EVENT__KIND_REACHABILITY:
        fprintf(r->out, "reachability %s %s\n", dev, ev->reachability->reachable ? "up" : "down");
        break;
    case FM__EVENT__KIND_TRAP:
        fprintf(r->out, "trap %s %s\n", dev, ev->trap->trap_oid);
        break;
    default:
        fprintf(r->out, "other %s\n", dev);
    }
}

static void on_batch(struct conn *c, const Fm__EventBatch *b)
{
    struct recv *r = c->r;
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__Ack ack = FM__ACK__INIT;
    uint64_t last = c->who->seq;

    if (b->epoch != c->who->epoch) {
        stream_close(c->stream, -EPROTO, "batch for another epoch");
        return;
    }
    for (size_t i = 0; i < b->n_events; i++) {
        if (b->events[i]->seq <= last) {
            r->dups++;
            continue;
        }
        write_event(r, c->who, b->events[i]);
        last = b->events[i]->seq;
        r->events++;
    }
    /* Durable first, then the ack: an acked event is never lost. */
    if (fflush(r->out) != 0 || fdatasync(fileno(r->out)) != 0) {
        fprintf(stderr, "recv: cannot write the output file: %s\n", strerror(errno));
        exit(1);
    }
    c->who->seq = last;
    ack.epoch = b->epoch;
    ack.committed_seq = last;
    env.body_case = FM__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    send_env(c, &env);
}

static void send_calibration(struct conn *c, uint64_t id, const char *spec)
{
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__Command cmd = FM__COMMAND__INIT;
    Fm__SetCalibration sc = FM__SET_CALIBRATION__INIT;
    char dev[128], pt[128];

    if (sscanf(spec, "%127[^/]/%127[^/]/%lf/%lf", dev, pt, &sc.offset, &sc.gain) != 4) {
        fprintf(stderr, "recv: --calibrate %s: not DEVICE/POINT/OFFSET/GAIN\n", spec);
        return;
    }
    sc.device = dev;
    sc.point = pt;
    sc.reason = "test";
    cmd.id = id;
    cmd.actor = "test-receiver";
    cmd.kind_case = FM__COMMAND__KIND_SET_CALIBRATION;
    cmd.set_calibration = &sc;
    env.body_case = FM__ENVELOPE__BODY_COMMAND;
    env.command = &cmd;
    send_env(c, &env);
}

static void on_hello(struct conn *c, const Fm__Hello *h)
{
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__HelloAck ha = FM__HELLO_ACK__INIT;
    const char *cn = stream_peer_cn(c->stream);

    /* The certificate names the agent: another name is an impostor. */
    if (cn[0] != '\0' && strcmp(cn, h->agent_id) != 0) {
        fprintf(stderr, "recv: %s: agent id %s does not match its certificate CN %s\n",
                stream_peer(c->stream), h->agent_id, cn);
        stream_close(c->stream, -EACCES, "agent id does not match the certificate");
        return;
    }
    c->who = committed_for(c->r, h->agent_id, h->epoch);
    fprintf(stderr,
            "recv: %s: hello from %s epoch %" PRIu64 " (%zu devices), committed %" PRIu64 "\n",
            stream_peer(c->stream), h->agent_id, h->epoch,
            h->inventory ? h->inventory->n_devices : 0, c->who->seq);
    ha.epoch = h->epoch;
    ha.last_committed_seq = c->who->seq;
    ha.max_frame = FMW_MAX_FRAME_DEFAULT;
    ha.heartbeat_s = c->r->heartbeat_s;
    ha.collector_id = "test-receiver";
    env.body_case = FM__ENVELOPE__BODY_HELLO_ACK;
    env.hello_ack = &ha;
    send_env(c, &env);
    for (size_t i = 0; i < c->r->n_cal; i++)
        send_calibration(c, i + 1, c->r->cal[i]);
}

static void on_data(stream_t *l, const uint8_t *p, size_t n, void *ud)
{
    struct conn *c = ud;
    const uint8_t *payload;
    size_t len;
    int rc;

    if (c->r->mute)
        return;
    fmw_decoder_input(c->dec, p, n);
    while ((rc = fmw_decoder_next(c->dec, &payload, &len)) == 1) {
        Fm__Envelope *env;
        char why[256];
        if (fmw_envelope_unpack(payload, len, NULL, &env) != 0) {
            stream_close(l, -EPROTO, "undecodable frame");
            return;
        }
        if (fmw_envelope_validate(env, fm_clock_wall_ms(), why, sizeof(why)) != 0) {
            fprintf(stderr, "recv: %s: invalid %s: %s\n", stream_peer(l), fmw_envelope_kind(env),
                    why);
            fmw_envelope_free(env, NULL);
            stream_close(l, -EPROTO, why);
            return;
        }
        if (env->body_case == FM__ENVELOPE__BODY_HELLO)
            on_hello(c, env->hello);
        else if (env->body_case == FM__ENVELOPE__BODY_BATCH && c->who != NULL)
            on_batch(c, env->batch);
        else if (env->body_case == FM__ENVELOPE__BODY_HEARTBEAT)
            send_env(c, env);
        else if (env->body_case == FM__ENVELOPE__BODY_COMMAND_RESULT)
            fprintf(stderr, "recv: %s: command %llu: %s%s\n", stream_peer(l),
                    (unsigned long long)env->command_result->id,
                    env->command_result->ok ? "ok" : "refused: ",
                    env->command_result->ok ? "" : env->command_result->error);
        else if (env->body_case == FM__ENVELOPE__BODY_GOODBYE)
            fprintf(stderr, "recv: %s: goodbye: %s\n", stream_peer(l), env->goodbye->detail);
        fmw_envelope_free(env, NULL);
    }
    if (rc < 0)
        stream_close(l, -EPROTO, fmw_strerror(rc));
}

static void on_open(stream_t *l, void *ud)
{
    struct conn *c = ud;

    fprintf(stderr, "recv: %s: connected%s%s\n", stream_peer(l), c->r->tls ? ", TLS client " : "",
            stream_peer_cn(l));
}

static void on_close(stream_t *l, int status, const char *why, void *ud)
{
    struct conn *c = ud;

    if (status == -EPROTO)
        fprintf(stderr, "recv: %s: TLS session refused: %s\n", stream_peer(l), why);
    else
        fprintf(stderr, "recv: %s: closed: %s\n", stream_peer(l), why);
    fmw_decoder_destroy(c->dec);
    free(c);
}

static const struct stream_cbs cbs = {.on_open = on_open, .on_data = on_data, .on_close = on_close};

static void on_connection(uv_stream_t *server, int status)
{
    struct recv *r = server->data;
    struct conn *c;

    if (status < 0)
        return;
    c = fm_xcalloc(1, sizeof(*c));
    c->r = r;
    c->dec = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    c->stream = stream_create(r->loop, r->tls, &cbs, c);
    if (stream_accept(c->stream, server) < 0)
        stream_close(c->stream, -EIO, "accept failed");
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct recv *r = h->data;

    fprintf(stderr, "recv: signal %d: %" PRIu64 " events written, %" PRIu64 " duplicates\n", signum,
            r->events, r->dups);
    fflush(r->out);
    exit(0);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'p'},
        {"plain", no_argument, NULL, 'P'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"heartbeat-s", required_argument, NULL, 'h'},
        {"mute", no_argument, NULL, 'm'},
        {"calibrate", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    struct recv r = {0};
    struct fm_tls_cfg tc = {0};
    const char *out = NULL, *listen = "127.0.0.1:0", *port_file = NULL;
    bool plain = false;
    int o;

    fm_log_init("fieldmon-test-receiver", 2);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'o':
            out = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'P':
            plain = true;
            break;
        case 'a':
            tc.ca_file = optarg;
            break;
        case 'c':
            tc.cert_file = optarg;
            break;
        case 'k':
            tc.key_file = optarg;
            break;
        case 'h':
            r.heartbeat_s = (unsigned)atoi(optarg);
            break;
        case 'm':
            r.mute = true;
            break;
        case 'C':
            if (r.n_cal < 4)
                r.cal[r.n_cal++] = optarg;
            break;
        default:
            return 2;
        }
    }
    if (out == NULL || (!plain && tc.ca_file == NULL)) {
        fprintf(stderr, "usage: fieldmon-test-receiver --out FILE [--listen HOST:PORT] "
                        "[--port-file F] (--plain | --ca CA --cert C --key K) [--heartbeat-s N] "
                        "[--mute]\n");
        return 2;
    }
    if (!plain) {
        char err[512];
        if (fm_tls_ctx_create(&tc, FM_TLS_SERVER, &r.tls, err, sizeof(err)) < 0) {
            fprintf(stderr, "recv: tls: %s\n", err);
            return 1;
        }
    }
    load_committed(&r, out);
    r.out = fopen(out, "a");
    if (r.out == NULL) {
        fprintf(stderr, "recv: %s: %s\n", out, strerror(errno));
        return 1;
    }
    /* Lines go out with the batch's fdatasync; a big buffer makes that one
     * write per batch instead of one per 4 KiB. */
    setvbuf(r.out, NULL, _IOFBF, 1u << 20);
    r.loop = uv_default_loop();
    uv_tcp_init(r.loop, &r.server);
    r.server.data = &r;

    /* 127.0.0.1:PORT, or [::1]:PORT to take the agent's link over IPv6;
     * port 0: any free port (fm_addr_split wants 1..65535). */
    char host[128], ep[300];
    size_t n = strlen(listen);
    bool any = n > 2 && strcmp(listen + n - 2, ":0") == 0;
    snprintf(ep, sizeof(ep), "%.*s%s", (int)(any ? n - 2 : n), listen, any ? ":1" : "");
    int port = 0, kind = fm_addr_split(ep, host, sizeof(host), &port, NULL);
    if (any)
        port = 0;
    struct sockaddr_storage ss;
    int bad = kind == FM_ADDR_IPV6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                                   : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (kind < 0 || bad != 0 || uv_tcp_bind(&r.server, (struct sockaddr *)&ss, 0) != 0 ||
        uv_listen((uv_stream_t *)&r.server, 64, on_connection) != 0) {
        fprintf(stderr, "recv: cannot listen on %s\n", listen);
        return 1;
    }
    int len = sizeof(ss);
    uv_tcp_getsockname(&r.server, (struct sockaddr *)&ss, &len);
    fm_addr_from_sockaddr((struct sockaddr *)&ss, host, sizeof(host), &port);
    fprintf(stderr, "recv: listening on %s port %d (%s)\n", host, port,
            plain ? "plain TCP" : "mutual TLS");
    if (port_file != NULL) {
        char tmp[600];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *pf = fopen(tmp, "w");
        if (pf == NULL)
            return 1;
        fprintf(pf, "%d\n", port);
        fclose(pf);
        rename(tmp, port_file); /* appears whole */
    }
    uv_signal_init(r.loop, &r.sigterm);
    uv_signal_init(r.loop, &r.sigint);
    r.sigterm.data = r.sigint.data = &r;
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    return uv_run(r.loop, UV_RUN_DEFAULT);
}
