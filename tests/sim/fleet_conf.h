/* fleet_conf: the fleet file's key table (fm_conf schema) and what it loads
 * into. Private to fleet.c and the generator's tests. */
#ifndef SIM_FLEET_CONF_H
#define SIM_FLEET_CONF_H

#include "fm_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fleet_point_cfg {
    int line;
    char *point;
    int behaviour;
    char *base;
    double min, max, step, amplitude, rate;
    int64_t period_ms;
    uint64_t decimals;
};

struct fleet_dev_cfg {
    int line;
    char *name;
    char *site;
    int protocol;
    char *tmpl;
    char *address;
    int64_t port;
    char *community;
    int bulk; /* enum snmp_bulk_fault */
    uint64_t unit_id;
    char *bus;
    struct fleet_point_cfg *points;
    size_t n_points;
};

struct fleet_snmp_tmpl_cfg {
    int line;
    char *name;
    char *file;
    char *trap;
    char **trap_objects;
    size_t n_trap_objects;
};

struct fleet_mb_tmpl_cfg {
    int line;
    char *name;
    char *file;
};

struct fleet_bus_cfg {
    int line;
    char *name;
    char *link;
};

struct fleet_traps_cfg {
    char *receiver;
    char *community;
    bool inform;
    int64_t timeout_ms;
    uint64_t retries;
};

struct fleet_cfg {
    char *address;
    int64_t snmp_base_port;
    int64_t modbus_base_port;
    uint64_t snmp_max_msg_size;
    int64_t tick_ms;
    double time_scale;
    uint64_t seed;
    struct fleet_traps_cfg traps;
    struct fleet_snmp_tmpl_cfg *snmp_templates;
    size_t n_snmp_templates;
    struct fleet_mb_tmpl_cfg *modbus_templates;
    size_t n_modbus_templates;
    struct fleet_bus_cfg *rtu_buses;
    size_t n_rtu_buses;
    struct fleet_dev_cfg *devices;
    size_t n_devices;
};

extern const struct fmc_schema fleet_schema;

#endif
