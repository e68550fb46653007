/* server: see server.h. The listener, the once-a-second sweep over the
 * connections (timeouts, heartbeats), and shutdown. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fm_alloc.h"
#include "fm_log.h"
#include "metrics.h"

#define SERVER_SWEEP_MS 1000

static void on_connection(uv_stream_t *l, int status)
{
    struct server *s = l->data;

    if (status < 0) {
        FM_ERR("listen: accept: %s", uv_strerror(status));
        return;
    }
    conn__accept(s);
}

static void on_sweep(uv_timer_t *t)
{
    struct server *s = t->data;
    uint64_t now = uv_now(s->loop);
    struct conn *c, *next;

    for (c = s->conns; c; c = next) {
        next = c->next;
        conn__sweep(c, now);
    }
    /* Events/s for the metrics: an exponential average over ~10 sweeps. */
    uint64_t committed = atomic_load(&metrics.events_committed);
    s->rate = 0.9 * s->rate + 0.1 * (double)(committed - s->rate_last) * 1000.0 / SERVER_SWEEP_MS;
    s->rate_last = committed;
    atomic_store(&metrics.events_per_s, (int_fast64_t)s->rate);
}

server_t *server_create(uv_loop_t *loop, const struct collconf *cfg, fm_tls_ctx_t *tls,
                        const char *collector_id)
{
    struct server *s = fm_xcalloc(1, sizeof(*s));
    int rc;

    s->loop = loop;
    s->cfg = cfg;
    s->tls = tls;
    s->collector_id = collector_id;
    rc = dbw_create(loop, &cfg->database, collector_id, conn__job_done, s, &s->dbw);
    if (rc != 0) {
        FM_ERR("db: create writers: %s", uv_strerror(rc));
        goto out_free;
    }
    if (dbw_start(s->dbw) != 0)
        goto out_dbw;
    if (cfg->faults.enabled) {
        char why[1024];

        s->faults = faults_create(loop, cfg, collector_id, why, sizeof(why));
        if (s->faults == NULL) {
            FM_ERR("faults: %s", why);
            goto out_dbw;
        }
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->handles = 2;
    uv_timer_start(&s->sweep, on_sweep, SERVER_SWEEP_MS, SERVER_SWEEP_MS);
    return s;

out_dbw:
    /* Freed once the loop has run the close callback. */
    dbw_stop(s->dbw, 0);
    dbw_destroy(s->dbw);
out_free:
    free(s);
    return NULL;
}

int server_listen(server_t *s, unsigned *port)
{
    const struct collconf_listen *l = &s->cfg->listen;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc;

    if (strchr(l->address, ':'))
        rc = uv_ip6_addr(l->address, (int)l->port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(l->address, (int)l->port, (struct sockaddr_in *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        FM_ERR("listen: %s port %llu: %s", l->address, (unsigned long long)l->port,
               uv_strerror(rc));
        return rc;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    FM_NOTICE("listen: agents on %s port %u (%s)", l->address, *port,
              s->tls ? "tls, client certificates required" : "plain tcp, no authentication");
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct server *s = h->data;

    s->handles--;
}

void server_stop(server_t *s, int64_t grace_ms)
{
    struct conn *c, *next;

    if (s->stopping)
        return;
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, on_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
    /* Stop reading first, let the writer commit what it holds (acks for it
     * cannot be sent to closed connections; the agents resend and the
     * duplicate is skipped), then close. */
    for (c = s->conns; c; c = c->next)
        conn__update_reading(c);
    dbw_stop(s->dbw, grace_ms);
    for (c = s->conns; c; c = next) {
        next = c->next;
        conn__fail(c, FM__GOODBYE__REASON__REASON_SHUTDOWN, "collector shutting down");
    }
    /* After the writer: the last committed batches were graded. */
    faults_stop(s->faults, grace_ms);
}

void server_destroy(server_t *s)
{
    if (s == NULL)
        return;
    dbw_destroy(s->dbw);
    faults_destroy(s->faults);
    free(s);
}

struct faults *server_faults(server_t *s)
{
    return s->faults;
}
