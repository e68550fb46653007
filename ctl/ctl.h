/* fieldmonctl: shared context of the subcommands.
 *
 * Each subcommand file (ctl_tickets.c, ctl_windows.c, ctl_alarms.c) gets the
 * parsed global options and its own argv (argv[0] = subcommand name), and
 * returns the exit status: 0 done, 1 the operation failed (the reason is
 * printed on stderr), 2 wrong usage. */
#ifndef CTL_H
#define CTL_H

#include <libpq-fe.h>
#include <stdbool.h>

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

struct ctl {
    const char *dsn;   /* libpq connection string; "" = libpq's environment defaults */
    const char *actor; /* who is acting, for the audit trail */
    bool json;
    const char *tz_arg; /* --tz: overrides the contract's time zone (NULL: none) */
    char tz[16];        /* the zone in force: "+08:00", "UTC" (ctl_time.h) */
    int tz_offset_s;    /* its offset, seconds east of UTC */
    PGconn *conn;       /* opened on first use by ctl_conn */
};

/* The connection, opened (and checked for the ticket tables) on first use;
 * NULL after printing why. */
PGconn *ctl_conn(struct ctl *c);

/* Prints "fieldmonctl: <fmt>" on stderr; returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "fieldmonctl <cmd>: <fmt>" and the hint to run --help; CTL_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs sql with text params on the connection and prints the rows as a
 * table or JSON (c->json). Returns CTL_OK or CTL_FAIL after printing why. */
int ctl_query_print(struct ctl *c, const char *sql, int n, const char *const *params);

/* PostgreSQL's failure of r (or of the connection) in one line in the
 * user's words (pg_classify): "the database is not reachable ...",
 * "the database refused ...: <constraint>". Static buffer. */
const char *ctl_pg_reason(PGconn *conn, const PGresult *r);

/* True if c has an actor; else prints the usage hint for cmd. */
bool ctl_need_actor(struct ctl *c, const char *cmd);

/* Parses a positive ticket or window id; false if it is not one. */
bool ctl_parse_id(const char *s, long long *id);

int ctl_cmd_tickets(struct ctl *c, int argc, char **argv);
int ctl_cmd_show(struct ctl *c, int argc, char **argv);
int ctl_cmd_step(struct ctl *c, int argc, char **argv);
int ctl_cmd_open(struct ctl *c, int argc, char **argv);
int ctl_cmd_alarms(struct ctl *c, int argc, char **argv);
int ctl_cmd_window(struct ctl *c, int argc, char **argv);
int ctl_cmd_rules(struct ctl *c, int argc, char **argv);
int ctl_cmd_deadlines(struct ctl *c, int argc, char **argv);
int ctl_cmd_sla(struct ctl *c, int argc, char **argv);
int ctl_cmd_escalations(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
int ctl_cmd_trend(struct ctl *c, int argc, char **argv);

#endif
