/* alarm_conf: the configuration table of a point's `alarm` key and of a
 * device's `comm_loss` key. Defaults live here only (devices.md §0:
 * 30 s delays on analogue limits, 0 s on state and bit rules such as fire,
 * leak and UPS on battery; stale after 3 failed polls; comm loss after 3
 * polls and 60 s, cleared by 2 good polls). */
#include "alarm_conf.h"

#include <stddef.h>

static const char *const dir_names[] = {"high", "low", NULL};
static const char *const level_names[] = {"warning", "critical", NULL};

static const struct fmc_field limit_fields[] = {
    {.key = "dir", .type = FMC_ENUM, .offset = offsetof(struct alarm_limit, dir),
     .flags = FMC_REQUIRED, .enum_names = dir_names,
     .doc = "high: raised at value >= limit; low: raised at value <= limit"},
    {.key = "level", .type = FMC_ENUM, .offset = offsetof(struct alarm_limit, level),
     .def = "warning", .enum_names = level_names, .doc = "severity of the alarm"},
    {.key = "value", .type = FMC_DOUBLE, .offset = offsetof(struct alarm_limit, value),
     .flags = FMC_REQUIRED, .doc = "the limit, in the point's corrected engineering unit"},
    {.key = "code", .type = FMC_STR, .offset = offsetof(struct alarm_limit, code),
     .doc = "alarm code sent to the collector; empty: <dir>_<level>, e.g. high_warning"},
    {0},
};
static const struct fmc_schema limit_schema = {
    .name = "alarm limit",
    .size = sizeof(struct alarm_limit),
    .fields = limit_fields,
    .line_offset = FMC_NO_LINE,
};

static const struct fmc_field state_fields[] = {
    {.key = "equals", .type = FMC_DOUBLE, .offset = offsetof(struct alarm_state_rule, equals),
     .flags = FMC_REQUIRED, .doc = "raised while the value equals this code, e.g. 5 (battery)"},
    {.key = "code", .type = FMC_STR, .offset = offsetof(struct alarm_state_rule, code),
     .flags = FMC_REQUIRED, .doc = "alarm code, e.g. ups_on_battery"},
    {.key = "message", .type = FMC_STR, .offset = offsetof(struct alarm_state_rule, message),
     .doc = "text sent with the transition; empty: the code"},
    {.key = "on_delay", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_state_rule, on_delay_ms), .def = "0s", .min = 0,
     .max = 86400000, .doc = "the state must hold this long before it is raised"},
    {.key = "off_delay", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_state_rule, off_delay_ms), .def = "0s", .min = 0,
     .max = 86400000, .doc = "the state must be gone this long before it is cleared"},
    {0},
};
static const struct fmc_schema state_schema = {
    .name = "alarm state rule",
    .size = sizeof(struct alarm_state_rule),
    .fields = state_fields,
    .line_offset = FMC_NO_LINE,
};

static const struct fmc_field bit_fields[] = {
    {.key = "bit", .type = FMC_UINT, .offset = offsetof(struct alarm_bit_rule, bit),
     .flags = FMC_REQUIRED, .min = 0, .max = 63, .doc = "bit number, 0 = least significant"},
    {.key = "set", .type = FMC_BOOL, .offset = offsetof(struct alarm_bit_rule, set),
     .def = "true", .doc = "true: raised while the bit is 1; false: while it is 0"},
    {.key = "code", .type = FMC_STR, .offset = offsetof(struct alarm_bit_rule, code),
     .flags = FMC_REQUIRED, .doc = "alarm code, e.g. water_leak"},
    {.key = "message", .type = FMC_STR, .offset = offsetof(struct alarm_bit_rule, message),
     .doc = "text sent with the transition; empty: the code"},
    {.key = "on_delay", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_bit_rule, on_delay_ms), .def = "0s", .min = 0,
     .max = 86400000, .doc = "the bit must hold this long before it is raised"},
    {.key = "off_delay", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_bit_rule, off_delay_ms), .def = "0s", .min = 0,
     .max = 86400000, .doc = "the bit must be gone this long before it is cleared"},
    {0},
};
static const struct fmc_schema bit_schema = {
    .name = "alarm bit rule",
    .size = sizeof(struct alarm_bit_rule),
    .fields = bit_fields,
    .line_offset = FMC_NO_LINE,
};

