/* sim-load: the load generator of bench/sim-throughput. It reads
 * fieldmon-sim's ports file and, for a fixed time, keeps a window of requests
 * in flight against every device of one protocol, counting the answers that
 * are complete and correct:
 *
 *   sim-load snmp PORTS SECONDS [WINDOW]   GETs of 20 UPS-MIB scalars (v2c)
 *   sim-load modbus PORTS SECONDS          reads of 50 input registers (FC04),
 *                                          one in flight per device
 *
 * It prints `answers=N seconds=S rate=R errors=E`. One thread, batched
 * syscalls (sendmmsg/recvmmsg) so that one core of load drives one core of
 * simulator. Not a test: bench/sim-throughput runs it. */
#include "ber.h"
#include "snmp_agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEV 65536
#define BATCH 64

static struct sockaddr_in devs[MAX_DEV];
static size_t n_devs;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void load_ports(const char *path, const char *proto)
{
    char line[512], name[128], p[32], addr[64], port[16];
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        perror(path);
        exit(2);
    }
    while (fgets(line, sizeof(line), f) != NULL && n_devs < MAX_DEV) {
        if (sscanf(line, "%127s %31s %63s %15s", name, p, addr, port) != 4 || strcmp(p, proto) != 0)
            continue;
        devs[n_devs].sin_family = AF_INET;
        devs[n_devs].sin_port = htons((uint16_t)atoi(port));
        inet_pton(AF_INET, addr, &devs[n_devs].sin_addr);
        n_devs++;
    }
    fclose(f);
    if (n_devs == 0) {
        fprintf(stderr, "sim-load: no %s devices in %s\n", proto, path);
        exit(2);
    }
}

/* The request: GET of 20 numeric UPS-MIB scalars, as an agent polls them. */
static size_t build_get(uint8_t *out, size_t cap, int32_t reqid, const uint8_t **msg)
{
    static const char *const oids[20] = {
        "1.3.6.1.2.1.33.1.2.1.0", "1.3.6.1.2.1.33.1.2.2.0", "1.3.6.1.2.1.33.1.2.3.0",
        "1.3.6.1.2.1.33.1.2.4.0", "1.3.6.1.2.1.33.1.2.5.0", "1.3.6.1.2.1.33.1.2.6.0",
        "1.3.6.1.2.1.33.1.2.7.0", "1.3.6.1.2.1.33.1.3.1.0", "1.3.6.1.2.1.33.1.3.2.0",
        "1.3.6.1.2.1.33.1.4.1.0", "1.3.6.1.2.1.33.1.4.2.0", "1.3.6.1.2.1.33.1.4.3.0",
        "1.3.6.1.2.1.33.1.5.1.0", "1.3.6.1.2.1.33.1.5.2.0", "1.3.6.1.2.1.33.1.6.1.0",
        "1.3.6.1.2.1.33.1.9.1.0", "1.3.6.1.2.1.33.1.9.2.0", "1.3.6.1.2.1.33.1.9.5.0",
        "1.3.6.1.2.1.33.1.9.7.0", "1.3.6.1.4.1.0.0.0.0"};
    static uint8_t tlv[20][64];
    static const uint8_t null_val[] = {BER_NULL, 0};
    struct snmp_vb vbs[20];
    size_t len;

    for (int i = 0; i < 20; i++) {
        struct ber_oid o;
        struct ber_wr w;

        ber_oid_parse(oids[i], &o);
        ber_wr_init(&w, tlv[i], sizeof(tlv[i]));
        ber_put_oid(&w, o.sub, o.len);
        vbs[i] = (struct snmp_vb){w.p, null_val, (uint16_t)ber_wr_used(&w), 2};
    }
    if (snmp_encode_msg(SNMP_V2C, "public", SNMP_PDU_GET, reqid, 0, 0, vbs, 20, out, cap, msg,
                        &len) != 0)
        abort();
    return len;
}

/* A correct answer: a response PDU, error-status 0, 20 varbinds, of which
 * 19 values and the last a noSuchObject exception (its OID does not exist). */
static bool snmp_answer_ok(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len, *q, *qe;
    struct ber_tlv msg, t, pdu, vbl;
    int64_t status;
    int n = 0;

    if (ber_read(&p, end, &msg) != 0)
        return false;
    q = msg.val;
    qe = msg.val + msg.len;
    if (ber_read(&q, qe, &t) || ber_read(&q, qe, &t) || ber_read(&q, qe, &pdu) ||
        pdu.tag != SNMP_PDU_RESPONSE)
        return false;
    q = pdu.val;
    qe = pdu.val + pdu.len;
    if (ber_read(&q, qe, &t) || ber_read(&q, qe, &t) || ber_get_int(t.val, t.len, &status) ||
        status != 0 || ber_read(&q, qe, &t) || ber_read(&q, qe, &vbl))
        return false;
    for (q = vbl.val; q < vbl.val + vbl.len; n++) {
        if (ber_read(&q, vbl.val + vbl.len, &t) != 0)
            return false;
    }
    return n == 20;
}

