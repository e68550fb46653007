/* ctl_out: printing query results as an aligned table or as JSON (jansson).
 *
 * Columns are printed in the query's order. In JSON, integer, numeric and
 * boolean columns keep their types, jsonb columns are embedded as JSON, and
 * SQL NULL is null. */
#ifndef CTL_OUT_H
#define CTL_OUT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

/* The format every time is printed in: ISO 8601 in the session's time zone
 * (the contract's, ctl_time.h) with the offset, 2026-12-04T08:00:00+08:00.
 * Queries pass it as a parameter (to_char(col, $n)) and so keep their SQL
 * in plain string literals. */
#define CTL_TS_FORMAT "YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM"
/* The same with milliseconds. */
#define CTL_TS_FORMAT_MS "YYYY-MM-DD\"T\"HH24:MI:SS.MSTZH:TZM"

/* Row i of r as a new JSON object (free with json_decref). */
json_t *ctl_out_row(const PGresult *r, int i);

/* Every row of r as a new JSON array. */
json_t *ctl_out_rows(const PGresult *r);

/* Prints r to out as a table (header, one line per row; "(N rows)" last) or
 * as a JSON array. */
void ctl_out_print(const PGresult *r, bool json, FILE *out);

/* Prints r to out as CSV (RFC 4180): a header line of the column names,
 * then one line per row, CRLF line ends, SQL NULL as an empty field. */
void ctl_out_csv(const PGresult *r, FILE *out);

/* Prints a JSON value, indented, with a final newline; steals v. */
void ctl_out_json(json_t *v, FILE *out);

#endif
