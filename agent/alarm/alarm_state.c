/* alarm_state: see alarm_state.h. */
#include "alarm_state.h"

#include "fm_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_NAME "fieldmon-agent alarm state"
#define FORMAT_VERSION 1

/* The arrays of the file, by enum alarm_state_kind, and their order in it. */
static const char *const kind_names[] = {"alarms", "comm_loss", "unreachable"};
static const int file_order[] = {ALARM_STATE_UNREACHABLE, ALARM_STATE_COMM, ALARM_STATE_RULE};

/* ------------------------------------------------------------ the set */

void alarm_state_init(struct alarm_state *st)
{
    memset(st, 0, sizeof(*st));
}

static void rec_free(struct alarm_state_rec *r)
{
    for (size_t i = 0; i < r->n_labels; i++) {
        free(r->labels[i].key);
        free(r->labels[i].value);
    }
    free(r->labels);
    free(r->label_ptrs);
    free(r->device);
    free(r->point);
    free(r->code);
}

void alarm_state_clear(struct alarm_state *st)
{
    for (size_t i = 0; i < st->n; i++)
        rec_free(&st->recs[i]);
    free(st->recs);
    alarm_state_init(st);
}

struct alarm_state_rec *alarm_state_add(struct alarm_state *st, int kind, const char *device,
                                        const char *point, Fm__Label *const *labels,
                                        size_t n_labels, const char *code)
{
    struct alarm_state_rec *r;

    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->recs = fm_xrealloc(st->recs, st->cap * sizeof(*st->recs));
    }
    r = &st->recs[st->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->device = fm_xstrdup(device);
    r->point = fm_xstrdup(point != NULL ? point : "");
    r->code = fm_xstrdup(code != NULL ? code : "");
    r->n_labels = n_labels;
    if (n_labels > 0) {
        r->labels = fm_xcalloc(n_labels, sizeof(*r->labels));
        r->label_ptrs = fm_xcalloc(n_labels, sizeof(*r->label_ptrs));
        for (size_t i = 0; i < n_labels; i++) {
            fm__label__init(&r->labels[i]);
            r->labels[i].key = fm_xstrdup(labels[i]->key);
            r->labels[i].value = fm_xstrdup(labels[i]->value);
            r->label_ptrs[i] = &r->labels[i];
        }
    }
    return r;
}

/* ------------------------------------------------------------ format */

static json_t *labels_json(const struct alarm_state_rec *r)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < r->n_labels; i++) {
        if (json_array_append_new(a, json_pack("[ss]", r->labels[i].key, r->labels[i].value)) !=
            0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The JSON object of one record, or NULL (invalid UTF-8, no memory). */
static json_t *rec_json(const struct alarm_state_rec *r)
{
    const ProtobufCEnumValue *lv;

    if (r->kind != ALARM_STATE_RULE)
        return json_pack("{s:s, s:I, s:I}", "device", r->device, "since_ms",
                         (json_int_t)r->since_ms, "fails", (json_int_t)r->fails);
    lv = protobuf_c_enum_descriptor_get_value(&fm__alarm_level__descriptor, r->level);
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:f, s:I}", "device", r->device, "point", r->point,
                     "labels", labels_json(r), "code", r->code, "level",
                     lv != NULL ? lv->name : "ALARM_LEVEL_UNSPECIFIED", "limit",
                     isfinite(r->limit) ? r->limit : 0.0, "since_ms", (json_int_t)r->since_ms);
}

/* The text is assembled by hand around records jansson writes, so that
 * each record is one line: an operator reads the file with less or jq, and
 * a diff of two files shows which alarm changed. */
