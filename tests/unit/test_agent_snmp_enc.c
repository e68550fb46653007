/* Unit tests for the agent's v1/v2c request encoder (agent/snmp/snmp_enc.c):
 * every message must be byte for byte what net-snmp's own encoder
 * (snmp_build) makes of the same request, since net-snmp sends, resends
 * and matches these requests as if it had built them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "oid.h"
#include "snmp_enc.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    (void)state;
    setenv("MIBS", "", 1);
    setenv("MIBDIRS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    snmp_disable_log();
    init_snmp("test-snmp-enc");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    snmp_shutdown("test-snmp-enc");
    return 0;
}

/* What net-snmp's snmp_build makes of the request r: its length, the bytes
 * copied to out. */
static size_t netsnmp_encode(const struct snmp_enc_req *r, uint8_t *out, size_t cap)
{
    netsnmp_session s;
    netsnmp_pdu *pdu = snmp_pdu_create(r->command);
    size_t buf_len = 256, offset = 0;
    u_char *buf = malloc(buf_len);

    snmp_sess_init(&s);
    s.version = r->version;
    s.community = (u_char *)r->community;
    s.community_len = r->community_len;
    pdu->version = r->version;
    pdu->reqid = r->reqid;
    if (r->command == SNMP_MSG_GETBULK) {
        pdu->non_repeaters = r->field1;
        pdu->max_repetitions = r->field2;
    } else {
        pdu->errstat = r->field1;
        pdu->errindex = r->field2;
    }
    for (size_t i = 0; i < r->n_oids; i++)
        snmp_add_null_var(pdu, r->oids[i]->v, r->oids[i]->len);
    assert_int_equal(snmp_build(&buf, &buf_len, &offset, &s, pdu), 0);
    assert_true(offset <= cap);
    /* Reverse encoding: the message ends at the end of the buffer. */
    memcpy(out, buf + buf_len - offset, offset);
    free(buf);
    snmp_free_pdu(pdu);
    return offset;
}

static void assert_same_as_netsnmp(const struct snmp_enc_req *r)
{
    static uint8_t ours[70000], theirs[70000];
    int n = snmp_enc_request(r, ours, sizeof(ours));
    size_t m = netsnmp_encode(r, theirs, sizeof(theirs));

    assert_true(n > 0);
    assert_int_equal((size_t)n, m);
    assert_memory_equal(ours, theirs, m);
}

static oid_t parse(const char *text)
{
    oid_t o;

    assert_int_equal(oid_parse(text, &o), 0);
    return o;
}

static void test_agent_snmp_enc_get_matches_netsnmp(void **state)
{
    oid_t o[3] = {parse("1.3.6.1.2.1.33.1.2.1.0"), parse("1.3.6.1.2.1.1.3.0"),
                  parse("1.3.6.1.4.1.318.1.1.1.2.2.1.0")};
    const oid_t *p[3] = {&o[0], &o[1], &o[2]};
    struct snmp_enc_req r = {.version = SNMP_VERSION_2c,
                             .community = (const uint8_t *)"public",
                             .community_len = 6,
                             .command = SNMP_MSG_GET,
                             .oids = p};
    const long reqids[] = {0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 8388608, 0x7fffffff};

    (void)state;
    for (size_t k = 0; k <= 3; k++) {
        r.n_oids = k;
        for (size_t i = 0; i < sizeof(reqids) / sizeof(reqids[0]); i++) {
            r.reqid = reqids[i];
            assert_same_as_netsnmp(&r);
        }
    }
    r.version = SNMP_VERSION_1;
    assert_same_as_netsnmp(&r);
    r.command = SNMP_MSG_GETNEXT;
    assert_same_as_netsnmp(&r);
}

static void test_agent_snmp_enc_getbulk_matches_netsnmp(void **state)
{
    oid_t o[5] = {parse("1.3.6.1.2.1.2.2.1.2"), parse("1.3.6.1.2.1.2.2.1.10"),
                  parse("1.3.6.1.2.1.2.2.1.16"), parse("1.3.6.1.2.1.2.2.1.8"),
                  parse("1.3.6.1.2.1.2.2.1.7")};
    const oid_t *p[5] = {&o[0], &o[1], &o[2], &o[3], &o[4]};
    struct snmp_enc_req r = {.version = SNMP_VERSION_2c,
                             .community = (const uint8_t *)"c0mmunity-with-a-longer-name",
                             .community_len = 28,
                             .command = SNMP_MSG_GETBULK,
                             .reqid = 1234567,
                             .oids = p,
                             .n_oids = 5};
    const long reps[] = {0, 1, 10, 127, 128, 1000, 65535};

    (void)state;
    for (size_t i = 0; i < sizeof(reps) / sizeof(reps[0]); i++) {
        r.field2 = reps[i];
        assert_same_as_netsnmp(&r);
        r.field1 = 1;
        assert_same_as_netsnmp(&r);
        r.field1 = 0;
    }
}

/* Large arcs, a first arc of 2 with a second arc above 40, the longest OID
 * the agent takes, and requests whose lengths need two length bytes. */
