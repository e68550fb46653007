/* ctl: the control socket server and client (see ctl.h). */
#include "ctl.h"

#include "fm_alloc.h"
#include "fm_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest command line; a longer one closes the connection. */
#define CTL_LINE_MAX 4096

struct ctl_client {
    uv_pipe_t pipe;
    struct sim *sim;
    struct ctl_client *next;
    size_t len;
    char buf[CTL_LINE_MAX];
};

struct sim_ctl {
    uv_pipe_t server;
    char *path;
    struct ctl_client *clients;
};

struct write_req {
    uv_write_t req;
    char *data;
};

const char *ctl_default_path(void)
{
    static char path[108];
    const char *env = getenv("FIELDMON_SIM_CONTROL");

    if (env != NULL && *env != '\0')
        return env;
    snprintf(path, sizeof(path), "/tmp/fieldmon-sim-%u.sock", (unsigned)getuid());
    return path;
}

static void closed_one(uv_handle_t *h)
{
    struct sim *s = h->data;

    s->closing--;
}

static void client_on_close(uv_handle_t *h)
{
    struct ctl_client *c = h->data;

    c->sim->closing--;
    free(c);
}

static void client_close(struct ctl_client *c)
{
    struct sim_ctl *ctl = c->sim->ctl;

    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    for (struct ctl_client **pp = &ctl->clients; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->sim->closing++;
    uv_close((uv_handle_t *)&c->pipe, client_on_close);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;

    free(w->data);
    free(w);
}

static void client_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ctl_client *c = h->data;

    buf->base = c->buf + c->len;
    buf->len = sizeof(c->buf) - c->len;
}

static void client_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl_client *c = st->data;
    char *nl;

    if (nread < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)nread;
    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        struct write_req *w = fm_xcalloc(1, sizeof(*w));
        size_t len = 0, cap = 0;
        uv_buf_t out;

        *nl = '\0';
        ctl_execute(c->sim, c->buf, &w->data, &len, &cap);
        out = uv_buf_init(w->data, (unsigned)len);
        if (uv_write(&w->req, st, &out, 1, on_written) != 0) {
            free(w->data);
            free(w);
        }
        c->len -= (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len);
    }
    if (c->len == sizeof(c->buf)) {
        FM_WARN("ctl: command longer than %d bytes; closing the connection", CTL_LINE_MAX);
        client_close(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct sim *s = server->data;
    struct ctl_client *c;

    if (status < 0)
        return;
    c = fm_xcalloc(1, sizeof(*c));
    c->sim = s;
    uv_pipe_init(s->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = s->ctl->clients;
    s->ctl->clients = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, client_on_alloc, client_on_read) != 0)
        client_close(c);
}

int ctl_start(struct sim *s, const char *path, char *err, size_t errlen)
{
    struct sim_ctl *ctl = fm_xcalloc(1, sizeof(*ctl));
    int rc;

    s->ctl = ctl;
    ctl->path = fm_xstrdup(path);
    uv_pipe_init(s->loop, &ctl->server, 0);
    ctl->server.data = s;
    unlink(path);
    rc = uv_pipe_bind(&ctl->server, path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
    if (rc != 0)
        snprintf(err, errlen, "control socket %s: %s", path, uv_strerror(rc));
    return rc;
}

void ctl_stop(struct sim *s)
{
    struct sim_ctl *ctl = s->ctl;

    if (ctl == NULL)
        return;
    while (ctl->clients != NULL)
        client_close(ctl->clients);
    s->closing++;
    uv_close((uv_handle_t *)&ctl->server, closed_one);
    unlink(ctl->path);
    free(ctl->path);
    ctl->path = NULL;
}

int ctl_client(const char *path, int argc, char **argv)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char line[CTL_LINE_MAX], buf[65536];
    size_t n = 0, used = 0;
    int fd, status = 2;
    FILE *f;

    for (int i = 0; i < argc; i++) {
        int k = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", argv[i]);

        if (k < 0 || (size_t)k >= sizeof(line) - n - 1) {
            fprintf(stderr, "fieldmon-sim ctl: command too long\n");
            return 2;
        }
        n += (size_t)k;
    }
    line[n++] = '\n';
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "fieldmon-sim ctl: socket path too long: %s\n", path);
        return 2;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr,
                "fieldmon-sim ctl: connect %s: %s (is fieldmon-sim running with "
                "--control %s?)\n",
                path, strerror(errno), path);
        if (fd >= 0)
            close(fd);
        return 2;
    }
    if (write(fd, line, n) != (ssize_t)n) {
        fprintf(stderr, "fieldmon-sim ctl: write: %s\n", strerror(errno));
        close(fd);
        return 2;
    }
    f = fdopen(fd, "r");
    while (f != NULL && fgets(buf + used, (int)(sizeof(buf) - used), f) != NULL) {
        if (strcmp(buf, "ok\n") == 0) {
            status = 0;
            break;
        }
        if (strncmp(buf, "error: ", 7) == 0) {
            fprintf(stderr, "fieldmon-sim ctl: %s", buf + 7);
            status = 1;
            break;
        }
        fputs(buf, stdout);
    }
    if (status == 2)
        fprintf(stderr, "fieldmon-sim ctl: connection closed before an answer\n");
    if (f != NULL)
        fclose(f);
    else
        close(fd);
    return status;
}
