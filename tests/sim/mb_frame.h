/* mb_frame: finding Modbus request boundaries in a byte stream.
 *
 * libmodbus's modbus_receive() frames requests itself, but it blocks in
 * select() until a whole request has arrived (up to its byte timeout), which
 * would stall every other device of the loop; and its RTU backend drops
 * every frame whose unit id is not the context's one (3.1.6,
 * _modbus_rtu_check_integrity), so one context cannot serve several units on
 * one bus. The simulator therefore frames requests itself, without blocking,
 * and hands each whole request to libmodbus's modbus_reply(). */
#ifndef SIM_MB_FRAME_H
#define SIM_MB_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest ADUs: Modbus TCP 260 bytes, RTU 256 bytes. */
#define MB_TCP_ADU_MAX 260
#define MB_RTU_ADU_MAX 256

/* Length of the first Modbus TCP request in buf: > 0 when complete, 0 when
 * more bytes are needed, -EBADMSG when the MBAP header is invalid (protocol
 * id not 0, or length outside 2..254): the connection must be closed. */
int mb_frame_tcp(const uint8_t *buf, size_t len);

/* Length of the RTU request starting at buf (unit id, function, ..., CRC):
 * > 0 when complete, 0 when more bytes are needed, -EBADMSG when the
 * function code is not one a server can frame. */
int mb_frame_rtu(const uint8_t *buf, size_t len);

/* True if a request PDU (function code and data, len bytes) holds exactly
 * what its function code says: a fixed size for reads and single writes,
 * and for multiple writes a byte count that matches both the quantity and
 * the bytes present. libmodbus 3.1.6's modbus_reply() trusts these fields
 * and reads the quantity's registers or bits from the request buffer,
 * however short the request is; such a request gets exception 03 here
 * instead. Function codes libmodbus does not serve pass (it answers them
 * with "illegal function" from the code alone). */
int mb_frame_pdu_ok(const uint8_t *pdu, size_t len);

/* Modbus CRC-16 (polynomial 0xA001, initial 0xFFFF); on the wire low byte first. */
uint16_t mb_crc16(const uint8_t *buf, size_t len);

/* True if the RTU frame's last two bytes are the CRC of the rest. */
int mb_rtu_crc_ok(const uint8_t *frame, size_t len);

#endif
