/* Unit tests for the agent's configuration: a valid file loads with its
 * defaults; each semantic error names the file, the line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HEAD "agent_id: gw-1\nsite: s1\n"
#define PROFILE                                                                                    \
    "profiles:\n"                                                                                  \
    "  - name: ups\n"                                                                              \
    "    points:\n"                                                                                \
    "      - {name: status, oid: 1.3.6.1.2.1.33.1.2.1.0, type: enum, enum: {2: normal}}\n"

static void test_agent_config_valid_file_loads_with_defaults(void **state)
{
    (void)state;
    struct agent_cfg cfg;
    char err[512] = "";
    const char *text = HEAD "devices:\n"
                            "  - name: ups-1\n"
                            "    class: ups\n"
                            "    profile: ups\n"
                            "    tags: {room: core}\n"
                            "    snmp: {host: 10.0.0.5}\n" PROFILE;

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load_string("a.yaml", text, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_devices, 1);
    assert_string_equal(cfg.devices[0].name, "ups-1");
    assert_int_equal(cfg.devices[0].dev_class, DEVICE_CLASS_UPS);
    assert_int_equal(cfg.devices[0].interval_ms, 60000);
    assert_int_equal(cfg.devices[0].snmp.port, 161);
    assert_int_equal(cfg.devices[0].snmp.version, SNMP_VERSION_CFG_2C);
    assert_int_equal(cfg.devices[0].snmp.timeout_ms, 1000);
    assert_int_equal(cfg.devices[0].snmp.max_varbinds, 32);
    assert_int_equal(cfg.devices[0].snmp.max_reps, 25);
    assert_ptr_equal(cfg.devices[0].prof, &cfg.profiles[0]);
    assert_int_equal(cfg.snmp.max_in_flight, 64);
    assert_string_equal(config_enum_text(&cfg.profiles[0].points[0], 2), "normal");
    assert_null(config_enum_text(&cfg.profiles[0].points[0], 3));
    config_free(&cfg);
}

#define V3DEV(keys)                                                                                \
    HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u, " keys      \
         "}}\n" PROFILE

struct bad_case {
    const char *name; /* the uplink this row covers */
    const char *text;
    const char *want; /* expected prefix of the error */
};

