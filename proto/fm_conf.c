/* fm_conf: see fm_conf.h.
 *
 * Loading is two passes over the caller's tables. First every field with a
 * default gets it, so the struct is complete even for keys the file leaves
 * out. Then the libyaml document is walked: each mapping key is looked up in
 * the table of its mapping, converted to the field's type, range-checked and
 * stored. The document is kept (fmc_doc_t) so that checks the tables cannot
 * express (a device naming a profile that does not exist) still report the
 * line of the offending key through fmc_doc_line / fmc_errorf. */
#include "fm_conf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "fm_conf_int.h"

#define FMC_MAX_FIELDS 64
#define FMC_DEFAULT_MAX_ITEMS 100000
#define FMC_PATH 256

/* Paths are built with snprintf into fixed buffers; a path cut short only
 * shortens an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* One load: where errors go and which document they refer to. */
struct lctx {
    fmc_doc_t *doc;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int lfail(struct lctx *c, const yaml_node_t *node,
                                                       const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->errlen == 0)
        return -EINVAL;
    n = snprintf(c->err, c->errlen, "%s:%lu: %s%s", c->doc->file,
                 node ? (unsigned long)node->start_mark.line + 1 : 1UL, path ? path : "",
                 path && path[0] ? ": " : "");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* ------------------------------------------------------------ unit parsers */

struct unit {
    const char *suffix;
    double mult;
};

/* Parses "<number><suffix>" with a suffix from the table; the product must be
 * a whole number no larger than max. */
static int parse_units(const char *text, const struct unit *units, size_t n, double max,
                       double *out)
{
    char *end;
    double v;

    if (!isdigit((unsigned char)text[0]) && text[0] != '.')
        return -EINVAL;
    errno = 0;
    v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            double r = v * units[i].mult;

            if (r > max || r != floor(r))
                return -EINVAL;
            *out = r;
            return 0;
        }
    }
    return -EINVAL;
}

int fmc_parse_duration(const char *text, int64_t *ms)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
    double r;

    if (parse_units(text, units, sizeof(units) / sizeof(units[0]), 9.2e18, &r) != 0)
        return -EINVAL;
    *ms = (int64_t)r;
    return 0;
}

int fmc_parse_size(const char *text, uint64_t *bytes)
{
    static const struct unit units[] = {
        {"", 1},     {"B", 1},    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6},     {"GB", 1e9}};
    double r;

    if (parse_units(text, units, sizeof(units) / sizeof(units[0]), 1.8e19, &r) != 0)
        return -EINVAL;
    *bytes = (uint64_t)r;
    return 0;
}

/* ------------------------------------------------------------ scalars */

static const char *type_name(enum fmc_type t)
{
    static const char *const names[] = {
        [FMC_STR] = "string",
        [FMC_INT] = "integer",
        [FMC_UINT] = "integer",
        [FMC_DOUBLE] = "number",
        [FMC_BOOL] = "boolean",
        [FMC_ENUM] = "enum",
        [FMC_DURATION] = "duration",
        [FMC_SIZE] = "size",
        [FMC_MAP] = "mapping",
        [FMC_SEQ] = "list",
        [FMC_STRLIST] = "list of strings",
        [FMC_STRMAP] = "mapping of strings",
    };
    return names[t];
}

static bool has_range(const struct fmc_field *f)
{
    return f->min != f->max;
}

