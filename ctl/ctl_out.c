/* ctl_out: tables and JSON from PGresult. */
#include "ctl_out.h"

#include <stdlib.h>
#include <string.h>

/* PostgreSQL type OIDs (pg_type.h is a server header; these numbers are
 * fixed by the catalog). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

static json_t *value_json(const PGresult *r, int i, int j)
{
    const char *v = PQgetvalue(r, i, j);

    if (PQgetisnull(r, i, j))
        return json_null();
    switch (PQftype(r, j)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case OID_JSONB: {
        json_t *j2 = json_loads(v, JSON_DECODE_ANY, NULL);

        return j2 ? j2 : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *ctl_out_row(const PGresult *r, int i)
{
    json_t *o = json_object();

    for (int j = 0; j < PQnfields(r); j++)
        json_object_set_new(o, PQfname(r, j), value_json(r, i, j));
    return o;
}

json_t *ctl_out_rows(const PGresult *r)
{
    json_t *a = json_array();

    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(a, ctl_out_row(r, i));
    return a;
}

void ctl_out_json(json_t *v, FILE *out)
{
    json_dumpf(v, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(v);
}

/* Display width of a UTF-8 string, counting code points (good enough for
 * the Latin and CJK text of titles in a terminal that is not exact anyway). */
static int width(const char *s)
{
    int w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void ctl_out_print(const PGresult *r, bool json, FILE *out)
{
    int nf = PQnfields(r), nt = PQntuples(r);
    int *w;

    if (json) {
        ctl_out_json(ctl_out_rows(r), out);
        return;
    }
    w = calloc((size_t)nf, sizeof(int));
    if (w == NULL)
        return;
    for (int j = 0; j < nf; j++) {
        w[j] = width(PQfname(r, j));
        for (int i = 0; i < nt; i++) {
            int vw = PQgetisnull(r, i, j) ? 1 : width(PQgetvalue(r, i, j));

            if (vw > w[j])
                w[j] = vw;
        }
        if (w[j] > 60)
            w[j] = 60;
    }
    for (int j = 0; j < nf; j++)
        fprintf(out, "%s%-*s", j ? "  " : "", j == nf - 1 ? 0 : w[j], PQfname(r, j));
    fputc('\n', out);
    for (int i = 0; i < nt; i++) {
        for (int j = 0; j < nf; j++) {
            const char *v = PQgetisnull(r, i, j) ? "-" : PQgetvalue(r, i, j);
            int pad = w[j] - width(v);

            fprintf(out, "%s%s", j ? "  " : "", v);
            if (j < nf - 1)
                for (; pad > 0; pad--)
                    fputc(' ', out);
        }
        fputc('\n', out);
    }
    fprintf(out, "(%d row%s)\n", nt, nt == 1 ? "" : "s");
    free(w);
}

/* One CSV field (RFC 4180): quoted if it holds a comma, a quote or a line
 * break, with quotes doubled. */
static void csv_field(const char *v, FILE *out)
{
    if (strpbrk(v, ",\"\r\n") == NULL) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', out);
        fputc(*v, out);
    }
    fputc('"', out);
}

void ctl_out_csv(const PGresult *r, FILE *out)
{
    int nf = PQnfields(r);

    for (int j = 0; j < nf; j++) {
        if (j)
            fputc(',', out);
        csv_field(PQfname(r, j), out);
    }
    fputs("\r\n", out);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int j = 0; j < nf; j++) {
            if (j)
                fputc(',', out);
            csv_field(PQgetisnull(r, i, j) ? "" : PQgetvalue(r, i, j), out);
        }
        fputs("\r\n", out);
    }
}
