/* chash: the writers' id cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chash.h"

static void test_chash_stores_replaces_and_grows(void **state)
{
    chash_t *h = chash_create(100000);
    char key[32];
    int64_t v;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key),
                         "p\x1f%d\x1f"
                         "dev",
                         i);
        chash_put(h, key, (size_t)n, i);
    }
    assert_int_equal(chash_count(h), 5000);
    for (int i = 0; i < 5000; i += 97) {
        int n = snprintf(key, sizeof(key),
                         "p\x1f%d\x1f"
                         "dev",
                         i);
        assert_int_equal(chash_get(h, key, (size_t)n, &v), 1);
        assert_int_equal(v, i);
    }
    chash_put(h,
              "p\x1f"
              "7\x1f"
              "dev",
              7, -1);
    assert_int_equal(chash_get(h,
                               "p\x1f"
                               "7\x1f"
                               "dev",
                               7, &v),
                     1);
    assert_int_equal(v, -1);
    assert_int_equal(chash_count(h), 5000);
    /* keys are bytes: a prefix is another key */
    assert_int_equal(chash_get(h,
                               "p\x1f"
                               "7",
                               3, &v),
                     0);
    chash_destroy(h);
}

static void test_chash_empties_itself_at_its_bound(void **state)
{
    chash_t *h = chash_create(10);
    int64_t v;

    (void)state;
    for (int i = 0; i < 10; i++)
        chash_put(h, (char *)&i, sizeof(i), i);
    assert_int_equal(chash_count(h), 10);
    int k = 10;
    chash_put(h, (char *)&k, sizeof(k), 10);
    assert_int_equal(chash_count(h), 1);
    assert_int_equal(chash_get(h, (char *)&k, sizeof(k), &v), 1);
    int z = 0;
    assert_int_equal(chash_get(h, (char *)&z, sizeof(z), &v), 0);
    chash_destroy(h);
    chash_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chash_stores_replaces_and_grows),
        cmocka_unit_test(test_chash_empties_itself_at_its_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
