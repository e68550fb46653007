/* web: what an endpoint of fieldmon-web sees.
 *
 * A request is routed on the loop (http.c), authenticated on a database
 * worker (auth), and then handed to its route's `run` function on that same
 * worker thread with the worker's connection. `run` fills the reply with
 * web_reply or web_error and returns; the core sends it from the loop.
 *
 * Transactions: unless the route says WEB_R_OWN_TXN, the core has already
 * begun a transaction when `run` is called (READ ONLY for GET; for a
 * customer account also `SET LOCAL ROLE fieldmon_customer` and
 * `fieldmon.customer`, so row-level security applies), and commits it after
 * a reply below 400 or rolls it back otherwise. WEB_R_OWN_TXN routes (the
 * ticket steps, which go through tickets_ops and begin their own) get the
 * connection outside any transaction. Customer accounts never reach a
 * mutation (403 before run).
 *
 * Everything in a web_job is owned by the core and valid for the call of
 * `run` only; strings are borrowed. */
#ifndef WEB_H
#define WEB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

enum web_role {
    WEB_VIEWER = 0,
    WEB_OPERATOR,
    WEB_TECHNICIAN,
    WEB_MANAGER,
    WEB_ADMIN,
};

/* The authenticated user of a request. */
struct web_user {
    long long user_id;
    char login[64];
    char display_name[128];
    enum web_role role;
    char customer[64]; /* "" for staff; set: a customer account, read only */
    char actor[160];   /* for the audit trail: "web:LOGIN" or "web:LOGIN/TOKEN-NAME" */
    bool via_token;    /* authenticated by an API token (no CSRF) */
};

/* Route flags. */
#define WEB_R_PUBLIC 0x01u   /* no authentication (login) */
#define WEB_R_MUTATION 0x02u /* POST/PUT/DELETE: JSON body, CSRF for cookies, staff only */
#define WEB_R_OWN_TXN 0x04u  /* run begins and ends its own transactions */
#define WEB_R_STREAM 0x08u   /* handled on the loop by the live feed (GET /events) */

#define WEB_MAX_PARAMS 4

struct web_job {
    /* The request, read-only. */
    const char *method;                 /* "GET", "POST", "DELETE" */
    const char *path;                   /* without the query string */
    const char *query;                  /* raw query string without '?', "" when none */
    json_t *body;                       /* parsed JSON object of a mutation, NULL otherwise */
    const char *params[WEB_MAX_PARAMS]; /* path captures ("{}" in the pattern), percent-decoded */
    const struct web_user *user;        /* NULL only on WEB_R_PUBLIC routes */
    const char *address;                /* client address, for the login limit and logs */
    const struct webconf *conf;
    PGconn *conn; /* the worker's connection */

    /* The reply, filled by web_reply / web_error. */
    int status;
    json_t *reply;
    char *set_cookie;   /* optional Set-Cookie value (owned; login and logout) */
    long retry_after_s; /* > 0: a Retry-After header (429) */
};

typedef void (*web_run_fn)(struct web_job *j);

struct web_route {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/api/v1/tickets/{}/{}": each {} captures one segment */
    web_run_fn run;
    enum web_role min_role;
    unsigned flags;
};

/* Sets the reply (steals body; NULL is an empty object). */
void web_reply(struct web_job *j, int status, json_t *body);

/* Sets an error reply {"error": {"code": code, "message": ...}}. */
void web_error(struct web_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Replies for a PostgreSQL failure of r (NULL: the connection's message):
 * 503 unavailable when the connection is gone, 500 internal otherwise. The
 * message is logged once here with `what`; the client gets a short text. */
void web_error_pg(struct web_job *j, const PGresult *r, const char *what);

/* Whether j's user may act as role (admin may do all; manager all but admin;
 * operator and technician only their own; customer accounts only viewer). */
bool web_user_can(const struct web_user *u, enum web_role role);

/* The route tables of the API files, each terminated by {NULL}. */
extern const struct web_route api_auth_routes[];
extern const struct web_route api_admin_routes[];
extern const struct web_route api_sites_routes[];
extern const struct web_route api_tickets_routes[];
extern const struct web_route api_windows_routes[];
extern const struct web_route api_sla_routes[];

#endif