static void test_agent_snmp_enc_long_forms_match_netsnmp(void **state)
{
    static oid_t o[200];
    static const oid_t *p[200];
    static uint8_t community[300];
    struct snmp_enc_req r = {.version = SNMP_VERSION_2c,
                             .community = community,
                             .command = SNMP_MSG_GET,
                             .reqid = 99,
                             .oids = p};
    char text[OID_MAX_LEN * 12];
    size_t at = 0;

    (void)state;
    o[0] = parse("1.3.6.1.4.1.4294967295.127.128.16383.16384.2097151.2097152.268435455");
    o[1] = parse("2.999.1.0");
    o[2] = parse("0.39");
    text[0] = '\0';
    for (size_t i = 0; i < OID_MAX_LEN; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%zu", i ? "." : "", i + 1);
    o[3] = parse(text);
    for (size_t i = 0; i < 4; i++)
        p[i] = &o[i];
    r.n_oids = 4;
    assert_same_as_netsnmp(&r);
    /* 200 varbinds (over 255 bytes of varbinds) and a 300-byte community. */
    for (size_t i = 4; i < 200; i++) {
        o[i] = parse("1.3.6.1.2.1.33.1.2.1.0");
        o[i].v[9] = i;
        p[i] = &o[i];
    }
    memset(community, 'x', sizeof(community));
    r.community_len = sizeof(community);
    r.n_oids = 200;
    assert_same_as_netsnmp(&r);
    r.community_len = 0;
    assert_same_as_netsnmp(&r);
}

static void test_agent_snmp_enc_refuses(void **state)
{
    uint8_t buf[512];
    oid_t good = parse("1.3.6.1.2.1.1.3.0"), bad = good;
    const oid_t *p[1] = {&good};
    struct snmp_enc_req r = {.version = SNMP_VERSION_2c,
                             .community = (const uint8_t *)"public",
                             .community_len = 6,
                             .command = SNMP_MSG_GET,
                             .reqid = 7,
                             .oids = p,
                             .n_oids = 1};
    int n;

    (void)state;
    n = snmp_enc_request(&r, buf, sizeof(buf));
    assert_true(n > 0);
    /* Too small by one byte, and by all of it. */
    assert_int_equal(snmp_enc_request(&r, buf, (size_t)n - 1), -ENOSPC);
    assert_int_equal(snmp_enc_request(&r, buf, 0), -ENOSPC);
    /* What BER cannot encode. */
    p[0] = &bad;
    bad.v[0] = 3;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    bad.v[0] = 1;
    bad.v[1] = 40;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    bad = good;
    bad.v[4] = 0x100000000UL;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    bad = good;
    bad.len = 1;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    /* Commands and versions it does not build. */
    p[0] = &good;
    r.command = SNMP_MSG_SET;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    r.command = SNMP_MSG_GETBULK;
    r.version = SNMP_VERSION_1;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
    r.version = SNMP_VERSION_3;
    r.command = SNMP_MSG_GET;
    assert_int_equal(snmp_enc_request(&r, buf, sizeof(buf)), -EINVAL);
}

/* net-snmp parses what the encoder wrote back into the same request. */
static void test_agent_snmp_enc_parses_back(void **state)
{
    uint8_t buf[512];
    oid_t o[2] = {parse("1.3.6.1.2.1.2.2.1.10"), parse("1.3.6.1.2.1.2.2.1.16")};
    const oid_t *p[2] = {&o[0], &o[1]};
    struct snmp_enc_req r = {.version = SNMP_VERSION_2c,
                             .community = (const uint8_t *)"public",
                             .community_len = 6,
                             .command = SNMP_MSG_GETBULK,
                             .reqid = 424242,
                             .field1 = 0,
                             .field2 = 24,
                             .oids = p,
                             .n_oids = 2};
    netsnmp_session s;
    netsnmp_pdu *pdu = snmp_pdu_create(0);
    netsnmp_variable_list *vb;
    int n = snmp_enc_request(&r, buf, sizeof(buf));

    (void)state;
    assert_true(n > 0);
    snmp_sess_init(&s);
    s.version = SNMP_VERSION_2c;
    assert_int_equal(snmp_parse(NULL, &s, pdu, buf, (size_t)n), 0);
    assert_int_equal(pdu->command, SNMP_MSG_GETBULK);
    assert_int_equal(pdu->reqid, 424242);
    assert_int_equal(pdu->max_repetitions, 24);
    assert_int_equal(pdu->community_len, 6);
    assert_memory_equal(pdu->community, "public", 6);
    vb = pdu->variables;
    for (size_t i = 0; i < 2; i++, vb = vb->next_variable) {
        assert_non_null(vb);
        assert_int_equal(vb->type, ASN_NULL);
        assert_int_equal(snmp_oid_compare(vb->name, vb->name_length, o[i].v, o[i].len), 0);
    }
    assert_null(vb);
    snmp_free_pdu(pdu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_snmp_enc_get_matches_netsnmp),
        cmocka_unit_test(test_agent_snmp_enc_getbulk_matches_netsnmp),
        cmocka_unit_test(test_agent_snmp_enc_long_forms_match_netsnmp),
        cmocka_unit_test(test_agent_snmp_enc_refuses),
        cmocka_unit_test(test_agent_snmp_enc_parses_back),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