static int range_fail(struct lctx *c, const yaml_node_t *n, const char *path,
                      const struct fmc_field *f, const char *text)
{
    if (f->type == FMC_DURATION || f->type == FMC_SIZE)
        return lfail(c, n, path, "%s is not in %.17g..%.17g %s", text, f->min, f->max,
                     f->type == FMC_DURATION ? "ms" : "bytes");
    return lfail(c, n, path, "%s is not in %.17g..%.17g", text, f->min, f->max);
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Stores scalar text into the field at base + f->offset. n may be NULL when
 * the text is a table default. */
static int set_scalar(struct lctx *c, const yaml_node_t *n, const char *path,
                      const struct fmc_field *f, void *base, const char *s)
{
    void *dst = (char *)base + f->offset;
    const char *shown = (f->flags & FMC_SECRET) ? "(secret)" : s;
    char *end;

    switch (f->type) {
    case FMC_STR:
        free(*(char **)dst);
        *(char **)dst = strdup(s);
        if (*(char **)dst == NULL)
            return -ENOMEM;
        break;
    case FMC_INT: {
        long long v;

        errno = 0;
        v = strtoll(s, &end, 0);
        if (s[0] == '\0' || *end != '\0' || errno != 0)
            return lfail(c, n, path, "\"%s\" is not an integer", shown);
        if (has_range(f) && ((double)v < f->min || (double)v > f->max))
            return range_fail(c, n, path, f, shown);
        *(int64_t *)dst = v;
        break;
    }
    case FMC_UINT: {
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 0);
        if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0)
            return lfail(c, n, path, "\"%s\" is not a non-negative integer", shown);
        if (has_range(f) && ((double)v < f->min || (double)v > f->max))
            return range_fail(c, n, path, f, shown);
        *(uint64_t *)dst = v;
        break;
    }
    case FMC_DOUBLE: {
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
            return lfail(c, n, path, "\"%s\" is not a number", shown);
        if (has_range(f) && (v < f->min || v > f->max))
            return range_fail(c, n, path, f, shown);
        *(double *)dst = v;
        break;
    }
    case FMC_BOOL:
        if (parse_bool(s, (bool *)dst) != 0)
            return lfail(c, n, path, "\"%s\" is not true or false", shown);
        break;
    case FMC_ENUM: {
        char allowed[256] = "";
        size_t used = 0;

        for (int i = 0; f->enum_names[i] != NULL; i++) {
            if (strcmp(s, f->enum_names[i]) == 0) {
                *(int *)dst = i;
                return 0;
            }
            int w = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                             f->enum_names[i]);
            if (w > 0 && used + (size_t)w < sizeof(allowed))
                used += (size_t)w;
        }
        return lfail(c, n, path, "\"%s\" is not one of: %s", shown, allowed);
    }
    case FMC_DURATION: {
        int64_t ms;

        if (fmc_parse_duration(s, &ms) != 0)
            return lfail(c, n, path, "\"%s\" is not a duration (e.g. 500ms, 10s, 5m, 1h, 1d)",
                         shown);
        if (has_range(f) && ((double)ms < f->min || (double)ms > f->max))
            return range_fail(c, n, path, f, shown);
        *(int64_t *)dst = ms;
        break;
    }
    case FMC_SIZE: {
        uint64_t b;

        if (fmc_parse_size(s, &b) != 0)
            return lfail(c, n, path, "\"%s\" is not a size (e.g. 4096, 64KiB, 16MiB, 1GiB)", shown);
        if (has_range(f) && ((double)b < f->min || (double)b > f->max))
            return range_fail(c, n, path, f, shown);
        *(uint64_t *)dst = b;
        break;
    }
    default:
        return lfail(c, n, path, "internal: %s is not a scalar type", type_name(f->type));
    }
    return 0;
}

/* ------------------------------------------------------------ defaults */

static void apply_defaults(const struct fmc_schema *s, void *obj)
{
    struct lctx quiet = {0};

    for (const struct fmc_field *f = s->fields; f->key != NULL; f++) {
        if (f->type == FMC_MAP)
            apply_defaults(f->sub, (char *)obj + f->offset);
        else if (f->def != NULL && f->type != FMC_SEQ && f->type != FMC_STRLIST &&
                 f->type != FMC_STRMAP) {
            /* A default that does not parse is a bug in the table. */
            if (set_scalar(&quiet, NULL, f->key, f, obj, f->def) != 0)
                abort();
        }
    }
}

void fmc_defaults(const struct fmc_schema *schema, void *out)
{
    apply_defaults(schema, out);
}

/* ------------------------------------------------------------ walking */

static int fill_map(struct lctx *c, const struct fmc_schema *s, void *obj, yaml_node_t *node,
                    const char *path);

