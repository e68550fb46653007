/* config: see config.h. The tables below are the configuration reference:
 * docs/config.md is printed from them (fieldmon-agent
 * --print-config-reference) and a test keeps the two equal. */
#include "config.h"

#include "alarm_conf.h"
#include "report_conf.h"
#include "uplink_conf.h"
#include "oid.h"
#include "sender_conf.h"
#include "snmp_usm.h"
#include "spool_conf.h"

#include "fm_addr.h"
#include "fm_log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const config_class_names[] = {"ups",         "camera", "ddc", "env_sensor",
                                          "power_meter", "other",  NULL};
const char *const config_point_type_names[] = {"gauge", "counter", "enum", "bool", "text", NULL};
static const char *const protocol_names[] = {"snmp", "modbus_tcp", "modbus_rtu", NULL};
static const char *const version_names[] = {"1", "2c", "3", NULL};
static const char *const trap_state_names[] = {"raised", "cleared", "event", NULL};

#define F(st, m) offsetof(struct st, m)

static const struct fmc_field point_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = F(point_cfg, name),
     .flags = FMC_REQUIRED,
     .doc = "point name, unique within the profile (e.g. battery_status)"},
    {.key = "oid",
     .type = FMC_STR,
     .offset = F(point_cfg, oid),
     .doc = "SNMP points: numeric OID (2 to 64 arcs, the first 0, 1 or 2), the instance for a "
            "scalar (ends in .0), the column for a "
            "table"},
    {.key = "type",
     .type = FMC_ENUM,
     .offset = F(point_cfg, type),
     .def = "gauge",
     .enum_names = config_point_type_names,
     .doc = "what the value means: gauge (a level), counter, enum, bool or text. An OBJECT "
            "IDENTIFIER value (sysObjectID, a table column of OIDs) or an IpAddress needs text: "
            "the event's text is the dotted OID (1.3.6.1.4.1.318.1.3.27) or address; a numeric "
            "type gets decode_error"},
    {.key = "unit",
     .type = FMC_STR,
     .offset = F(point_cfg, unit),
     .def = "",
     .doc = "engineering unit after scale and offset (e.g. V, %, degC)"},
    {.key = "scale",
     .type = FMC_DOUBLE,
     .offset = F(point_cfg, scale),
     .def = "1",
     .doc = "value = raw x scale + offset, where raw is the number as decoded: the SNMP "
            "integer, counter or numeric string; for Modbus the value of its type assembled from "
            "its registers in order (an int32 is one signed number, never the register words)"},
    {.key = "offset",
     .type = FMC_DOUBLE,
     .offset = F(point_cfg, offset),
     .def = "0",
     .doc = "added after scale"},
    {.key = "table",
     .type = FMC_BOOL,
     .offset = F(point_cfg, table),
     .def = "false",
     .doc = "oid is a table column: walk it (GETBULK) and label each row with its index"},
    {.key = "index_label",
     .type = FMC_STR,
     .offset = F(point_cfg, index_label),
     .def = "index",
     .doc = "label key that carries a table row's index (e.g. line, ifIndex)"},
    {.key = "numeric_string",
     .type = FMC_BOOL,
     .offset = F(point_cfg, numeric_string),
     .def = "false",
     .doc = "parse the leading decimal number of an OCTET STRING value"},
    {.key = "rate",
     .type = FMC_BOOL,
     .offset = F(point_cfg, rate),
     .def = "false",
     .doc = "counters: also report the per-second rate between two polls (wraps handled)"},
    {.key = "enum",
     .type = FMC_STRMAP,
     .offset = F(point_cfg, enum_map),
     .count_offset = F(point_cfg, n_enum_map),
     .max_items = 1000,
     .doc = "enum points: integer code -> text, e.g. {2: normal, 3: low}"},
    {.key = "alarm",
     .type = FMC_MAP,
     .offset = F(point_cfg, alarm),
     .sub = &alarm_cfg_schema,
     .doc = "thresholds, state and bit alarms, staleness and calibration of the point"},
    {.key = "report",
     .type = FMC_MAP,
     .offset = F(point_cfg, report),
     .sub = &report_cfg_schema,
     .doc = "report by exception: when a polled value is sent to the collector "
            "(docs/agent.md)"},
    {.key = "modbus",
     .type = FMC_MAP,
     .offset = F(point_cfg, modbus),
     .sub = &mb_point_schema,
     .doc = "Modbus points: where the value is (instead of oid)"},
    {0},
};
static const struct fmc_schema point_schema = {.name = "point",
                                               .size = sizeof(struct point_cfg),
                                               .fields = point_fields,
                                               .line_offset = F(point_cfg, line)};

