/* Unit tests for fm_addr: which host and endpoint texts are accepted, with
 * which reason the others are refused, and the canonical form that matches
 * a trap's source to a device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

struct host_case {
    const char *host;
    int kind;           /* or -EINVAL */
    const char *canon;  /* canonical form (accepted hosts) */
    const char *reason; /* a part of the reason (refused hosts) */
};

static const struct host_case host_cases[] = {
    {"192.0.2.7", FM_ADDR_IPV4, "192.0.2.7", NULL},
    {"010.0.0.1", -EINVAL, NULL, "not a valid IPv4"}, /* leading zero: octal to some tools */
    {"192.168.1", -EINVAL, NULL, "not a valid IPv4"}, /* three parts */
    {"1.2.3.256", -EINVAL, NULL, "not a valid IPv4"}, /* part over 255 */
    {"::1", FM_ADDR_IPV6, "::1", NULL},
    {"0:0:0:0:0:0:0:1", FM_ADDR_IPV6, "::1", NULL},              /* long form compressed */
    {"[::1]", FM_ADDR_IPV6, "::1", NULL},                        /* brackets dropped */
    {"2001:DB8:0:0:0:0:0:7", FM_ADDR_IPV6, "2001:db8::7", NULL}, /* lower case */
    {"::ffff:192.0.2.7", FM_ADDR_IPV6, "192.0.2.7", NULL},       /* v4-mapped as IPv4 */
    {"fe80::1%eth0", FM_ADDR_IPV6, "fe80::1%eth0", NULL},        /* zone by name */
    {"[fe80::1%eth0]", FM_ADDR_IPV6, "fe80::1%eth0", NULL},
    {"fe80::1%99999", FM_ADDR_IPV6, "fe80::1%99999", NULL}, /* no such index: kept */
    {"2001:db8::1%eth0", -EINVAL, NULL, "only a link-local"},
    {"fe80::1%", -EINVAL, NULL, "no valid zone"},
    {"fe80::1%eth 0", -EINVAL, NULL, "no valid zone"},
    {"192.0.2.7%eth0", -EINVAL, NULL, "IPv6 link-local"},
    {"::g", -EINVAL, NULL, "not a valid IPv6"},
    {"1:2:3", -EINVAL, NULL, "not a valid IPv6"},   /* too few groups */
    {"1::2::3", -EINVAL, NULL, "not a valid IPv6"}, /* two '::' */
    {"::1:161", FM_ADDR_IPV6, "::0.1.1.97", NULL},  /* an address, not a port: inet_ntop form */
    {"[::1", -EINVAL, NULL, "bracket without its pair"}, /* no ']' */
    {"::1]", -EINVAL, NULL, "bracket without its pair"}, /* no '[' */
    {"[192.0.2.7]", -EINVAL, NULL, "IPv6 address only"}, /* brackets around IPv4 */
    {"[::1]:161", -EINVAL, NULL, "takes no port"},       /* a port in a host */
    {"ups-3.site.example", FM_ADDR_NAME, "ups-3.site.example", NULL},
    {"Ups3.", FM_ADDR_NAME, "Ups3.", NULL}, /* trailing dot, case kept */
    {"ups 3", -EINVAL, NULL, "neither an IP address nor a host name"},
    {"ups..3", -EINVAL, NULL, "empty or longer than 63"},
    {"", -EINVAL, NULL, "is empty"},
};

static void test_fm_addr_hosts_checked_and_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
        const struct host_case *c = &host_cases[i];
        const char *why = NULL;
        char out[FM_ADDR_MAX];
        int kind = fm_addr_check_host(c->host, &why);

        print_message("host '%s'\n", c->host);
        assert_int_equal(kind, c->kind);
        assert_int_equal(fm_addr_canonical(c->host, out, sizeof(out)), c->kind);
        if (c->kind >= 0) {
            assert_string_equal(out, c->canon);
        } else {
            assert_non_null(why);
            assert_non_null(strstr(why, c->reason));
            assert_string_equal(out, c->host); /* refused text copied as is */
        }
    }
}

static void test_fm_addr_numeric_zone_named_after_its_interface(void **state)
{
    char out[FM_ADDR_MAX], want[FM_ADDR_MAX], name[IF_NAMESIZE], in[32];
    unsigned idx = if_nametoindex("lo");

    (void)state;
    if (idx == 0)
        skip();
    assert_non_null(if_indextoname(idx, name));
    snprintf(in, sizeof(in), "fe80::1%%%u", idx);
    snprintf(want, sizeof(want), "fe80::1%%%s", name);
    assert_int_equal(fm_addr_canonical(in, out, sizeof(out)), FM_ADDR_IPV6);
    assert_string_equal(out, want);
}

struct ep_case {
    const char *ep;
    int kind;
    const char *host;
    int port;
    const char *reason;
};

