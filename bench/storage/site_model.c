/* site_model: see site_model.h. The figures are those of the demo fleet's
 * device images (tests/sim/data) where they have one. */
#include "site_model.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CONST(v)                                                                                   \
    {                                                                                              \
        .kind = SIM_CONSTANT, .base = (v)                                                          \
    }
#define WALK(lo, hi, st)                                                                           \
    {                                                                                              \
        .kind = SIM_WALK, .base = ((lo) + (hi)) / 2, .min = (lo), .max = (hi), .step = (st)        \
    }
#define SINE(b, a)                                                                                 \
    {                                                                                              \
        .kind = SIM_SINE, .base = (b), .amplitude = (a)                                            \
    }
#define DRIFT(b, r)                                                                                \
    {                                                                                              \
        .kind = SIM_DRIFT, .base = (b), .rate = (r)                                                \
    }

/* RFC 1628 UPS on mains (ups-normal.snmprec). */
static const struct model_point ups[] = {
    {"battery_status", "", "enum", 1, CONST(2), ""},
    {"seconds_on_battery", "s", "gauge", 1, CONST(0), ""},
    {"minutes_remaining", "min", "gauge", 1, CONST(62), ""},
    {"charge_remaining", "%", "gauge", 1, CONST(100), ""},
    {"battery_voltage", "V", "gauge", 0.1, WALK(54.0, 54.6, 0.02), ""},
    {"battery_temperature", "degC", "gauge", 1, SINE(25, 2), ""},
    {"input_line_bads", "", "gauge", 1, CONST(3), ""},
    {"input_frequency", "Hz", "gauge", 0.1, WALK(49.9, 50.1, 0.01), ""},
    {"input_voltage", "V", "gauge", 1, WALK(224, 232, 0.2), ""},
    {"output_source", "", "enum", 1, CONST(3),
     "alarm: {states: [{equals: 5, code: ups_on_battery}]}"},
    {"output_frequency", "Hz", "gauge", 0.1, CONST(50), ""},
    {"output_voltage", "V", "gauge", 1, CONST(230), ""},
    {"output_current", "A", "gauge", 0.1, WALK(6, 8, 0.05), ""},
    {"output_power", "W", "gauge", 1, WALK(1300, 1500, 5), ""},
    {"output_load", "%", "gauge", 1, WALK(30, 45, 0.05),
     "alarm: {limits: [{dir: high, value: 80}]}"},
    {"alarms_present", "", "gauge", 1, CONST(0), ""},
};

/* ENTITY-SENSOR-MIB probe (env-sensor.snmprec): 0.1 degC, 0.1 %RH. The
 * limit at 24.2 degC is crossed twice a day by the daily swing. */
static const struct model_point env[] = {
    {"temperature", "degC", "gauge", 0.1, SINE(23, 1.5),
     "alarm: {limits: [{dir: high, value: 24.2, code: temp_high}]}"},
    {"humidity", "%RH", "gauge", 0.1, WALK(42, 52, 0.05), ""},
    {"leak", "", "enum", 1, CONST(2), "alarm: {states: [{equals: 1, code: water_leak}]}"},
    {"smoke", "", "enum", 1, CONST(2), "alarm: {states: [{equals: 1, code: smoke}]}"},
};

/* IP camera (camera-hik.snmprec). */
static const struct model_point camera[] = {
    {"uptime", "s", "gauge", 1, DRIFT(864000, 86400), ""},
    {"cpu", "%", "gauge", 1, WALK(10, 40, 0.5), ""},
    {"mem_used", "%", "gauge", 1, WALK(55, 60, 0.05), ""},
    {"link_status", "", "enum", 1, CONST(1), ""},
    {"recording", "", "enum", 1, CONST(1), ""},
    {"storage_used", "%", "gauge", 1, DRIFT(70, 0.5), ""},
};

