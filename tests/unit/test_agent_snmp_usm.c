/* Unit tests for the SNMPv3 protocols of the configuration (snmp_usm.c):
 * every name loads (the older spellings `sha` and `aes` too) and maps to
 * net-snmp's protocol OID; md5 and des load with one warning each naming
 * file, line and key. The refusals are rows of test_agent_config.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "snmp_target.h"
#include "snmp_usm.h"

#include "fm_log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD "agent_id: gw-1\nsite: s1\n"
#define PROFILE                                                                                    \
    "profiles:\n"                                                                                  \
    "  - name: ups\n"                                                                              \
    "    points:\n"                                                                                \
    "      - {name: status, oid: 1.3.6.1.2.1.33.1.2.1.0}\n"

/* One v3 device with these protocols; loads into cfg (0) or not (err). */
static int load_device(struct agent_cfg *cfg, const char *auth, const char *priv, char *err,
                       size_t errlen)
{
    char text[1024];

    snprintf(text, sizeof(text),
             HEAD "devices:\n"
                  "  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,\n"
                  "     auth_protocol: %s, auth_passphrase: authpass1,\n"
                  "     priv_protocol: %s, priv_passphrase: privpass1}}\n" PROFILE,
             auth, priv);
    memset(cfg, 0, sizeof(*cfg));
    return config_load_string("u.yaml", text, cfg, err, errlen);
}

static void oid_text(const oid *o, size_t n, char *buf, size_t cap)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used +=
            (size_t)snprintf(buf + used, cap - used, "%s%lu", i ? "." : "", (unsigned long)o[i]);
}

struct name_case {
    const char *name;
    int value;       /* after the configuration check */
    const char *oid; /* net-snmp's protocol OID */
};

static const struct name_case auth_cases[] = {
    {"md5", SNMP_AUTH_MD5, "1.3.6.1.6.3.10.1.1.2"},
    {"sha1", SNMP_AUTH_SHA1, "1.3.6.1.6.3.10.1.1.3"},
    {"sha", SNMP_AUTH_SHA1, "1.3.6.1.6.3.10.1.1.3"},
    {"sha224", SNMP_AUTH_SHA224, "1.3.6.1.6.3.10.1.1.4"},
    {"sha256", SNMP_AUTH_SHA256, "1.3.6.1.6.3.10.1.1.5"},
    {"sha384", SNMP_AUTH_SHA384, "1.3.6.1.6.3.10.1.1.6"},
    {"sha512", SNMP_AUTH_SHA512, "1.3.6.1.6.3.10.1.1.7"},
};

