/* tickets_ops_int: helpers shared by the files of tickets_ops (steps,
 * manual tickets, maintenance windows). Not for other modules. */
#ifndef TICKETS_OPS_INT_H
#define TICKETS_OPS_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* A failed statement inside a transaction: the reason in why, the
 * transaction rolled back; -EEXIST for a unique violation, else -EIO. Clears r. */
int tickets_pg_fail(PGconn *conn, PGresult *r, const char *what, char *why, size_t whylen);

/* Rolls back and returns rc with the sentence in why. */
int tickets_refuse(PGconn *conn, int rc, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* s is NULL or "". */
bool tickets_blank(const char *s);

/* Runs a statement that returns rows; NULL with why filled on failure
 * (outside a transaction: nothing to roll back). */
PGresult *tickets_query_rows(PGconn *conn, const char *what, const char *sql, int n,
                             const char *const *p, char *why, size_t whylen);

/* Unix time t as ISO 8601 in the session's time zone. */
void tickets_fmt_time(PGconn *conn, double t, char *buf, size_t len);

#endif