/* AHU-1 DDC over Modbus TCP (ahu-ddc.json). */
static const struct model_point ddc[] = {
    {"supply_air_temp", "degC", "gauge", 0.1, WALK(15.5, 17, 0.01), ""},
    {"return_air_temp", "degC", "gauge", 0.1, WALK(22, 24, 0.01), ""},
    {"outdoor_air_temp", "degC", "gauge", 0.1, SINE(5, 6), ""},
    {"mixed_air_temp", "degC", "gauge", 0.1, SINE(16, 2), ""},
    {"supply_air_rh", "%RH", "gauge", 0.1, WALK(50, 60, 0.05), ""},
    {"supply_setpoint", "degC", "gauge", 0.1, CONST(16), ""},
    {"return_setpoint", "degC", "gauge", 0.1, CONST(23), ""},
    {"rh_setpoint", "%RH", "gauge", 0.1, CONST(55), ""},
    {"chw_valve_cmd", "%", "gauge", 1, WALK(30, 60, 0.2), ""},
    {"chw_valve_fb", "%", "gauge", 1, WALK(30, 60, 0.2), ""},
    {"hw_valve_cmd", "%", "gauge", 1, CONST(0), ""},
    {"hw_valve_fb", "%", "gauge", 1, CONST(0), ""},
    {"damper_cmd", "%", "gauge", 1, CONST(40), ""},
    {"damper_fb", "%", "gauge", 1, CONST(40), ""},
    {"fan_speed_cmd", "%", "gauge", 1, CONST(80), ""},
    {"fan_speed_fb", "%", "gauge", 1, CONST(80), ""},
    {"fan_run_hours", "h", "gauge", 1, DRIFT(12000, 24), ""},
    {"filter_dp", "Pa", "gauge", 1, WALK(120, 140, 0.2), ""},
    {"airflow_dp", "Pa", "gauge", 1, WALK(200, 220, 0.2), ""},
    {"alarm_word", "", "gauge", 1, CONST(0), ""},
    {"mode", "", "enum", 1, CONST(2), ""},
    {"fan_run", "", "enum", 1, CONST(1), ""},
    {"anti_freeze", "", "enum", 1, CONST(0), "alarm: {states: [{equals: 1, code: anti_freeze}]}"},
    {"filter_alarm", "", "enum", 1, CONST(0), ""},
    {"airflow_alarm", "", "enum", 1, CONST(0), ""},
    {"leak", "", "enum", 1, CONST(0), "alarm: {states: [{equals: 1, code: water_leak}]}"},
};

/* Single-phase meter (power-meter-sdm120.json). */
static const struct model_point meter[] = {
    {"voltage", "V", "gauge", 0.1, WALK(228, 232, 0.1), ""},
    {"current", "A", "gauge", 0.01, WALK(5, 7, 0.02), ""},
    {"active_power", "W", "gauge", 0.1, WALK(1100, 1500, 2), ""},
    {"reactive_power", "var", "gauge", 0.1, WALK(-200, -100, 1), ""},
    {"apparent_power", "VA", "gauge", 0.1, WALK(1150, 1550, 2), ""},
    {"power_factor", "", "gauge", 0.01, WALK(0.95, 0.99, 0.001), ""},
    {"frequency", "Hz", "gauge", 0.01, WALK(49.95, 50.05, 0.005), ""},
    {"import_energy", "kWh", "gauge", 0.01, DRIFT(48213, 30), ""},
    {"export_energy", "kWh", "gauge", 0.01, CONST(0), ""},
    {"total_energy", "kWh", "gauge", 0.01, DRIFT(48213, 30), ""},
};

const struct model_device site_model[] = {
    {"ups", "ups", 2, ups, N(ups)},
    {"env", "env_sensor", 2, env, N(env)},
    {"camera", "camera", 4, camera, N(camera)},
    {"ddc", "ddc", 1, ddc, N(ddc)},
    {"meter", "power_meter", 1, meter, N(meter)},
};
const size_t site_model_n = N(site_model);

size_t site_model_points(void)
{
    size_t n = 0;

    for (size_t i = 0; i < site_model_n; i++)
        n += (size_t)site_model[i].per_site * site_model[i].n_points;
    return n;
}
