/* notify_http: HTTP POSTs on the libuv loop, through libcurl's multi
 * interface.
 *
 * libcurl tells us which sockets it wants watched (CURLMOPT_SOCKETFUNCTION)
 * and when it next needs a call (CURLMOPT_TIMERFUNCTION); we watch them with
 * one uv_poll per socket and one uv_timer, and on either event hand control
 * back with curl_multi_socket_action, as curl's docs/examples/multi-uv.c
 * does. No thread, no blocking: a dead receiver costs its own connect
 * timeout only. Loop thread only. */
#ifndef NOTIFY_HTTP_H
#define NOTIFY_HTTP_H

#include <stdint.h>
#include <uv.h>

typedef struct notify_http notify_http_t;

/* Called once per POST when it ends: status is the HTTP status (0 if none
 * was received) and error a libcurl message or "" (borrowed, valid during
 * the call). Never called from inside notify_http_post. */
typedef void (*notify_http_done_cb)(void *arg, long status, const char *error);

/* Returns new; free with notify_http_destroy. NULL if libcurl cannot start. */
notify_http_t *notify_http_create(uv_loop_t *loop);

/* Starts a JSON POST of body (copied) to url with the header
 * "Idempotency-Key: key", finishing within timeout_ms. Returns 0 or a
 * negative errno (then done is never called). */
int notify_http_post(notify_http_t *h, const char *url, const char *key, const char *body,
                     int64_t timeout_ms, notify_http_done_cb done, void *arg);

/* POSTs still running. */
unsigned notify_http_active(const notify_http_t *h);

/* Aborts running POSTs (their callbacks are not called), closes the handles,
 * and frees h once the loop has run their close callbacks. NULL is fine. */
void notify_http_destroy(notify_http_t *h);

#endif
