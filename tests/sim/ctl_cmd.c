/* ctl_cmd: the control commands (see ctl.h). Each command parses its
 * arguments completely before it changes anything, so an error leaves the
 * fleet as it was. */
#include "ctl.h"

#include "fm_alloc.h"
#include "fm_log.h"
#include "mb_garble.h"
#include "mb_rtu.h"
#include "point.h"
#include "snmp_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_ARGS_MAX 64

struct reply {
    char **out;
    size_t *len;
    size_t *cap;
};

static void say(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct reply *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (*r->len + (size_t)n + 2 > *r->cap) {
        *r->cap = (*r->len + (size_t)n + 2) * 2;
        *r->out = fm_xrealloc(*r->out, *r->cap);
    }
    va_start(ap, fmt);
    vsnprintf(*r->out + *r->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *r->len += (size_t)n;
    (*r->out)[(*r->len)++] = '\n';
    (*r->out)[*r->len] = '\0';
}

static int fail(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reply *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    say(r, "error: %s", msg);
    return -EINVAL;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    *out = strtol(s, &end, 10);
    return (end == s || *end != '\0' || *out < min || *out > max) ? -EINVAL : 0;
}

static const char *state_of(const struct sim_dev *d, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
#define ADD(...) n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__)
    if (d->site_dead)
        ADD("site-dead,");
    if (d->dead)
        ADD(d->flap_dead ? "flapping-dead," : "dead,");
    if (d->delay_ms)
        ADD("slow=%ums,", d->delay_ms);
    if (d->mb_exception)
        ADD("exception=%d,", d->mb_exception);
    if (d->mb_garble)
        ADD("garble=%s,", mb_garble_names[d->mb_garble]);
    if (d->snmp_error)
        ADD("error=%d/%d,", d->snmp_error, d->snmp_error_index);
    if (d->toobig_bytes)
        ADD("toobig=%u,", d->toobig_bytes);
    if (d->drop_big_bytes)
        ADD("drop-big=%u,", d->drop_big_bytes);
    if (d->snmp_bulk)
        ADD("bulk=%s,", snmp_bulk_fault_names[d->snmp_bulk]);
    if (d->tmpl != d->tmpl0)
        ADD("data=%s,", d->tmpl->name);
    for (size_t i = 0; i < d->n_points; i++) {
        if (d->points[i]->overridden)
            ADD("%s=%s%s,", d->points[i]->name, d->points[i]->ovr_text,
                d->points[i]->flapping ? "(flapping)" : "");
    }
#undef ADD
    if (n == 0)
        return "ok";
    if (n < len)
        buf[n - 1] = '\0';
    return buf;
}

static void flap_on_timer(uv_timer_t *t)
{
    struct sim_dev *d = t->data;

    d->flap_on = !d->flap_on;
    point_apply(d);
}

static void flap_stop(struct sim_dev *d)
{
    if (d->flap_timer_init)
        uv_timer_stop(&d->flap_timer);
    d->flap_on = false;
    d->flap_dead = false;
}

static void dev_clear(struct sim_dev *d)
{
    flap_stop(d);
    d->dead = false;
    d->delay_ms = 0;
    d->mb_exception = 0;
    d->mb_garble = MB_GARBLE_NONE;
    d->snmp_error = d->snmp_error_index = 0;
    d->toobig_bytes = d->drop_big_bytes = 0;
    d->snmp_bulk = d->snmp_bulk0;
    for (size_t i = d->n_points; i > 0; i--) {
        if (d->points[i - 1]->overridden)
            point_clear(d->points[i - 1]);
    }
    if (d->proto == SIM_SNMP && d->tmpl != d->tmpl0) {
        d->tmpl = d->tmpl0;
        point_resolve_all(d);
    }
    point_apply(d);
}

static void notify(struct reply *r, struct sim_dev *d, const struct ber_oid *trap,
                   const struct ber_oid *objs, size_t n)
{
    int rc = snmp_server_notify(d, trap, objs, n);

    if (rc == -ENOTCONN)
        say(r, "note: no traps.receiver configured; notification not sent");
    else if (rc != 0)
        say(r, "note: notification not sent: %s", strerror(-rc));
    else
        say(r, "notification sent");
}

/* Parses POINT=VALUE arguments into points (created as needed). */
static int parse_assignments(struct reply *r, struct sim_dev *d, char **argv, int argc,
                             struct sim_point **pts, char **vals)
{
    char why[256];

    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (eq == NULL || eq == argv[i])
            return fail(r, "'%s': expected POINT=VALUE", argv[i]);
        *eq = '\0';
        pts[i] = point_get(d, argv[i], why, sizeof(why));
        if (pts[i] == NULL)
            return fail(r, "%s", why);
        vals[i] = eq + 1;
    }
    return 0;
}

