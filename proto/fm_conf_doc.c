/* fm_conf_doc: the parts of fm_conf that work on a loaded configuration:
 * freeing it, finding the line of a key path for later errors, and printing
 * the reference tables that docs/ is generated from. */
#include "fm_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fm_conf_int.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* ------------------------------------------------------------ freeing */

void fmc_free(const struct fmc_schema *s, void *obj)
{
    if (obj == NULL)
        return;
    for (const struct fmc_field *f = s->fields; f->key != NULL; f++) {
        char *dst = (char *)obj + f->offset;

        switch (f->type) {
        case FMC_STR:
            free(*(char **)dst);
            *(char **)dst = NULL;
            break;
        case FMC_MAP:
            fmc_free(f->sub, dst);
            break;
        case FMC_SEQ: {
            char *arr = *(char **)dst;
            size_t *count = (size_t *)((char *)obj + f->count_offset);

            for (size_t i = 0; arr != NULL && i < *count; i++)
                fmc_free(f->sub, arr + i * f->sub->size);
            free(arr);
            *(char **)dst = NULL;
            *count = 0;
            break;
        }
        case FMC_STRLIST: {
            char **arr = *(char ***)dst;
            size_t *count = (size_t *)((char *)obj + f->count_offset);

            for (size_t i = 0; arr != NULL && i < *count; i++)
                free(arr[i]);
            free(arr);
            *(char ***)dst = NULL;
            *count = 0;
            break;
        }
        case FMC_STRMAP: {
            struct fmc_kv *kv = *(struct fmc_kv **)dst;
            size_t *count = (size_t *)((char *)obj + f->count_offset);

            for (size_t i = 0; kv != NULL && i < *count; i++) {
                free(kv[i].key);
                free(kv[i].value);
            }
            free(kv);
            *(struct fmc_kv **)dst = NULL;
            *count = 0;
            break;
        }
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------ lines */

/* Finds the value node of key in a mapping node, or NULL. */
static yaml_node_t *map_get(yaml_document_t *yd, yaml_node_t *map, const char *key, size_t klen)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(yd, p->key);

        if (k->type == YAML_SCALAR_NODE && strlen((char *)k->data.scalar.value) == klen &&
            memcmp(k->data.scalar.value, key, klen) == 0)
            return yaml_document_get_node(yd, p->value);
    }
    return NULL;
}

/* Walks "a.b[2].c" as far as it exists; *line receives the line of the
 * deepest node found: for a mapping key the key's own line (where a user
 * looks), the value node for list items. Returns whether the whole path
 * exists. */
static bool walk(const fmc_doc_t *doc, const char *path, unsigned long *line)
{
    yaml_document_t *yd = (yaml_document_t *)&doc->yd;
    yaml_node_t *cur = yaml_document_get_root_node(yd);
    const char *p = path;

    *line = 1;
    if (cur == NULL)
        return false;
    *line = cur->start_mark.line + 1;
    while (*p != '\0') {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            char *end;
            unsigned long idx = strtoul(p + 1, &end, 10);

            if (*end != ']' || cur->type != YAML_SEQUENCE_NODE ||
                idx >=
                    (unsigned long)(cur->data.sequence.items.top - cur->data.sequence.items.start))
                return false;
            cur = yaml_document_get_node(yd, cur->data.sequence.items.start[idx]);
            *line = cur->start_mark.line + 1;
            p = end + 1;
            continue;
        }
        size_t klen = strcspn(p, ".[");
        yaml_node_t *v = map_get(yd, cur, p, klen);

        if (v == NULL)
            return false;
        /* The key node's line: find it again to report where the key is. */
        for (yaml_node_pair_t *pr = cur->data.mapping.pairs.start; pr < cur->data.mapping.pairs.top;
             pr++) {
            if (yaml_document_get_node(yd, pr->value) == v) {
                *line = yaml_document_get_node(yd, pr->key)->start_mark.line + 1;
                break;
            }
        }
        cur = v;
        p += klen;
    }
    return true;
}

