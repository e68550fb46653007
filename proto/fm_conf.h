/* fm_conf: table-driven YAML configuration with file:line errors.
 *
 * Every fieldmon program describes its configuration as a table of keys
 * (struct fmc_field): name, type, where it goes in the C struct, default,
 * range and a one-line description. fmc_load_file parses the YAML with
 * libyaml and fills the struct from that table; the same table prints the
 * reference in docs/ (fmc_print_reference), so the two cannot drift.
 *
 * Why not libcyaml: Debian 12 ships libcyaml 1.3.1, which reports an
 * unknown key at the line of its enclosing mapping rather than its own, and
 * has no ranges or defaults in its schema; errors must name the file, the
 * line and the key (`agent.yaml:14: devices[3].port: 70000 is not in
 * 1..65535`). YAML parsing itself is libyaml's; this file only walks the
 * document against the table.
 *
 * Rules: an unknown key is an error; a missing required key is an error at
 * the line of the mapping that lacks it; defaults live in the table only;
 * durations need a unit ("500ms", "10s", "5m", "1h", "1d"); sizes take an
 * optional unit ("64MiB", "512KiB", "1GiB", "2GB", plain bytes).
 *
 * Not thread-safe per document; loading is done before the loop starts. */
#ifndef FM_CONF_H
#define FM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum fmc_type {
    FMC_STR,      /* char * (owned, NUL-terminated); default NULL or the default text */
    FMC_INT,      /* int64_t, range min..max */
    FMC_UINT,     /* uint64_t, range min..max */
    FMC_DOUBLE,   /* double, range min..max */
    FMC_BOOL,     /* bool (true/false/yes/no/on/off) */
    FMC_ENUM,     /* int: index into enum_names */
    FMC_DURATION, /* int64_t milliseconds; range min..max in ms */
    FMC_SIZE,     /* uint64_t bytes; range min..max in bytes */
    FMC_MAP,      /* nested struct of schema `sub`, embedded at offset */
    FMC_SEQ, /* sequence of `sub` structs: void * array at offset, size_t count at count_offset */
    FMC_STRLIST, /* sequence of strings: char ** at offset, size_t count at count_offset */
    FMC_STRMAP,  /* mapping of string -> scalar: struct fmc_kv * at offset, count at count_offset */
};

#define FMC_REQUIRED 0x1u
#define FMC_SECRET 0x2u /* never echoed in errors or references' defaults */

struct fmc_schema;

/* Optional extra check of a loaded value; returns 0, or -EINVAL with a reason
 * (without the path) in why. `value` points at the field in the struct. */
typedef int (*fmc_check_cb)(const void *value, char *why, size_t whylen);

struct fmc_field {
    const char *key;
    enum fmc_type type;
    size_t offset;
    unsigned flags;
    const char *def;               /* default as YAML text, NULL: none (zero/NULL/empty) */
    double min, max;               /* ranges for numbers, durations, sizes; min == max: none */
    const char *const *enum_names; /* FMC_ENUM: NULL-terminated */
    const struct fmc_schema *sub;  /* FMC_MAP, FMC_SEQ */
    size_t count_offset;           /* FMC_SEQ, FMC_STRLIST, FMC_STRMAP */
    size_t max_items;              /* FMC_SEQ, FMC_STRLIST, FMC_STRMAP: 0 = 100000 */
    fmc_check_cb check;
    const char *doc; /* one line for the reference */
};

struct fmc_schema {
    const char *name;               /* for the reference, e.g. "device" */
    size_t size;                    /* sizeof the struct */
    const struct fmc_field *fields; /* terminated by a field with key == NULL */
    /* Offset of an `int` that receives the line of this mapping, or
     * FMC_NO_LINE. Lets later semantic checks point at the right place. */
    size_t line_offset;
};
#define FMC_NO_LINE ((size_t)-1)

struct fmc_kv {
    char *key;
    char *value;
};

/* A loaded document: keeps the file name and node lines for later errors. */
typedef struct fmc_doc fmc_doc_t;