static const char *scalar_text(yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_null(yaml_node_t *n)
{
    const char *s;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = scalar_text(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

static int fill_seq(struct lctx *c, const struct fmc_field *f, void *obj, yaml_node_t *n,
                    const char *path)
{
    size_t max = f->max_items ? f->max_items : FMC_DEFAULT_MAX_ITEMS;
    size_t count, esize;
    char *arr;
    char ipath[FMC_PATH];

    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return lfail(c, n, path, "must be a list");
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > max)
        return lfail(c, n, path, "%zu entries, at most %zu allowed", count, max);
    esize = f->type == FMC_SEQ ? f->sub->size : sizeof(char *);
    arr = calloc(count ? count : 1, esize);
    if (arr == NULL)
        return -ENOMEM;
    *(void **)((char *)obj + f->offset) = arr;
    *(size_t *)((char *)obj + f->count_offset) = count;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(&c->doc->yd, n->data.sequence.items.start[i]);
        int rc;

        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (f->type == FMC_SEQ) {
            apply_defaults(f->sub, arr + i * esize);
            rc = fill_map(c, f->sub, arr + i * esize, item, ipath);
        } else if (item->type != YAML_SCALAR_NODE) {
            rc = lfail(c, item, ipath, "must be a string");
        } else {
            ((char **)arr)[i] = strdup(scalar_text(item));
            rc = ((char **)arr)[i] ? 0 : -ENOMEM;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int fill_strmap(struct lctx *c, const struct fmc_field *f, void *obj, yaml_node_t *n,
                       const char *path)
{
    size_t max = f->max_items ? f->max_items : FMC_DEFAULT_MAX_ITEMS;
    size_t count;
    struct fmc_kv *kv;
    char kpath[FMC_PATH];

    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return lfail(c, n, path, "must be a mapping of names to values");
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > max)
        return lfail(c, n, path, "%zu entries, at most %zu allowed", count, max);
    kv = calloc(count ? count : 1, sizeof(*kv));
    if (kv == NULL)
        return -ENOMEM;
    *(struct fmc_kv **)((char *)obj + f->offset) = kv;
    *(size_t *)((char *)obj + f->count_offset) = count;
    for (size_t i = 0; i < count; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(&c->doc->yd, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc->yd, p->value);

        if (k->type != YAML_SCALAR_NODE)
            return lfail(c, k, path, "keys must be plain names");
        snprintf(kpath, sizeof(kpath), "%s.%s", path, scalar_text(k));
        if (v->type != YAML_SCALAR_NODE)
            return lfail(c, v, kpath, "must be a single value");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(kv[j].key, scalar_text(k)) == 0)
                return lfail(c, k, kpath, "key given twice");
        }
        kv[i].key = strdup(scalar_text(k));
        kv[i].value = strdup(scalar_text(v));
        if (kv[i].key == NULL || kv[i].value == NULL)
            return -ENOMEM;
    }
    return 0;
}

static int fill_field(struct lctx *c, const struct fmc_field *f, void *obj, yaml_node_t *v,
                      const char *path)
{
    int rc;

    switch (f->type) {
    case FMC_MAP:
        rc = fill_map(c, f->sub, (char *)obj + f->offset, v, path);
        break;
    case FMC_SEQ:
    case FMC_STRLIST:
        rc = fill_seq(c, f, obj, v, path);
        break;
    case FMC_STRMAP:
        rc = fill_strmap(c, f, obj, v, path);
        break;
    default:
        if (v->type != YAML_SCALAR_NODE)
            return lfail(c, v, path, "must be a single %s value", type_name(f->type));
        if (is_null(v) && f->type != FMC_STR)
            return lfail(c, v, path, "needs a value");
        rc = set_scalar(c, v, path, f, obj, scalar_text(v));
        break;
    }
    if (rc == 0 && f->check != NULL) {
        char why[256] = "invalid value";

        if (f->check((char *)obj + f->offset, why, sizeof(why)) != 0)
            return lfail(c, v, path, "%s", why);
    }
    return rc;
}

static int fill_map(struct lctx *c, const struct fmc_schema *s, void *obj, yaml_node_t *node,
                    const char *path)
{
    bool seen[FMC_MAX_FIELDS] = {false};
    char kpath[FMC_PATH];
    size_t nfields = 0;

    while (s->fields[nfields].key != NULL)
        nfields++;
    if (nfields > FMC_MAX_FIELDS)
        abort(); /* table bug: raise FMC_MAX_FIELDS */
    if (s->line_offset != FMC_NO_LINE)
        *(int *)((char *)obj + s->line_offset) = (int)node->start_mark.line + 1;
    if (is_null(node))
        goto check_required;
    if (node->type != YAML_MAPPING_NODE)
        return lfail(c, node, path, "must be a mapping of keys to values");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc->yd, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc->yd, p->value);
        size_t i;
        int rc;

        if (k->type != YAML_SCALAR_NODE)
            return lfail(c, k, path, "keys must be plain names");
        snprintf(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "", scalar_text(k));
        for (i = 0; i < nfields; i++) {
            if (strcmp(s->fields[i].key, scalar_text(k)) == 0)
                break;
        }
        if (i == nfields)
            return lfail(c, k, kpath, "unknown key");
        if (seen[i])
            return lfail(c, k, kpath, "key given twice");
        seen[i] = true;
        rc = fill_field(c, &s->fields[i], obj, v, kpath);
        if (rc)
            return rc;
    }
