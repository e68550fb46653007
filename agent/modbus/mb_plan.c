/* mb_plan: request planning; see mb_plan.h for the rules. Allocates
 * with plain malloc (not fm_xmalloc) so that config checking and the fuzz
 * target can report -ENOMEM instead of aborting. */
#include "mb_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static unsigned span_limit(uint8_t function, const struct mb_plan_limits *lim)
{
    unsigned cap, want;

    if (function <= 2) {
        cap = MB_PLAN_MAX_BITS;
        want = lim->max_span_bits;
    } else {
        cap = MB_PLAN_MAX_REGS;
        want = lim->max_span_regs;
    }
    return want == 0 || want > cap ? cap : want;
}

int mb_plan_check_point(const struct mb_plan_point *pt, const char **why)
{
    const char *w = NULL;

    if (pt->function < 1 || pt->function > 4)
        w = "function must be 1, 2, 3 or 4";
    else if (pt->count == 0)
        w = "count must be at least 1";
    else if (pt->function <= 2 && pt->count > MB_PLAN_MAX_BITS)
        w = "count is over the protocol limit of 2000 bits per read";
    else if (pt->function >= 3 && pt->count > MB_PLAN_MAX_REGS)
        w = "count is over the protocol limit of 125 registers per read";
    else if ((uint32_t)pt->address + pt->count > MB_PLAN_ADDR_SPACE)
        w = "address + count runs past the end of the address space (65535)";
    if (why != NULL)
        *why = w;
    return w == NULL ? 0 : -EINVAL;
}

/* Order: function, then address, then the wider point first so a read that
 * starts at an address covers its widest point. */
static int cmp_points(const struct mb_plan_point *pa, const struct mb_plan_point *pb)
{
    if (pa->function != pb->function)
        return pa->function < pb->function ? -1 : 1;
    if (pa->address != pb->address)
        return pa->address < pb->address ? -1 : 1;
    if (pa->count != pb->count)
        return pa->count > pb->count ? -1 : 1;
    return 0;
}

/* Insertion sort of indices: stable, reentrant (qsort has no context
 * argument in C11), and devices have tens to hundreds of points. */
static void sort_indices(const struct mb_plan_point *points, size_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i];
        size_t j = i;

        while (j > 0 && cmp_points(&points[idx[j - 1]], &points[v]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

int mb_plan_build(const struct mb_plan_point *points, size_t n, const struct mb_plan_limits *lim,
                  struct mb_plan *plan)
{
    size_t *idx = NULL;
    int rc = 0;

    memset(plan, 0, sizeof(*plan));
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (mb_plan_check_point(&points[i], NULL) < 0 ||
            points[i].count > span_limit(points[i].function, lim))
            return -EINVAL;
    }
    idx = malloc(n * sizeof(*idx));
    plan->reads = malloc(n * sizeof(*plan->reads));
    plan->slots = malloc(n * sizeof(*plan->slots));
    if (idx == NULL || plan->reads == NULL || plan->slots == NULL) {
        rc = -ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_indices(points, idx, n);

    plan->n_slots = n;
    for (size_t k = 0; k < n; k++) {
        const struct mb_plan_point *pt = &points[idx[k]];
        struct mb_plan_read *cur = plan->n_reads ? &plan->reads[plan->n_reads - 1] : NULL;
        uint32_t pt_end = (uint32_t)pt->address + pt->count;

        if (cur != NULL && cur->function == pt->function) {
            uint32_t cur_end = (uint32_t)cur->address + cur->count;
            uint32_t gap = pt->address > cur_end ? pt->address - cur_end : 0;
            uint32_t new_end = pt_end > cur_end ? pt_end : cur_end;

            if (gap <= lim->max_gap && new_end - cur->address <= span_limit(pt->function, lim)) {
                cur->count = (uint16_t)(new_end - cur->address);
                plan->slots[idx[k]].read = (uint32_t)(plan->n_reads - 1);
                plan->slots[idx[k]].offset = (uint16_t)(pt->address - cur->address);
                continue;
            }
        }
        cur = &plan->reads[plan->n_reads];
        cur->function = pt->function;
        cur->address = pt->address;
        cur->count = pt->count;
        plan->slots[idx[k]].read = (uint32_t)plan->n_reads;
        plan->slots[idx[k]].offset = 0;
        plan->n_reads++;
    }
    free(idx);
    return 0;

out_free:
    free(idx);
    mb_plan_free(plan);
    return rc;
}

void mb_plan_free(struct mb_plan *plan)
{
    if (plan == NULL)
        return;
    free(plan->reads);
    free(plan->slots);
    memset(plan, 0, sizeof(*plan));
}
