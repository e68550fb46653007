/* ladder: see ladder.h. */
#include "ladder.h"

#include <stdbool.h>
#include <string.h>

static bool fired_role(const char *role, const char *const *fired, size_t n_fired)
{
    for (size_t i = 0; i < n_fired; i++) {
        if (strcmp(fired[i], role) == 0)
            return true;
    }
    return false;
}

size_t ladder_due(const struct sla_clock *c, int64_t now, const char *const *fired, size_t n_fired,
                  struct ladder_due *out, size_t max)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);
    size_t n = 0;

    if (g == NULL)
        return 0;
    for (size_t i = 0; i < g->n_ladder && n < max; i++) {
        const struct contract_step *s = &g->ladder[i];
        int64_t at;

        if (fired_role(s->role, fired, n_fired))
            continue;
        at = sla_clock_at(c, s->after_ms / 1000);
        if (at == SLA_NEVER || at > now)
            continue;
        out[n].step = s;
        out[n].due_at = at;
        n++;
    }
    return n;
}

int64_t ladder_next(const struct sla_clock *c, const char *const *fired, size_t n_fired)
{
    const struct contract_grade *g = contract_grade(c->contract, c->grade);
    int64_t next = SLA_NEVER;

    if (g == NULL)
        return SLA_NEVER;
    for (size_t i = 0; i < g->n_ladder; i++) {
        int64_t at;

        if (fired_role(g->ladder[i].role, fired, n_fired))
            continue;
        at = sla_clock_at(c, g->ladder[i].after_ms / 1000);
        if (at < next)
            next = at;
    }
    return next;
}