char *alarm_state_format(const struct alarm_state *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bool ok = f != NULL;

    if (f == NULL)
        return NULL;
    fprintf(f, "{\"format\": \"%s\", \"version\": %d", FORMAT_NAME, FORMAT_VERSION);
    for (size_t k = 0; ok && k < sizeof(file_order) / sizeof(file_order[0]); k++) {
        const char *sep = "\n  ";

        fprintf(f, ",\n \"%s\": [", kind_names[file_order[k]]);
        for (size_t i = 0; ok && i < st->n; i++) {
            json_t *o;
            char *s;

            if (st->recs[i].kind != file_order[k])
                continue;
            o = rec_json(&st->recs[i]);
            s = o != NULL
                    ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17))
                    : NULL;
            json_decref(o);
            ok = s != NULL;
            if (ok)
                fprintf(f, "%s%s", sep, s);
            free(s);
            sep = ",\n  ";
        }
        fputs("]", f);
    }
    fputs("}\n", f);
    if (fclose(f) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

/* ------------------------------------------------------------ parse */

/* Where a fault is, and the caller's buffer to say it in. */
struct pctx {
    char where[48]; /* "alarms[3]" */
    char *why;
    size_t whylen;
};

static int fault(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fault(struct pctx *c, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->why, c->whylen, "%s%s", c->where, c->where[0] ? ": " : "");

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->whylen)
        vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* o is an object with exactly the keys of keys[] (NULL-terminated). */
static int check_keys(json_t *o, const char *const *keys, struct pctx *c)
{
    const char *k;
    json_t *v;
    size_t n = 0;

    if (!json_is_object(o))
        return fault(c, "not an object");
    json_object_foreach(o, k, v)
    {
        size_t i;

        for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
            ;
        if (keys[i] == NULL)
            return fault(c, "unknown key \"%.64s\"", k);
    }
    for (; keys[n] != NULL; n++) {
        if (json_object_get(o, keys[n]) == NULL)
            return fault(c, "%s: missing", keys[n]);
    }
    return 0;
}

/* A string of 1..max bytes (0..max when may_be_empty). Without
 * JSON_ALLOW_NUL, jansson refuses a \u0000 inside a string: strings are
 * C strings from here on. */
static int field_str(json_t *o, const char *key, size_t max, bool may_be_empty, const char **out,
                     struct pctx *c)
{
    json_t *v = json_object_get(o, key);
    size_t len;

    if (!json_is_string(v))
        return fault(c, "%s: not a string", key);
    *out = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 && !may_be_empty)
        return fault(c, "%s: is empty", key);
    if (len > max)
        return fault(c, "%s: is %zu bytes, more than %zu", key, len, max);
    return 0;
}

static int field_int(json_t *o, const char *key, json_int_t max, json_int_t *out, struct pctx *c)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        return fault(c, "%s: not an integer", key);
    *out = json_integer_value(v);
    if (*out < 0 || *out > max)
        return fault(c, "%s: %lld is out of range", key, (long long)*out);
    return 0;
}

static int parse_device(json_t *o, int kind, struct alarm_state *st, struct pctx *c)
{
    static const char *const keys[] = {"device", "since_ms", "fails", NULL};
    const char *dev = NULL;
    json_int_t since = 0, fails = 0;
    struct alarm_state_rec *r;

    if (check_keys(o, keys, c) != 0 || field_str(o, "device", FMW_MAX_ID, false, &dev, c) != 0 ||
        field_int(o, "since_ms", INT64_MAX, &since, c) != 0 ||
        field_int(o, "fails", UINT32_MAX, &fails, c) != 0)
        return -EINVAL;
    r = alarm_state_add(st, kind, dev, NULL, NULL, 0, NULL);
    r->since_ms = since;
    r->fails = (uint64_t)fails;
    return 0;
}

static int parse_labels(json_t *a, Fm__Label *labels, Fm__Label **ptrs, size_t *n, struct pctx *c)
{
    size_t i;
    json_t *l;

    if (!json_is_array(a) || json_array_size(a) > FMW_MAX_LABELS)
        return fault(c, "labels: not an array of at most %u pairs", FMW_MAX_LABELS);
    json_array_foreach(a, i, l)
    {
        json_t *k = json_array_get(l, 0), *v = json_array_get(l, 1);

        fm__label__init(&labels[i]);
        if (json_array_size(l) != 2 || !json_is_string(k) || !json_is_string(v))
            return fault(c, "labels[%zu]: not a pair of strings", i);
        labels[i].key = (char *)json_string_value(k);
        labels[i].value = (char *)json_string_value(v);
        if (labels[i].key[0] == '\0' || json_string_length(k) > FMW_MAX_NAME ||
            json_string_length(v) > FMW_MAX_TEXT)
            return fault(c, "labels[%zu]: an empty key, or a key or value too long", i);
        ptrs[i] = &labels[i];
    }
    *n = json_array_size(a);
    return 0;
}

static int parse_alarm(json_t *o, struct alarm_state *st, struct pctx *c)
{
    static const char *const keys[] = {"device", "point", "labels",   "code",
                                       "level",  "limit", "since_ms", NULL};
    const char *dev = NULL, *point = NULL, *code = NULL, *level = NULL;
    size_t n_labels = 0;
    json_int_t since = 0;
    Fm__Label lab[FMW_MAX_LABELS];
    Fm__Label *lp[FMW_MAX_LABELS];
    const ProtobufCEnumValue *lv;
    struct alarm_state_rec *r;
    json_t *limit;

    if (check_keys(o, keys, c) != 0 || field_str(o, "device", FMW_MAX_ID, false, &dev, c) != 0 ||
        field_str(o, "point", FMW_MAX_NAME, false, &point, c) != 0 ||
        field_str(o, "code", FMW_MAX_NAME, false, &code, c) != 0 ||
        field_str(o, "level", FMW_MAX_NAME, false, &level, c) != 0 ||
        field_int(o, "since_ms", INT64_MAX, &since, c) != 0 ||
        parse_labels(json_object_get(o, "labels"), lab, lp, &n_labels, c) != 0)
        return -EINVAL;
    lv = protobuf_c_enum_descriptor_get_value_by_name(&fm__alarm_level__descriptor, level);
    if (lv == NULL)
        return fault(c, "level: unknown level \"%.64s\"", level);
    limit = json_object_get(o, "limit");
    if (!json_is_number(limit) || !isfinite(json_number_value(limit)))
        return fault(c, "limit: not a number");
    r = alarm_state_add(st, ALARM_STATE_RULE, dev, point, lp, n_labels, code);
    r->level = lv->value;
    r->limit = json_number_value(limit);
    r->since_ms = since;
    return 0;
}

