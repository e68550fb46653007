/* libFuzzer target: contract files. Any input must either load (and then
 * yield deadlines and ladder steps for every grade, opened at a few times, with a
 * pause, and free cleanly) or fail with a message naming the file. */
#include "contract.h"
#include "ladder.h"
#include "sla.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct contract *c)
{
    static const int64_t opens[] = {1795485600, 1795600000, 0};

    for (int g = 1; g <= CONTRACT_GRADES; g++) {
        for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
            struct sla_clock clk;
            struct ladder_due due[32];

            if (sla_clock_open(&clk, c, g, 80.0 * (double)i, opens[i]) != 0)
                abort();
            for (int k = 0; k < SLA_KINDS; k++) {
                if (clk.deadline[k] != 0 && clk.deadline[k] < opens[i])
                    abort(); /* a deadline before the opening */
                (void)sla_clock_left(&clk, k, opens[i] + 3600);
            }
            (void)ladder_due(&clk, opens[i] + 86400, NULL, 0, due, 32);
            if (sla_clock_pause(&clk, opens[i] + 60, "fuzz") != 0 ||
                sla_clock_resume(&clk, opens[i] + 7200) != 0)
                abort();
            (void)ladder_next(&clk, NULL, 0);
            (void)sla_clock_regrade(&clk, opens[i] + 7300, g == 1 ? 2 : 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct contract_set set = {0};
    char err[512];

    if (size > 65536)
        return 0;
    if (contract_set_load_string("fuzz.yaml", (const char *)data, size, &set, err, sizeof(err)) ==
        0) {
        for (size_t i = 0; i < set.n_contracts && i < 4; i++)
            exercise(&set.contracts[i]);
        contract_set_free(&set);
    } else if (strncmp(err, "fuzz.yaml", 9) != 0) {
        abort();
    }
    return 0;
}
