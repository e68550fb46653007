/* mb_tcpio: one Modbus TCP read (see mb_tcpio.h). */
#include "mb_tcpio.h"

#include "mb_rsp.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <uv.h>

/* Reads exactly len bytes before the deadline (uv_hrtime, ns). 0, or
 * -ETIMEDOUT, -ECONNRESET (peer closed) or another -errno. */
static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
    size_t got = 0;

    while (got < len) {
        uint64_t now = uv_hrtime();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int rc;

        if (now >= deadline)
            return -ETIMEDOUT;
        rc = poll(&pfd, 1, (int)((deadline - now + 999999u) / 1000000u));
        if (rc < 0 && errno != EINTR)
            return -errno;
        if (rc <= 0)
            continue;
        n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

static int failed(struct mb_read_result *res, int err)
{
    res->err = err;
    res->status = err == ETIMEDOUT ? MB_ST_TIMEOUT : MB_ST_IO;
    return res->status;
}

static int protocol(struct mb_read_result *res, const char *why)
{
    res->status = MB_ST_PROTOCOL;
    res->err = EMBBADDATA;
    res->why = why;
    return res->status;
}

int mb_tcpio_read(modbus_t *ctx, int unit, const struct mb_plan_read *rd, int64_t timeout_ms,
                  uint16_t *out, struct mb_read_result *res)
{
    struct mb_rsp_req req = {
        .tid = 0, .unit = (uint8_t)unit, .function = rd->function, .count = rd->count};
    uint8_t raw[6] = {(uint8_t)unit,
                      rd->function,
                      (uint8_t)(rd->address >> 8),
                      (uint8_t)rd->address,
                      (uint8_t)(rd->count >> 8),
                      (uint8_t)rd->count};
    uint8_t hdr[MB_RSP_MBAP_LEN], pdu[MB_RSP_PDU_MAX];
    uint64_t deadline;
    const char *why = NULL;
    int fd = modbus_get_socket(ctx), n, rc;

    if (modbus_send_raw_request(ctx, raw, (int)sizeof(raw)) < 0)
        return failed(res, errno);
    deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    rc = read_full(fd, hdr, sizeof(hdr), deadline);
    if (rc < 0)
        return failed(res, -rc);
    n = mb_rsp_mbap(&req, hdr, &why);
    if (n < 0)
        return protocol(res, why);
    /* The MBAP length says where this response ends: nothing past it is read. */
    rc = read_full(fd, pdu, (size_t)n, deadline);
    if (rc < 0)
        return failed(res, -rc);
    rc = mb_rsp_check(&req, pdu, (size_t)n, &why);
    if (rc < 0)
        return protocol(res, why);
    if (rc > 0) {
        res->status = MB_ST_EXCEPTION;
        res->exception = rc;
        return res->status;
    }
    mb_rsp_values(&req, pdu, out);
    res->status = MB_ST_OK;
    return res->status;
}
