/* sim: the running fleet, shared by the simulator's modules.
 *
 * One `struct sim` per process owns the loop's handles, the templates (snmprec
 * data and register maps, shared read-only by the devices using them) and the
 * devices. A device is served by one protocol module (snmp_server, mb_tcp or
 * mb_rtu) and carries its fault state and its points: values that move
 * (behaviours) or are forced (overrides, from the control socket).
 *
 * Everything here runs on the loop thread. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include "ber.h"
#include "regmap.h"
#include "snmp_agent.h"
#include "motion.h"
#include "snmprec.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum sim_proto { SIM_SNMP, SIM_MODBUS_TCP, SIM_MODBUS_RTU };

extern const char *const sim_proto_names[];     /* "snmp", "modbus-tcp", "modbus-rtu" */
extern const char *const sim_behaviour_names[]; /* "constant", "walk", "sine", "drift" */

struct sim_snmp_template {
    char *name;
    struct sim_mib *mib;
    struct ber_oid trap; /* len 0: none */
    struct ber_oid *trap_objects;
    size_t n_trap_objects;
};

struct sim_mb_template {
    char *name;
    struct regmap *map;
};

struct sim_dev;

/* A value of a device that moves or is forced. */
struct sim_point {
    char *name; /* OID text (SNMP) or register point name (Modbus) */
    struct sim_dev *dev;
    /* SNMP target: OID, and record index in the device's current mib (-1: absent). */
    struct ber_oid oid;
    long rec;
    uint8_t ber_tag; /* type of the record */
    /* Modbus target. */
    const struct regmap_point *mp;
    /* Behaviour. */
    bool configured; /* from the fleet file (kept by `clear`) */
    enum sim_behaviour kind;
    double base, min, max, step, amplitude, period_s, rate;
    int decimals;
    double value;
    /* Override from `set` or `flap`: text as given, and its number if numeric. */
    bool overridden;
    bool flapping; /* override applies only in the device's flap "on" phase */
    char *ovr_text;
    /* SNMP: the encoded value served for rec. */
    uint8_t *enc;
    uint16_t enc_len;
};

struct sim_pending; /* delayed SNMP reply or Modbus request */

struct sim_dev {
    struct sim *sim;
    char *name;
    char *site;
    enum sim_proto proto;
    size_t index; /* in sim->devs */
    char *address;
    int port; /* configured; 0 = pick */
    int bound_port;

    /* Faults. */
    bool dead;
    bool site_dead;
    uint32_t delay_ms;
    int mb_exception;
    int mb_garble; /* enum mb_garble: replies broken on purpose */
    int snmp_error, snmp_error_index;
    uint32_t toobig_bytes;   /* SNMP: answers over this size are tooBig; 0 = off */
    uint32_t drop_big_bytes; /* SNMP: answers over this size are not sent; 0 = off */
    int snmp_bulk;           /* SNMP: enum snmp_bulk_fault, how GETBULK is answered */
    int snmp_bulk0;          /* the same, from the fleet file (restored by `clear`) */
    bool flap_dead;
    bool flap_on;
    uint32_t flap_ms;
    uv_timer_t flap_timer;
    bool flap_timer_init;

    struct sim_point **points;
    size_t n_points;

    /* SNMP. */
    const struct sim_snmp_template *tmpl;
    const struct sim_snmp_template *tmpl0; /* from the fleet file, restored by `clear` */
    char *community;
    uint32_t uptime0; /* recorded sysUpTime of the template */
    struct snmp_ovl *ovl;
    size_t n_ovl;
    uv_udp_t udp;
    int32_t next_request_id;
    uint64_t snmp_gets, snmp_getnexts, snmp_getbulks; /* requests received, for `status` */

    /* Modbus. */
    const struct sim_mb_template *mtmpl;
    modbus_mapping_t *mapping;
    int unit_id;
    uv_tcp_t listener;
    struct mb_conn *conns;
    struct sim_rtu_bus *bus;
};

struct sim_traps {
    char *receiver; /* host:port, NULL: none */
    char *community;
    bool inform;
    int64_t timeout_ms;
    uint32_t retries;
};

struct sim {
    uv_loop_t *loop;
    char *fleet_path;
    uv_timer_t tick;
    int64_t tick_ms;
    double time_scale;
    uint64_t start_ms;  /* uv_now at start */
    double start_epoch; /* wall clock at start, seconds */
    size_t snmp_max_msg;
    uint64_t rng;
    struct sim_traps traps;
    struct sockaddr_storage trap_addr;
    socklen_t trap_addr_len;
    bool trap_addr_ok;

    struct sim_snmp_template *snmp_tmpls;
    size_t n_snmp_tmpls;
    struct sim_mb_template *mb_tmpls;
    size_t n_mb_tmpls;
    struct sim_dev **devs;
    size_t n_devs;
    struct sim_rtu_bus **buses;
    size_t n_buses;
    struct sim_ctl *ctl; /* freed by sim_free */
    int closing;         /* handles still to close at shutdown */
};

/* Simulated seconds since start (scaled by time_scale), and wall time. */
double sim_elapsed_s(const struct sim *s);
double sim_wall_s(const struct sim *s);

/* A uniform random number in [0, 1) from the fleet's seeded generator. */
double sim_random(struct sim *s);

/* The socket address of address (IPv4, or IPv6 bare or in brackets, with a
 * zone for link-local) and port into ss, its length into *len (may be
 * NULL). 0, or a negative libuv error. */
int sim_sockaddr(const char *address, int port, struct sockaddr_storage *ss, socklen_t *len);

/* The port of a bound IPv4 or IPv6 socket address. */
int sim_sockaddr_port(const struct sockaddr_storage *ss);

/* True when the device must not answer now (dead, flapping dead phase, or
 * its site is dead). */
bool sim_dev_silent(const struct sim_dev *d);

/* sysUpTime the device reports now, in TimeTicks. */
uint32_t sim_dev_uptime(const struct sim_dev *d);

/* Finds a device or template by name; NULL if none. */
struct sim_dev *sim_find_dev(const struct sim *s, const char *name);
const struct sim_snmp_template *sim_find_snmp_tmpl(const struct sim *s, const char *name);
const struct sim_mb_template *sim_find_mb_tmpl(const struct sim *s, const char *name);

/* Binds every device, opens the RTU buses and starts the tick. 0, or a
 * negative error with the reason in err (the caller logs it and exits). */
int sim_start(struct sim *s, char *err, size_t errlen);

/* Writes the ports file: one line per device, `name protocol address port
 * unit_id site`, then one line per bus, `bus name pty-path`; written to a
 * temporary name and renamed, so a reader never sees half a file. */
int sim_write_ports(const struct sim *s, const char *path, char *err, size_t errlen);

/* Closes every handle; the caller then runs the loop until it is empty. */
void sim_stop(struct sim *s);

/* Frees the fleet (after the loop drained). sim_free(NULL) does nothing. */
void sim_free(struct sim *s);
#endif
