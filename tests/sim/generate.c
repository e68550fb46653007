/* generate: big fleets from the bundled templates (see generate.h).
 *
 * SNMP devices take the served templates in turn (UPS on mains, camera,
 * environmental sensor), Modbus devices the register maps in turn, all over
 * Modbus TCP. Every device gets a short name from its kind and number and a
 * site per `per_site` devices; a few points move, so a poller sees live data. */
#include "generate.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct gen_tmpl {
    const char *name;
    const char *file;
    const char *prefix;
    bool served;        /* given to devices (the others are for `data`) */
    const char *extra;  /* template keys */
    const char *points; /* device points, YAML, indented for the device */
};

static const struct gen_tmpl snmp_tmpls[] = {
    {"ups-normal", "snmp/ups-normal.snmprec", "ups", true, NULL,
     "    points:\n"
     "      - {point: 1.3.6.1.2.1.33.1.4.4.1.5.1, behaviour: walk, min: 30, max: 45}\n"
     "      - {point: 1.3.6.1.2.1.33.1.2.7.0, behaviour: sine, amplitude: 2}\n"},
    {"ups-onbattery", "snmp/ups-onbattery.snmprec", "ups", false,
     "    trap: 1.3.6.1.2.1.33.2.1\n"
     "    trap_objects: [1.3.6.1.2.1.33.1.2.3.0, 1.3.6.1.2.1.33.1.2.2.0, "
     "1.3.6.1.2.1.33.1.9.7.0]\n",
     NULL},
    {"camera-hik", "snmp/camera-hik.snmprec", "cam", true, NULL,
     "    points:\n"
     "      - {point: 1.3.6.1.4.1.39165.1.7.0, behaviour: walk, min: 5, max: 60}\n"},
    {"env-sensor", "snmp/env-sensor.snmprec", "env", true, NULL,
     "    points:\n"
     "      - {point: 1.3.6.1.2.1.99.1.1.1.4.2, behaviour: sine, amplitude: 15}\n"
     "      - {point: 1.3.6.1.2.1.99.1.1.1.4.3, behaviour: walk, min: 400, max: 550}\n"},
};

static const struct gen_tmpl mb_tmpls[] = {
    {"ahu-ddc", "modbus/ahu-ddc.json", "ddc", true, NULL,
     "    points:\n"
     "      - {point: supply_air_temp, behaviour: walk, min: 15, max: 18}\n"
     "      - {point: fan_run_hours, behaviour: drift, rate: 24}\n"},
    {"power-meter-sdm120", "modbus/power-meter-sdm120.json", "pm", true, NULL,
     "    points:\n"
     "      - {point: voltage, behaviour: walk, min: 225, max: 235}\n"
     "      - {point: import_active_energy, behaviour: drift, rate: 92.9}\n"},
    {"th-transmitter-xymd02", "modbus/th-transmitter-xymd02.json", "th", true, NULL,
     "    points:\n"
     "      - {point: temperature, behaviour: sine, amplitude: 1.5}\n"},
    {"leak-detector-aqualeak", "modbus/leak-detector-aqualeak.json", "leak", true, NULL, NULL},
};

#define N_SNMP (sizeof(snmp_tmpls) / sizeof(snmp_tmpls[0]))
#define N_MB (sizeof(mb_tmpls) / sizeof(mb_tmpls[0]))

/* True if name is in the comma-separated list (NULL: all served ones). */
static bool chosen(const struct gen_tmpl *t, const char *list)
{
    size_t n = strlen(t->name);

    if (list == NULL)
        return t->served;
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (len == n && strncmp(p, t->name, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static int check_list(const struct gen_tmpl *all, size_t n, const char *list, char *err,
                      size_t errlen)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool found = false;

        for (size_t i = 0; i < n; i++)
            found |= strlen(all[i].name) == len && strncmp(p, all[i].name, len) == 0;
        if (!found) {
            snprintf(err, errlen, "unknown template '%.*s'", (int)len, p);
            return -EINVAL;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static void devices(FILE *out, const struct gen_tmpl *all, size_t n, const char *list,
                    unsigned count, const char *protocol, unsigned *seq, unsigned per_site)
{
    const struct gen_tmpl *use[8];
    size_t n_use = 0;

    for (size_t i = 0; i < n; i++) {
        if (chosen(&all[i], list))
            use[n_use++] = &all[i];
    }
    for (unsigned i = 0; i < count && n_use > 0; i++, (*seq)++) {
        const struct gen_tmpl *t = use[i % n_use];

        fprintf(out, "  - name: %s-%05u\n    site: site-%03u\n    protocol: %s\n    template: %s\n",
                t->prefix, *seq + 1, *seq / per_site + 1, protocol, t->name);
        if (t->points != NULL)
            fputs(t->points, out);
    }
}

static void templates(FILE *out, const char *key, const struct gen_tmpl *all, size_t n,
                      const char *dir)
{
    fprintf(out, "%s:\n", key);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  - name: %s\n    file: %s/%s\n", all[i].name, dir, all[i].file);
        if (all[i].extra != NULL)
            fputs(all[i].extra, out);
    }
}

int generate_fleet(FILE *out, const struct generate_opts *o, char *err, size_t errlen)
{
    unsigned seq = 0, per_site = o->per_site ? o->per_site : 50;

    if (check_list(snmp_tmpls, N_SNMP, o->snmp_use, err, errlen) != 0 ||
        check_list(mb_tmpls, N_MB, o->modbus_use, err, errlen) != 0)
        return -EINVAL;
    fprintf(out, "# Generated by fieldmon-sim --generate %u %u\n", o->n_snmp, o->n_modbus);
    templates(out, "snmp_templates", snmp_tmpls, N_SNMP, o->data_dir);
    templates(out, "modbus_templates", mb_tmpls, N_MB, o->data_dir);
    fprintf(out, "devices:\n");
    devices(out, snmp_tmpls, N_SNMP, o->snmp_use, o->n_snmp, "snmp", &seq, per_site);
    devices(out, mb_tmpls, N_MB, o->modbus_use, o->n_modbus, "modbus-tcp", &seq, per_site);
    return 0;
}
