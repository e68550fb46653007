/* Fuzz target for mb_rsp: byte 0 picks the function (1..4), bytes 1-2
 * the count, the rest is a response ADU (MBAP header + PDU) as it would
 * come off the wire. Checks that the header and PDU checks never read past
 * the bytes given (exact-size heap copies for AddressSanitizer), and that an
 * accepted response holds exactly the values the request asked for. */
#include "mb_rsp.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_rsp_req req = {.tid = 0, .unit = 1};
    const char *why = NULL;
    uint8_t *pdu;
    uint16_t *out;
    size_t len;
    int n, rc;

    if (size < 3 + MB_RSP_MBAP_LEN)
        return 0;
    req.function = (uint8_t)(data[0] % 4 + 1);
    req.count = (uint16_t)(data[1] << 8 | data[2]);
    if (req.count == 0 || req.count > (req.function <= 2 ? 2000 : 125))
        return 0;
    data += 3;
    size -= 3;
    n = mb_rsp_mbap(&req, data, &why);
    if (n < 0) {
        if (n != -EBADMSG || why == NULL)
            abort();
        return 0;
    }
    if (n < 1 || n > MB_RSP_PDU_MAX)
        abort();
    /* Take what the MBAP length promises, or what there is (a cut stream). */
    len = size - MB_RSP_MBAP_LEN < (size_t)n ? size - MB_RSP_MBAP_LEN : (size_t)n;
    pdu = malloc(len ? len : 1);
    out = malloc(req.count * sizeof(*out));
    if (pdu == NULL || out == NULL)
        abort();
    memcpy(pdu, data + MB_RSP_MBAP_LEN, len);
    rc = mb_rsp_check(&req, pdu, len, &why);
    if (rc == 0) {
        size_t want = req.function <= 2 ? (req.count + 7u) / 8u : 2u * req.count;

        if (len != 2 + want || pdu[0] != req.function)
            abort();
        mb_rsp_values(&req, pdu, out);
    } else if (rc < 0 && (rc != -EBADMSG || why == NULL)) {
        abort();
    } else if (rc > 0 && (len != 2 || pdu[0] != (req.function | 0x80))) {
        abort();
    }
    free(pdu);
    free(out);
    return 0;
}
