/* Unit tests for the correlation engine: tables of event sequences against
 * the shipped default rules (group wait 30 s, flapping 6 transitions in
 * 10 min, grade-4 aggregate of 3), each step listing exactly the actions it
 * must produce. The clock is the step's time; nothing reads a real clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "correlate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RULES FM_SOURCE_DIR "/deploy/rules-default.yaml"
#define MIN (60 * 1000LL)

/* ---------------------------------------------------------------- recorder */

struct rec {
    char buf[16384];
    size_t len;
};

static void rec_cb(void *data, const struct corr_action *a)
{
    struct rec *r = data;
    char line[1024];
    const char *what = a->device ? a->device : (a->child ? a->child : "-");

    switch (a->type) {
    case CORR_ACT_OPEN:
        snprintf(line, sizeof(line), "open %s g%d%s", a->key, a->grade,
                 a->flapping ? " flapping" : "");
        break;
    case CORR_ACT_ATTACH:
    case CORR_ACT_DETACH:
        snprintf(line, sizeof(line), "%s %s %s", corr_act_name(a->type), a->key, what);
        break;
    case CORR_ACT_ALARM:
        snprintf(line, sizeof(line), "alarm %s %s %s %s", a->key, a->device, a->code,
                 a->raised ? "raised" : "cleared");
        break;
    case CORR_ACT_GRADE:
        snprintf(line, sizeof(line), "grade %s %d->%d", a->key, a->old_grade, a->grade);
        break;
    case CORR_ACT_SUPPRESS:
        snprintf(line, sizeof(line), "suppress %s/%s %s %s w%lld", a->site, a->device, a->code,
                 a->raised ? "raised" : "cleared", (long long)a->window_id);
        break;
    default:
        snprintf(line, sizeof(line), "%s %s", corr_act_name(a->type), a->key);
        break;
    }
    r->len += (size_t)snprintf(r->buf + r->len, sizeof(r->buf) - r->len, "%s%s", r->len ? "\n" : "",
                               line);
    assert_true(r->len < sizeof(r->buf));
}

/* ---------------------------------------------------------------- scenarios */

/* One step: at time t, op on site/device/code; expect is every action the
 * step produces, one per line, in order ("" = none).
 *   A raise alarm   C clear alarm   U unreachable   R reachable
 *   L agent lost    B agent back    T tick          W set window
 *   I set inventory (the scenario's inventory for site)
 *   F forget site   S restore begins   Z freeze site   z thaw site
 *   E restore of site ends; code is the key of the one ticket the site has
 *     (NULL: none), device its state: "open", "open cleared", "resolved" */
struct step {
    int64_t t;
    char op;
    const char *site, *device, *code;
    const char *expect;
};

struct inv {
    const char *site;
    struct corr_device_info dev;
};

static const struct fmc_kv critical[] = {{"critical", "true"}};

/* Inventory of the scenarios: site s1 has a switch, two cameras behind it,
 * a UPS, an environmental sensor and a critical DDC controller. */
static const struct inv inventory[] = {
    {"s1", {"sw", "other", NULL, NULL, 0}},        {"s1", {"cam1", "camera", "sw", NULL, 0}},
    {"s1", {"cam2", "camera", "sw", NULL, 0}},     {"s1", {"ups1", "ups", NULL, NULL, 0}},
    {"s1", {"env1", "env_sensor", NULL, NULL, 0}}, {"s1", {"ddc1", "ddc", NULL, critical, 1}},
    {"s2", {"a", "camera", NULL, NULL, 0}},        {"s3", {"a", "camera", NULL, NULL, 0}},
    {"s4", {"a", "camera", NULL, NULL, 0}},        {"s5", {"a", "camera", NULL, NULL, 0}},
    {"s6", {"a", "camera", NULL, NULL, 0}},
};

static const struct corr_window window7 = {7, "s1", "cam*", 0, 100000};

