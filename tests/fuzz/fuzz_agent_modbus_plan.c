/* Fuzz target for mb_plan: bytes 0-2 are the limits (max gap, span of
 * registers, span of bits), then 5-byte points (function, address, count).
 * Checks the invariants of every plan: each point lies inside its read,
 * reads respect the protocol limits and the address space. */
#include "mb_plan.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_plan_point pts[64];
    struct mb_plan_limits lim;
    struct mb_plan plan;
    size_t n = 0;
    int rc;

    if (size < 3)
        return 0;
    lim.max_gap = data[0];
    lim.max_span_regs = data[1];
    lim.max_span_bits = (unsigned)data[2] * 8;
    for (size_t off = 3; off + 5 <= size && n < 64; off += 5, n++) {
        pts[n].function = data[off] % 6;
        pts[n].address = (uint16_t)(data[off + 1] << 8 | data[off + 2]);
        pts[n].count = (uint16_t)(data[off + 3] << 8 | data[off + 4]);
    }
    rc = mb_plan_build(pts, n, &lim, &plan);
    if (rc == -EINVAL || rc == -ENOMEM)
        return 0;
    if (rc != 0 || plan.n_slots != n)
        abort();
    for (size_t i = 0; i < plan.n_reads; i++) {
        const struct mb_plan_read *r = &plan.reads[i];
        unsigned cap = r->function <= 2 ? MB_PLAN_MAX_BITS : MB_PLAN_MAX_REGS;
        if (r->count == 0 || r->count > cap || (uint32_t)r->address + r->count > 65536)
            abort();
    }
    for (size_t i = 0; i < n; i++) {
        const struct mb_plan_slot *s = &plan.slots[i];
        const struct mb_plan_read *r;
        if (s->read >= plan.n_reads)
            abort();
        r = &plan.reads[s->read];
        if (r->function != pts[i].function || (uint32_t)r->address + s->offset != pts[i].address ||
            (uint32_t)s->offset + pts[i].count > r->count)
            abort();
    }
    mb_plan_free(&plan);
    return 0;
}
