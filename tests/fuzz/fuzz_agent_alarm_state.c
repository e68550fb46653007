/* libFuzzer target: the alarm state file the agent loads at start
 * (agent/alarm/alarm_state.h), which a crash, a full disk or a hand edit
 * may have left in any shape.
 *
 * The input is the file's bytes. alarm_state_parse must either refuse it
 * (-EINVAL, with a reason, and an empty set) or accept it; an accepted set
 * must format to a text that parses again to a set that formats to the
 * same text, so that what the agent writes it can always read back. */
#include "alarm_state.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Checks stay in release builds, where assert() would vanish. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alarm_state a, b;
    char why[256];
    char *t1, *t2;
    int rc;

    alarm_state_init(&a);
    alarm_state_init(&b);
    why[0] = '\0';
    rc = alarm_state_parse(data, size, &a, why, sizeof(why));
    if (rc != 0) {
        CHECK(rc == -EINVAL || rc == -ENOMEM);
        CHECK(a.n == 0 && a.recs == NULL);
        CHECK(why[0] != '\0');
        return 0;
    }
    t1 = alarm_state_format(&a);
    CHECK(t1 != NULL);
    CHECK(alarm_state_parse(t1, strlen(t1), &b, why, sizeof(why)) == 0);
    CHECK(b.n == a.n);
    t2 = alarm_state_format(&b);
    CHECK(t2 != NULL && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    alarm_state_clear(&a);
    alarm_state_clear(&b);
    return 0;
}