static const struct fmc_field trap_map_fields[] = {
    {.key = "oid",
     .type = FMC_STR,
     .offset = F(trap_map_cfg, oid),
     .flags = FMC_REQUIRED,
     .doc = "numeric snmpTrapOID (v2c/v3) or enterprise.0.specific (v1) of the notification"},
    {.key = "alarm",
     .type = FMC_STR,
     .offset = F(trap_map_cfg, alarm),
     .flags = FMC_REQUIRED,
     .doc = "alarm code the trap maps to (e.g. ups_on_battery)"},
    {.key = "state",
     .type = FMC_ENUM,
     .offset = F(trap_map_cfg, state),
     .def = "raised",
     .enum_names = trap_state_names,
     .doc = "raised, cleared, or event (no alarm state)"},
    {0},
};
static const struct fmc_schema trap_map_schema = {.name = "trap map",
                                                  .size = sizeof(struct trap_map_cfg),
                                                  .fields = trap_map_fields,
                                                  .line_offset = F(trap_map_cfg, line)};

static const struct fmc_field profile_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = F(profile_cfg, name),
     .flags = FMC_REQUIRED,
     .doc = "profile name, referenced by devices[].profile"},
    {.key = "points",
     .type = FMC_SEQ,
     .offset = F(profile_cfg, points),
     .sub = &point_schema,
     .count_offset = F(profile_cfg, n_points),
     .max_items = 2000,
     .doc = "points to poll"},
    {.key = "traps",
     .type = FMC_SEQ,
     .offset = F(profile_cfg, traps),
     .sub = &trap_map_schema,
     .count_offset = F(profile_cfg, n_traps),
     .max_items = 1000,
     .doc = "notifications mapped to alarm codes"},
    {0},
};
static const struct fmc_schema profile_schema = {.name = "profile",
                                                 .size = sizeof(struct profile_cfg),
                                                 .fields = profile_fields,
                                                 .line_offset = F(profile_cfg, line)};

static const struct fmc_field snmp_dev_fields[] = {
    {.key = "host",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, host),
     .flags = FMC_REQUIRED,
     .check = fm_addr_check_host_key,
     .doc = "IPv4 address, IPv6 address (bare or in brackets; fe80::/10 with a zone, "
            "fe80::1%eth0) or host name of the device (resolved on the loop when first polled; "
            "an IPv4 address is preferred)"},
    {.key = "port",
     .type = FMC_INT,
     .offset = F(snmp_dev_cfg, port),
     .def = "161",
     .min = 1,
     .max = 65535,
     .doc = "UDP port"},
    {.key = "version",
     .type = FMC_ENUM,
     .offset = F(snmp_dev_cfg, version),
     .def = "2c",
     .enum_names = version_names,
     .doc = "SNMP version: 1, 2c or 3"},
    {.key = "community",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, community),
     .flags = FMC_SECRET,
     .def = "public",
     .doc = "community (versions 1 and 2c)"},
    {.key = "user",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, user),
     .def = "",
     .doc = "USM user name (version 3)"},
    {.key = "auth_protocol",
     .type = FMC_ENUM,
     .offset = F(snmp_dev_cfg, auth_protocol),
     .def = "none",
     .enum_names = snmp_usm_auth_names,
     .doc = "version 3 authentication: none, md5 (warned), sha1 (or sha), sha224, sha256, "
            "sha384, sha512"},
    {.key = "auth_passphrase",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, auth_passphrase),
     .flags = FMC_SECRET,
     .def = "",
     .doc = "version 3 authentication passphrase (8+ chars)"},
    {.key = "priv_protocol",
     .type = FMC_ENUM,
     .offset = F(snmp_dev_cfg, priv_protocol),
     .def = "none",
     .enum_names = snmp_usm_priv_names,
     .doc = "version 3 privacy: none, des (warned), aes128 (or aes), aes192, aes256 "
            "(Blumenthal key extension), aes192c, aes256c (Reeder/Cisco key extension); needs "
            "auth_protocol"},
    {.key = "priv_passphrase",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, priv_passphrase),
     .flags = FMC_SECRET,
     .def = "",
     .doc = "version 3 privacy passphrase (8+ chars)"},
    {.key = "context",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, context),
     .def = "",
     .doc = "version 3 context name"},
    {.key = "engine_id",
     .type = FMC_STR,
     .offset = F(snmp_dev_cfg, engine_id),
     .def = "",
     .doc = "version 3 engine id in hex; empty: discovered at the first poll"},
    {.key = "timeout",
     .type = FMC_DURATION,
     .offset = F(snmp_dev_cfg, timeout_ms),
     .def = "1s",
     .min = 10,
     .max = 60000,
     .doc = "wait for a response before a retry"},
    {.key = "retries",
     .type = FMC_INT,
     .offset = F(snmp_dev_cfg, retries),
     .def = "1",
     .min = 0,
     .max = 10,
     .doc = "resends of a request after its timeout"},
    {.key = "max_varbinds",
     .type = FMC_INT,
     .offset = F(snmp_dev_cfg, max_varbinds),
     .def = "32",
     .min = 1,
     .max = 128,
     .doc = "most OIDs in one request (lowered for the device when it answers tooBig)"},
    {.key = "max_repetitions",
     .type = FMC_INT,
     .offset = F(snmp_dev_cfg, max_reps),
     .def = "25",
     .min = 1,
     .max = 1000,
     .doc = "GETBULK max-repetitions (lowered on tooBig or a timed-out walk)"},
    {.key = "bulk",
     .type = FMC_BOOL,
     .offset = F(snmp_dev_cfg, bulk),
     .def = "true",
     .doc = "walk tables with GETBULK (versions 2c and 3); false: with GETNEXT, up to max_varbinds "
            "columns per request, for devices whose GETBULK answers are wrong. The agent also "
            "switches a device to GETNEXT by itself when its GETBULK answers stop short, loop "
            "or fail where GETNEXT does not, until the next reload (docs/agent.md)"},
    {.key = "max_rows",
     .type = FMC_INT,
     .offset = F(snmp_dev_cfg, max_rows),
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .doc = "most rows read from one table column per poll"},
    {.key = "max_msg_size",
     .type = FMC_SIZE,
     .offset = F(snmp_dev_cfg, max_msg_size),
     .def = "65507",
     .min = 484,
     .max = 65507,
     .doc = "largest response accepted (SNMPv3 msgMaxSize); larger answers come back tooBig"},
    {0},
};
static const struct fmc_schema snmp_dev_schema = {.name = "snmp",
                                                  .size = sizeof(struct snmp_dev_cfg),
                                                  .fields = snmp_dev_fields,
                                                  .line_offset = F(snmp_dev_cfg, line)};

