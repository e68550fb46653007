/* sender_life: creating, reconfiguring and stopping the sender. */
#include "sender_int.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sender__split_endpoint(const char *ep, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon = strrchr(ep, ':');
    size_t n = colon ? (size_t)(colon - ep) : strlen(ep);

    if (n > 0 && ep[0] == '[' && ep[n - 1] == ']') {
        ep++;
        n -= 2;
    }
    snprintf(host, hlen, "%.*s", (int)n, ep);
    snprintf(port, plen, "%s", colon ? colon + 1 : "");
}

/* An endpoint must be host:port with a port in 1..65535. */
static int check_endpoints(char *const *eps, size_t n)
{
    if (n == 0) {
        FM_ERR("sender: no collector endpoint configured");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char host[256], port[16], *end;
        sender__split_endpoint(eps[i], host, sizeof(host), port, sizeof(port));
        unsigned long p = strtoul(port, &end, 10);
        if (host[0] == '\0' || port[0] == '\0' || *end != '\0' || p == 0 || p > 65535) {
            FM_ERR("sender: collector endpoint '%s' is not host:port", eps[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* Checks the endpoints and makes the TLS context (NULL for plain TCP). */
static int prepare(const struct sender_cfg *cfg, char *const *endpoints, size_t n_endpoints,
                   fm_tls_ctx_t **out)
{
    char err[512];
    int rc = check_endpoints(endpoints, n_endpoints);

    *out = NULL;
    if (rc < 0)
        return rc;
    if (cfg->transport == SENDER_PLAIN) {
        FM_WARN("sender: transport is plain TCP (configured): events travel unencrypted and "
                "the collector is not authenticated");
        return 0;
    }
    rc = fm_tls_ctx_create(&cfg->tls, FM_TLS_CLIENT, out, err, sizeof(err));
    if (rc < 0)
        FM_ERR("sender: tls: %s", err);
    return rc;
}

static void on_flushed(void *ud)
{
    sender_kick(ud);
}

int sender_create(uv_loop_t *loop, const struct sender_cfg *cfg, char *const *endpoints,
                  size_t n_endpoints, const struct sender_identity *id, spool_t *sp, sender_t **out)
{
    sender_t *s;
    fm_tls_ctx_t *tls;
    int rc = prepare(cfg, endpoints, n_endpoints, &tls);

    if (rc < 0)
        return rc;
    s = fm_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->endpoints = endpoints;
    s->n_endpoints = n_endpoints;
    s->id = id;
    s->spool = sp;
    s->tls = tls;
    s->heartbeat_ms = cfg->heartbeat_ms;
    s->dead_ms = cfg->dead_after_ms;
    s->max_frame = FMW_MAX_FRAME_DEFAULT;
    s->dec = fmw_decoder_create(FMW_MAX_FRAME_DEFAULT);
    spool_iter_init(&s->it, 1);
    uv_timer_init(loop, &s->retry);
    uv_timer_init(loop, &s->tick);
    s->retry.data = s;
    s->tick.data = s;
    s->handles = 2;
    spool_set_flushed_cb(sp, on_flushed, s);
    *out = s;
    return 0;
}

int sender_reload(sender_t *s, const struct sender_cfg *cfg, char *const *endpoints,
                  size_t n_endpoints, const struct sender_identity *id)
{
    fm_tls_ctx_t *tls;
    int rc = prepare(cfg, endpoints, n_endpoints, &tls);

    if (rc < 0)
        return rc;
    /* A live session keeps the context it was made with (the stream borrows
     * it), so the old context goes only after the session is closed. */
    if (s->stream != NULL) {
        stream_close(s->stream, -ECONNRESET, "configuration reloaded");
    }
    s->old_tls = s->tls;
    s->tls = tls;
    s->cfg = cfg;
    s->endpoints = endpoints;
    s->n_endpoints = n_endpoints;
    s->ep_idx = 0;
    s->id = id;
    s->heartbeat_ms = cfg->heartbeat_ms;
    s->dead_ms = cfg->dead_after_ms;
    if (s->stream == NULL) {
        fm_tls_ctx_destroy(s->old_tls);
        s->old_tls = NULL;
    }
    return 0;
}

void sender_set_command_cb(sender_t *s, sender_command_cb cb, void *ud)
{
    s->command_cb = cb;
    s->command_ud = ud;
}

void sender__command(sender_t *s, const Fm__Command *cmd)
{
    Fm__Envelope env = FM__ENVELOPE__INIT;
    Fm__CommandResult r = FM__COMMAND_RESULT__INIT;
    uint8_t buf[FMW_MAX_TEXT + 256];
    char why[FMW_MAX_TEXT] = "this agent has no handler for the command";
    int rc = -ENOTSUP;
    int64_t n;

    if (s->command_cb != NULL) {
        why[0] = '\0';
        rc = s->command_cb(cmd, why, sizeof(why), s->command_ud);
    }
    r.id = cmd->id;
    r.ok = rc == 0;
    r.error = rc == 0 ? "" : why;
    env.body_case = FM__ENVELOPE__BODY_COMMAND_RESULT;
    env.command_result = &r;
    n = fmw_frame_pack(&env, buf, sizeof(buf), FMW_MAX_FRAME_DEFAULT);
    if (n > 0)
        stream_write(s->stream, buf, (size_t)n);
    if (rc == 0)
        FM_NOTICE("sender: %s: command %llu from %s done", s->endpoints[s->ep_idx],
                  (unsigned long long)cmd->id, cmd->actor ? cmd->actor : "?");
    else
        FM_WARN("sender: %s: command %llu from %s refused: %s", s->endpoints[s->ep_idx],
                (unsigned long long)cmd->id, cmd->actor ? cmd->actor : "?", why);
}

static void on_timer_closed(uv_handle_t *h)
{
    sender_t *s = h->data;

    s->handles--;
    sender__maybe_done(s);
}

void sender__maybe_done(sender_t *s)
{
    if (!s->stopping || s->stream != NULL || s->resolving)
        return;
    if (s->handles == 2 && !uv_is_closing((uv_handle_t *)&s->tick)) {
        uv_close((uv_handle_t *)&s->retry, on_timer_closed);
        uv_close((uv_handle_t *)&s->tick, on_timer_closed);
        return;
    }
    if (s->handles > 0)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    spool_set_flushed_cb(s->spool, NULL, NULL);
    spool_iter_close(&s->it);
    sender_batch_free(&s->batch);
    fmw_decoder_destroy(s->dec);
    fm_tls_ctx_destroy(s->tls);
    fm_tls_ctx_destroy(s->old_tls);
    free(s->held_buf);
    free(s->inflight);
    free(s);
    if (done != NULL)
        done(ud);
}

void sender_stop(sender_t *s, void (*done)(void *ud), void *ud)
{
    s->stopping = true;
    s->done = done;
    s->done_ud = ud;
    uv_timer_stop(&s->retry);
    uv_timer_stop(&s->tick);
    if (s->stream != NULL) {
        if (s->state == SENDER_STREAMING || s->state == SENDER_HELLO) {
            Fm__Envelope env = FM__ENVELOPE__INIT;
            Fm__Goodbye g = FM__GOODBYE__INIT;
            uint8_t buf[128];
            g.reason = FM__GOODBYE__REASON__REASON_SHUTDOWN;
            g.detail = "agent stopping";
            env.body_case = FM__ENVELOPE__BODY_GOODBYE;
            env.goodbye = &g;
            int64_t n = fmw_frame_pack(&env, buf, sizeof(buf), FMW_MAX_FRAME_DEFAULT);
            if (n > 0)
                stream_write(s->stream, buf, (size_t)n);
        }
        stream_close(s->stream, 0, "agent stopping");
        return;
    }
    if (s->resolving) {
        uv_cancel((uv_req_t *)&s->resolve);
        return;
    }
    sender__maybe_done(s);
}
