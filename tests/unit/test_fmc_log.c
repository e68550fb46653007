/* Unit tests for fm_log: the level parser, and the level changing (as on
 * SIGHUP) while other threads log. The second is for ThreadSanitizer
 * (tests/tsan.sh): with a plain int level it reports a data race. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fm_log.h"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

static void test_fm_log_parse_level_names_and_rejects(void **state)
{
    (void)state;
    assert_int_equal(fm_log_parse_level("err"), FM_LOG_ERR);
    assert_int_equal(fm_log_parse_level("warning"), FM_LOG_WARNING);
    assert_int_equal(fm_log_parse_level("notice"), FM_LOG_NOTICE);
    assert_int_equal(fm_log_parse_level("info"), FM_LOG_INFO);
    assert_int_equal(fm_log_parse_level("debug"), FM_LOG_DEBUG);
    assert_int_equal(fm_log_parse_level("verbose"), -1); /* not a level */
    assert_int_equal(fm_log_parse_level(""), -1);
}

static int lines_wanted;

static void logger_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < lines_wanted; i++)
        FM_DEBUG("test: line %d", i); /* reads the level each time */
}

static void test_fm_log_level_changes_while_threads_log(void **state)
{
    (void)state;
    uv_thread_t tid[2];
    int devnull = open("/dev/null", O_WRONLY);

    assert_true(devnull >= 0);
    fm_log_init("test", devnull);
    lines_wanted = 20000;
    for (int i = 0; i < 2; i++)
        assert_int_equal(uv_thread_create(&tid[i], logger_main, NULL), 0);
    for (int i = 0; i < 20000; i++)
        fm_log_level = (i & 1) ? FM_LOG_DEBUG : FM_LOG_INFO;
    for (int i = 0; i < 2; i++)
        uv_thread_join(&tid[i]);
    fm_log_level = FM_LOG_INFO;
    assert_int_equal(fm_log_level, FM_LOG_INFO);
    fm_log_init("test", 2);
    close(devnull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_log_parse_level_names_and_rejects),
        cmocka_unit_test(test_fm_log_level_changes_while_threads_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