static const struct fmc_field alarm_fields[] = {
    {.key = "offset", .type = FMC_DOUBLE, .offset = offsetof(struct alarm_cfg, cal_offset),
     .def = "0", .doc = "calibration: corrected = value * gain + offset (raw kept in events)"},
    {.key = "gain", .type = FMC_DOUBLE, .offset = offsetof(struct alarm_cfg, cal_gain),
     .def = "1", .min = -1e9, .max = 1e9, .doc = "calibration gain, non-zero"},
    {.key = "limits", .type = FMC_SEQ, .offset = offsetof(struct alarm_cfg, limits),
     .sub = &limit_schema, .count_offset = offsetof(struct alarm_cfg, n_limits), .max_items = 8,
     .doc = "analogue limits of the point"},
    {.key = "deadband", .type = FMC_DOUBLE, .offset = offsetof(struct alarm_cfg, deadband),
     .def = "-1", .min = -1, .max = 1e12,
     .doc = "hysteresis for clearing a limit; -1: 1 for C, 3 for %RH, else 2 % of the "
            "span of the limits"},
    {.key = "on_delay", .type = FMC_DURATION, .offset = offsetof(struct alarm_cfg, on_delay_ms),
     .def = "30s", .min = 0, .max = 86400000,
     .doc = "a limit must be exceeded this long before it is raised"},
    {.key = "off_delay", .type = FMC_DURATION, .offset = offsetof(struct alarm_cfg, off_delay_ms),
     .def = "30s", .min = 0, .max = 86400000,
     .doc = "a limit must be back within its deadband this long before it is cleared"},
    {.key = "states", .type = FMC_SEQ, .offset = offsetof(struct alarm_cfg, states),
     .sub = &state_schema, .count_offset = offsetof(struct alarm_cfg, n_states),
     .max_items = 64, .doc = "state (enum) alarms"},
    {.key = "bits", .type = FMC_SEQ, .offset = offsetof(struct alarm_cfg, bits),
     .sub = &bit_schema, .count_offset = offsetof(struct alarm_cfg, n_bits), .max_items = 64,
     .doc = "bit alarms on an integer value"},
    {.key = "stale_after", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_cfg, stale_after_ms), .def = "0s", .min = 0,
     .max = 604800000, .doc = "raise `stale` when no good value came for this long; 0s: off"},
    {.key = "stale_polls", .type = FMC_UINT, .offset = offsetof(struct alarm_cfg, stale_polls),
     .def = "3", .min = 0, .max = 1000,
     .doc = "raise `stale` after this many failed polls in a row; 0: off"},
    {0},
};
const struct fmc_schema alarm_cfg_schema = {
    .name = "point alarm",
    .size = sizeof(struct alarm_cfg),
    .fields = alarm_fields,
    .line_offset = FMC_NO_LINE,
};

static const struct fmc_field comm_fields[] = {
    {.key = "fail_polls", .type = FMC_UINT, .offset = offsetof(struct alarm_comm_cfg, fail_polls),
     .def = "3", .min = 0, .max = 1000,
     .doc = "failed polls in a row before comm_loss is raised; 0: never"},
    {.key = "fail_time", .type = FMC_DURATION,
     .offset = offsetof(struct alarm_comm_cfg, fail_time_ms), .def = "60s", .min = 0,
     .max = 86400000, .doc = "and the first failure at least this long ago"},
    {.key = "clear_polls", .type = FMC_UINT,
     .offset = offsetof(struct alarm_comm_cfg, clear_polls), .def = "2", .min = 1, .max = 1000,
     .doc = "good polls in a row that clear comm_loss"},
    {0},
};
const struct fmc_schema alarm_comm_cfg_schema = {
    .name = "device comm_loss",
    .size = sizeof(struct alarm_comm_cfg),
    .fields = comm_fields,
    .line_offset = FMC_NO_LINE,
};
