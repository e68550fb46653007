/* libFuzzer target: a rules file of arbitrary bytes. It must either load
 * or fail with a message naming the file; a rule set that loads then drives
 * the correlation engine through a short storm (site down, UPS on battery,
 * flapping, grade-4 faults) so that any combination of settings a customer
 * can write is exercised in the engine too. */
#include "correlate.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *data, const struct corr_action *a)
{
    (*(size_t *)data)++;
    if (a->type == CORR_ACT_OPEN && (a->grade < 1 || a->grade > 4))
        abort();
}

static void drive(const struct rules_conf *rules)
{
    static const struct fmc_kv crit[] = {{"critical", "true"}};
    const struct corr_device_info devs[] = {
        {"sw", "other", NULL, NULL, 0},
        {"cam", "camera", "sw", NULL, 0},
        {"ups", "ups", NULL, crit, 1},
    };
    const struct corr_window w = {1, "s2", NULL, 0, 5000};
    size_t n = 0;
    corr_t *e = corr_create(rules, sink, &n);

    corr_inventory(e, "s1", devs, 3, 0);
    corr_inventory(e, "s2", devs, 3, 0);
    corr_set_windows(e, &w, 1, 0);
    corr_alarm(e, "s1", "ups", "ups_on_battery", NULL, true, 10, 0);
    corr_alarm(e, "s1", "ups", "ups_low_battery", NULL, true, 20, 0);
    for (int i = 0; i < 8; i++)
        corr_alarm(e, "s1", "cam", "temp_high", "temp", i % 2 == 0, 30 + i, 0);
    for (int i = 0; i < 4; i++)
        corr_alarm(e, "s1", devs[i % 3].name, "unused_port_down", NULL, true, 50 + i, 0);
    corr_reach(e, "s1", "cam", false, 100);
    corr_reach(e, "s1", "sw", false, 110);
    corr_reach(e, "s1", "ups", false, 120);
    corr_agent(e, "s2", true, 130);
    corr_tick(e, 60000);
    corr_reach(e, "s1", "sw", true, 70000);
    corr_agent(e, "s2", false, 80000);
    corr_tick(e, 4000000);
    corr_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rules_conf rules = {0};
    char err[512];
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (rules_load_string("fuzz.yaml", text, &rules, err, sizeof(err)) == 0) {
        drive(&rules);
        rules_free(&rules);
    } else if (strncmp(err, "fuzz.yaml", 9) != 0) {
        abort();
    }
    free(text);
    return 0;
}