static const struct name_case priv_cases[] = {
    {"des", SNMP_PRIV_DES, "1.3.6.1.6.3.10.1.2.2"},
    {"aes128", SNMP_PRIV_AES128, "1.3.6.1.6.3.10.1.2.4"},
    {"aes", SNMP_PRIV_AES128, "1.3.6.1.6.3.10.1.2.4"},
    /* draft-blumenthal-aes-usm-04: usmAES192PrivProtocol, usmAES256PrivProtocol */
    {"aes192", SNMP_PRIV_AES192, "1.3.6.1.4.1.14832.1.3"},
    {"aes256", SNMP_PRIV_AES256, "1.3.6.1.4.1.14832.1.4"},
    /* Reeder key extension: net-snmp's AES-192-C and AES-256-C */
    {"aes192c", SNMP_PRIV_AES192C, "1.3.6.1.4.1.9.12.6.1.1"},
    {"aes256c", SNMP_PRIV_AES256C, "1.3.6.1.4.1.9.12.6.1.2"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every auth x priv pair loads, including keys shorter than the cipher's
 * (md5 or sha1 with aes256: net-snmp extends them), and the session gets
 * net-snmp's OIDs for it at authPriv. */
static void test_usm_every_name_loads_and_maps_to_netsnmp(void **state)
{
    int devnull = open("/dev/null", O_WRONLY);

    (void)state;
    fm_log_init("test", devnull); /* md5 and des warn */
    snmp_target_init();
    for (size_t a = 0; a < N(auth_cases); a++) {
        for (size_t p = 0; p < N(priv_cases); p++) {
            struct agent_cfg cfg;
            netsnmp_session s;
            char err[512] = "", got[128];

            if (load_device(&cfg, auth_cases[a].name, priv_cases[p].name, err, sizeof(err)) != 0)
                fail_msg("%s/%s: %s", auth_cases[a].name, priv_cases[p].name, err);
            assert_int_equal(cfg.devices[0].snmp.auth_protocol, auth_cases[a].value);
            assert_int_equal(cfg.devices[0].snmp.priv_protocol, priv_cases[p].value);
            snmp_sess_init(&s);
            assert_int_equal(snmp_target_set_protocols(&s, cfg.devices[0].snmp.auth_protocol,
                                                       cfg.devices[0].snmp.priv_protocol),
                             0);
            assert_int_equal(s.securityLevel, SNMP_SEC_LEVEL_AUTHPRIV);
            oid_text(s.securityAuthProto, s.securityAuthProtoLen, got, sizeof(got));
            assert_string_equal(got, auth_cases[a].oid);
            oid_text(s.securityPrivProto, s.securityPrivProtoLen, got, sizeof(got));
            assert_string_equal(got, priv_cases[p].oid);
            config_free(&cfg);
        }
    }
    fm_log_init("test", 2);
    close(devnull);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* md5 and des load with one warning per device or trap user naming the
 * file, the line and the key; strong protocols load silently. */
static void test_usm_md5_and_des_warned_once_each(void **state)
{
    (void)state;
    char logp[] = "/tmp/fm-usm-log.XXXXXX";
    int fd = mkstemp(logp);
    struct agent_cfg cfg;
    char err[512] = "", log[4096];
    ssize_t n;
    const char *text =
        HEAD "trap_receiver:\n"
             "  users:\n"
             "    - {user: t, auth_protocol: md5, auth_passphrase: authpass1,\n"
             "       priv_protocol: aes256, priv_passphrase: privpass1}\n"
             "devices:\n"
             "  - name: old-ups\n"
             "    profile: ups\n"
             "    snmp:\n"
             "      host: h\n"
             "      version: '3'\n"
             "      user: u\n"
             "      auth_protocol: md5\n"
             "      auth_passphrase: authpass1\n"
             "      priv_protocol: des\n"
             "      priv_passphrase: privpass1\n"
             "  - {name: new-cam, profile: ups, snmp: {host: h2, version: '3', user: u,\n"
             "     auth_protocol: sha512, auth_passphrase: authpass1, priv_protocol: aes256,\n"
             "     priv_passphrase: privpass1}}\n" PROFILE;

    assert_true(fd >= 0);
    fm_log_init("test", fd);
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(config_load_string("w.yaml", text, &cfg, err, sizeof(err)), 0);
    fm_log_init("test", 2);
    n = pread(fd, log, sizeof(log) - 1, 0);
    assert_true(n > 0);
    log[n] = '\0';
    assert_int_equal(count(log, "warning: config: "), 3);
    assert_int_equal(count(log, "w.yaml:14: devices[0].snmp.auth_protocol: md5: HMAC-MD5 is a "
                                "broken hash"),
                     1);
    assert_int_equal(count(log, "w.yaml:16: devices[0].snmp.priv_protocol: des: DES has a 56-bit "
                                "key"),
                     1);
    assert_int_equal(count(log, "w.yaml:5: trap_receiver.users[0].auth_protocol: md5: "), 1);
    assert_int_equal(count(log, "new-cam"), 0);
    assert_int_equal(count(log, "pass1"), 0); /* never a secret */
    config_free(&cfg);
    close(fd);
    unlink(logp);
}

/* The older spelling and the new name of one protocol are one set of keys:
 * a polling user written `sha` and a trap user written `sha1` agree. */
static void test_usm_older_spellings_are_the_same_protocol(void **state)
{
    (void)state;
    struct agent_cfg cfg;
    char err[512] = "";
    const char *text =
        HEAD "trap_receiver:\n  users:\n    - {user: u, auth_protocol: sha1, auth_passphrase:"
             " authpass1, priv_protocol: aes128, priv_passphrase: privpass1,"
             " engine_id: '0x80001F8801'}\n"
             "devices:\n  - {name: a, profile: ups, snmp: {host: h, version: '3', user: u,"
             " auth_protocol: sha, auth_passphrase: authpass1, priv_protocol: aes,"
             " priv_passphrase: privpass1, engine_id: 80001f8801}}\n" PROFILE;

    memset(&cfg, 0, sizeof(cfg));
    if (config_load_string("s.yaml", text, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.devices[0].snmp.auth_protocol, SNMP_AUTH_SHA1);
    assert_int_equal(cfg.devices[0].snmp.priv_protocol, SNMP_PRIV_AES128);
    assert_string_equal(snmp_usm_priv_token(cfg.trap_receiver.users[0].priv_protocol), "AES");
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usm_every_name_loads_and_maps_to_netsnmp),
        cmocka_unit_test(test_usm_md5_and_des_warned_once_each),
        cmocka_unit_test(test_usm_older_spellings_are_the_same_protocol),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    snmp_target_shutdown();
    return rc;
}