static int cmd_set(struct reply *r, struct sim_dev *d, int argc, char **argv, bool flapping)
{
    struct sim_point *pts[CTL_ARGS_MAX];
    char *vals[CTL_ARGS_MAX];
    struct ber_oid trap = {0}, objs[CTL_ARGS_MAX];
    char why[256];
    int n = argc;

    if (n > 0 && strncmp(argv[n - 1], "trap=", 5) == 0) {
        if (d->proto != SIM_SNMP || ber_oid_parse(argv[n - 1] + 5, &trap) != 0)
            return fail(r, "'%s': trap= takes an OID (SNMP devices only)", argv[n - 1]);
        n--;
    }
    if (n == 0)
        return fail(r, "usage: set DEVICE POINT=VALUE... [trap=OID]");
    if (parse_assignments(r, d, argv, n, pts, vals) != 0)
        return -EINVAL;
    /* Check every value first: a failing one leaves all points untouched. */
    for (int i = 0; i < n; i++) {
        struct sim_point probe = *pts[i];

        probe.ovr_text = NULL;
        if (point_override(&probe, vals[i], flapping, why, sizeof(why)) != 0)
            return fail(r, "%s: %s", pts[i]->name, why);
        free(probe.ovr_text);
    }
    for (int i = 0; i < n; i++) {
        point_override(pts[i], vals[i], flapping, why, sizeof(why));
        objs[i] = pts[i]->oid;
    }
    point_apply(d);
    if (trap.len > 0)
        notify(r, d, &trap, objs, (size_t)n);
    return 0;
}

static int cmd_flap(struct reply *r, struct sim_dev *d, int argc, char **argv)
{
    long secs;

    if (argc < 2 || parse_long(argv[0], 1, 86400, &secs) != 0)
        return fail(r, "usage: flap DEVICE SECONDS dead|POINT=VALUE...");
    if (strcmp(argv[1], "dead") == 0) {
        if (argc != 2)
            return fail(r, "usage: flap DEVICE SECONDS dead");
        d->dead = true;
        d->flap_dead = true;
    } else if (cmd_set(r, d, argc - 1, argv + 1, true) != 0) {
        return -EINVAL;
    }
    if (!d->flap_timer_init) {
        uv_timer_init(d->sim->loop, &d->flap_timer);
        d->flap_timer.data = d;
        d->flap_timer_init = true;
    }
    d->flap_on = true;
    d->flap_ms = (uint32_t)secs * 1000;
    uv_timer_start(&d->flap_timer, flap_on_timer, d->flap_ms, d->flap_ms);
    point_apply(d);
    return 0;
}

static int cmd_data(struct reply *r, struct sim_dev *d, const char *name)
{
    const struct sim_snmp_template *t = sim_find_snmp_tmpl(d->sim, name);

    if (d->proto != SIM_SNMP)
        return fail(r, "%s: data applies to SNMP devices", d->name);
    if (t == NULL)
        return fail(r, "no snmp template '%s'", name);
    d->tmpl = t;
    point_resolve_all(d);
    point_apply(d);
    if (t->trap.len > 0)
        notify(r, d, &t->trap, t->trap_objects, t->n_trap_objects);
    return 0;
}