static const struct fmc_field device_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = F(device_cfg, name),
     .flags = FMC_REQUIRED,
     .doc = "device name, unique within the agent"},
    {.key = "class",
     .type = FMC_ENUM,
     .offset = F(device_cfg, dev_class),
     .def = "other",
     .enum_names = config_class_names,
     .doc = "ups, camera, ddc, env_sensor, power_meter or other"},
    {.key = "protocol",
     .type = FMC_ENUM,
     .offset = F(device_cfg, protocol),
     .def = "snmp",
     .enum_names = protocol_names,
     .doc = "how the device is polled: snmp, modbus_tcp or modbus_rtu"},
    {.key = "profile",
     .type = FMC_STR,
     .offset = F(device_cfg, profile),
     .flags = FMC_REQUIRED,
     .doc = "name of the profile (point list) to poll"},
    {.key = "parent",
     .type = FMC_STR,
     .offset = F(device_cfg, parent),
     .def = "",
     .doc = "device this one depends on (a switch, a gateway); empty: none"},
    {.key = "tags",
     .type = FMC_STRMAP,
     .offset = F(device_cfg, tags),
     .count_offset = F(device_cfg, n_tags),
     .max_items = 32,
     .doc = "free key: value tags (e.g. room: core, critical: true)"},
    {.key = "interval",
     .type = FMC_DURATION,
     .offset = F(device_cfg, interval_ms),
     .def = "60s",
     .min = 100,
     .max = 86400000,
     .doc = "poll interval"},
    {.key = "unreachable_after",
     .type = FMC_INT,
     .offset = F(device_cfg, unreachable_after),
     .def = "3",
     .min = 1,
     .max = 1000,
     .doc = "consecutive failed polls before the device is reported unreachable; a run of one "
            "poll (--once, --cycles 1) reports it after its one failed poll, whatever this says"},
    {.key = "snmp",
     .type = FMC_MAP,
     .offset = F(device_cfg, snmp),
     .sub = &snmp_dev_schema,
     .doc = "SNMP parameters (protocol snmp)"},
    {.key = "comm_loss",
     .type = FMC_MAP,
     .offset = F(device_cfg, comm_loss),
     .sub = &alarm_comm_cfg_schema,
     .doc = "when the comm_loss alarm is raised and cleared"},
    {.key = "calibration",
     .type = FMC_SEQ,
     .offset = F(device_cfg, calibration),
     .sub = &alarm_calibration_schema,
     .count_offset = F(device_cfg, n_calibration),
     .max_items = 2000,
     .doc = "this device's own calibration of points of its profile"},
    {.key = "report",
     .type = FMC_SEQ,
     .offset = F(device_cfg, report),
     .sub = &report_override_schema,
     .count_offset = F(device_cfg, n_report),
     .max_items = 2000,
     .doc = "this device's own report keys of points of its profile"},
    {.key = "modbus",
     .type = FMC_MAP,
     .offset = F(device_cfg, modbus),
     .sub = &mb_dev_schema,
     .doc = "Modbus parameters (protocols modbus_tcp and modbus_rtu)"},
    {0},
};
static const struct fmc_schema device_schema = {.name = "device",
                                                .size = sizeof(struct device_cfg),
                                                .fields = device_fields,
                                                .line_offset = F(device_cfg, line)};

