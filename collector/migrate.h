/* migrate: applies the numbered SQL files of schema/ to PostgreSQL.
 *
 * Files are named NNN_description.sql; NNN is the version. Each file runs in
 * its own transaction together with its row in schema_migrations, so a
 * failed file leaves the database at the previous version. A session
 * advisory lock serialises collectors that migrate the same database at once.
 * The version a database is at: pg_schema_version (pg.h).
 * Blocking (libpq): call from a worker thread or before the loop starts. */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <libpq-fe.h>

/* Lock key for pg_advisory_lock, shared by every collector. */
#define MIGRATE_LOCK_KEY 0x666d6d67 /* "fmmg" */

/* Applies every file in dir whose version is not yet recorded, in order.
 * Sets *applied to the number applied (may be NULL). Returns 0, or a negative
 * errno with the reason (file, and PostgreSQL's message) in why. Borrows conn. */
int migrate_apply(PGconn *conn, const char *dir, int *applied, char *why, size_t whylen);

/* Highest version among the files in dir, or a negative errno. */
int migrate_latest_version(const char *dir);

#endif
