/* mb_rsp: Modbus TCP read responses checked field by field (see
 * mb_rsp.h for why libmodbus's own checks are not enough). */
#include "mb_rsp.h"

#include <errno.h>

static int bad(const char **why, const char *reason)
{
    *why = reason;
    return -EBADMSG;
}

int mb_rsp_mbap(const struct mb_rsp_req *req, const uint8_t *hdr, const char **why)
{
    unsigned tid = (unsigned)hdr[0] << 8 | hdr[1];
    unsigned proto = (unsigned)hdr[2] << 8 | hdr[3];
    unsigned len = (unsigned)hdr[4] << 8 | hdr[5];

    if (tid != req->tid)
        return bad(why, "transaction id does not match the request");
    if (proto != 0)
        return bad(why, "protocol id is not 0 (not Modbus)");
    /* The length counts the unit id and the PDU. */
    if (len < 2 || len > MB_RSP_PDU_MAX + 1)
        return bad(why, "MBAP length outside 2..254");
    if (hdr[6] != req->unit)
        return bad(why, "answer from another unit id");
    return (int)len - 1;
}

/* Bytes of data a good response to req carries. */
static size_t data_bytes(const struct mb_rsp_req *req)
{
    if (req->function <= 2)
        return (req->count + 7u) / 8u;
    return 2u * req->count;
}

int mb_rsp_check(const struct mb_rsp_req *req, const uint8_t *pdu, size_t len, const char **why)
{
    if (len < 2)
        return bad(why, "response shorter than a function code and one byte");
    if (pdu[0] == (req->function | 0x80)) {
        if (len != 2)
            return bad(why, "exception response of the wrong length");
        if (pdu[1] == 0)
            return bad(why, "exception code 0");
        return pdu[1];
    }
    if (pdu[0] != req->function)
        return bad(why, "function code does not match the request");
    if (pdu[1] != data_bytes(req))
        return bad(why, "byte count does not match the count requested");
    if (len != 2u + pdu[1])
        return bad(why, "byte count does not match the response length");
    return 0;
}

void mb_rsp_values(const struct mb_rsp_req *req, const uint8_t *pdu, uint16_t *out)
{
    const uint8_t *data = pdu + 2;

    for (unsigned i = 0; i < req->count; i++) {
        if (req->function <= 2)
            out[i] = (uint16_t)((data[i / 8] >> (i % 8)) & 1u);
        else
            out[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    }
}
