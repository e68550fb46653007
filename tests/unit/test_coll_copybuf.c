/* copybuf: COPY text rows, escaping, JSON inside COPY, timestamps, doubles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "copybuf.h"

static char *text(struct copybuf *b)
{
    copybuf_raw(b, "", 0);
    char *s = malloc(b->len + 1);
    memcpy(s, b->p, b->len);
    s[b->len] = '\0';
    return s;
}

static void test_copybuf_escapes_text_for_copy(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"tab\there", "tab\\there"},          /* column separator */
        {"line\nbreak\r", "line\\nbreak\\r"}, /* row separator */
        {"back\\slash", "back\\\\slash"},     /* escape character itself */
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct copybuf b;
        copybuf_init(&b);
        copybuf_text(&b, cases[i].in);
        char *s = text(&b);
        assert_string_equal(s, cases[i].want);
        free(s);
        copybuf_close(&b);
    }
}

static void test_copybuf_writes_null_json_and_numbers(void **state)
{
    struct copybuf b;

    (void)state;
    copybuf_init(&b);
    copybuf_text(&b, NULL);
    copybuf_tab(&b);
    copybuf_json_str(&b, "a\"b\\c\x01");
    copybuf_tab(&b);
    copybuf_int(&b, -42);
    copybuf_tab(&b);
    copybuf_double(&b, 0.1);
    copybuf_tab(&b);
    copybuf_double(&b, 1.0 / 3.0);
    copybuf_tab(&b);
    copybuf_bool(&b, 1);
    copybuf_eol(&b);
    char *s = text(&b);
    /* JSON "a\"b\\c\u0001" with each backslash doubled for COPY */
    assert_string_equal(s,
                        "\\N\t\"a\\\\\"b\\\\\\\\c\\\\u0001\"\t-42\t0.1\t0.33333333333333331\tt\n");
    free(s);
    copybuf_close(&b);
}

static void test_copybuf_formats_timestamps_in_utc_with_millis(void **state)
{
    struct copybuf b;

    (void)state;
    copybuf_init(&b);
    copybuf_ts_ms(&b, 1700000000123LL);
    copybuf_tab(&b);
    copybuf_ts_ms(&b, 1700000000999LL); /* same second: cached prefix */
    copybuf_tab(&b);
    copybuf_ts_ms(&b, 946684800000LL); /* 2000-01-01 */
    char *s = text(&b);
    assert_string_equal(s, "2023-11-14 22:13:20.123+00\t2023-11-14 22:13:20.999+00\t"
                           "2000-01-01 00:00:00.000+00");
    free(s);
    copybuf_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copybuf_escapes_text_for_copy),
        cmocka_unit_test(test_copybuf_writes_null_json_and_numbers),
        cmocka_unit_test(test_copybuf_formats_timestamps_in_utc_with_millis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
