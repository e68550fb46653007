/* serieskey: a series' canonical labels, cache key and JSON text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "serieskey.h"

static Fm__Label lab(const char *k, const char *v)
{
    Fm__Label l = FM__LABEL__INIT;

    l.key = (char *)k;
    l.value = (char *)v;
    return l;
}

static void test_canon_sorts_and_keeps_the_last_of_equal_keys(void **state)
{
    Fm__Label l[] = {lab("b", "1"), lab("a", "2"), lab("b", "3"), lab("c", "4"), lab("a", "5")};
    Fm__Label *in[] = {&l[0], &l[1], &l[2], &l[3], &l[4]};
    const Fm__Label *out[5];

    (void)state;
    assert_int_equal(serieskey_canon(in, 5, out), 3);
    assert_string_equal(out[0]->key, "a");
    assert_string_equal(out[0]->value, "5");
    assert_string_equal(out[1]->key, "b");
    assert_string_equal(out[1]->value, "3");
    assert_string_equal(out[2]->key, "c");
    assert_int_equal(serieskey_canon(in, 0, out), 0);
}

/* Label lists that make one jsonb value give one key; others do not. */
static void test_build_one_key_per_jsonb_value(void **state)
{
    Fm__Label l[] = {lab("ifIndex", "2"), lab("bit", "x"), lab("ifIndex", "2")};
    Fm__Label *ab[] = {&l[0], &l[1]}, *ba[] = {&l[1], &l[0]}, *dup[] = {&l[2], &l[1], &l[0]};
    struct copybuf c, d;
    size_t k1, k2;

    (void)state;
    copybuf_init(&c);
    copybuf_init(&d);
    k1 = serieskey_build(&c, 7, ab, 2);
    k2 = serieskey_build(&d, 7, ba, 2);
    assert_int_equal(k1, k2);
    assert_memory_equal(c.p, d.p, k1);
    assert_string_equal(c.p + k1, "{\"bit\":\"x\",\"ifIndex\":\"2\"}");
    k2 = serieskey_build(&d, 7, dup, 3);
    assert_int_equal(k1, k2);
    assert_memory_equal(c.p, d.p, k1);
    /* Another point, or the pair split differently, is another key. */
    k2 = serieskey_build(&d, 8, ab, 2);
    assert_false(k1 == k2 && memcmp(c.p, d.p, k1) == 0);
    Fm__Label s1[] = {lab("ab", "c")}, s2[] = {lab("a", "bc")};
    Fm__Label *p1[] = {&s1[0]}, *p2[] = {&s2[0]};
    k1 = serieskey_build(&c, 7, p1, 1);
    k2 = serieskey_build(&d, 7, p2, 1);
    assert_false(k1 == k2 && memcmp(c.p, d.p, k1) == 0);
    copybuf_close(&c);
    copybuf_close(&d);
}

static void test_build_no_labels_and_escapes(void **state)
{
    Fm__Label l[] = {lab("k\"ey", "va\\l\n"), lab(NULL, NULL)};
    Fm__Label *in[] = {&l[0], &l[1]};
    struct copybuf c;
    size_t k;

    (void)state;
    copybuf_init(&c);
    k = serieskey_build(&c, 1, NULL, 0);
    assert_int_equal(k, 1 + sizeof(int64_t));
    assert_string_equal(c.p + k, "{}");
    k = serieskey_build(&c, 1, in, 2);
    assert_string_equal(c.p + k, "{\"\":\"\",\"k\\\"ey\":\"va\\\\l\\u000a\"}");
    copybuf_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_sorts_and_keeps_the_last_of_equal_keys),
        cmocka_unit_test(test_build_one_key_per_jsonb_value),
        cmocka_unit_test(test_build_no_labels_and_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
