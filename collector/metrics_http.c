/* metrics_http: see metrics_http.h. HTTP is libh2o's (Debian's libh2o is
 * built on libuv, so it runs on the collector's own loop); only GET /metrics
 * is served, everything else is 404. */
#include "metrics_http.h"

#include <errno.h>
#include <h2o.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"
#include "metrics.h"

struct metrics_server {
    uv_tcp_t listener;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static const size_t cap = 64 * 1024;
    char *body;
    int n;

    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    body = h2o_mem_alloc_pool(&req->pool, cap);
    n = metrics_render(body, cap);
    if (n < 0) {
        h2o_send_error_500(req, "Internal Server Error", "metrics too large", 0);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4"));
    h2o_send_inline(req, body, (size_t)n);
    return 0;
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *l, int status)
{
    metrics_server_t *s = l->data;
    uv_tcp_t *conn;

    if (status < 0)
        return;
    conn = fm_xmalloc(sizeof(*conn));
    uv_tcp_init(l->loop, conn);
    if (uv_accept(l, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_sock_closed);
        return;
    }
    h2o_accept(&s->accept, h2o_uv_socket_create((uv_stream_t *)conn, on_sock_closed));
}

metrics_server_t *metrics_server_start(uv_loop_t *loop, const char *address, unsigned port,
                                       unsigned *bound)
{
    metrics_server_t *s = fm_xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;

    h2o_config_init(&s->config);
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/metrics", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    h2o_context_init(&s->ctx, loop, &s->config);
    s->accept.ctx = &s->ctx;
    s->accept.hosts = s->config.hosts;

    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if (strchr(address, ':'))
        rc = uv_ip6_addr(address, (int)port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(address, (int)port, (struct sockaddr_in *)&ss);
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_accept);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        FM_ERR("metrics: listen on %s port %u: %s", address, port, uv_strerror(rc));
        metrics_server_stop(s);
        return NULL;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    FM_NOTICE("metrics: http://%s:%u/metrics", address, *bound);
    return s;
}

static void on_listener_closed(uv_handle_t *h)
{
    metrics_server_t *s = h->data;

    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    free(s);
}

void metrics_server_stop(metrics_server_t *s)
{
    if (s == NULL)
        return;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
