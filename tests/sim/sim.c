/* sim: the fleet's lifetime, clock and shared helpers (see sim.h). */
#include "sim.h"

#include "fm_addr.h"
#include "fm_alloc.h"
#include "fm_log.h"
#include "mb_rtu.h"
#include "mb_tcp.h"
#include "point.h"
#include "snmp_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

double sim_elapsed_s(const struct sim *s)
{
    return (double)(uv_now(s->loop) - s->start_ms) / 1000.0 * s->time_scale;
}

double sim_wall_s(const struct sim *s)
{
    return s->start_epoch + sim_elapsed_s(s);
}

double sim_random(struct sim *s)
{
    /* xorshift64*: reproducible per seed, good enough for random walks. */
    return sim_rng_next(&s->rng);
}

int sim_sockaddr(const char *address, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[FM_ADDR_MAX];
    int kind = fm_addr_canonical(address, host, sizeof(host));
    int rc;

    memset(ss, 0, sizeof(*ss));
    if (kind == FM_ADDR_IPV6) {
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
        if (len != NULL)
            *len = sizeof(struct sockaddr_in6);
    } else {
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
        if (len != NULL)
            *len = sizeof(struct sockaddr_in);
    }
    return rc;
}

int sim_sockaddr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

bool sim_dev_silent(const struct sim_dev *d)
{
    return d->site_dead || (d->dead && (!d->flap_dead || d->flap_on));
}

uint32_t sim_dev_uptime(const struct sim_dev *d)
{
    return d->uptime0 + (uint32_t)(uint64_t)(sim_elapsed_s(d->sim) * 100.0);
}

struct sim_dev *sim_find_dev(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->n_devs; i++) {
        if (strcmp(s->devs[i]->name, name) == 0)
            return s->devs[i];
    }
    return NULL;
}

const struct sim_snmp_template *sim_find_snmp_tmpl(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->n_snmp_tmpls; i++) {
        if (strcmp(s->snmp_tmpls[i].name, name) == 0)
            return &s->snmp_tmpls[i];
    }
    return NULL;
}

const struct sim_mb_template *sim_find_mb_tmpl(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->n_mb_tmpls; i++) {
        if (strcmp(s->mb_tmpls[i].name, name) == 0)
            return &s->mb_tmpls[i];
    }
    return NULL;
}

static void on_tick(uv_timer_t *t)
{
    struct sim *s = t->data;
    double dt = (double)s->tick_ms / 1000.0 * s->time_scale;

    for (size_t i = 0; i < s->n_devs; i++)
        point_tick(s->devs[i], dt);
}

int sim_start(struct sim *s, char *err, size_t errlen)
{
    struct timeval tv;
    int rc = 0;

    gettimeofday(&tv, NULL);
    s->start_epoch = (double)tv.tv_sec + tv.tv_usec / 1e6;
    s->start_ms = uv_now(s->loop);
    for (size_t i = 0; i < s->n_buses && rc == 0; i++)
        rc = mb_rtu_open(s, s->buses[i], err, errlen);
    for (size_t i = 0; i < s->n_devs && rc == 0; i++) {
        struct sim_dev *d = s->devs[i];

        if (d->proto == SIM_SNMP)
            rc = snmp_server_start(d, err, errlen);
        else if (d->proto == SIM_MODBUS_TCP)
            rc = mb_tcp_start(d, err, errlen);
    }
    if (rc != 0)
        return rc;
    uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, (uint64_t)s->tick_ms, (uint64_t)s->tick_ms);
    return 0;
}

int sim_write_ports(const struct sim *s, const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path) + 8;
    char *tmp = fm_xmalloc(n);
    FILE *f;
    int rc = 0;

    snprintf(tmp, n, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        rc = -errno;
        snprintf(err, errlen, "ports file %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    for (size_t i = 0; i < s->n_devs; i++) {
        const struct sim_dev *d = s->devs[i];

        if (d->proto == SIM_MODBUS_RTU)
            fprintf(f, "%s %s %s - %d %s\n", d->name, sim_proto_names[d->proto], d->bus->path,
                    d->unit_id, d->site);
        else
            fprintf(f, "%s %s %s %d %d %s\n", d->name, sim_proto_names[d->proto], d->address,
                    d->bound_port, d->proto == SIM_SNMP ? 0 : d->unit_id, d->site);
    }
    for (size_t i = 0; i < s->n_buses; i++)
        fprintf(f, "bus %s %s\n", s->buses[i]->name, s->buses[i]->path);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, errlen, "ports file %s: %s", path, strerror(errno));
    }
    free(tmp);
    return rc;
}

static void tick_on_close(uv_handle_t *h)
{
    struct sim *s = h->data;

    s->closing--;
}

void sim_stop(struct sim *s)
{
    for (size_t i = 0; i < s->n_devs; i++) {
        struct sim_dev *d = s->devs[i];

        if (d->flap_timer_init && !uv_is_closing((uv_handle_t *)&d->flap_timer)) {
            s->closing++;
            uv_close((uv_handle_t *)&d->flap_timer, tick_on_close);
            d->flap_timer.data = s;
        }
        if (d->proto == SIM_SNMP && d->udp.loop != NULL)
            snmp_server_stop(d);
        else if (d->proto == SIM_MODBUS_TCP && d->listener.loop != NULL)
            mb_tcp_stop(d);
    }
    for (size_t i = 0; i < s->n_buses; i++)
        mb_rtu_close(s->buses[i]);
    if (s->tick.loop != NULL && !uv_is_closing((uv_handle_t *)&s->tick)) {
        s->closing++;
        uv_close((uv_handle_t *)&s->tick, tick_on_close);
    }
}

static void dev_free(struct sim_dev *d)
{
    for (size_t i = 0; i < d->n_points; i++)
        point_free(d->points[i]);
    free(d->points);
    free(d->ovl);
    if (d->mapping != NULL)
        modbus_mapping_free(d->mapping);
    free(d->name);
    free(d->site);
    free(d->address);
    free(d->community);
    free(d);
}

void sim_free(struct sim *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_devs; i++)
        dev_free(s->devs[i]);
    free(s->devs);
    for (size_t i = 0; i < s->n_buses; i++) {
        free(s->buses[i]->name);
        free(s->buses[i]->link);
        free(s->buses[i]->units);
        free(s->buses[i]);
    }
    free(s->buses);
    for (size_t i = 0; i < s->n_snmp_tmpls; i++) {
        snmprec_free(s->snmp_tmpls[i].mib);
        free(s->snmp_tmpls[i].name);
        free(s->snmp_tmpls[i].trap_objects);
    }
    free(s->snmp_tmpls);
    for (size_t i = 0; i < s->n_mb_tmpls; i++) {
        regmap_free(s->mb_tmpls[i].map);
        free(s->mb_tmpls[i].name);
    }
    free(s->mb_tmpls);
    free(s->traps.receiver);
    free(s->traps.community);
    free(s->fleet_path);
    free(s->ctl);
    mb_ctx_free();
}
