/* config: the agent's configuration, as C structs and as the key tables that
 * load them (proto/fm_conf.h) and print docs/config.md.
 *
 * The structs are plain data filled by fmc_load_file; each mapping has a
 * table in config.c. To add a key, add a member here and a row to the table
 * of its mapping: the loader, the defaults and the reference all follow.
 * Other parts of the agent (thresholds, spool, sender) add their own
 * sub-structs and tables the same way.
 *
 * After loading, config_load checks what the tables cannot: profile names
 * exist, device and point names are unique, enum codes are integers, OIDs
 * parse. It also resolves each device's profile pointer. Loading happens
 * before the loop starts; nothing here is thread-safe. */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include "alarm.h"
#include "report.h"
#include "uplink.h"
#include "fm_conf.h"
#include "mb_conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum device_class {
    DEVICE_CLASS_UPS,
    DEVICE_CLASS_CAMERA,
    DEVICE_CLASS_DDC,
    DEVICE_CLASS_ENV_SENSOR,
    DEVICE_CLASS_POWER_METER,
    DEVICE_CLASS_OTHER,
};

enum device_protocol {
    DEVICE_PROTOCOL_SNMP,
    DEVICE_PROTOCOL_MODBUS_TCP,
    DEVICE_PROTOCOL_MODBUS_RTU,
};

enum point_type {
    POINT_TYPE_GAUGE,
    POINT_TYPE_COUNTER,
    POINT_TYPE_ENUM,
    POINT_TYPE_BOOL,
    POINT_TYPE_TEXT,
};

enum snmp_version {
    SNMP_VERSION_CFG_1,
    SNMP_VERSION_CFG_2C,
    SNMP_VERSION_CFG_3,
};

/* SNMPv3 protocols, in the order of their names in the configuration
 * (agent/snmp/snmp_usm.c has the table). The last name of each list is an
 * older spelling (`sha`, `aes`) that the configuration check folds into
 * its protocol (SHA1, AES128): code after config_load never sees it. */
enum snmp_auth_proto {
    SNMP_AUTH_NONE,
    SNMP_AUTH_MD5,
    SNMP_AUTH_SHA1,
    SNMP_AUTH_SHA224,
    SNMP_AUTH_SHA256,
    SNMP_AUTH_SHA384,
    SNMP_AUTH_SHA512,
    SNMP_AUTH_SHA_ALIAS, /* "sha": SNMP_AUTH_SHA1 */
};

enum snmp_priv_proto {
    SNMP_PRIV_NONE,
    SNMP_PRIV_DES,
    SNMP_PRIV_AES128,
    SNMP_PRIV_AES192,    /* Blumenthal key extension */
    SNMP_PRIV_AES256,    /* Blumenthal key extension */
    SNMP_PRIV_AES192C,   /* Reeder ("Cisco") key extension */
    SNMP_PRIV_AES256C,   /* Reeder ("Cisco") key extension */
    SNMP_PRIV_AES_ALIAS, /* "aes": SNMP_PRIV_AES128 */
};

enum trap_state_cfg {
    TRAP_STATE_RAISED,
    TRAP_STATE_CLEARED,
    TRAP_STATE_EVENT, /* no alarm state: a one-off event */
};

/* One enum code after validation: "2: normal" becomes {2, "normal"}. */
struct enum_entry {
    int64_t code;
    const char *text; /* borrowed from the point's fmc_kv */
};

struct point_cfg {
    char *name;
    char *oid;
    int type; /* enum point_type */
    char *unit;
    double scale;
    double offset;
    bool table; /* oid is a table column, walked with GETBULK */
    char *index_label;
    bool numeric_string;
    bool rate;
    struct fmc_kv *enum_map;
    size_t n_enum_map;
    struct alarm_cfg alarm;     /* thresholds and calibration (alarm_conf.c) */
    struct report_cfg report;   /* report by exception (report_conf.c) */
    struct mb_point_cfg modbus; /* line 0: an SNMP point (oid) */
    int line;
    /* Filled by config_load: */
    struct enum_entry *enums;
    size_t n_enums;
};