check_required:
    for (size_t i = 0; i < nfields; i++) {
        if ((s->fields[i].flags & FMC_REQUIRED) && !seen[i]) {
            snprintf(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "", s->fields[i].key);
            return lfail(c, node, kpath, "required key missing");
        }
    }
    return 0;
}

/* ------------------------------------------------------------ loading */

static int load_parser(yaml_parser_t *parser, const char *name, const struct fmc_schema *schema,
                       void *out, fmc_doc_t **docp, char *err, size_t errlen)
{
    fmc_doc_t *doc = calloc(1, sizeof(*doc));
    struct lctx c = {.doc = doc, .err = err, .errlen = errlen};
    yaml_node_t *root;
    int rc;

    if (docp)
        *docp = NULL;
    if (doc == NULL || (doc->file = strdup(name)) == NULL) {
        free(doc);
        return -ENOMEM;
    }
    memset(out, 0, schema->size);
    apply_defaults(schema, out);
    if (!yaml_parser_load(parser, &doc->yd)) {
        snprintf(err, errlen, "%s:%lu: YAML syntax error: %s%s%s (column %lu)", name,
                 (unsigned long)parser->problem_mark.line + 1,
                 parser->problem ? parser->problem : "unknown", parser->context ? ", " : "",
                 parser->context ? parser->context : "",
                 (unsigned long)parser->problem_mark.column + 1);
        free(doc->file);
        free(doc);
        fmc_free(schema, out);
        return -EINVAL;
    }
    root = yaml_document_get_root_node(&doc->yd);
    if (root == NULL) {
        /* An empty file is an empty mapping: only defaults. */
        yaml_node_t empty;

        memset(&empty, 0, sizeof(empty));
        empty.type = YAML_SCALAR_NODE;
        empty.data.scalar.value = (yaml_char_t *)"";
        empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
        rc = fill_map(&c, schema, out, &empty, "");
    } else {
        rc = fill_map(&c, schema, out, root, "");
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    if (rc != 0 || docp == NULL) {
        fmc_doc_free(doc);
        if (rc != 0)
            fmc_free(schema, out);
        return rc;
    }
    *docp = doc;
    return 0;
}

int fmc_load_file(const char *path, const struct fmc_schema *schema, void *out, fmc_doc_t **doc,
                  char *err, size_t errlen)
{
    yaml_parser_t parser;
    FILE *f = fopen(path, "rb");
    int rc;

    if (f == NULL) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    rc = load_parser(&parser, path, schema, out, doc, err, errlen);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int fmc_load_string(const char *name, const char *text, size_t len, const struct fmc_schema *schema,
                    void *out, fmc_doc_t **doc, char *err, size_t errlen)
{
    yaml_parser_t parser;
    int rc;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    rc = load_parser(&parser, name, schema, out, doc, err, errlen);
    yaml_parser_delete(&parser);
    return rc;
}

/* The second half of loading a root: the check across keys, with the
 * document still at hand for its file:line errors. */
static int root_check(const struct fmc_root *root, int rc, fmc_doc_t *doc, void *out, char *err,
                      size_t errlen)
{
    if (rc == 0 && root->check != NULL) {
        rc = root->check(doc, out, err, errlen);
        if (rc != 0)
            fmc_root_free(root, out);
    }
    fmc_doc_free(doc);
    return rc;
}

int fmc_root_load_file(const struct fmc_root *root, const char *path, void *out, char *err,
                       size_t errlen)
{
    fmc_doc_t *doc = NULL;
    int rc = fmc_load_file(path, root->schema, out, &doc, err, errlen);

    return root_check(root, rc, doc, out, err, errlen);
}

int fmc_root_load_string(const struct fmc_root *root, const char *name, const char *text,
                         size_t len, void *out, char *err, size_t errlen)
{
    fmc_doc_t *doc = NULL;
    int rc = fmc_load_string(name, text, len, root->schema, out, &doc, err, errlen);

    return root_check(root, rc, doc, out, err, errlen);
}

void fmc_root_free(const struct fmc_root *root, void *obj)
{
    if (obj == NULL)
        return;
    if (root->release != NULL)
        root->release(obj);
    fmc_free(root->schema, obj);
}

void fmc_doc_free(fmc_doc_t *doc)
{
    if (doc == NULL)
        return;
    yaml_document_delete(&doc->yd);
    free(doc->file);
    free(doc);
}