static void load_inventory(corr_t *e, const char *site, int64_t t)
{
    struct corr_device_info devs[16];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(inventory) / sizeof(inventory[0]); i++)
        if (strcmp(inventory[i].site, site) == 0)
            devs[n++] = inventory[i].dev;
    corr_inventory(e, site, devs, n, t);
}

static void run(const char *name, const struct step *steps, size_t n)
{
    struct rules_conf rules = {0};
    struct rec r = {.len = 0};
    char err[512];
    corr_t *e;

    if (rules_load_file(DEFAULT_RULES, &rules, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    e = corr_create(&rules, rec_cb, &r);
    for (size_t i = 0; i < n; i++) {
        const struct step *s = &steps[i];

        r.len = 0;
        r.buf[0] = '\0';
        switch (s->op) {
        case 'A':
        case 'C':
            corr_alarm(e, s->site, s->device, s->code, NULL, s->op == 'A', s->t, (int64_t)i + 1);
            break;
        case 'U':
        case 'R':
            corr_reach(e, s->site, s->device, s->op == 'R', s->t);
            break;
        case 'L':
        case 'B':
            corr_agent(e, s->site, s->op == 'L', s->t);
            break;
        case 'T':
            corr_tick(e, s->t);
            break;
        case 'W':
            corr_set_windows(e, &window7, s->code ? 1 : 0, s->t);
            break;
        case 'I':
            load_inventory(e, s->site, s->t);
            break;
        case 'F':
            corr_site_forget(e, s->site);
            break;
        case 'S':
            corr_restore_begin(e);
            break;
        case 'Z':
        case 'z':
            corr_site_freeze(e, s->site, s->op == 'Z');
            break;
        case 'E': {
            struct corr_ticket tk = {
                .key = s->code,
                .open = s->device && strncmp(s->device, "open", 4) == 0,
                .cleared = s->device && strstr(s->device, "cleared") != NULL,
                .last_seen_ms = s->t,
            };
            corr_restore_end(e, s->site, &tk, s->code ? 1 : 0, true, s->t);
            break;
        }
        default:
            fail_msg("bad op %c", s->op);
        }
        if (s->expect && strcmp(r.buf, s->expect) != 0)
            fail_msg("%s, step %zu (%c %s/%s %s at %lld):\n--- got:\n%s\n--- want:\n%s", name, i,
                     s->op, s->site, s->device ? s->device : "", s->code ? s->code : "",
                     (long long)s->t, r.buf, s->expect);
    }
    corr_destroy(e);
    rules_free(&rules);
}

#define RUN(steps) run(__func__, steps, sizeof(steps) / sizeof(steps[0]))

/* ---------------------------------------------------------------- tests */

static void test_corr_smoke_opens_grade_1_at_once(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "env1", "smoke",
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
        {2000, 'A', "s1", "env1", "smoke", ""}, /* repeat of the state it has */
        {3000, 'C', "s1", "env1", "smoke",
         "alarm device:s1/env1/smoke env1 smoke cleared\nclear device:s1/env1/smoke"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_ups_on_battery_rises_on_low_battery_and_records_clear(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "ups1", "ups_on_battery",
         "open root:s1/mains g3\nalarm root:s1/mains ups1 ups_on_battery raised"},
        /* Temperature rising in the room follows the mains failure. */
        {2000, 'A', "s1", "env1", "temp_high", "alarm root:s1/mains env1 temp_high raised"},
        {60000, 'A', "s1", "ups1", "ups_low_battery",
         "grade root:s1/mains 3->2\nalarm root:s1/mains ups1 ups_low_battery raised"},
        {61000, 'C', "s1", "env1", "temp_high", "alarm root:s1/mains env1 temp_high cleared"},
        {62000, 'C', "s1", "ups1", "ups_low_battery",
         "alarm root:s1/mains ups1 ups_low_battery cleared"},
        {63000, 'C', "s1", "ups1", "ups_on_battery",
         "alarm root:s1/mains ups1 ups_on_battery cleared\nclear root:s1/mains"},
        /* A follower within the linger still lands on the root's ticket. */
        {64000, 'A', "s1", "ups1", "ups_battery_bad",
         "alarm root:s1/mains ups1 ups_battery_bad raised"},
        {65000, 'C', "s1", "ups1", "ups_battery_bad",
         "alarm root:s1/mains ups1 ups_battery_bad cleared\nclear root:s1/mains"},
        {65000 + 15 * MIN, 'T', NULL, NULL, NULL, ""},          /* forgotten after the linger */
        {66000 + 15 * MIN, 'A', "s1", "env1", "temp_high", ""}, /* now its own fault, held */
        {97000 + 15 * MIN, 'T', NULL, NULL, NULL,
         "open device:s1/env1/temp_high g3\nalarm device:s1/env1/temp_high env1 temp_high raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_camera_unreachable_waits_group_wait(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'U', "s1", "cam1", NULL, ""},
        {30999, 'T', NULL, NULL, NULL, ""},
        {31000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised"},
        {40000, 'R', "s1", "cam1", NULL,
         "alarm device:s1/cam1/unreachable cam1 unreachable cleared\n"
         "clear device:s1/cam1/unreachable"},
        /* Back within the hold: no ticket at all. */
        {50000, 'U', "s1", "cam2", NULL, ""},
        {60000, 'R', "s1", "cam2", NULL, ""},
        {100000, 'T', NULL, NULL, NULL, ""},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_children_attach_to_unreachable_parent(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'U', "s1", "cam1", NULL, ""},
        {2000, 'U', "s1", "sw", NULL, ""},   /* adopts cam1 */
        {3000, 'U', "s1", "cam2", NULL, ""}, /* joins sw at once */
        {32000, 'T', NULL, NULL, NULL,
         "open device:s1/sw/unreachable g3\n"
         "alarm device:s1/sw/unreachable sw unreachable raised\n"
         "attach device:s1/sw/unreachable cam2\n"
         "alarm device:s1/sw/unreachable cam2 unreachable raised\n"
         "attach device:s1/sw/unreachable cam1\n"
         "alarm device:s1/sw/unreachable cam1 unreachable raised"},
        {40000, 'R', "s1", "cam2", NULL, "alarm device:s1/sw/unreachable cam2 unreachable cleared"},
        /* The switch returns, cam1 is still down: it surfaces on its own. */
        {50000, 'R', "s1", "sw", NULL,
         "alarm device:s1/sw/unreachable sw unreachable cleared\n"
         "clear device:s1/sw/unreachable\n"
         "detach device:s1/sw/unreachable cam1"},
        {79999, 'T', NULL, NULL, NULL, ""},
        {80000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_whole_site_unreachable_is_one_site_fault(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {100, 'U', "s1", "cam1", NULL, ""},
        {200, 'U', "s1", "cam2", NULL, ""},
        {300, 'U', "s1", "ups1", NULL, ""},
        {400, 'U', "s1", "env1", NULL, ""},
        {500, 'U', "s1", "ddc1", NULL, ""},
        {600, 'U', "s1", "sw", NULL,
         "open site:s1 g2\n"
         "attach site:s1 ddc1\nattach site:s1 env1\nattach site:s1 ups1\n"
         "attach site:s1 cam2\nattach site:s1 cam1\nattach site:s1 sw"},
        {60000, 'T', NULL, NULL, NULL, ""}, /* nothing per device */
        /* A critical device down for 30 minutes raises the site ticket. */
        {500 + 30 * MIN, 'T', NULL, NULL, NULL, "grade site:s1 2->1"},
        /* One device back: the site returns; the rest surface after a hold,
         * the cameras under their switch. */
        {31 * MIN, 'R', "s1", "ups1", NULL,
         "alarm site:s1 ups1 unreachable cleared\n"
         "clear site:s1\n"
         "detach site:s1 sw\ndetach site:s1 env1\ndetach site:s1 ddc1\n"
         /* ddc1 is critical and down for over 30 minutes: grade 1, no hold. */
         "open device:s1/ddc1/unreachable g1\n"
         "alarm device:s1/ddc1/unreachable ddc1 unreachable raised"},
        {31 * MIN + 29999, 'T', NULL, NULL, NULL, ""},
        {31 * MIN + 30000, 'T', NULL, NULL, NULL,
         "open device:s1/sw/unreachable g3\n"
         "alarm device:s1/sw/unreachable sw unreachable raised\n"
         "attach device:s1/sw/unreachable cam1\n"
         "alarm device:s1/sw/unreachable cam1 unreachable raised\n"
         "attach device:s1/sw/unreachable cam2\n"
         "alarm device:s1/sw/unreachable cam2 unreachable raised\n"
         "open device:s1/env1/unreachable g3\n"
         "alarm device:s1/env1/unreachable env1 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_agent_lost_is_one_site_fault_until_it_returns(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s2", NULL, NULL, ""},
        {1000, 'L', "s2", NULL, NULL, "open site:s2 g2\nattach site:s2 a"},
        {2000, 'L', "s2", NULL, NULL, ""},
        {3000, 'B', "s2", NULL, NULL, "clear site:s2"},
        /* After the return the agent reports a device still down. */
        {4000, 'U', "s2", "a", NULL, "open site:s2 g2\nattach site:s2 a"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_most_sites_unreachable_is_one_grade_1_fault(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s2", NULL, NULL, ""},
        {0, 'I', "s3", NULL, NULL, ""},
        {0, 'I', "s4", NULL, NULL, ""},
        {0, 'I', "s5", NULL, NULL, ""},
        {0, 'I', "s6", NULL, NULL, ""},
        {1000, 'L', "s2", NULL, NULL, "open site:s2 g2\nattach site:s2 a"},
        {1000, 'L', "s3", NULL, NULL, "open site:s3 g2\nattach site:s3 a"},
        /* 3 of 5 sites: most of them. */
        {1000, 'L', "s4", NULL, NULL,
         "open site:s4 g2\nattach site:s4 a\nopen system:sites g1\n"
         "attach system:sites site:s4\nattach system:sites site:s3\nattach system:sites site:s2"},
        {2000, 'L', "s5", NULL, NULL,
         "open site:s5 g2\nattach site:s5 a\nattach system:sites site:s5"},
        {3000, 'B', "s5", NULL, NULL, "detach system:sites site:s5\nclear site:s5"},
        {4000, 'B', "s4", NULL, NULL,
         "detach system:sites site:s4\nclear site:s4\nclear system:sites"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_flapping_temperature_is_one_ticket_marked_flapping(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "env1", "temp_high", ""},
        {2000, 'C', "s1", "env1", "temp_high", ""},
        {3000, 'A', "s1", "env1", "temp_high", ""},
        {4000, 'C', "s1", "env1", "temp_high", ""},
        {5000, 'A', "s1", "env1", "temp_high", ""},
        /* Sixth transition in 10 minutes: one ticket, flapping. */
        {6000, 'C', "s1", "env1", "temp_high",
         "open device:s1/env1/temp_high g3 flapping\n"
         "alarm device:s1/env1/temp_high env1 temp_high cleared"},
        {7000, 'A', "s1", "env1", "temp_high",
         "alarm device:s1/env1/temp_high env1 temp_high raised"},
        {8000, 'C', "s1", "env1", "temp_high",
         "alarm device:s1/env1/temp_high env1 temp_high cleared"},
        {8000 + 10 * MIN - 1, 'T', NULL, NULL, NULL, ""},
        {8000 + 10 * MIN, 'T', NULL, NULL, NULL, "clear device:s1/env1/temp_high"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_opened_fault_becomes_flapping(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {0, 'A', "s1", "env1", "smoke",
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
        {1, 'C', "s1", "env1", "smoke",
         "alarm device:s1/env1/smoke env1 smoke cleared\nclear device:s1/env1/smoke"},
        {2, 'A', "s1", "env1", "smoke",
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
        {3, 'C', "s1", "env1", "smoke",
         "alarm device:s1/env1/smoke env1 smoke cleared\nclear device:s1/env1/smoke"},
        {4, 'A', "s1", "env1", "smoke",
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
        {5, 'C', "s1", "env1", "smoke",
         "flapping device:s1/env1/smoke\nalarm device:s1/env1/smoke env1 smoke cleared"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_maintenance_window_records_without_ticket(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {0, 'W', NULL, NULL, "on", ""},
        {1000, 'U', "s1", "cam1", NULL, "suppress s1/cam1 unreachable raised w7"},
        {2000, 'A', "s1", "cam2", "tamper", "suppress s1/cam2 tamper raised w7"},
        {3000, 'A', "s1", "env1", "smoke", /* not covered by the window */
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
        {40000, 'T', NULL, NULL, NULL, ""},
        {50000, 'R', "s1", "cam1", NULL, "suppress s1/cam1 unreachable cleared w7"},
        /* The window ends with cam2's alarm still raised: it now counts. */
        {100000, 'T', NULL, NULL, NULL, ""},
        {130000, 'T', NULL, NULL, NULL,
         "open device:s1/cam2/tamper g3\nalarm device:s1/cam2/tamper cam2 tamper raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_window_removed_resumes_suppressed_alarms(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {0, 'W', NULL, NULL, "on", ""},
        {1000, 'U', "s1", "cam1", NULL, "suppress s1/cam1 unreachable raised w7"},
        {2000, 'W', NULL, NULL, NULL, ""}, /* windows replaced by none */
        {32000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_three_grade_4_faults_make_a_grade_3_fault(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "sw", "unused_port_down", ""},
        {2000, 'A', "s1", "ups1", "unused_port_down", ""},
        {40000, 'T', NULL, NULL, NULL, ""}, /* grade 4 opens no ticket */
        {50000, 'A', "s1", "ddc1", "unused_port_down",
         "open group:s1 g3\n"
         "attach group:s1 sw\nalarm group:s1 sw unused_port_down raised\n"
         "attach group:s1 ups1\nalarm group:s1 ups1 unused_port_down raised\n"
         "attach group:s1 ddc1\nalarm group:s1 ddc1 unused_port_down raised"},
        {60000, 'A', "s1", "env1", "unused_port_down",
         "attach group:s1 env1\nalarm group:s1 env1 unused_port_down raised"},
        {70000, 'C', "s1", "env1", "unused_port_down",
         "alarm group:s1 env1 unused_port_down cleared"},
        {80000, 'C', "s1", "sw", "unused_port_down",
         "alarm group:s1 sw unused_port_down cleared\n"
         "clear group:s1\ndetach group:s1 ups1\ndetach group:s1 ddc1"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_critical_device_down_30_minutes_rises_to_grade_1(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {0, 'U', "s1", "ddc1", NULL, ""},
        {30000, 'T', NULL, NULL, NULL,
         "open device:s1/ddc1/unreachable g3\n"
         "alarm device:s1/ddc1/unreachable ddc1 unreachable raised"},
        {30 * MIN - 1, 'T', NULL, NULL, NULL, ""},
        {30 * MIN, 'T', NULL, NULL, NULL, "grade device:s1/ddc1/unreachable 3->1"},
        {31 * MIN, 'T', NULL, NULL, NULL, ""},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_unknown_device_and_empty_site_are_handled(void **state)
{
    static const struct step steps[] = {
        /* No inventory at all: one unknown device down is not "every device". */
        {0, 'U', "s9", "x", NULL, ""},
        {30000, 'T', NULL, NULL, NULL,
         "open device:s9/x/unreachable g3\nalarm device:s9/x/unreachable x unreachable raised"},
        /* A clear of something never raised does nothing. */
        {31000, 'C', "s9", "x", "temp_high", ""},
        /* An alarm of the agent itself (device ""). */
        {32000, 'A', "s9", "", "smoke",
         "open device:s9//smoke g1\nalarm device:s9//smoke  smoke raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_comm_loss_and_unreachable_are_one_fault(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "cam1", "comm_loss", ""},
        {5000, 'U', "s1", "cam1", NULL, ""},
        {31000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised\n"
         "alarm device:s1/cam1/unreachable cam1 comm_loss raised"},
        {40000, 'R', "s1", "cam1", NULL,
         "alarm device:s1/cam1/unreachable cam1 unreachable cleared"},
        {45000, 'C', "s1", "cam1", "comm_loss",
         "alarm device:s1/cam1/unreachable cam1 comm_loss cleared\n"
         "clear device:s1/cam1/unreachable"},
        /* The other order: unreachable first, comm_loss joins its fault. */
        {50000, 'U', "s1", "cam2", NULL, ""},
        {60000, 'A', "s1", "cam2", "comm_loss", ""},
        {80000, 'T', NULL, NULL, NULL,
         "open device:s1/cam2/unreachable g3\n"
         "alarm device:s1/cam2/unreachable cam2 comm_loss raised\n"
         "alarm device:s1/cam2/unreachable cam2 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

/* A collector restarted 5 s after a camera went down: the replay of the
 * stored transition is muted, and the ticket opens when the group wait
 * ends, counted from the original raise. */
static void test_corr_restore_keeps_the_group_wait_of_the_original_raise(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'U', "s1", "cam1", NULL, ""},
        {6000, 'F', "s1", NULL, NULL, ""},
        {6000, 'S', NULL, NULL, NULL, ""},
        {6000, 'I', "s1", NULL, NULL, ""},
        {1000, 'U', "s1", "cam1", NULL, ""},
        {7000, 'E', "s1", NULL, NULL, ""},
        {30999, 'T', NULL, NULL, NULL, ""},
        {31000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

/* The clear came while nobody correlated the site: the restore clears the
 * ticket at the time of the clear. */
static void test_corr_restore_clears_a_ticket_whose_alarm_cleared_meanwhile(void **state)
{
    static const struct step steps[] = {
        {0, 'S', NULL, NULL, NULL, ""},
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "env1", "temp_high", ""},
        {50000, 'C', "s1", "env1", "temp_high", ""},
        {60000, 'E', "s1", "open", "device:s1/env1/temp_high", "clear device:s1/env1/temp_high"},
        /* A ticket already cleared is left alone. */
        {61000, 'S', NULL, NULL, NULL, ""},
        {62000, 'E', "s1", "open cleared", "device:s1/env1/temp_high", ""},
    };
    (void)state;
    RUN(steps);
}

/* An alarm still raised whose ticket is open: no second open, and the live
 * clear clears it. */
static void test_corr_restore_marks_a_ticketed_fault_opened(void **state)
{
    static const struct step steps[] = {
        {0, 'S', NULL, NULL, NULL, ""},
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'A', "s1", "env1", "temp_high", ""},
        {60000, 'E', "s1", "open", "device:s1/env1/temp_high", ""},
        {61000, 'T', NULL, NULL, NULL, ""},
        {70000, 'C', "s1", "env1", "temp_high",
         "alarm device:s1/env1/temp_high env1 temp_high cleared\n"
         "clear device:s1/env1/temp_high"},
    };
    (void)state;
    RUN(steps);
}

/* Forgetting says nothing: the site's tickets stay as they are. */
static void test_corr_forget_emits_nothing(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'L', "s1", NULL, NULL, NULL}, /* checked by the previous tests */
        {2000, 'F', "s1", NULL, NULL, ""},
        {3000, 'B', "s1", NULL, NULL, ""},
        {4000, 'T', NULL, NULL, NULL, ""},
        {5000, 'A', "s1", "env1", "smoke",
         "open device:s1/env1/smoke g1\nalarm device:s1/env1/smoke env1 smoke raised"},
    };
    (void)state;
    RUN(steps);
}

/* The agent left: a fault in its group wait does not open while the site
 * is frozen, and opens once it is thawed. */
static void test_corr_frozen_site_opens_nothing(void **state)
{
    static const struct step steps[] = {
        {0, 'I', "s1", NULL, NULL, ""},
        {1000, 'U', "s1", "cam1", NULL, ""},
        {2000, 'Z', "s1", NULL, NULL, ""},
        {60000, 'T', NULL, NULL, NULL, ""},
        {61000, 'z', "s1", NULL, NULL, ""},
        {62000, 'T', NULL, NULL, NULL,
         "open device:s1/cam1/unreachable g3\n"
         "alarm device:s1/cam1/unreachable cam1 unreachable raised"},
    };
    (void)state;
    RUN(steps);
}

static void test_corr_stats_count_faults_and_suppressions(void **state)
{
    struct rules_conf rules = {0};
    struct rec r = {.len = 0};
    struct corr_stats st;
    char err[512];
    corr_t *e;

    (void)state;
    if (rules_load_file(DEFAULT_RULES, &rules, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    e = corr_create(&rules, rec_cb, &r);
    corr_set_windows(e, &window7, 1, 0);
    corr_reach(e, "s1", "cam1", false, 10);
    corr_alarm(e, "s1", "env1", "smoke", NULL, true, 20, 0);
    corr_stats(e, &st);
    assert_int_equal(st.faults_active, 1);
    assert_int_equal(st.faults_opened, 1);
    assert_int_equal(st.alarms, 2);
    assert_int_equal(st.suppressed, 1);
    corr_destroy(e);
    corr_destroy(NULL);
    rules_free(&rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corr_smoke_opens_grade_1_at_once),
        cmocka_unit_test(test_corr_ups_on_battery_rises_on_low_battery_and_records_clear),
        cmocka_unit_test(test_corr_camera_unreachable_waits_group_wait),
        cmocka_unit_test(test_corr_children_attach_to_unreachable_parent),
        cmocka_unit_test(test_corr_whole_site_unreachable_is_one_site_fault),
        cmocka_unit_test(test_corr_agent_lost_is_one_site_fault_until_it_returns),
        cmocka_unit_test(test_corr_most_sites_unreachable_is_one_grade_1_fault),
        cmocka_unit_test(test_corr_flapping_temperature_is_one_ticket_marked_flapping),
        cmocka_unit_test(test_corr_opened_fault_becomes_flapping),
        cmocka_unit_test(test_corr_maintenance_window_records_without_ticket),
        cmocka_unit_test(test_corr_window_removed_resumes_suppressed_alarms),
        cmocka_unit_test(test_corr_three_grade_4_faults_make_a_grade_3_fault),
        cmocka_unit_test(test_corr_critical_device_down_30_minutes_rises_to_grade_1),
        cmocka_unit_test(test_corr_unknown_device_and_empty_site_are_handled),
        cmocka_unit_test(test_corr_stats_count_faults_and_suppressions),
        cmocka_unit_test(test_corr_comm_loss_and_unreachable_are_one_fault),
        cmocka_unit_test(test_corr_restore_keeps_the_group_wait_of_the_original_raise),
        cmocka_unit_test(test_corr_restore_clears_a_ticket_whose_alarm_cleared_meanwhile),
        cmocka_unit_test(test_corr_restore_marks_a_ticketed_fault_opened),
        cmocka_unit_test(test_corr_forget_emits_nothing),
        cmocka_unit_test(test_corr_frozen_site_opens_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
