/* mb_conf: see mb_conf.h. The tables are part of the configuration
 * reference printed into docs/config.md. */
#include "mb_conf.h"

#include "mb_decode.h"
#include "mb_plan.h"

#include "fm_addr.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mb_parity_names[] = {"none", "even", "odd", NULL};
/* `type` as configured: "auto", then mb_type_names in enum order (checked
 * in mb_conf_check_point). */
static const char *const type_key_names[] = {"auto",   "bool",    "int16",   "uint16",
                                             "int32",  "uint32",  "float32", "int64",
                                             "uint64", "float64", NULL};

#define F(st, m) offsetof(struct st, m)

static const struct fmc_field point_fields[] = {
    {.key = "function",
     .type = FMC_INT,
     .offset = F(mb_point_cfg, function),
     .flags = FMC_REQUIRED,
     .min = 1,
     .max = 4,
     .doc = "1 coils, 2 discrete inputs, 3 holding registers, 4 input registers"},
    {.key = "address",
     .type = FMC_INT,
     .offset = F(mb_point_cfg, address),
     .flags = FMC_REQUIRED,
     .min = 0,
     .max = 65535,
     .doc = "0-based PDU address (register 40001 or 30001 is address 0)"},
    {.key = "type",
     .type = FMC_ENUM,
     .offset = F(mb_point_cfg, type_key),
     .def = "auto",
     .enum_names = type_key_names,
     .doc = "bool, int16, uint16, int32, uint32, float32, int64, uint64, float64; auto: bool "
            "for functions 1 and 2 (coils, discrete inputs), uint16 for 3 and 4"},
    {.key = "order",
     .type = FMC_STR,
     .offset = F(mb_point_cfg, order_name),
     .def = "ABCD",
     .doc = "ABCD, CDAB, BADC or DCBA, in any case (cdab = CDAB): where bytes A (most "
            "significant)..D land: ABCD big-endian, CDAB words swapped (low word first), BADC "
            "bytes swapped in each word, DCBA both (little-endian). 16-bit values have one word, "
            "so only the byte swap applies: ABCD and CDAB read the register as sent (AB), BADC "
            "and DCBA swap its two bytes (BA); AB and BA are accepted for them too. 64-bit: the "
            "same swaps of words and bytes"},
    {.key = "bit",
     .type = FMC_INT,
     .offset = F(mb_point_cfg, bit),
     .def = "-1",
     .min = -1,
     .max = 15,
     .doc = "type bool on a register: the bit (0 = least significant); -1: register != 0"},
    {.key = "count",
     .type = FMC_INT,
     .offset = F(mb_point_cfg, count),
     .def = "0",
     .min = 0,
     .max = 2000,
     .doc = "registers the vendor's map lists for the value, checked against the type; 0: from "
            "the type"},
    {.key = "bits",
     .type = FMC_STRMAP,
     .offset = F(mb_point_cfg, bits),
     .count_offset = F(mb_point_cfg, n_bits),
     .max_items = 16,
     .doc = "status words: bit number -> name; each listed bit is also reported as a bool "
            "measurement labelled bit=NAME"},
    {0},
};
const struct fmc_schema mb_point_schema = {.name = "point modbus",
                                           .size = sizeof(struct mb_point_cfg),
                                           .fields = point_fields,
                                           .line_offset = F(mb_point_cfg, line)};

