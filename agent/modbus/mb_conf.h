/* mb_conf: the Modbus keys of the agent's configuration (proto/fm_conf.h
 * tables) and the checks the tables cannot make.
 *
 * config.c embeds these schemas as FMC_MAP under the key `modbus`: in a
 * profile point (where the value sits), in a device (how to reach it), and
 * at the top level (engine settings). A mapping that is absent from the file
 * keeps line == 0.
 *
 * Impossible definitions are errors with file:line: a type wider than the
 * `count` given (float32 on one register), a multi-register type on coils,
 * an address range past 65535, a count over the protocol's per-read limit,
 * a bit outside 0..15, a point wider than the device's max_span, RTU devices
 * of one serial port with different line settings.
 *
 * Loading happens before the loop starts; not thread-safe. */
#ifndef AGENT_MODBUS_CONF_H
#define AGENT_MODBUS_CONF_H

#include "fm_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_parity_cfg {
    MB_PARITY_NONE,
    MB_PARITY_EVEN,
    MB_PARITY_ODD,
};

/* Key `modbus` of a profile point: where and how the value is stored. */
struct mb_point_cfg {
    int64_t function;    /* 1 coils, 2 discrete inputs, 3 holding, 4 input registers */
    int64_t address;     /* 0-based PDU address */
    int type_key;        /* as configured: 0 auto, else enum mb_type + 1 */
    int type;            /* enum mb_type, filled by mb_conf_check_point */
    char *order_name;    /* as configured, any case */
    int order;           /* enum mb_order, filled by mb_conf_check_point */
    int64_t bit;         /* bool in a register: 0..15; -1: the whole register != 0 */
    int64_t count;       /* registers the vendor lists; 0: from the type */
    struct fmc_kv *bits; /* bit number -> name: one bool measurement per bit */
    size_t n_bits;
    int line; /* 0 when the point has no modbus mapping */
    /* Filled by mb_conf_check: */
    uint16_t words;     /* registers (or bits) the point occupies */
    uint8_t bit_no[16]; /* bits[i].key as a number */
};

/* Key `modbus` of a device: the link and the request shaping. */
struct mb_dev_cfg {
    char *host; /* modbus_tcp */
    int64_t port;
    char *serial; /* modbus_rtu: serial device path */
    int64_t baud;
    int parity; /* enum mb_parity_cfg */
    int64_t data_bits;
    int64_t stop_bits;
    int64_t unit_id;
    int64_t timeout_ms;
    int64_t inter_frame_ms;
    int64_t max_gap;
    int64_t max_span;
    int64_t max_bits;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int line; /* 0 when the device has no modbus mapping */
};

/* Top-level key `modbus`: engine settings. */
struct mb_global_cfg {
    int64_t backoff_max_ms;
    double poll_spread;
    int64_t max_queue;
    int line;
};

extern const struct fmc_schema mb_point_schema;  /* struct mb_point_cfg */
extern const struct fmc_schema mb_dev_schema;    /* struct mb_dev_cfg */
extern const struct fmc_schema mb_global_schema; /* struct mb_global_cfg */

/* Checks a point's modbus mapping (path names it in errors, e.g.
 * "profiles[2].points[5]") and fills words and bit_no. Returns 0 or -EINVAL
 * with "file:line: path.modbus...: why" in err. */
int mb_conf_check_point(const fmc_doc_t *doc, const char *path, struct mb_point_cfg *pt, char *err,
                        size_t errlen);

/* Checks a device's modbus mapping for protocol `rtu` (false: TCP) against
 * the points of its profile (borrowed array of n point mappings, already
 * checked). Returns 0 or -EINVAL with err. */
int mb_conf_check_device(const fmc_doc_t *doc, const char *path, const struct mb_dev_cfg *dev,
                         bool rtu, const struct mb_point_cfg *const *points, size_t n, char *err,
                         size_t errlen);

/* Checks that two RTU devices on the same serial port agree on the line
 * settings; path names the second. Returns 0 or -EINVAL with err. */
int mb_conf_check_bus(const fmc_doc_t *doc, const char *path, const struct mb_dev_cfg *a,
                      const struct mb_dev_cfg *b, char *err, size_t errlen);

extern const char *const mb_parity_names[];

#endif