static int parse_root(json_t *root, struct alarm_state *st, struct pctx *c)
{
    static const char *const keys[] = {"format",    "version", "unreachable",
                                       "comm_loss", "alarms",  NULL};
    const char *format = NULL;
    json_int_t version = 0;

    if (check_keys(root, keys, c) != 0 ||
        field_str(root, "format", FMW_MAX_NAME, false, &format, c) != 0 ||
        field_int(root, "version", INT32_MAX, &version, c) != 0)
        return -EINVAL;
    if (strcmp(format, FORMAT_NAME) != 0 || version != FORMAT_VERSION)
        return fault(c, "format \"%.64s\" version %lld, not \"%s\" version %d", format,
                     (long long)version, FORMAT_NAME, FORMAT_VERSION);
    for (size_t j = 0; j < sizeof(file_order) / sizeof(file_order[0]); j++) {
        int k = file_order[j];
        json_t *arr = json_object_get(root, kind_names[k]);
        size_t i;
        json_t *o;

        if (!json_is_array(arr))
            return fault(c, "%s: not an array", kind_names[k]);
        json_array_foreach(arr, i, o)
        {
            int rc;

            snprintf(c->where, sizeof(c->where), "%s[%zu]", kind_names[k], i);
            rc = k == ALARM_STATE_RULE ? parse_alarm(o, st, c) : parse_device(o, k, st, c);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int alarm_state_parse(const void *buf, size_t len, struct alarm_state *st, char *why, size_t whylen)
{
    struct pctx c = {.why = why, .whylen = whylen};
    json_error_t err;
    json_t *root;
    int rc;

    if (len > ALARM_STATE_MAX_BYTES)
        return fault(&c, "%zu bytes, more than the %u a state file may hold", len,
                     ALARM_STATE_MAX_BYTES);
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return fault(&c, "line %d column %d: %s", err.line, err.column, err.text);
    rc = parse_root(root, st, &c);
    json_decref(root);
    if (rc != 0)
        alarm_state_clear(st);
    return rc;
}

/* ------------------------------------------------------------ files */

int alarm_state_load(const char *path, struct alarm_state *st, char *why, size_t whylen)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(why, whylen, "open: %s", strerror(-rc));
        return rc;
    }
    if (fstat(fd, &sb) != 0) {
        rc = -errno;
        snprintf(why, whylen, "fstat: %s", strerror(-rc));
        goto out_close;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)ALARM_STATE_MAX_BYTES) {
        snprintf(why, whylen, "not a regular file of at most %u bytes", ALARM_STATE_MAX_BYTES);
        rc = -EINVAL;
        goto out_close;
    }
    buf = fm_xmalloc((size_t)sb.st_size + 1);
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            snprintf(why, whylen, "read: %s", strerror(-rc));
            goto out_free;
        }
        if (n == 0)
            break; /* shrank meanwhile: parse what is there */
        got += (size_t)n;
    }
    rc = alarm_state_parse(buf, got, st, why, whylen);
out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the directory that holds path, so the rename is durable. */
static int sync_dir(const char *path)
{
    char copy[PATH_MAX];
    int fd, rc = 0;

    snprintf(copy, sizeof(copy), "%s", path);
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int alarm_state_save(const char *path, const struct alarm_state *st, const char **step)
{
    char tmp[PATH_MAX];
    char *text;
    size_t len;
    int fd, rc;

    *step = "format";
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    text = alarm_state_format(st);
    if (text == NULL)
        return -EINVAL;
    len = strlen(text);
    if (len > ALARM_STATE_MAX_BYTES) {
        free(text);
        return -EFBIG;
    }
    *step = "open";
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out_free;
    }
    *step = "write";
    rc = write_all(fd, text, len);
    if (rc == 0) {
        *step = "fdatasync";
        rc = fdatasync(fd) != 0 ? -errno : 0;
    }
    if (close(fd) != 0 && rc == 0) {
        *step = "close";
        rc = -errno;
    }
    if (rc != 0)
        goto out_unlink;
    *step = "rename";
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto out_unlink;
    }
    *step = "fsync of the directory";
    rc = sync_dir(path);
    goto out_free;
out_unlink:
    unlink(tmp);
out_free:
    free(text);
    return rc;
}