static const struct fmc_field trap_user_fields[] = {
    {.key = "user",
     .type = FMC_STR,
     .offset = F(trap_user_cfg, user),
     .flags = FMC_REQUIRED,
     .doc = "USM user name"},
    {.key = "auth_protocol",
     .type = FMC_ENUM,
     .offset = F(trap_user_cfg, auth_protocol),
     .def = "sha256",
     .enum_names = snmp_usm_auth_names,
     .doc = "as devices[].snmp.auth_protocol"},
    {.key = "auth_passphrase",
     .type = FMC_STR,
     .offset = F(trap_user_cfg, auth_passphrase),
     .flags = FMC_SECRET,
     .def = "",
     .doc = "authentication passphrase"},
    {.key = "priv_protocol",
     .type = FMC_ENUM,
     .offset = F(trap_user_cfg, priv_protocol),
     .def = "aes128",
     .enum_names = snmp_usm_priv_names,
     .doc = "as devices[].snmp.priv_protocol"},
    {.key = "priv_passphrase",
     .type = FMC_STR,
     .offset = F(trap_user_cfg, priv_passphrase),
     .flags = FMC_SECRET,
     .def = "",
     .doc = "privacy passphrase"},
    {.key = "engine_id",
     .type = FMC_STR,
     .offset = F(trap_user_cfg, engine_id),
     .def = "",
     .doc = "hex engine id of the sender (v3 traps); empty: accept only informs for this user"},
    {0},
};
static const struct fmc_schema trap_user_schema = {.name = "trap user",
                                                   .size = sizeof(struct trap_user_cfg),
                                                   .fields = trap_user_fields,
                                                   .line_offset = F(trap_user_cfg, line)};

static const struct fmc_field trap_fields[] = {
    {.key = "enabled",
     .type = FMC_BOOL,
     .offset = F(trap_cfg, enabled),
     .def = "false",
     .doc = "receive traps and informs"},
    {.key = "listen",
     .type = FMC_STR,
     .offset = F(trap_cfg, listen),
     .def = "0.0.0.0:162",
     .check = fm_addr_check_endpoint_key,
     .doc = "UDP address:port to receive on; IPv6 in brackets ([::]:162, IPv6 only)"},
    {.key = "communities",
     .type = FMC_STRLIST,
     .offset = F(trap_cfg, communities),
     .flags = FMC_SECRET,
     .count_offset = F(trap_cfg, n_communities),
     .max_items = 64,
     .doc = "v1/v2c communities accepted; others are dropped and counted"},
    {.key = "users",
     .type = FMC_SEQ,
     .offset = F(trap_cfg, users),
     .sub = &trap_user_schema,
     .count_offset = F(trap_cfg, n_users),
     .max_items = 256,
     .doc = "SNMPv3 users accepted"},
    {.key = "max_packet",
     .type = FMC_SIZE,
     .offset = F(trap_cfg, max_packet),
     .def = "8KiB",
     .min = 484,
     .max = 65507,
     .doc = "larger datagrams are dropped and counted"},
    {0},
};
static const struct fmc_schema trap_schema = {.name = "trap_receiver",
                                              .size = sizeof(struct trap_cfg),
                                              .fields = trap_fields,
                                              .line_offset = F(trap_cfg, line)};