int fmc_doc_line(const fmc_doc_t *doc, const char *path)
{
    unsigned long line;

    if (doc == NULL)
        return 0;
    walk(doc, path, &line);
    return (int)line;
}

bool fmc_doc_has(const fmc_doc_t *doc, const char *path)
{
    unsigned long line;

    return doc != NULL && walk(doc, path, &line);
}

int fmc_errorf(const fmc_doc_t *doc, char *err, size_t errlen, const char *path, const char *fmt,
               ...)
{
    va_list ap;
    int n;

    if (errlen == 0)
        return -EINVAL;
    n = snprintf(err, errlen, "%s:%d: %s: ", doc ? doc->file : "config", fmc_doc_line(doc, path),
                 path);
    if (n >= 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* ------------------------------------------------------------ reference */

static const char *ref_type(const struct fmc_field *f)
{
    switch (f->type) {
    case FMC_STR:
        return "string";
    case FMC_INT:
    case FMC_UINT:
        return "integer";
    case FMC_DOUBLE:
        return "number";
    case FMC_BOOL:
        return "boolean";
    case FMC_ENUM:
        return "enum";
    case FMC_DURATION:
        return "duration";
    case FMC_SIZE:
        return "size";
    case FMC_MAP:
        return "mapping";
    case FMC_SEQ:
        return "list";
    case FMC_STRLIST:
        return "list of strings";
    case FMC_STRMAP:
        return "mapping of strings";
    }
    return "?";
}

static void ref_range(const struct fmc_field *f, char *buf, size_t len)
{
    buf[0] = '\0';
    if (f->type == FMC_ENUM) {
        size_t used = 0;

        for (int i = 0; f->enum_names[i] != NULL; i++) {
            int w = snprintf(buf + used, len - used, "%s`%s`", i ? ", " : "", f->enum_names[i]);
            if (w < 0 || used + (size_t)w >= len)
                break;
            used += (size_t)w;
        }
    } else if (f->min != f->max) {
        const char *unit = f->type == FMC_DURATION ? " ms" : f->type == FMC_SIZE ? " bytes" : "";

        snprintf(buf, len, "%.15g..%.15g%s", f->min, f->max, unit);
    } else if (f->max_items &&
               (f->type == FMC_SEQ || f->type == FMC_STRLIST || f->type == FMC_STRMAP)) {
        snprintf(buf, len, "at most %zu", f->max_items);
    }
}

static void print_schema(const struct fmc_schema *s, FILE *out, const char *prefix)
{
    char range[512], sub[256];

    fprintf(out, "\n### `%s`\n\n", prefix[0] ? prefix : "(top level)");
    fprintf(out, "| key | type | default | range | description |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (const struct fmc_field *f = s->fields; f->key != NULL; f++) {
        const char *def = f->def;

        ref_range(f, range, sizeof(range));
        fprintf(out, "| `%s%s%s` | %s | %s%s%s | %s | %s |\n", prefix, prefix[0] ? "." : "", f->key,
                ref_type(f),
                (f->flags & FMC_REQUIRED) ? "required"
                : def                     ? "`"
                                          : "",
                (f->flags & FMC_REQUIRED) ? ""
                : def                     ? def
                                          : "(none)",
                (!(f->flags & FMC_REQUIRED) && def) ? "`" : "", range, f->doc ? f->doc : "");
    }
    for (const struct fmc_field *f = s->fields; f->key != NULL; f++) {
        if (f->type != FMC_MAP && f->type != FMC_SEQ)
            continue;
        snprintf(sub, sizeof(sub), "%s%s%s%s", prefix, prefix[0] ? "." : "", f->key,
                 f->type == FMC_SEQ ? "[]" : "");
        print_schema(f->sub, out, sub);
    }
}

void fmc_print_reference(const struct fmc_schema *schema, FILE *out, const char *title)
{
    fprintf(out, "## %s\n", title);
    fprintf(out, "\nDurations take a unit (`500ms`, `10s`, `5m`, `1h`, `1d`); sizes take an "
                 "optional one (`4096`, `64KiB`, `16MiB`, `1GiB`, `2GB`).\n");
    print_schema(schema, out, "");
}
