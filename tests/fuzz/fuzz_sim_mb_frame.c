/* Fuzz target: Modbus request framing (TCP MBAP and RTU) as the simulator
 * runs it, and libmodbus's modbus_reply() on every frame found, over a small
 * register map. The first input byte picks TCP (even) or RTU (odd). Replies
 * go to a closed socket (-1), so only building them is exercised. */
#include "mb_frame.h"

#include <modbus/modbus.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static modbus_t *tcp, *rtu;
    static modbus_mapping_t *map;
    int rtu_mode;

    if (map == NULL) {
        tcp = modbus_new_tcp("127.0.0.1", 502);
        rtu = modbus_new_rtu("/dev/null", 9600, 'N', 8, 1);
        map = modbus_mapping_new_start_address(0, 16, 0, 16, 0, 300, 0, 8004);
        if (tcp == NULL || rtu == NULL || map == NULL)
            abort();
        modbus_set_socket(tcp, -1);
        modbus_set_socket(rtu, -1);
        /* As the simulator does: no 0.5 s sleep after an illegal request. */
        modbus_set_response_timeout(tcp, 0, 1);
        modbus_set_response_timeout(rtu, 0, 1);
    }
    if (size == 0)
        return 0;
    rtu_mode = data[0] & 1;
    data++;
    size--;
    while (size > 0) {
        int n = rtu_mode ? mb_frame_rtu(data, size) : mb_frame_tcp(data, size);

        if (n <= 0)
            break;
        if ((size_t)n > size || n > (rtu_mode ? MB_RTU_ADU_MAX : MB_TCP_ADU_MAX))
            abort();
        /* As the simulator does: a request whose PDU does not hold what its
         * function code says is refused before libmodbus sees it. */
        size_t off = rtu_mode ? 1 : 7, crc = rtu_mode ? 2 : 0;
        if ((!rtu_mode || mb_rtu_crc_ok(data, (size_t)n)) && (size_t)n >= off + 1 + crc &&
            mb_frame_pdu_ok(data + off, (size_t)n - off - crc))
            modbus_reply(rtu_mode ? rtu : tcp, data, n, map);
        data += n;
        size -= (size_t)n;
    }
    return 0;
}
