/* Unit tests for the SNMP request handler (tests/sim/snmp_agent.c) over the
 * bundled UPS data: GET, GETNEXT, GETBULK, overlays, v1 rules, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ber.h"
#include "snmp_agent.h"
#include "snmprec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct sim_mib *mib;
static uint8_t req[4096], out[65536];

static int setup(void **state)
{
    char path[512], err[512];

    snprintf(path, sizeof(path), "%s/tests/sim/data/snmp/ups-normal.snmprec", FM_SOURCE_DIR);
    return snmprec_load(path, &mib, err, sizeof(err));
}

static int teardown(void **state)
{
    snmprec_free(mib);
    return 0;
}

/* Builds a request with the OIDs (NULL values); returns its length. */
static size_t make_req(int version, const char *community, int pdu, int e1, int e2,
                       const char *const *oids, size_t n)
{
    static uint8_t tlvs[64][64];
    static const uint8_t null_val[] = {BER_NULL, 0};
    struct snmp_vb vbs[64];
    const uint8_t *msg;
    size_t len;

    for (size_t i = 0; i < n; i++) {
        struct ber_oid o;
        struct ber_wr w;

        assert_int_equal(ber_oid_parse(oids[i], &o), 0);
        ber_wr_init(&w, tlvs[i], sizeof(tlvs[i]));
        ber_put_oid(&w, o.sub, o.len);
        vbs[i].oid = w.p;
        vbs[i].oid_len = (uint16_t)ber_wr_used(&w);
        vbs[i].val = null_val;
        vbs[i].val_len = 2;
    }
    assert_int_equal(
        snmp_encode_msg(version, community, pdu, 42, e1, e2, vbs, n, out, sizeof(out), &msg, &len),
        0);
    memcpy(req, msg, len);
    return len;
}

struct parsed {
    int64_t error_status, error_index;
    size_t n;
    struct ber_oid oid[256];
    uint8_t tag[256];
    int64_t num[256];
};

static void parse_resp(const uint8_t *p, size_t len, struct parsed *r)
{
    const uint8_t *end = p + len, *q, *qe;
    struct ber_tlv msg, t, pdu, vbl;

    assert_int_equal(ber_read(&p, end, &msg), 0);
    q = msg.val;
    qe = msg.val + msg.len;
    assert_int_equal(ber_read(&q, qe, &t), 0); /* version */
    assert_int_equal(ber_read(&q, qe, &t), 0); /* community */
    assert_int_equal(ber_read(&q, qe, &pdu), 0);
    assert_int_equal(pdu.tag, SNMP_PDU_RESPONSE);
    q = pdu.val;
    qe = pdu.val + pdu.len;
    assert_int_equal(ber_read(&q, qe, &t), 0);
    assert_int_equal(ber_read(&q, qe, &t), 0);
    ber_get_int(t.val, t.len, &r->error_status);
    assert_int_equal(ber_read(&q, qe, &t), 0);
    ber_get_int(t.val, t.len, &r->error_index);
    assert_int_equal(ber_read(&q, qe, &vbl), 0);
    q = vbl.val;
    r->n = 0;
    while (q < vbl.val + vbl.len) {
        struct ber_tlv vb, o, v;
        const uint8_t *x;

        assert_int_equal(ber_read(&q, vbl.val + vbl.len, &vb), 0);
        x = vb.val;
        assert_int_equal(ber_read(&x, vb.val + vb.len, &o), 0);
        assert_int_equal(ber_read(&x, vb.val + vb.len, &v), 0);
        assert_int_equal(ber_get_oid(o.val, o.len, &r->oid[r->n]), 0);
        r->tag[r->n] = v.tag;
        r->num[r->n] = 0;
        if (v.tag == BER_INTEGER)
            ber_get_int(v.val, v.len, &r->num[r->n]);
        r->n++;
    }
}

static struct snmp_view view(void)
{
    struct snmp_view v = {.mib = mib, .community = "public", .uptime = 100, .max_msg = 1472};

    return v;
}

static int run(const struct snmp_view *v, size_t len, struct parsed *r)
{
    const uint8_t *resp;
    size_t resp_len;
    struct snmp_req_info info;
    int rc = snmp_agent_handle(v, req, len, out, sizeof(out), &resp, &resp_len, &info);

    if (rc == 0)
        parse_resp(resp, resp_len, r);
    return rc;
}

