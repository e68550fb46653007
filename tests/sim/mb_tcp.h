/* mb_tcp: Modbus TCP devices, each listening on its own port.
 *
 * Connections are libuv streams; requests are framed by mb_frame and
 * answered by libmodbus's modbus_reply() (or modbus_reply_exception() for
 * an exception fault) from the device's modbus_mapping_t, writing straight
 * to the connection's socket. A dead device accepts connections and reads
 * requests but never answers; a slow one stops reading while a reply is
 * held back. A TCP device answers every unit id, as TCP-native devices do. */
#ifndef SIM_MB_TCP_H
#define SIM_MB_TCP_H

#include "sim.h"

#include <stddef.h>

/* Binds and listens. 0, or a negative libuv error with a reason in err. */
int mb_tcp_start(struct sim_dev *d, char *err, size_t errlen);

/* Closes the listener and every connection (sim->closing counts them). */
void mb_tcp_stop(struct sim_dev *d);

/* Answers one whole request (TCP or RTU ADU of len bytes) from device d on
 * socket fd with the libmodbus context ctx, honouring the exception fault. */
void mb_answer(modbus_t *ctx, int fd, struct sim_dev *d, const uint8_t *req, int len);

/* Shared libmodbus contexts for building replies (created on first use). */
modbus_t *mb_tcp_ctx(void);
modbus_t *mb_rtu_ctx(void);
void mb_ctx_free(void);

#endif