static int run_snmp(double seconds, int window)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    uint8_t reqbuf[2048];
    const uint8_t *req;
    size_t req_len = build_get(reqbuf, sizeof(reqbuf), 1, &req);
    static uint8_t rx[BATCH][2048];
    struct mmsghdr tx_msgs[BATCH], rx_msgs[BATCH];
    struct iovec tx_iov[BATCH], rx_iov[BATCH];
    size_t next = 0;
    long answers = 0, errors = 0, inflight = 0;
    int rcvbuf = 8 << 20;
    double t0, last_rx, end;

    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
    for (int i = 0; i < BATCH; i++) {
        tx_iov[i] = (struct iovec){(void *)req, req_len};
        rx_iov[i] = (struct iovec){rx[i], sizeof(rx[i])};
        memset(&tx_msgs[i], 0, sizeof(tx_msgs[i]));
        memset(&rx_msgs[i], 0, sizeof(rx_msgs[i]));
        tx_msgs[i].msg_hdr.msg_iov = &tx_iov[i];
        tx_msgs[i].msg_hdr.msg_iovlen = 1;
        tx_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
        rx_msgs[i].msg_hdr.msg_iov = &rx_iov[i];
        rx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t0 = last_rx = now_s();
    end = t0 + seconds;
    for (double t = t0; t < end; t = now_s()) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int want = window - (int)inflight, n;

        /* A request lost on the way (full socket buffer) is written off
         * after 200 ms of silence, so the window never shrinks to nothing. */
        if (inflight > 0 && t - last_rx > 0.2) {
            inflight = 0;
            last_rx = t;
            want = window;
        }
        while (want > 0) {
            int k = want < BATCH ? want : BATCH;

            for (int i = 0; i < k; i++) {
                tx_msgs[i].msg_hdr.msg_name = &devs[next];
                next = (next + 1) % n_devs;
            }
            n = sendmmsg(fd, tx_msgs, (unsigned)k, 0);
            if (n <= 0)
                break;
            inflight += n;
            want -= n;
        }
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        n = recvmmsg(fd, rx_msgs, BATCH, MSG_DONTWAIT, NULL);
        for (int i = 0; i < n; i++) {
            if (snmp_answer_ok(rx[i], rx_msgs[i].msg_len))
                answers++;
            else
                errors++;
        }
        if (n > 0) {
            inflight = inflight > n ? inflight - n : 0;
            last_rx = now_s();
        }
    }
    seconds = now_s() - t0;
    printf("answers=%ld seconds=%.2f rate=%.0f errors=%ld\n", answers, seconds, answers / seconds,
           errors);
    close(fd);
    return errors > answers / 100 ? 1 : 0;
}

/* Modbus TCP: FC04 read of 50 registers at address 0, transaction id per
 * connection; the answer must be 9 + 100 bytes with the same id. */
struct conn {
    int fd;
    uint16_t tid;
    size_t got;
    uint8_t buf[512];
};

static void mb_send(struct conn *c)
{
    uint8_t req[12] = {0, 0, 0, 0, 0, 6, 1, 4, 0, 0, 0, 50};

    c->tid++;
    req[0] = (uint8_t)(c->tid >> 8);
    req[1] = (uint8_t)c->tid;
    c->got = 0;
    if (send(c->fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
        c->got = (size_t)-1;
}

static int run_modbus(double seconds)
{
    int ep = epoll_create1(0);
    struct conn *conns = calloc(n_devs, sizeof(*conns));
    long answers = 0, errors = 0;
    double t0, end;

    for (size_t i = 0; i < n_devs; i++) {
        int one = 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};

        conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(conns[i].fd, (struct sockaddr *)&devs[i], sizeof(devs[i])) != 0) {
            perror("sim-load: connect");
            return 2;
        }
        setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    t0 = now_s();
    end = t0 + seconds;
    for (size_t i = 0; i < n_devs; i++)
        mb_send(&conns[i]);
    while (now_s() < end) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 50);

        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, c->buf + c->got, sizeof(c->buf) - c->got, 0);

            if (r <= 0) {
                fprintf(stderr, "sim-load: connection lost\n");
                return 2;
            }
            c->got += (size_t)r;
            if (c->got < 109)
                continue;
            if (c->got == 109 && c->buf[0] == (uint8_t)(c->tid >> 8) &&
                c->buf[1] == (uint8_t)c->tid && c->buf[7] == 4 && c->buf[8] == 100)
                answers++;
            else
                errors++;
            mb_send(c);
        }
    }
    seconds = now_s() - t0;
    printf("answers=%ld seconds=%.2f rate=%.0f errors=%ld\n", answers, seconds, answers / seconds,
           errors);
    for (size_t i = 0; i < n_devs; i++)
        close(conns[i].fd);
    free(conns);
    close(ep);
    return errors > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    double seconds;

    if (argc < 4) {
        fprintf(stderr, "usage: sim-load snmp|modbus PORTS SECONDS [WINDOW]\n");
        return 2;
    }
    seconds = atof(argv[3]);
    if (seconds <= 0 || seconds > 600) {
        fprintf(stderr, "sim-load: SECONDS must be in (0, 600]\n");
        return 2;
    }
    if (strcmp(argv[1], "snmp") == 0) {
        load_ports(argv[2], "snmp");
        return run_snmp(seconds, argc > 4 ? atoi(argv[4]) : 256);
    }
    load_ports(argv[2], "modbus-tcp");
    return run_modbus(seconds);
}