struct trap_map_cfg {
    char *oid;
    char *alarm;
    int state; /* enum trap_state_cfg */
    int line;
};

struct profile_cfg {
    char *name;
    struct point_cfg *points;
    size_t n_points;
    struct trap_map_cfg *traps;
    size_t n_traps;
    int line;
};

/* SNMP parameters of a device (protocol: snmp). Secrets are never logged. */
struct snmp_dev_cfg {
    char *host;
    int64_t port;
    int version; /* enum snmp_version */
    char *community;
    char *user;
    int auth_protocol; /* enum snmp_auth_proto */
    char *auth_passphrase;
    int priv_protocol; /* enum snmp_priv_proto */
    char *priv_passphrase;
    char *context;
    char *engine_id; /* hex; empty: discovered */
    int64_t timeout_ms;
    int64_t retries;
    int64_t max_varbinds;
    int64_t max_reps;
    bool bulk; /* walk tables with GETBULK (v2c, v3); false: GETNEXT */
    int64_t max_rows;
    uint64_t max_msg_size;
    int line; /* 0 when the device has no snmp mapping */
};

struct device_cfg {
    char *name;
    int dev_class; /* enum device_class */
    int protocol;  /* enum device_protocol */
    char *profile;
    char *parent;
    struct fmc_kv *tags;
    size_t n_tags;
    int64_t interval_ms;
    int64_t unreachable_after;
    struct snmp_dev_cfg snmp;
    struct alarm_comm_cfg comm_loss;
    struct alarm_calibration *calibration;
    size_t n_calibration;
    struct report_override *report; /* this device's own report keys of points */
    size_t n_report;
    struct mb_dev_cfg modbus;
    int line;
    /* Filled by config_load: */
    const struct profile_cfg *prof;
};

/* An SNMPv3 user the trap receiver accepts. */
struct trap_user_cfg {
    char *user;
    int auth_protocol;
    char *auth_passphrase;
    int priv_protocol;
    char *priv_passphrase;
    char *engine_id; /* hex engine id of the sender, for v3 traps */
    int line;
};

struct trap_cfg {
    bool enabled;
    char *listen;
    char **communities;
    size_t n_communities;
    struct trap_user_cfg *users;
    size_t n_users;
    uint64_t max_packet;
    int line;
};

struct snmp_global_cfg {
    int64_t max_in_flight;
    int64_t backoff_max_ms;
    double poll_spread;
    int line;
};

struct agent_cfg {
    char *agent_id;
    char *site;
    char *site_name;
    char **collectors;
    size_t n_collectors;
    char *spool_dir;
    char *log_level;
    struct snmp_global_cfg snmp;
    struct mb_global_cfg modbus;
    struct trap_cfg trap_receiver;
    struct device_cfg *devices;
    size_t n_devices;
    struct profile_cfg *profiles;
    size_t n_profiles;
    /* spool, sender, status (uplink_conf.c, spool_conf.c, sender_conf.c);
     * uplink.spool.dir is spool_dir. */
    struct uplink_cfg uplink;
};

/* The table of the whole file, for loading and for the reference. */
extern const struct fmc_schema config_schema;

/* Loads and checks path into cfg (zeroed by the caller). Returns 0, or
 * -EINVAL / -errno with "file:line: key: what" in err; cfg is then freed.
 * Free a loaded cfg with config_free. */
int config_load(const char *path, struct agent_cfg *cfg, char *err, size_t errlen);

/* Same, from memory (name stands for the file in errors). */
int config_load_string(const char *name, const char *text, struct agent_cfg *cfg, char *err,
                       size_t errlen);

void config_free(struct agent_cfg *cfg);

/* Looks up the text of code in a validated point's enum map; NULL if none. */
const char *config_enum_text(const struct point_cfg *pt, int64_t code);

/* Prints docs/config.md: an introduction and the reference of every key. */
void config_print_reference(FILE *out);

extern const char *const config_class_names[];
extern const char *const config_point_type_names[];

#endif
