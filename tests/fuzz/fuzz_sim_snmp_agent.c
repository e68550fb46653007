/* Fuzz target: the simulator's SNMP request handler (BER decoding, GET,
 * GETNEXT, GETBULK, response encoding) over a small device image, with and
 * without an overlay, a tight message limit that GETBULK answers with
 * tooBig (the toobig fault), and an error-status fault.
 * Seeds in corpus/sim_snmp_agent/ are requests captured from net-snmp's
 * snmpget, snmpgetnext, snmpbulkget, snmpset and snmpinform. */
#include "ber.h"
#include "snmp_agent.h"
#include "snmprec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char image[] = "1.3.6.1.2.1.1.1.0|4|UPS SNMP agent\n"
                            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n"
                            "1.3.6.1.2.1.1.3.0|67|8640000\n"
                            "1.3.6.1.2.1.1.5.0|4|UPS-CORE-1\n"
                            "1.3.6.1.2.1.2.2.1.6.2|4x|bc9b5e1a2b3c\n"
                            "1.3.6.1.2.1.4.20.1.1.10.0.0.5|64|10.0.0.5\n"
                            "1.3.6.1.2.1.31.1.1.1.6.2|70|17564220117\n"
                            "1.3.6.1.2.1.33.1.2.1.0|2|2\n"
                            "1.3.6.1.2.1.33.1.3.1.0|65|3\n"
                            "1.3.6.1.2.1.33.1.4.1.0|2|3\n"
                            "1.3.6.1.2.1.33.1.6.1.0|66|0\n"
                            "1.3.6.1.2.1.33.1.9.10.0|2|280\n"
                            "1.3.6.1.4.1.39165.1.7.0|4|23\n"
                            "1.3.6.1.4.1.99.1.0|5|\n"
                            "1.3.6.1.4.1.99.2.0|68x|0102\n";

static struct sim_mib *load_image(void)
{
    char path[] = "/tmp/fuzz_sim_snmp_agent.XXXXXX";
    char err[256];
    struct sim_mib *mib = NULL;
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, image, sizeof(image) - 1) != (ssize_t)(sizeof(image) - 1))
        abort();
    close(fd);
    if (snmprec_load(path, &mib, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    unlink(path);
    return mib;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sim_mib *mib;
    static uint8_t out[65536];
    static uint8_t five[] = {BER_INTEGER, 1, 5};
    struct snmp_ovl ovl = {.rec = 9, .len = 3, .val = five};
    struct snmp_view v = {.community = "public", .uptime = 12345, .max_msg = 1472};
    const uint8_t *resp;
    size_t resp_len;
    struct snmp_req_info info;

    if (mib == NULL)
        mib = load_image();
    v.mib = mib;
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            v.ovl = &ovl;
            v.n_ovl = 1;
            v.max_msg = 484;
            v.bulk_toobig = true;
        } else if (round == 2) {
            v.error_status = 5;
            v.error_index = 1;
        }
        if (snmp_agent_handle(&v, data, size, out, sizeof(out), &resp, &resp_len, &info) == 0 &&
            (resp < out || resp + resp_len > out + sizeof(out) || resp_len > 65507))
            abort();
    }
    return 0;
}