static const struct fmc_field snmp_global_fields[] = {
    {.key = "max_in_flight",
     .type = FMC_INT,
     .offset = F(snmp_global_cfg, max_in_flight),
     .def = "64",
     .min = 1,
     .max = 10000,
     .doc = "devices with a request outstanding at once (each holds under 1 KB with v1/v2c, about "
            "25 KB with SNMPv3 and 20 OIDs); the rest wait"},
    {.key = "backoff_max",
     .type = FMC_DURATION,
     .offset = F(snmp_global_cfg, backoff_max_ms),
     .def = "10m",
     .min = 1000,
     .max = 86400000,
     .doc = "a failing device's interval doubles up to this, and resets on success"},
    {.key = "poll_spread",
     .type = FMC_DOUBLE,
     .offset = F(snmp_global_cfg, poll_spread),
     .def = "1",
     .min = 0,
     .max = 1,
     .doc = "fraction of its interval over which devices' first polls are spread at random"},
    {0},
};
static const struct fmc_schema snmp_global_schema = {.name = "snmp",
                                                     .size = sizeof(struct snmp_global_cfg),
                                                     .fields = snmp_global_fields,
                                                     .line_offset = F(snmp_global_cfg, line)};

static const struct fmc_field agent_fields[] = {
    {.key = "agent_id",
     .type = FMC_STR,
     .offset = F(agent_cfg, agent_id),
     .flags = FMC_REQUIRED,
     .doc = "unique id of this agent (matches its TLS certificate)"},
    {.key = "site",
     .type = FMC_STR,
     .offset = F(agent_cfg, site),
     .flags = FMC_REQUIRED,
     .doc = "id of the site this agent watches"},
    {.key = "site_name",
     .type = FMC_STR,
     .offset = F(agent_cfg, site_name),
     .def = "",
     .doc = "human-readable site name"},
    {.key = "collectors",
     .type = FMC_STRLIST,
     .offset = F(agent_cfg, collectors),
     .count_offset = F(agent_cfg, n_collectors),
     .max_items = 16,
     .doc = "collector endpoints host:port (IPv6 in brackets: [2001:db8::7]:7400), tried in "
            "order"},
    {.key = "spool_dir",
     .type = FMC_STR,
     .offset = F(agent_cfg, spool_dir),
     .def = "/var/lib/fieldmon/spool",
     .doc = "directory of the durable event spool, and of alarms.state (what is raised, kept "
            "across restarts)"},
    {.key = "log_level",
     .type = FMC_STR,
     .offset = F(agent_cfg, log_level),
     .def = "info",
     .doc = "err, warning, notice, info or debug"},
    {.key = "snmp",
     .type = FMC_MAP,
     .offset = F(agent_cfg, snmp),
     .sub = &snmp_global_schema,
     .doc = "SNMP engine settings"},
    {.key = "modbus",
     .type = FMC_MAP,
     .offset = F(agent_cfg, modbus),
     .sub = &mb_global_schema,
     .doc = "Modbus engine settings"},
    {.key = "trap_receiver",
     .type = FMC_MAP,
     .offset = F(agent_cfg, trap_receiver),
     .sub = &trap_schema,
     .doc = "trap and inform reception"},
    {.key = "devices",
     .type = FMC_SEQ,
     .offset = F(agent_cfg, devices),
     .sub = &device_schema,
     .count_offset = F(agent_cfg, n_devices),
     .max_items = 20000,
     .doc = "devices to poll"},
    {.key = "profiles",
     .type = FMC_SEQ,
     .offset = F(agent_cfg, profiles),
     .sub = &profile_schema,
     .count_offset = F(agent_cfg, n_profiles),
     .max_items = 1000,
     .doc = "named point lists shared by devices"},
    {.key = "spool",
     .type = FMC_MAP,
     .offset = F(agent_cfg, uplink.spool),
     .sub = &spool_cfg_schema,
     .doc = "durable spool (docs/operations.md)"},
    {.key = "sender",
     .type = FMC_MAP,
     .offset = F(agent_cfg, uplink.sender),
     .sub = &sender_cfg_schema,
     .doc = "link to the collector: TLS, batching, heartbeats"},
    {.key = "status",
     .type = FMC_MAP,
     .offset = F(agent_cfg, uplink.status),
     .sub = &uplink_status_cfg_schema,
     .doc = "status events and the metrics endpoint"},
    {0},
};
const struct fmc_schema config_schema = {.name = "agent",
                                         .size = sizeof(struct agent_cfg),
                                         .fields = agent_fields,
                                         .line_offset = FMC_NO_LINE};

/* ------------------------------------------------------------ semantics */