static struct parsed res;

static void test_agent_get_returns_values_and_exceptions(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.33.1.4.1.0", "1.3.6.1.2.1.33.1.99.0",
                                       "1.3.6.1.2.1.33.1.4.1.1", "1.3.6.1.2.1.1.3.0"};
    struct snmp_view v = view();

    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GET, 0, 0, oids, 4), &res), 0);
    assert_int_equal(res.error_status, 0);
    assert_int_equal(res.n, 4);
    assert_int_equal(res.tag[0], BER_INTEGER);
    assert_int_equal(res.num[0], 3);
    assert_int_equal(res.tag[1], BER_NO_SUCH_OBJECT);
    assert_int_equal(res.tag[2], BER_NO_SUCH_INSTANCE);
    assert_int_equal(res.tag[3], BER_TIMETICKS); /* sysUpTime from the view */
}

static void test_agent_overlay_replaces_record_value(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.33.1.4.1.0"};
    uint8_t five[] = {BER_INTEGER, 1, 5};
    bool exact;
    struct ber_oid o;
    struct snmp_ovl ovl;
    struct snmp_view v = view();

    ber_oid_parse(oids[0], &o);
    ovl.rec = (uint32_t)snmprec_lower_bound(mib, o.sub, o.len, &exact);
    ovl.val = five;
    ovl.len = 3;
    v.ovl = &ovl;
    v.n_ovl = 1;
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GET, 0, 0, oids, 1), &res), 0);
    assert_int_equal(res.num[0], 5);
}

static void test_agent_getnext_walks_and_ends(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.33.1.9.9.0", "1.3.6.1.2.1.33.1.9.10.0"};
    struct snmp_view v = view();

    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETNEXT, 0, 0, oids, 2), &res),
                     0);
    assert_int_equal(res.n, 2);
    assert_int_equal(res.oid[0].sub[res.oid[0].len - 2], 10);
    assert_int_equal(res.num[0], 280);
    assert_int_equal(res.tag[1], BER_END_OF_MIB_VIEW);
}

static void test_agent_getbulk_repeats_and_fits_the_limit(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.1", "1.3.6.1.2.1.33"};
    struct snmp_view v = view();

    /* One non-repeater, 10 repetitions of the second OID. */
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 1, 10, oids, 2), &res),
                     0);
    assert_int_equal(res.n, 11);
    assert_int_equal(res.oid[0].sub[7], 1); /* sysDescr.0 */
    assert_int_equal(res.oid[1].sub[6], 33);
    /* A tiny limit cuts the answer rather than refusing it. */
    v.max_msg = 200;
    assert_int_equal(
        run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 1000, oids + 1, 1), &res), 0);
    assert_true(res.n > 0 && res.n < 20);
}

static void test_agent_get_too_big_answers_toobig(void **state)
{
    const char *oids[40];
    struct snmp_view v = view();

    for (size_t i = 0; i < 40; i++)
        oids[i] = "1.3.6.1.2.1.1.1.0"; /* 58-byte string each */
    v.max_msg = 484;
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GET, 0, 0, oids, 40), &res), 0);
    assert_int_equal(res.error_status, SNMP_ERR_TOOBIG);
    assert_int_equal(res.n, 0);
}

static void test_agent_toobig_fault_refuses_bulk_instead_of_cutting(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.33"};
    struct snmp_view v = view();

    v.max_msg = 200;
    v.bulk_toobig = true;
    /* Would be cut to a few rows without the fault: refused whole. */
    assert_int_equal(
        run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 1000, oids, 1), &res), 0);
    assert_int_equal(res.error_status, SNMP_ERR_TOOBIG);
    assert_int_equal(res.error_index, 0);
    assert_int_equal(res.n, 0);
    /* An answer that fits is still given in full. */
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 2, oids, 1), &res),
                     0);
    assert_int_equal(res.error_status, 0);
    assert_int_equal(res.n, 2);
}

static int same(const struct ber_oid *a, const struct ber_oid *b)
{
    return ber_oid_cmp(a->sub, a->len, b->sub, b->len) == 0;
}

