/* notify_http: see notify_http.h.
 *
 * Ownership: each socket libcurl uses gets a struct sock holding its
 * uv_poll, attached to the socket with curl_multi_assign; it is closed when
 * libcurl says CURL_POLL_REMOVE and freed in its close callback. Each POST
 * is a struct post on a list, freed when it completes or when the client is
 * destroyed. The client itself is freed after the last close callback
 * (timer and sockets) has run: `closing` counts them. */
#include "notify_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fm_alloc.h"
#include "fm_log.h"

struct post {
    struct post *next;
    notify_http_t *h;
    CURL *easy;
    struct curl_slist *headers;
    notify_http_done_cb done;
    void *arg;
    char error[CURL_ERROR_SIZE];
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    notify_http_t *h;
    struct sock *next; /* on notify_http.socks until closed */
};

struct notify_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct post *posts;
    struct sock *socks;
    unsigned active;
    unsigned closing; /* close callbacks still to run */
    bool destroying;
};

static void maybe_free(notify_http_t *h)
{
    if (h->destroying && h->closing == 0) {
        free(h);
        curl_global_cleanup();
    }
}

static void on_sock_closed(uv_handle_t *handle)
{
    struct sock *s = handle->data;
    notify_http_t *h = s->h;

    free(s);
    h->closing--;
    maybe_free(h);
}

static void on_timer_closed(uv_handle_t *handle)
{
    notify_http_t *h = handle->data;

    h->closing--;
    maybe_free(h);
}

static void unlink_post(notify_http_t *h, struct post *p)
{
    for (struct post **pp = &h->posts; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    curl_multi_remove_handle(h->multi, p->easy);
    curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    h->active--;
}

/* Hands every finished transfer to its callback. */
static void drain_done(notify_http_t *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct post *p = NULL;
        long status = 0;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        else if (p->error[0] == '\0')
            snprintf(p->error, sizeof(p->error), "%s", curl_easy_strerror(msg->data.result));
        unlink_post(h, p);
        p->done(p->arg, status, p->error);
        free(p);
    }
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    struct sock *s = poll->data;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->h->multi, s->fd, flags, &running);
    drain_done(s->h);
}

static void on_timeout(uv_timer_t *timer)
{
    notify_http_t *h = timer->data;
    int running;

    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done(h);
}

static void close_sock(notify_http_t *h, struct sock *s)
{
    for (struct sock **pp = &h->socks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    uv_poll_stop(&s->poll);
    h->closing++;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as possible",
 * which a zero uv_timer gives on the next loop iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    notify_http_t *h = userp;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching a socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    notify_http_t *h = userp;
    struct sock *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(h->multi, fd, NULL);
            close_sock(h, s);
        }
        return 0;
    }
    if (s == NULL) {
        s = fm_xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = h->socks;
        h->socks = s;
        curl_multi_assign(h->multi, fd, s);
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static size_t discard_body(char *ptr, size_t size, size_t n, void *userp)
{
    (void)ptr;
    (void)userp;
    return size * n;
}

notify_http_t *notify_http_create(uv_loop_t *loop)
{
    notify_http_t *h;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    h = fm_xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        free(h);
        curl_global_cleanup();
        return NULL;
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

int notify_http_post(notify_http_t *h, const char *url, const char *key, const char *body,
                     int64_t timeout_ms, notify_http_done_cb done, void *arg)
{
    struct post *p;
    char header[512];
    CURLMcode mc;

    if (h->destroying)
        return -ESHUTDOWN;
    if (strlen(key) > 400)
        return -EINVAL;
    p = fm_xcalloc(1, sizeof(*p));
    p->h = h;
    p->done = done;
    p->arg = arg;
    p->easy = curl_easy_init();
    if (p->easy == NULL) {
        free(p);
        return -ENOMEM;
    }
    snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    p->headers = curl_slist_append(p->headers, header);
    curl_easy_setopt(p->easy, CURLOPT_URL, url);
    curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(p->easy, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(p->easy, CURLOPT_ERRORBUFFER, p->error);
    curl_easy_setopt(p->easy, CURLOPT_PRIVATE, p);
    curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "fieldmon/" FM_VERSION);
    mc = curl_multi_add_handle(h->multi, p->easy);
    if (mc != CURLM_OK) {
        curl_easy_cleanup(p->easy);
        curl_slist_free_all(p->headers);
        free(p);
        return -EIO;
    }
    p->next = h->posts;
    h->posts = p;
    h->active++;
    return 0;
}

unsigned notify_http_active(const notify_http_t *h)
{
    return h->active;
}

void notify_http_destroy(notify_http_t *h)
{
    if (h == NULL)
        return;
    h->destroying = true;
    while (h->posts != NULL) {
        struct post *p = h->posts;

        unlink_post(h, p);
        free(p);
    }
    /* Cleanup may report sockets of cached connections as removed, which
     * closes their polls through on_curl_socket. */
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    while (h->socks != NULL)
        close_sock(h, h->socks);
    h->closing++;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}
