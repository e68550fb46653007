/* mb_plan: merges the points of one device into as few reads as the
 * protocol and the device allow.
 *
 * Points of one function code (1 coils, 2 discrete inputs, 3 holding,
 * 4 input registers) are sorted by address and packed greedily: a point joins
 * the current read when the hole between the read's end and the point is at
 * most max_gap units (registers or bits) and the read, with the point, spans
 * at most max_span units. max_span is capped by the protocol: 125 registers
 * (MB_PLAN_MAX_REGS) or 2000 bits (MB_PLAN_MAX_BITS) per read. Overlapping
 * points (two bit fields of one status word) share the words they overlap.
 * Devices that reject reads across unmapped addresses get max_gap 0.
 *
 * Greedy packing in address order is optimal for this problem: every read
 * starts at the lowest point not yet covered and extends as far as the
 * limits allow, so no plan with fewer reads exists for the same limits.
 *
 * Pure functions; callable from any thread. */
#ifndef AGENT_MODBUS_PLAN_H
#define AGENT_MODBUS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define MB_PLAN_MAX_REGS 125  /* Modbus application protocol v1.1b3, 6.3/6.4 */
#define MB_PLAN_MAX_BITS 2000 /* 6.1/6.2 */
#define MB_PLAN_ADDR_SPACE 65536

/* One point to read: what the planner needs to know of it. */
struct mb_plan_point {
    uint8_t function; /* 1, 2, 3 or 4 */
    uint16_t address; /* 0-based PDU address */
    uint16_t count;   /* registers (3/4) or bits (1/2) */
};

struct mb_plan_limits {
    unsigned max_gap;       /* unused units allowed inside one read */
    unsigned max_span_regs; /* 1..125; 0 means 125 */
    unsigned max_span_bits; /* 1..2000; 0 means 2000 */
};

/* One request on the wire. */
struct mb_plan_read {
    uint8_t function;
    uint16_t address;
    uint16_t count;
};

/* Where a point's data sits in the plan. */
struct mb_plan_slot {
    uint32_t read;   /* index into reads */
    uint16_t offset; /* units from the read's first address */
};

struct mb_plan {
    struct mb_plan_read *reads; /* owned */
    size_t n_reads;
    struct mb_plan_slot *slots; /* owned; slots[i] belongs to points[i] */
    size_t n_slots;
};

/* Checks one point against the protocol: function in 1..4, count >= 1 and
 * within the per-read limit of its function, address + count within the
 * 65536-entry address space. Returns 0 or -EINVAL with a reason in why
 * (may be NULL). */
int mb_plan_check_point(const struct mb_plan_point *pt, const char **why);

/* Plans reads for points[0..n-1] (borrowed) into plan (caller's struct,
 * filled; free its arrays with mb_plan_free). Returns 0; -EINVAL if a point
 * fails mb_plan_check_point or is wider than the configured max span (the
 * plan is then empty); -ENOMEM if allocation fails. */
int mb_plan_build(const struct mb_plan_point *points, size_t n, const struct mb_plan_limits *lim,
                  struct mb_plan *plan);

/* Frees the plan's arrays and zeroes it; NULL or an empty plan is fine. */
void mb_plan_free(struct mb_plan *plan);

#endif