/* The bulk fault answers GETBULK wrongly; GETNEXT stays right. */
static void test_agent_bulk_fault_answers_getbulk_wrongly(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.33.1.2", "1.3.6.1.2.1.33.1.4"};
    struct snmp_view v = view();
    struct ber_oid first[2];

    v.bulk_fault = SNMP_BULK_TRUNCATE; /* one repetition of the two */
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 5, oids, 2), &res),
                     0);
    assert_int_equal(res.error_status, 0);
    assert_int_equal(res.n, 2);
    first[0] = res.oid[0];
    first[1] = res.oid[1];
    v.bulk_fault = SNMP_BULK_LOOP; /* five repetitions, all the first one */
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 5, oids, 2), &res),
                     0);
    assert_int_equal(res.n, 10);
    for (size_t i = 0; i < res.n; i++)
        assert_int_equal(same(&res.oid[i], &first[i % 2]), 1);
    v.bulk_fault = SNMP_BULK_EMPTY;
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 5, oids, 2), &res),
                     0);
    assert_int_equal(res.error_status, 0);
    assert_int_equal(res.n, 0);
    v.bulk_fault = SNMP_BULK_ERROR;
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETBULK, 0, 5, oids, 2), &res),
                     0);
    assert_int_equal(res.error_status, SNMP_ERR_GENERR);
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GETNEXT, 0, 0, oids, 2), &res),
                     0);
    assert_int_equal(res.error_status, 0);
    assert_int_equal(res.n, 2);
    assert_int_equal(same(&res.oid[0], &first[0]), 1);
}

static void test_agent_v1_rules(void **state)
{
    static const char *const missing[] = {"1.3.6.1.2.1.33.1.4.1.0", "1.3.6.1.2.1.33.1.99.0"};
    struct snmp_view v = view();
    const uint8_t *resp;
    size_t len, resp_len;
    struct snmp_req_info info;

    assert_int_equal(run(&v, make_req(SNMP_V1, "public", SNMP_PDU_GET, 0, 0, missing, 2), &res), 0);
    assert_int_equal(res.error_status, SNMP_ERR_NOSUCHNAME);
    assert_int_equal(res.error_index, 2);
    len = make_req(SNMP_V1, "public", SNMP_PDU_GETBULK, 0, 5, missing, 1);
    assert_int_equal(snmp_agent_handle(&v, req, len, out, sizeof(out), &resp, &resp_len, &info),
                     -ENOMSG);
}

static void test_agent_drops_wrong_community_and_garbage(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.1.5.0"};
    struct snmp_view v = view();
    const uint8_t *resp;
    size_t len, resp_len;
    struct snmp_req_info info;

    len = make_req(SNMP_V2C, "private", SNMP_PDU_GET, 0, 0, oids, 1);
    assert_int_equal(snmp_agent_handle(&v, req, len, out, sizeof(out), &resp, &resp_len, &info),
                     -ENOMSG);
    assert_int_equal(info.request_id, 42);
    len = make_req(SNMP_V2C, "public", SNMP_PDU_GET, 0, 0, oids, 1);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(snmp_agent_handle(&v, req, cut, out, sizeof(out), &resp, &resp_len, &info),
                         -EBADMSG);
}

static void test_agent_error_fault_echoes_request(void **state)
{
    static const char *const oids[] = {"1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"};
    struct snmp_view v = view();

    v.error_status = SNMP_ERR_GENERR;
    v.error_index = 2;
    assert_int_equal(run(&v, make_req(SNMP_V2C, "public", SNMP_PDU_GET, 0, 0, oids, 2), &res), 0);
    assert_int_equal(res.error_status, SNMP_ERR_GENERR);
    assert_int_equal(res.error_index, 2);
    assert_int_equal(res.n, 2);
    assert_int_equal(res.tag[0], BER_NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_get_returns_values_and_exceptions),
        cmocka_unit_test(test_agent_overlay_replaces_record_value),
        cmocka_unit_test(test_agent_getnext_walks_and_ends),
        cmocka_unit_test(test_agent_getbulk_repeats_and_fits_the_limit),
        cmocka_unit_test(test_agent_get_too_big_answers_toobig),
        cmocka_unit_test(test_agent_toobig_fault_refuses_bulk_instead_of_cutting),
        cmocka_unit_test(test_agent_bulk_fault_answers_getbulk_wrongly),
        cmocka_unit_test(test_agent_v1_rules),
        cmocka_unit_test(test_agent_drops_wrong_community_and_garbage),
        cmocka_unit_test(test_agent_error_fault_echoes_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
