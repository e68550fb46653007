/* Unit tests for site_load's agent list: the text[] literal PostgreSQL
 * reads the agents of a site from, with quotes and backslashes escaped and
 * an overflow refused rather than cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "site_load.h"

static void test_site_load_agents_literal(void **state)
{
    char buf[64] = "{}";

    (void)state;
    assert_int_equal(site_load_agents_add(buf, sizeof(buf), "gw-1"), 0);
    assert_string_equal(buf, "{\"gw-1\"}");
    assert_int_equal(site_load_agents_add(buf, sizeof(buf), "a\"b\\c"), 0);
    assert_string_equal(buf, "{\"gw-1\",\"a\\\"b\\\\c\"}");
}

static void test_site_load_agents_refuses_overflow(void **state)
{
    char buf[12] = "{}";

    (void)state;
    assert_int_equal(site_load_agents_add(buf, sizeof(buf), "abc"), 0);
    assert_string_equal(buf, "{\"abc\"}");
    assert_int_equal(site_load_agents_add(buf, sizeof(buf), "defgh"), -ENOSPC);
    assert_string_equal(buf, "{\"abc\"}"); /* unchanged */
    /* Not a literal it started: refused too. */
    char bad[8] = "x";
    assert_int_equal(site_load_agents_add(bad, sizeof(bad), "a"), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_site_load_agents_literal),
        cmocka_unit_test(test_site_load_agents_refuses_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
