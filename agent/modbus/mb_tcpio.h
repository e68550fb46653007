/* mb_tcpio: one Modbus TCP read on a libmodbus connection, with the
 * response framed by its MBAP length and checked by mb_rsp.
 *
 * The request goes out through libmodbus (modbus_send_raw_request, which
 * sends transaction id 0); the response is read here from the context's
 * socket because libmodbus 3.1.6 frames responses by byte count and ignores
 * the MBAP length (see mb_rsp.h). A fixed transaction id is safe
 * because the worker reopens a TCP link after every timeout or error, so
 * a late answer to an earlier request never reaches a later one.
 *
 * Worker thread only; the context must be connected. */
#ifndef AGENT_MODBUS_TCPIO_H
#define AGENT_MODBUS_TCPIO_H

#include "mb_plan.h"
#include "mb_worker.h"

#include <modbus.h>
#include <stdint.h>

/* Sends read rd to unit and waits at most timeout_ms for its response.
 * Fills res (status, exception, err, why); on MB_ST_OK out holds rd->count
 * words (a coil or input is one word 0 or 1). Returns res->status. */
int mb_tcpio_read(modbus_t *ctx, int unit, const struct mb_plan_read *rd, int64_t timeout_ms,
                  uint16_t *out, struct mb_read_result *res);

#endif