/* Parses path and fills out (a zeroed struct of schema->size bytes) from the
 * table, defaults first. Returns 0, or -EINVAL (bad config) / -errno (file
 * unreadable) with "file:line: key.path: what" in err. On success *doc (if
 * doc != NULL) receives the document for fmc_errorf; free it with
 * fmc_doc_free. On failure out is freed with fmc_free and zeroed. */
int fmc_load_file(const char *path, const struct fmc_schema *schema, void *out, fmc_doc_t **doc,
                  char *err, size_t errlen);

/* Same, from memory; name stands for the file name in errors. */
int fmc_load_string(const char *name, const char *text, size_t len, const struct fmc_schema *schema,
                    void *out, fmc_doc_t **doc, char *err, size_t errlen);

/* Fills out (a zeroed struct of schema->size bytes) with the table's
 * defaults, as loading an empty document would: the one place a default is
 * written, for code that needs a configuration nobody wrote. Strings with a
 * default are allocated: free with fmc_free. */
void fmc_defaults(const struct fmc_schema *schema, void *out);

/* Line (1-based) of the node at a key path such as "devices[3].port", or of
 * its nearest existing ancestor; 0 if doc is NULL. */
int fmc_doc_line(const fmc_doc_t *doc, const char *path);

/* Whether the file wrote the key path (e.g. "profiles[0].points[2].report.heartbeat"):
 * for checks that treat a written value differently from its default.
 * false if doc is NULL. */
bool fmc_doc_has(const fmc_doc_t *doc, const char *path);

/* Formats "file:line: path: message" into err using the line of path.
 * Returns -EINVAL, so a check can `return fmc_errorf(...)`. */
int fmc_errorf(const fmc_doc_t *doc, char *err, size_t errlen, const char *path, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));

void fmc_doc_free(fmc_doc_t *doc);

/* Optional check of a whole loaded document (rules across keys: references
 * between sections, combinations). obj is the struct the table filled; the
 * check may complete it (derived members). Returns 0, or -EINVAL with
 * "file:line: path: why" in err (use fmc_errorf). */
typedef int (*fmc_doc_check_cb)(const fmc_doc_t *doc, void *obj, char *err, size_t errlen);

/* A configuration file: the schema of its root mapping, the check across
 * keys that runs once every key passed the table, and what frees the
 * members that check allocated beyond the table. Programs load their files
 * through it, so every file gets the same path: table, then check, with
 * errors as file:line: key. */
struct fmc_root {
    const struct fmc_schema *schema;
    fmc_doc_check_cb check;     /* NULL: none */
    void (*release)(void *obj); /* NULL: nothing beyond the table */
};

/* fmc_load_file / fmc_load_string, then root->check. Returns 0, or a
 * negative errno with the error in err; on failure out is freed (as by
 * fmc_root_free) and zeroed. */
int fmc_root_load_file(const struct fmc_root *root, const char *path, void *out, char *err,
                       size_t errlen);
int fmc_root_load_string(const struct fmc_root *root, const char *name, const char *text,
                         size_t len, void *out, char *err, size_t errlen);

/* root->release, then fmc_free. NULL obj does nothing. */
void fmc_root_free(const struct fmc_root *root, void *obj);

/* Frees what loading allocated inside obj (strings, arrays, nested), not obj
 * itself, and zeroes those members. fmc_free(schema, NULL) does nothing. */
void fmc_free(const struct fmc_schema *schema, void *obj);

/* Writes the reference of schema as Markdown tables, one per mapping, in the
 * order the keys appear: key path, type, default, range, description. */
void fmc_print_reference(const struct fmc_schema *schema, FILE *out, const char *title);

/* Parses a duration ("250ms", "10s", "5m", "1h", "2d") into ms. 0 or -EINVAL. */
int fmc_parse_duration(const char *text, int64_t *ms);
/* Parses a size ("4096", "64KiB", "16MiB", "1GiB", "2GB", "500kB") into bytes. */
int fmc_parse_size(const char *text, uint64_t *bytes);

#endif