static const struct bad_case bad_cases[] = {
    {"unknown profile",
     HEAD "devices:\n  - name: a\n    profile: nope\n    snmp: {host: h}\n" PROFILE,
     "b.yaml:5: devices[0].profile: unknown profile 'nope'"},
    {"duplicate device name",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h}}\n"
          "  - {name: a, profile: ups, snmp: {host: h}}\n" PROFILE,
     "b.yaml:5: devices[1]: name: duplicate device name 'a'"},
    {"duplicate profile", HEAD PROFILE "  - name: ups\n",
     "b.yaml:7: profiles[1].name: duplicate profile name 'ups'"},
    {"duplicate point", HEAD PROFILE "      - {name: status, oid: 1.3.6.1.2.1.1.3.0}\n",
     "b.yaml:7: profiles[0].points[1]: duplicate point name 'status'"},
    {"oid not numeric",
     HEAD "profiles:\n  - name: p\n    points:\n      - {name: x, oid: sysUpTime.0}\n",
     "b.yaml:6: profiles[0].points[0]: oid: 'sysUpTime.0' is not a numeric OID (2 to 64 arcs"},
    {"oid BER cannot encode",
     HEAD "profiles:\n  - name: p\n    points:\n      - {name: x, oid: 1.40.1}\n",
     "b.yaml:6: profiles[0].points[0]: oid: '1.40.1' is not a numeric OID (2 to 64 arcs of "
     "0..4294967295; the first 0, 1 or 2, and under 0 and 1 the second below 40)"},
    {"enum code not an integer",
     HEAD "profiles:\n  - name: p\n    points:\n"
          "      - name: x\n        oid: 1.3.6.1.2.1.1.3.0\n        type: enum\n"
          "        enum:\n          normal: 2\n",
     "b.yaml:10: profiles[0].points[0].enum.normal: 'normal' is not an integer code"},
    {"rate on a gauge",
     HEAD "profiles:\n  - name: p\n    points:\n      - {name: x, oid: 1.3.6.1.2.1.1.3.0,"
          " rate: true}\n",
     "b.yaml:6: profiles[0].points[0]: rate: only counter points have a rate"},
    {"v3 without user",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3'}}\n" PROFILE,
     "b.yaml:4: devices[0].snmp: user: version 3 needs a user name"},
    {"short auth passphrase",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
          " auth_protocol: sha, auth_passphrase: short}}\n" PROFILE,
     "b.yaml:4: devices[0].snmp: auth_passphrase: needs at least 8 characters"},
    {"privacy without auth",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
          " priv_protocol: aes, priv_passphrase: 12345678}}\n" PROFILE,
     "b.yaml:4: devices[0].snmp: priv_protocol: privacy needs an auth_protocol"},
    {"engine id not hex",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
          " engine_id: xyz}}\n" PROFILE,
     "b.yaml:4: devices[0].snmp: engine_id: 'xyz' is not 1-32 bytes of hex"},
    {"des without auth", V3DEV("priv_protocol: des, priv_passphrase: privpass1"),
     "b.yaml:4: devices[0].snmp: priv_protocol: privacy needs an auth_protocol"},
    {"short priv passphrase",
     V3DEV("auth_protocol: sha512, auth_passphrase: authpass1, priv_protocol: aes256,"
           " priv_passphrase: 1234567"),
     "b.yaml:4: devices[0].snmp: priv_passphrase: needs at least 8 characters"},
    {"short auth passphrase", V3DEV("auth_protocol: sha224, auth_passphrase: 1234567"),
     "b.yaml:4: devices[0].snmp: auth_passphrase: needs at least 8 characters"},
    {"unknown auth name", V3DEV("auth_protocol: sha-256, auth_passphrase: authpass1"),
     "b.yaml:4: devices[0].snmp.auth_protocol: \"sha-256\" is not one of: none, md5, sha1, "
     "sha224, sha256, sha384, sha512, sha"},
    {"unknown priv name",
     V3DEV("auth_protocol: sha1, auth_passphrase: authpass1, priv_protocol:"
           " 3des, priv_passphrase: privpass1"),
     "b.yaml:4: devices[0].snmp.priv_protocol: \"3des\" is not one of: none, des, aes128, aes192, "
     "aes256, aes192c, aes256c, aes"},
    {"trap user: des without a passphrase",
     HEAD "trap_receiver:\n  users:\n    - {user: t, auth_protocol: sha1, auth_passphrase:"
          " authpass1, priv_protocol: des}\n",
     "b.yaml:5: trap_receiver.users[0]: priv_passphrase: needs at least 8 characters"},
    /* `sha` is sha1: the same keys, so one user on one engine id agrees
     * with itself; sha256 does not. */
    {"polling and trap user differ in protocol on one engine id",
     HEAD "trap_receiver:\n  users:\n    - {user: u, auth_protocol: sha, auth_passphrase:"
          " authpass1, priv_protocol: none, engine_id: '0x80001F8801'}\n"
          "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
          " auth_protocol: sha256, auth_passphrase: authpass1, engine_id: 80001f8801}}\n" PROFILE,
     "b.yaml:5: trap_receiver.users[0]: user 'u' with engine_id 0x80001F8801 is also the "
     "polling user of devices[0] ('a') with other protocols or passphrases"},
    {"unknown parent",
     HEAD "devices:\n  - {name: a, profile: ups, parent: sw9, snmp: {host: h}}\n" PROFILE,
     "b.yaml:4: devices[0].parent: unknown device 'sw9'"},
    {"bad log level", HEAD "log_level: loud\n", "b.yaml:3: log_level: 'loud' is not err"},
    {"unknown key (loader)",
     HEAD "devices:\n  - {name: a, profile: ups, colour: red,"
          " snmp: {host: h}}\n" PROFILE,
     "b.yaml:4: devices[0].colour"},
    {"port out of range (loader)",
     HEAD "devices:\n  - {name: a, profile: ups, snmp: {host: h, port: 70000}}\n" PROFILE,
     "b.yaml:4: devices[0].snmp.port"},
    {"missing snmp (loader)", HEAD "devices:\n  - {name: a, profile: ups}\n" PROFILE,
     "b.yaml:4: devices[0].snmp"},
    /* One USM user on one engine id, polled with one passphrase and
     * accepted for traps with another: net-snmp keeps one set of keys. */
    {"polling and trap user differ on one engine id",
     HEAD "trap_receiver:\n  users:\n    - {user: u, auth_protocol: sha, auth_passphrase:"
          " trappass1, priv_protocol: none, engine_id: '0x80001F8801'}\n"
          "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
          " auth_protocol: sha, auth_passphrase: pollpass1, engine_id: 80001f8801}}\n" PROFILE,
     "b.yaml:5: trap_receiver.users[0]: user 'u' with engine_id 0x80001F8801 is also the "
     "polling user of devices[0] ('a') with other protocols or passphrases"},
};

static void test_agent_config_errors_name_file_line_and_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct agent_cfg cfg;
        char err[512] = "";
        int rc;

        memset(&cfg, 0, sizeof(cfg));
        rc = config_load_string("b.yaml", bad_cases[i].text, &cfg, err, sizeof(err));
        if (rc != -EINVAL || strncmp(err, bad_cases[i].want, strlen(bad_cases[i].want)) != 0)
            fail_msg("case '%s': rc %d, error '%s', want '%s...'", bad_cases[i].name, rc, err,
                     bad_cases[i].want);
        assert_int_equal(cfg.n_devices, 0); /* freed and zeroed on failure */
    }
}

static void test_agent_config_missing_file_is_an_errno(void **state)
{
    (void)state;
    struct agent_cfg cfg;
    char err[512] = "";

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load("/nonexistent/agent.yaml", &cfg, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/agent.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_config_valid_file_loads_with_defaults),
        cmocka_unit_test(test_agent_config_errors_name_file_line_and_key),
        cmocka_unit_test(test_agent_config_missing_file_is_an_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