static const struct fmc_field dev_fields[] = {
    {.key = "host",
     .type = FMC_STR,
     .offset = F(mb_dev_cfg, host),
     .def = "",
     .check = fm_addr_check_host_key,
     .doc = "modbus_tcp: IPv4 address, IPv6 address (bare or in brackets; fe80::/10 with a zone) "
            "or host name of the device or gateway"},
    {.key = "port",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, port),
     .def = "502",
     .min = 1,
     .max = 65535,
     .doc = "modbus_tcp: TCP port"},
    {.key = "serial",
     .type = FMC_STR,
     .offset = F(mb_dev_cfg, serial),
     .def = "",
     .doc = "modbus_rtu: serial device of the bus (e.g. /dev/ttyUSB0); devices naming the same "
            "port share the bus"},
    {.key = "baud",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, baud),
     .def = "9600",
     .min = 300,
     .max = 1000000,
     .doc = "modbus_rtu: bits per second"},
    {.key = "parity",
     .type = FMC_ENUM,
     .offset = F(mb_dev_cfg, parity),
     .def = "none",
     .enum_names = mb_parity_names,
     .doc = "modbus_rtu: none, even or odd"},
    {.key = "data_bits",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, data_bits),
     .def = "8",
     .min = 5,
     .max = 8,
     .doc = "modbus_rtu: data bits"},
    {.key = "stop_bits",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, stop_bits),
     .def = "1",
     .min = 1,
     .max = 2,
     .doc = "modbus_rtu: stop bits"},
    {.key = "unit_id",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, unit_id),
     .def = "1",
     .min = 0,
     .max = 255,
     .doc = "unit (slave) id: 1..247 on RTU; TCP devices often ignore it, gateways route by it"},
    {.key = "timeout",
     .type = FMC_DURATION,
     .offset = F(mb_dev_cfg, timeout_ms),
     .def = "1s",
     .min = 10,
     .max = 60000,
     .doc = "wait for a response; a timeout fails the poll's remaining reads too"},
    {.key = "inter_frame_delay",
     .type = FMC_DURATION,
     .offset = F(mb_dev_cfg, inter_frame_ms),
     .def = "0ms",
     .min = 0,
     .max = 10000,
     .doc = "silence kept on the bus between one exchange and the next request (RTU: the "
            "largest value of the bus's devices applies)"},
    {.key = "max_gap",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, max_gap),
     .def = "16",
     .min = 0,
     .max = 2000,
     .doc = "unused registers (or bits) one read may span to merge nearby points; 0 for "
            "devices that reject reads across unmapped addresses"},
    {.key = "max_span",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, max_span),
     .def = "125",
     .min = 1,
     .max = 125,
     .doc = "most registers in one read (protocol limit 125)"},
    {.key = "max_bits",
     .type = FMC_INT,
     .offset = F(mb_dev_cfg, max_bits),
     .def = "2000",
     .min = 1,
     .max = 2000,
     .doc = "most coils or discrete inputs in one read (protocol limit 2000)"},
    {.key = "reconnect_min",
     .type = FMC_DURATION,
     .offset = F(mb_dev_cfg, reconnect_min_ms),
     .def = "1s",
     .min = 10,
     .max = 3600000,
     .doc = "first wait after a failed connect; doubles on each failure"},
    {.key = "reconnect_max",
     .type = FMC_DURATION,
     .offset = F(mb_dev_cfg, reconnect_max_ms),
     .def = "1m",
     .min = 10,
     .max = 86400000,
     .doc = "cap of the reconnect wait; a good answer resets it"},
    {0},
};
const struct fmc_schema mb_dev_schema = {.name = "device modbus",
                                         .size = sizeof(struct mb_dev_cfg),
                                         .fields = dev_fields,
                                         .line_offset = F(mb_dev_cfg, line)};

static const struct fmc_field global_fields[] = {
    {.key = "backoff_max",
     .type = FMC_DURATION,
     .offset = F(mb_global_cfg, backoff_max_ms),
     .def = "10m",
     .min = 1000,
     .max = 86400000,
     .doc = "a failing Modbus device's interval doubles up to this, and resets on success"},
    {.key = "poll_spread",
     .type = FMC_DOUBLE,
     .offset = F(mb_global_cfg, poll_spread),
     .def = "1",
     .min = 0,
     .max = 1,
     .doc = "fraction of its interval over which Modbus devices' first polls are spread"},
    {.key = "max_queue",
     .type = FMC_INT,
     .offset = F(mb_global_cfg, max_queue),
     .def = "64",
     .min = 1,
     .max = 100000,
     .doc = "polls waiting per TCP connection or RTU bus; a due poll beyond it is skipped and "
            "counted"},
    {0},
};
const struct fmc_schema mb_global_schema = {.name = "modbus",
                                            .size = sizeof(struct mb_global_cfg),
                                            .fields = global_fields,
                                            .line_offset = F(mb_global_cfg, line)};