static const struct ep_case ep_cases[] = {
    {"0.0.0.0:162", FM_ADDR_IPV4, "0.0.0.0", 162, NULL},
    {"[::]:162", FM_ADDR_IPV6, "::", 162, NULL},
    {"[::1]:1162", FM_ADDR_IPV6, "::1", 1162, NULL},
    {"[fe80::1%eth0]:7400", FM_ADDR_IPV6, "fe80::1%eth0", 7400, NULL},
    {"collector.example:7400", FM_ADDR_NAME, "collector.example", 7400, NULL},
    {"::1:162", -EINVAL, NULL, 0, "without brackets"}, /* ambiguous */
    {"[::1]162", -EINVAL, NULL, 0, "']' and then ':port'"},
    {"[::1:162", -EINVAL, NULL, 0, "']' and then ':port'"},
    {"[::1]:", -EINVAL, NULL, 0, "no port"},
    {"[::1]:0", -EINVAL, NULL, 0, "no port"},
    {"[::1]:65536", -EINVAL, NULL, 0, "no port"},
    {"[::1]:+16", -EINVAL, NULL, 0, "no port"}, /* strtoul would take the sign */
    {"[::g]:162", -EINVAL, NULL, 0, "not a valid IPv6"},
    {"[10.0.0.1]:162", -EINVAL, NULL, 0, "IPv6 address only"},
    {"10.0.0.256:162", -EINVAL, NULL, 0, "not a valid IPv4"},
    {"162", -EINVAL, NULL, 0, "not host:port"},
    {":162", -EINVAL, NULL, 0, "not host:port"},
};

static void test_fm_addr_endpoints_split_and_checked(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ep_cases) / sizeof(ep_cases[0]); i++) {
        const struct ep_case *c = &ep_cases[i];
        const char *why = NULL;
        char host[300] = "";
        int port = -1;
        int kind = fm_addr_split(c->ep, host, sizeof(host), &port, &why);

        print_message("endpoint '%s'\n", c->ep);
        assert_int_equal(kind, c->kind);
        if (c->kind >= 0) {
            assert_string_equal(host, c->host);
            assert_int_equal(port, c->port);
        } else {
            assert_non_null(why);
            assert_non_null(strstr(why, c->reason));
        }
    }
}

static void test_fm_addr_sockaddr_text_matches_canonical(void **state)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
    struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(162)};
    char out[FM_ADDR_MAX], canon[FM_ADDR_MAX];
    int port = 0;

    (void)state;
    assert_int_equal(inet_pton(AF_INET6, "0:0:0:0:0:0:0:1", &in6.sin6_addr), 1);
    fm_addr_from_sockaddr((struct sockaddr *)&in6, out, sizeof(out), &port);
    fm_addr_canonical("0:0:0:0:0:0:0:1", canon, sizeof(canon));
    assert_string_equal(out, "::1");
    assert_string_equal(out, canon);
    assert_int_equal(port, 40000);
    /* An IPv4 sender on a dual-stack socket is its IPv4 address. */
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr), 1);
    fm_addr_from_sockaddr((struct sockaddr *)&in6, out, sizeof(out), NULL);
    assert_string_equal(out, "127.0.0.1");
    /* A link-local source carries its zone, as a configured host does. */
    assert_int_equal(inet_pton(AF_INET6, "fe80::7", &in6.sin6_addr), 1);
    in6.sin6_scope_id = if_nametoindex("lo");
    if (in6.sin6_scope_id != 0) {
        fm_addr_from_sockaddr((struct sockaddr *)&in6, out, sizeof(out), NULL);
        fm_addr_canonical("fe80::7%lo", canon, sizeof(canon));
        assert_string_equal(out, canon);
    }
    assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &in4.sin_addr), 1);
    fm_addr_from_sockaddr((struct sockaddr *)&in4, out, sizeof(out), &port);
    assert_string_equal(out, "192.0.2.7");
    assert_int_equal(port, 162);
}

static void test_fm_addr_key_checks_quote_the_value(void **state)
{
    const char *bad = "[::1", *good = "[::1]:162", *none = NULL;
    char why[256];

    (void)state;
    assert_int_equal(fm_addr_check_host_key(&bad, why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "'[::1' has a bracket without its pair ([2001:db8::1])");
    assert_int_equal(fm_addr_check_endpoint_key(&good, why, sizeof(why)), 0);
    assert_int_equal(fm_addr_check_host_key(&none, why, sizeof(why)), 0); /* key absent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_addr_hosts_checked_and_canonical),
        cmocka_unit_test(test_fm_addr_numeric_zone_named_after_its_interface),
        cmocka_unit_test(test_fm_addr_endpoints_split_and_checked),
        cmocka_unit_test(test_fm_addr_sockaddr_text_matches_canonical),
        cmocka_unit_test(test_fm_addr_key_checks_quote_the_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