static int cmd_trap(struct reply *r, struct sim_dev *d, int argc, char **argv)
{
    struct ber_oid trap, objs[CTL_ARGS_MAX];

    if (d->proto != SIM_SNMP)
        return fail(r, "%s: traps come from SNMP devices", d->name);
    if (argc < 1 || ber_oid_parse(argv[0], &trap) != 0)
        return fail(r, "usage: trap DEVICE OID [OBJECT-OID...]");
    for (int i = 1; i < argc; i++) {
        if (ber_oid_parse(argv[i], &objs[i - 1]) != 0)
            return fail(r, "'%s' is not an OID", argv[i]);
    }
    notify(r, d, &trap, objs, (size_t)argc - 1);
    return 0;
}

static int cmd_garble(struct reply *r, struct sim_dev *d, int argc, char **argv)
{
    int m;

    if (d->proto == SIM_SNMP)
        return fail(r, "%s: garble applies to Modbus devices", d->name);
    if (argc != 1)
        return fail(r, "usage: garble DEVICE MODE (count short truncated length tid function "
                       "unit crc)");
    m = mb_garble_parse(argv[0], d->proto == SIM_MODBUS_RTU);
    if (m == -ENOTSUP)
        return fail(r,
                    "garble %s: not for %s devices (length and tid are Modbus TCP fields, "
                    "crc an RTU one)",
                    argv[0], sim_proto_names[d->proto]);
    if (m < 0)
        return fail(r,
                    "garble: unknown mode '%s' (count short truncated length tid function "
                    "unit crc)",
                    argv[0]);
    d->mb_garble = m;
    return 0;
}

static int cmd_bulk(struct reply *r, struct sim_dev *d, int argc, char **argv)
{
    if (d->proto != SIM_SNMP)
        return fail(r, "%s: bulk applies to SNMP devices", d->name);
    for (int i = 0; argc == 1 && snmp_bulk_fault_names[i] != NULL; i++) {
        if (strcmp(argv[0], snmp_bulk_fault_names[i]) == 0) {
            d->snmp_bulk = i;
            return 0;
        }
    }
    return fail(r, "usage: bulk DEVICE MODE (right truncate empty loop error)");
}

static void cmd_status(struct reply *r, const struct sim_dev *d)
{
    char state[1024], val[256];

    say(r, "device %s protocol %s site %s port %d data %s state %s", d->name,
        sim_proto_names[d->proto], d->site, d->bound_port,
        d->proto == SIM_SNMP ? d->tmpl->name : d->mtmpl->name, state_of(d, state, sizeof(state)));
    if (d->proto == SIM_SNMP)
        say(r, "requests get %llu getnext %llu getbulk %llu", (unsigned long long)d->snmp_gets,
            (unsigned long long)d->snmp_getnexts, (unsigned long long)d->snmp_getbulks);
    for (size_t i = 0; i < d->n_points; i++) {
        const struct sim_point *p = d->points[i];

        point_format(p, val, sizeof(val));
        say(r, "point %s %s %s", p->name, p->configured ? sim_behaviour_names[p->kind] : "-", val);
    }
}

static int cmd_site(struct reply *r, struct sim *s, const char *site, bool dead)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_devs; i++) {
        if (strcmp(s->devs[i]->site, site) == 0) {
            s->devs[i]->site_dead = dead;
            n++;
        }
    }
    if (n == 0)
        return fail(r, "no device in site '%s'", site);
    say(r, "%zu devices", n);
    return 0;
}

static int cmd_bus(struct reply *r, struct sim *s, int argc, char **argv)
{
    char stats[128];

    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "reset") != 0))
        return fail(r, "usage: bus BUS [reset]");
    for (size_t i = 0; i < s->n_buses; i++) {
        struct sim_rtu_bus *b = s->buses[i];

        if (strcmp(b->name, argv[1]) == 0) {
            mb_rtu_stats(b, argc == 3, stats, sizeof(stats));
            say(r, "bus %s %s %s", b->name, b->path, stats);
            return 0;
        }
    }
    return fail(r, "no rtu bus '%s'", argv[1]);
}