int mb_conf_check_point(const fmc_doc_t *doc, const char *path, struct mb_point_cfg *pt, char *err,
                        size_t errlen)
{
    bool bits_table = pt->function <= 2;
    unsigned words;
    struct mb_plan_point where;
    const char *why;
    char sub[256];

    if (pt->type_key == 0) {
        pt->type = bits_table ? MB_TYPE_BOOL : MB_TYPE_UINT16;
    } else {
        pt->type = pt->type_key - 1;
        assert(strcmp(type_key_names[pt->type_key], mb_type_names[pt->type]) == 0);
    }
    words = mb_type_words(pt->type);
    pt->order = mb_order_parse(pt->order_name);
    if (pt->order < 0 || (words > 1 && strlen(pt->order_name) == 2))
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.order: \"%s\" is not one of: ABCD, CDAB, BADC, DCBA (any case; "
                          "AB and BA for 16-bit values)",
                          pt->order_name);
    if (bits_table && pt->type != MB_TYPE_BOOL)
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.type: %s needs registers; function %d reads single bits "
                          "(coils and discrete inputs are bool; leave type out)",
                          mb_type_names[pt->type], (int)pt->function);
    if (pt->bit >= 0 && (bits_table || pt->type != MB_TYPE_BOOL))
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.bit: only a bool read from a register (function 3 or 4) "
                          "takes a bit");
    if (pt->count != 0 && pt->count != (int64_t)words)
        return fmc_errorf(
            doc, err, errlen, path, "modbus.count: %s takes %u register%s, count is %lld",
            mb_type_names[pt->type], words, words == 1 ? "" : "s", (long long)pt->count);
    if (pt->n_bits > 0 && (!mb_type_is_integer(pt->type)))
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.bits: only integer registers have bit fields");
    where.function = (uint8_t)pt->function;
    where.address = (uint16_t)pt->address;
    where.count = (uint16_t)words;
    if (pt->address + words > MB_PLAN_ADDR_SPACE || mb_plan_check_point(&where, &why) != 0)
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.address: %lld + %u register%s runs past address 65535",
                          (long long)pt->address, words, words == 1 ? "" : "s");
    for (size_t i = 0; i < pt->n_bits; i++) {
        const char *k = pt->bits[i].key;
        char *end;
        long n = strtol(k, &end, 10);

        if (*k == '\0' || *end != '\0' || n < 0 || n >= (long)(16 * words)) {
            snprintf(sub, sizeof(sub), "%s.modbus.bits.%s", path, k);
            return fmc_errorf(doc, err, errlen, sub, "'%s' is not a bit number 0..%u", k,
                              16 * words - 1);
        }
        pt->bit_no[i] = (uint8_t)n;
    }
    pt->words = (uint16_t)words;
    return 0;
}

int mb_conf_check_device(const fmc_doc_t *doc, const char *path, const struct mb_dev_cfg *dev,
                         bool rtu, const struct mb_point_cfg *const *points, size_t n, char *err,
                         size_t errlen)
{
    if (dev->line == 0) {
        char sub[128];

        snprintf(sub, sizeof(sub), "%s.modbus", path);
        return fmc_errorf(doc, err, errlen, sub, "required for protocol %s",
                          rtu ? "modbus_rtu" : "modbus_tcp");
    }
    if (!rtu && dev->host[0] == '\0')
        return fmc_errorf(doc, err, errlen, path, "modbus.host: modbus_tcp needs a host");
    if (rtu && dev->serial[0] == '\0')
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.serial: modbus_rtu needs a serial device");
    if (rtu && (dev->unit_id < 1 || dev->unit_id > 247))
        return fmc_errorf(doc, err, errlen, path,
                          "modbus.unit_id: %lld is not 1..247 (RTU unit 0 is broadcast, "
                          "which gets no answer)",
                          (long long)dev->unit_id);
    if (dev->reconnect_max_ms < dev->reconnect_min_ms)
        return fmc_errorf(doc, err, errlen, path, "modbus.reconnect_max: below reconnect_min");
    for (size_t i = 0; i < n; i++) {
        const struct mb_point_cfg *pt = points[i];
        int64_t span = pt->function <= 2 ? dev->max_bits : dev->max_span;

        if (pt->words > span)
            return fmc_errorf(doc, err, errlen, path,
                              "modbus.max_span: point %zu of the profile needs %u registers in "
                              "one read, max_span is %lld",
                              i, pt->words, (long long)span);
    }
    return 0;
}

int mb_conf_check_bus(const fmc_doc_t *doc, const char *path, const struct mb_dev_cfg *a,
                      const struct mb_dev_cfg *b, char *err, size_t errlen)
{
    if (a->baud != b->baud || a->parity != b->parity || a->data_bits != b->data_bits ||
        a->stop_bits != b->stop_bits)
        return fmc_errorf(doc, err, errlen, path,
                          "modbus: serial %s is shared with another device at %lld %s %lld/%lld; "
                          "the line settings of one bus must agree",
                          b->serial, (long long)a->baud, mb_parity_names[a->parity],
                          (long long)a->data_bits, (long long)a->stop_bits);
    return 0;
}