static int check_point(const fmc_doc_t *doc, const char *path, struct point_cfg *pt, char *err,
                       size_t errlen)
{
    oid_t o;
    char sub[256];
    int rc;

    if ((pt->oid == NULL) == (pt->modbus.line == 0))
        return fmc_errorf(doc, err, errlen, path,
                          "a point needs either oid (SNMP) or modbus (Modbus), not %s",
                          pt->oid == NULL ? "neither" : "both");
    if (pt->modbus.line != 0) {
        rc = mb_conf_check_point(doc, path, &pt->modbus, err, errlen);
        if (rc != 0)
            return rc;
    } else if (oid_parse(pt->oid, &o) != 0) {
        return fmc_errorf(doc, err, errlen, path, "oid: '%s' is not a numeric OID%s", pt->oid,
                          OID_RULE);
    }
    if (pt->modbus.line != 0 && pt->table)
        return fmc_errorf(doc, err, errlen, path, "table: only SNMP points walk tables");
    if (pt->rate && pt->type != POINT_TYPE_COUNTER)
        return fmc_errorf(doc, err, errlen, path, "rate: only counter points have a rate");
    if (pt->n_enum_map > 0 && pt->type != POINT_TYPE_ENUM)
        return fmc_errorf(doc, err, errlen, path, "enum: only enum points have an enum map");
    if (alarm_cfg_check(&pt->alarm, sub, sizeof(sub)) != 0) {
        char apath[160];
        snprintf(apath, sizeof(apath), "%s.alarm", path);
        return fmc_errorf(doc, err, errlen, apath, "%s", sub);
    }
    rc = report_conf_check_point(doc, path, pt, err, errlen);
    if (rc != 0)
        return rc;
    if (pt->n_enum_map == 0)
        return 0;
    pt->enums = calloc(pt->n_enum_map, sizeof(*pt->enums));
    if (pt->enums == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < pt->n_enum_map; i++) {
        const char *k = pt->enum_map[i].key;
        char *end;
        long long code;

        errno = 0;
        code = strtoll(k, &end, 10);
        if (*k == '\0' || *end != '\0' || errno != 0) {
            snprintf(sub, sizeof(sub), "%s.enum.%s", path, k);
            return fmc_errorf(doc, err, errlen, sub, "'%s' is not an integer code", k);
        }
        pt->enums[i].code = code;
        pt->enums[i].text = pt->enum_map[i].value;
    }
    pt->n_enums = pt->n_enum_map;
    return 0;
}

static int check_profile(const fmc_doc_t *doc, size_t pi, struct profile_cfg *pr, char *err,
                         size_t errlen)
{
    char path[128];
    oid_t o;
    int rc;

    for (size_t i = 0; i < pr->n_points; i++) {
        snprintf(path, sizeof(path), "profiles[%zu].points[%zu]", pi, i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(pr->points[j].name, pr->points[i].name) == 0)
                return fmc_errorf(doc, err, errlen, path,
                                  "duplicate point name '%s' (also points[%zu])",
                                  pr->points[i].name, j);
        }
        rc = check_point(doc, path, &pr->points[i], err, errlen);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < pr->n_traps; i++) {
        if (oid_parse(pr->traps[i].oid, &o) != 0) {
            snprintf(path, sizeof(path), "profiles[%zu].traps[%zu].oid", pi, i);
            return fmc_errorf(doc, err, errlen, path, "'%s' is not a numeric OID%s",
                              pr->traps[i].oid, OID_RULE);
        }
    }
    return 0;
}

/* Engine ids are equal: the same hex, in any case, with or without 0x. */
static bool same_engine(const char *a, const char *b)
{
    if (a[0] == '0' && (a[1] == 'x' || a[1] == 'X'))
        a += 2;
    if (b[0] == '0' && (b[1] == 'x' || b[1] == 'X'))
        b += 2;
    return *a != '\0' && strcasecmp(a, b) == 0;
}

/* net-snmp keeps one set of keys per user name and engine id, shared by the
 * poller and the trap receiver: a device polled as user U with engine id E
 * and a trap user U with engine id E must agree, or one of them would
 * silently authenticate with the other's keys. */
static int check_shared_usm_user(const fmc_doc_t *doc, const struct agent_cfg *cfg, char *err,
                                 size_t errlen)
{
    char path[96];

    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct snmp_dev_cfg *d = &cfg->devices[i].snmp;

        if (cfg->devices[i].protocol != DEVICE_PROTOCOL_SNMP || d->version != SNMP_VERSION_CFG_3)
            continue;
        for (size_t j = 0; j < cfg->trap_receiver.n_users; j++) {
            const struct trap_user_cfg *u = &cfg->trap_receiver.users[j];

            if (strcmp(u->user, d->user) != 0 || !same_engine(u->engine_id, d->engine_id))
                continue;
            if (u->auth_protocol == d->auth_protocol && u->priv_protocol == d->priv_protocol &&
                strcmp(u->auth_passphrase, d->auth_passphrase) == 0 &&
                strcmp(u->priv_passphrase, d->priv_passphrase) == 0)
                continue;
            snprintf(path, sizeof(path), "trap_receiver.users[%zu]", j);
            return fmc_errorf(doc, err, errlen, path,
                              "user '%s' with engine_id %s is also the polling user of "
                              "devices[%zu] ('%s') with other protocols or passphrases; one user "
                              "on one engine id has one set of keys",
                              u->user, u->engine_id, i, cfg->devices[i].name);
        }
    }
    return 0;
}