static void cmd_list(struct reply *r, const struct sim *s)
{
    char state[1024];

    for (size_t i = 0; i < s->n_devs; i++) {
        const struct sim_dev *d = s->devs[i];

        say(r, "%s %s %s %d %d %s %s", d->name, sim_proto_names[d->proto],
            d->proto == SIM_MODBUS_RTU ? d->bus->path : d->address, d->bound_port,
            d->proto == SIM_SNMP ? 0 : d->unit_id, d->site, state_of(d, state, sizeof(state)));
    }
}

static const char *const help_text[] = {
    "list                          devices: name protocol address port unit site state",
    "status DEVICE                 faults and points of one device",
    "get DEVICE POINT              the value a point serves now",
    "dead DEVICE                   the device stops answering",
    "slow DEVICE MS                answers are held back MS milliseconds",
    "exception DEVICE CODE         Modbus: every request gets exception CODE (1..255)",
    "garble DEVICE MODE            Modbus: malformed replies (count short truncated length tid "
    "function unit crc)",
    "error DEVICE STATUS [INDEX]   SNMP: every response carries error-status STATUS",
    "toobig DEVICE BYTES           SNMP: answers over BYTES are tooBig (GETBULK too); 0 = off",
    "drop-big DEVICE BYTES         SNMP: answers over BYTES are never sent; 0 = off",
    "bulk DEVICE MODE              SNMP: GETBULK answered right, truncate, empty, loop or error",
    "set DEVICE POINT=VALUE... [trap=OID]  force values; optionally send a notification",
    "flap DEVICE SECONDS dead|POINT=VALUE...  toggle the fault every SECONDS",
    "data DEVICE TEMPLATE          SNMP: serve another template (sends its trap)",
    "trap DEVICE OID [OID...]      send a notification with the current values of OIDs",
    "bus BUS [reset]               RTU bus counters: replies, gaps, smallest gap before a request",
    "site-dead SITE | site-alive SITE  silence / revive every device of a site",
    "clear DEVICE | clear-all      remove faults and overrides",
    NULL,
};

