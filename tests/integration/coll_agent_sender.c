/* coll-agent-sender: the agent's own spool and sender (fmagent), as the
 * agent runs them, streaming into a real fieldmon-collector; used by
 * coll_agent_e2e.sh until the agent program lands.
 *
 *   coll-agent-sender --connect HOST:PORT --cert-dir DIR --agent ID --spool DIR
 *                     --events N [--timeout S]
 *
 * Appends N measurements to the spool (on top of what it holds), then runs
 * the sender until the collector has acknowledged the last one. Prints
 * "acked=SEQ epoch=E" and exits 0, or 1 on timeout. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fm_conf.h"
#include "fm_clock.h"
#include "fm_log.h"
#include "fmwire.h"
#include "sender.h"
#include "sender_conf.h"
#include "spool.h"
#include "spool_conf.h"

struct run {
    uv_loop_t *loop;
    sender_t *sender;
    uv_timer_t poll, deadline;
    uint64_t last_seq;
    int failed;
    int stopping;
};

static void on_stopped(void *ud)
{
    struct run *r = ud;

    uv_close((uv_handle_t *)&r->poll, NULL);
    uv_close((uv_handle_t *)&r->deadline, NULL);
}

static void finish(struct run *r, int failed)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    r->failed = failed;
    uv_timer_stop(&r->poll);
    uv_timer_stop(&r->deadline);
    sender_stop(r->sender, on_stopped, r);
}

static void on_poll(uv_timer_t *t)
{
    struct run *r = t->data;
    struct sender_stats st;

    sender_get_stats(r->sender, &st);
    if (st.acked_seq >= r->last_seq)
        finish(r, 0);
}

static void on_deadline(uv_timer_t *t)
{
    struct run *r = t->data;
    struct sender_stats st;

    sender_get_stats(r->sender, &st);
    fprintf(stderr, "coll-agent-sender: timeout: acked %" PRIu64 " of %" PRIu64 "\n", st.acked_seq,
            r->last_seq);
    finish(r, 1);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"connect", 1, NULL, 'c'}, {"cert-dir", 1, NULL, 'd'},
                                       {"agent", 1, NULL, 'a'},   {"spool", 1, NULL, 's'},
                                       {"events", 1, NULL, 'n'},  {"timeout", 1, NULL, 't'},
                                       {NULL, 0, NULL, 0}};
    const char *connect = NULL, *certs = NULL, *agent = NULL, *spooldir = NULL;
    unsigned long events = 1000;
    double timeout = 60;
    char yaml[2048], err[512];
    struct spool_cfg scfg = {0};
    struct sender_cfg cfg = {0};
    struct run r = {0};
    spool_t *sp;
    int c;

    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            connect = optarg;
            break;
        case 'd':
            certs = optarg;
            break;
        case 'a':
            agent = optarg;
            break;
        case 's':
            spooldir = optarg;
            break;
        case 'n':
            events = strtoul(optarg, NULL, 10);
            break;
        case 't':
            timeout = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!connect || !certs || !agent || !spooldir) {
        fprintf(stderr, "usage: coll-agent-sender --connect H:P --cert-dir D --agent ID "
                        "--spool DIR --events N [--timeout S]\n");
        return 2;
    }
    fm_log_init("coll-agent-sender", 2);
    signal(SIGPIPE, SIG_IGN); /* as the agent: a dropped peer is an EPIPE, not death */
    /* The spool's table has no directory key (the agent's root key
     * spool_dir fills it in), so it is set here the same way. */
    snprintf(yaml, sizeof(yaml), "fsync: never\n");
    if (fmc_load_string("spool", yaml, strlen(yaml), &spool_cfg_schema, &scfg, NULL, err,
                        sizeof(err)) != 0)
        goto out_conf;
    scfg.dir = (char *)spooldir;
    if (spool_open(&scfg, spool_auto_cap(1000), &sp) != 0) {
    out_conf:
        fprintf(stderr, "coll-agent-sender: spool: %s\n", err);
        return 1;
    }
    snprintf(yaml, sizeof(yaml),
             "transport: tls\ntls: {ca: %s/ca.crt, cert: %s/%s.crt, key: %s/%s.key}\n"
             "heartbeat: 1s\ndead_after: 5s\nbackoff_min: 100ms\nbackoff_max: 1s\n",
             certs, certs, agent, certs, agent);
    if (fmc_load_string("sender", yaml, strlen(yaml), &sender_cfg_schema, &cfg, NULL, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "coll-agent-sender: sender config: %s\n", err);
        return 1;
    }

    /* The events: measurements of two devices, spooled before sending. */
    for (unsigned long i = 0; i < events; i++) {
        Fm__Event ev = FM__EVENT__INIT;
        Fm__Measurement m = FM__MEASUREMENT__INIT;
        char point[16];

        snprintf(point, sizeof(point), "p%lu", i % 3);
        ev.ts_ms = fm_clock_wall_ms() - 60000 + (int64_t)(i % 1000);
        ev.device = i % 2 ? "ups-1" : "sensor-1";
        ev.kind_case = FM__EVENT__KIND_MEASUREMENT;
        ev.measurement = &m;
        m.point = point;
        m.value = (double)i;
        m.has_value = 1;
        m.quality = FM__QUALITY__QUALITY_GOOD;
        if (spool_append(sp, &ev, NULL, NULL) != 0)
            return 1;
        r.last_seq = ev.seq;
    }
    if (spool_flush(sp) != 0)
        return 1;

    char *endpoints[] = {(char *)connect};
    struct sender_identity id = {
        .agent_id = agent, .site_id = "e2e-site", .site_name = "end to end"};
    r.loop = uv_default_loop();
    if (sender_create(r.loop, &cfg, endpoints, 1, &id, sp, &r.sender) != 0)
        return 1;
    uv_timer_init(r.loop, &r.poll);
    uv_timer_init(r.loop, &r.deadline);
    r.poll.data = r.deadline.data = &r;
    uv_timer_start(&r.poll, on_poll, 50, 50);
    uv_timer_start(&r.deadline, on_deadline, (uint64_t)(timeout * 1000), 0);
    sender_start(r.sender);
    uv_run(r.loop, UV_RUN_DEFAULT);
    printf("acked=%" PRIu64 " last=%" PRIu64 "\n", r.failed ? 0 : r.last_seq, r.last_seq);
    spool_close(sp);
    fmc_free(&sender_cfg_schema, &cfg);
    scfg.dir = NULL; /* borrowed from argv */
    fmc_free(&spool_cfg_schema, &scfg);
    uv_loop_close(r.loop);
    return r.failed;
}