/* Modbus devices: every profile point has a modbus mapping, the link keys
 * fit the protocol, RTU devices sharing a serial port agree on the line and
 * use distinct unit ids. */
static int check_modbus_device(const fmc_doc_t *doc, struct agent_cfg *cfg, size_t di, char *err,
                               size_t errlen)
{
    struct device_cfg *d = &cfg->devices[di];
    bool rtu = d->protocol == DEVICE_PROTOCOL_MODBUS_RTU;
    const struct mb_point_cfg *pts[2000];
    char path[96];
    int rc;

    snprintf(path, sizeof(path), "devices[%zu]", di);
    for (size_t i = 0; i < d->prof->n_points && i < 2000; i++) {
        if (d->prof->points[i].modbus.line == 0)
            return fmc_errorf(doc, err, errlen, path,
                              "profile: '%s' point '%s' has no modbus mapping; protocol %s needs "
                              "Modbus points",
                              d->prof->name, d->prof->points[i].name, protocol_names[d->protocol]);
        pts[i] = &d->prof->points[i].modbus;
    }
    rc = mb_conf_check_device(doc, path, &d->modbus, rtu, pts, d->prof->n_points, err, errlen);
    if (rc != 0 || !rtu)
        return rc;
    for (size_t j = 0; j < di; j++) {
        const struct device_cfg *o = &cfg->devices[j];

        if (o->protocol != DEVICE_PROTOCOL_MODBUS_RTU || strcmp(o->modbus.serial, d->modbus.serial))
            continue;
        rc = mb_conf_check_bus(doc, path, &o->modbus, &d->modbus, err, errlen);
        if (rc != 0)
            return rc;
        if (o->modbus.unit_id == d->modbus.unit_id)
            return fmc_errorf(doc, err, errlen, path,
                              "modbus.unit_id: %lld is also devices[%zu] ('%s') on %s",
                              (long long)d->modbus.unit_id, j, o->name, d->modbus.serial);
    }
    return 0;
}

static int check_device(const fmc_doc_t *doc, struct agent_cfg *cfg, size_t di, char *err,
                        size_t errlen)
{
    struct device_cfg *d = &cfg->devices[di];
    char path[96];
    int rc;

    snprintf(path, sizeof(path), "devices[%zu]", di);
    for (size_t j = 0; j < di; j++) {
        if (strcmp(cfg->devices[j].name, d->name) == 0)
            return fmc_errorf(doc, err, errlen, path,
                              "name: duplicate device name '%s' (also devices[%zu])", d->name, j);
    }
    for (size_t p = 0; p < cfg->n_profiles; p++) {
        if (strcmp(cfg->profiles[p].name, d->profile) == 0)
            d->prof = &cfg->profiles[p];
    }
    if (d->prof == NULL) {
        snprintf(path, sizeof(path), "devices[%zu].profile", di);
        return fmc_errorf(doc, err, errlen, path, "unknown profile '%s'", d->profile);
    }
    for (size_t c = 0; c < d->n_calibration; c++) {
        const struct alarm_calibration *cal = &d->calibration[c];
        bool found = false;

        for (size_t i = 0; i < d->prof->n_points && !found; i++)
            found = strcmp(d->prof->points[i].name, cal->point) == 0;
        snprintf(path, sizeof(path), "devices[%zu].calibration[%zu]", di, c);
        if (!found)
            return fmc_errorf(doc, err, errlen, path, "point: '%s' is not in profile %s",
                              cal->point, d->prof->name);
        if (cal->gain == 0.0)
            return fmc_errorf(doc, err, errlen, path, "gain: must not be 0");
    }
    if (d->parent[0] != '\0') {
        bool found = false;

        for (size_t j = 0; j < cfg->n_devices && !found; j++)
            found = j != di && strcmp(cfg->devices[j].name, d->parent) == 0;
        if (!found) {
            snprintf(path, sizeof(path), "devices[%zu].parent", di);
            return fmc_errorf(doc, err, errlen, path, "unknown device '%s'", d->parent);
        }
    }
    rc = report_conf_check_device(doc, (size_t)(d->prof - cfg->profiles), d, di, err, errlen);
    if (rc != 0)
        return rc;
    if (d->protocol != DEVICE_PROTOCOL_SNMP)
        return check_modbus_device(doc, cfg, di, err, errlen);
    if (d->snmp.line == 0) {
        snprintf(path, sizeof(path), "devices[%zu].snmp", di);
        return fmc_errorf(doc, err, errlen, path, "required for protocol snmp");
    }
    for (size_t i = 0; i < d->prof->n_points; i++) {
        if (d->prof->points[i].oid == NULL)
            return fmc_errorf(doc, err, errlen, path,
                              "profile: '%s' point '%s' is a Modbus point; protocol snmp needs "
                              "oid points",
                              d->prof->name, d->prof->points[i].name);
    }
    if (d->snmp.version == SNMP_VERSION_CFG_3) {
        struct snmp_usm_creds c = {
            d->snmp.user,           &d->snmp.auth_protocol,  d->snmp.auth_passphrase,
            &d->snmp.priv_protocol, d->snmp.priv_passphrase, d->snmp.engine_id};

        snprintf(path, sizeof(path), "devices[%zu].snmp", di);
        return snmp_usm_check(doc, path, &c, err, errlen);
    }
    return 0;
}