static int dispatch(struct reply *r, struct sim *s, int argc, char **argv)
{
    const char *cmd = argv[0];
    struct sim_dev *d = NULL;
    long v, idx = 1;

    if (strcmp(cmd, "help") == 0) {
        for (const char *const *h = help_text; *h != NULL; h++)
            say(r, "%s", *h);
        return 0;
    }
    if (strcmp(cmd, "list") == 0 || strcmp(cmd, "ports") == 0) {
        cmd_list(r, s);
        return 0;
    }
    if (strcmp(cmd, "clear-all") == 0) {
        for (size_t i = 0; i < s->n_devs; i++) {
            dev_clear(s->devs[i]);
            s->devs[i]->site_dead = false;
        }
        return 0;
    }
    if (strcmp(cmd, "bus") == 0)
        return cmd_bus(r, s, argc, argv);
    if (strcmp(cmd, "site-dead") == 0 || strcmp(cmd, "site-alive") == 0) {
        if (argc != 2)
            return fail(r, "usage: %s SITE", cmd);
        return cmd_site(r, s, argv[1], cmd[5] == 'd');
    }
    if (argc < 2)
        return fail(r, "unknown command or missing DEVICE: '%s' (try help)", cmd);
    d = sim_find_dev(s, argv[1]);
    if (d == NULL)
        return fail(r, "no device '%s'", argv[1]);
    argc -= 2;
    argv += 2;
    if (strcmp(cmd, "status") == 0) {
        cmd_status(r, d);
    } else if (strcmp(cmd, "get") == 0) {
        char why[256], val[256];
        struct sim_point *p = argc == 1 ? point_get(d, argv[0], why, sizeof(why)) : NULL;

        if (p == NULL)
            return fail(r, "%s", argc == 1 ? why : "usage: get DEVICE POINT");
        point_format(p, val, sizeof(val));
        say(r, "%s", val);
    } else if (strcmp(cmd, "dead") == 0) {
        flap_stop(d);
        d->dead = true;
    } else if (strcmp(cmd, "slow") == 0) {
        if (argc != 1 || parse_long(argv[0], 0, 600000, &v) != 0)
            return fail(r, "usage: slow DEVICE MS (0..600000)");
        d->delay_ms = (uint32_t)v;
    } else if (strcmp(cmd, "exception") == 0) {
        if (d->proto == SIM_SNMP)
            return fail(r, "%s: exception applies to Modbus devices", d->name);
        if (argc != 1 || parse_long(argv[0], 1, 255, &v) != 0)
            return fail(r, "usage: exception DEVICE CODE (1..255)");
        d->mb_exception = (int)v;
    } else if (strcmp(cmd, "garble") == 0) {
        return cmd_garble(r, d, argc, argv);
    } else if (strcmp(cmd, "error") == 0) {
        if (d->proto != SIM_SNMP)
            return fail(r, "%s: error applies to SNMP devices", d->name);
        if (argc < 1 || argc > 2 || parse_long(argv[0], 1, 18, &v) != 0 ||
            (argc == 2 && parse_long(argv[1], 0, SNMP_VB_IN_MAX, &idx) != 0))
            return fail(r, "usage: error DEVICE STATUS (1..18) [INDEX]");
        d->snmp_error = (int)v;
        d->snmp_error_index = (int)idx;
    } else if (strcmp(cmd, "toobig") == 0 || strcmp(cmd, "drop-big") == 0) {
        if (d->proto != SIM_SNMP)
            return fail(r, "%s: %s applies to SNMP devices", d->name, cmd);
        if (argc != 1 || parse_long(argv[0], 0, 65507, &v) != 0 || (v > 0 && v < 100))
            return fail(r, "usage: %s DEVICE BYTES (0 = off, or 100..65507)", cmd);
        if (cmd[0] == 't')
            d->toobig_bytes = (uint32_t)v;
        else
            d->drop_big_bytes = (uint32_t)v;
    } else if (strcmp(cmd, "bulk") == 0) {
        return cmd_bulk(r, d, argc, argv);
    } else if (strcmp(cmd, "set") == 0) {
        return cmd_set(r, d, argc, argv, false);
    } else if (strcmp(cmd, "flap") == 0) {
        return cmd_flap(r, d, argc, argv);
    } else if (strcmp(cmd, "data") == 0) {
        if (argc != 1)
            return fail(r, "usage: data DEVICE TEMPLATE");
        return cmd_data(r, d, argv[0]);
    } else if (strcmp(cmd, "trap") == 0) {
        return cmd_trap(r, d, argc, argv);
    } else if (strcmp(cmd, "clear") == 0) {
        dev_clear(d);
    } else {
        return fail(r, "unknown command '%s' (try help)", cmd);
    }
    return 0;
}

int ctl_execute(struct sim *s, const char *line, char **out, size_t *len, size_t *cap)
{
    struct reply r = {out, len, cap};
    char *copy = fm_xstrdup(line), *save = NULL, *tok;
    char *argv[CTL_ARGS_MAX + 1];
    int argc = 0, rc;

    for (tok = strtok_r(copy, " \t\r\n", &save); tok != NULL && argc < CTL_ARGS_MAX;
         tok = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = tok;
    if (tok != NULL)
        rc = fail(&r, "more than %d words", CTL_ARGS_MAX);
    else if (argc == 0)
        rc = fail(&r, "empty command (try help)");
    else
        rc = dispatch(&r, s, argc, argv);
    if (rc == 0) {
        say(&r, "ok");
        if (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "status") != 0 &&
            strcmp(argv[0], "get") != 0 && strcmp(argv[0], "help") != 0 &&
            strcmp(argv[0], "ports") != 0)
            FM_NOTICE("ctl: %s", line);
    }
    free(copy);
    return rc;
}