/* The root's check: rules across keys, once the table has loaded. */
static int check_config(const fmc_doc_t *doc, void *obj, char *err, size_t errlen)
{
    struct agent_cfg *cfg = obj;
    char path[96];
    int rc;

    if (fm_log_parse_level(cfg->log_level) < 0)
        return fmc_errorf(doc, err, errlen, "log_level",
                          "'%s' is not err, warning, notice, info or debug", cfg->log_level);
    cfg->uplink.spool.dir = cfg->spool_dir; /* borrowed: the spool table has no `dir` */
    if (cfg->uplink.sender.backoff_max_ms < cfg->uplink.sender.backoff_min_ms)
        return fmc_errorf(doc, err, errlen, "sender.backoff_max", "is below sender.backoff_min");
    for (size_t i = 0; i < cfg->n_profiles; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->profiles[j].name, cfg->profiles[i].name) == 0) {
                snprintf(path, sizeof(path), "profiles[%zu].name", i);
                return fmc_errorf(doc, err, errlen, path,
                                  "duplicate profile name '%s' (also profiles[%zu])",
                                  cfg->profiles[i].name, j);
            }
        }
        rc = check_profile(doc, i, &cfg->profiles[i], err, errlen);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < cfg->n_devices; i++) {
        rc = check_device(doc, cfg, i, err, errlen);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < cfg->trap_receiver.n_users; i++) {
        struct trap_user_cfg *u = &cfg->trap_receiver.users[i];
        struct snmp_usm_creds c = {u->user,           &u->auth_protocol,  u->auth_passphrase,
                                   &u->priv_protocol, u->priv_passphrase, u->engine_id};

        snprintf(path, sizeof(path), "trap_receiver.users[%zu]", i);
        rc = snmp_usm_check(doc, path, &c, err, errlen);
        if (rc != 0)
            return rc;
    }
    return check_shared_usm_user(doc, cfg, err, errlen);
}

/* The enum tables check_point builds from each point's enum map. */
static void release_config(void *obj)
{
    struct agent_cfg *cfg = obj;

    for (size_t p = 0; p < cfg->n_profiles; p++) {
        for (size_t i = 0; i < cfg->profiles[p].n_points; i++) {
            free(cfg->profiles[p].points[i].enums);
            cfg->profiles[p].points[i].enums = NULL;
        }
    }
}

static const struct fmc_root config_root = {&config_schema, check_config, release_config};

int config_load(const char *path, struct agent_cfg *cfg, char *err, size_t errlen)
{
    return fmc_root_load_file(&config_root, path, cfg, err, errlen);
}

int config_load_string(const char *name, const char *text, struct agent_cfg *cfg, char *err,
                       size_t errlen)
{
    return fmc_root_load_string(&config_root, name, text, strlen(text), cfg, err, errlen);
}

void config_free(struct agent_cfg *cfg)
{
    fmc_root_free(&config_root, cfg);
}

const char *config_enum_text(const struct point_cfg *pt, int64_t code)
{
    for (size_t i = 0; i < pt->n_enums; i++) {
        if (pt->enums[i].code == code)
            return pt->enums[i].text;
    }
    return NULL;
}

void config_print_reference(FILE *out)
{
    fputs("<!-- Generated by `fieldmon-agent --print-config-reference`; do not edit by hand.\n"
          "     The test agent_doc (tests/integration/agent_doc.sh) fails when this file and the "
          "program\n"
          "     disagree. -->\n",
          out);
    fmc_print_reference(&config_schema, out, "fieldmon-agent configuration reference");
}
