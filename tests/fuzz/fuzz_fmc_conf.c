/* libFuzzer target: fm_conf loading arbitrary YAML against a table that uses
 * every field type, as the programs load their configuration files. Any
 * input must either load (and then free cleanly) or fail with a message that
 * starts with the file name. */
#include "fm_conf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct z_item {
    int line;
    char *name;
    int64_t n;
    char **list;
    size_t n_list;
};

struct z_sub {
    double x;
    uint64_t size;
};

struct z_root {
    char *id;
    uint64_t u;
    bool b;
    int e;
    int64_t d;
    struct z_sub sub;
    struct z_item *items;
    size_t n_items;
    struct fmc_kv *kv;
    size_t n_kv;
};

static const char *const z_enum[] = {"a", "b", "c", NULL};

static const struct fmc_field item_fields[] = {
    {.key = "name",
     .type = FMC_STR,
     .offset = offsetof(struct z_item, name),
     .flags = FMC_REQUIRED},
    {.key = "n",
     .type = FMC_INT,
     .offset = offsetof(struct z_item, n),
     .def = "3",
     .min = -5,
     .max = 5},
    {.key = "list",
     .type = FMC_STRLIST,
     .offset = offsetof(struct z_item, list),
     .count_offset = offsetof(struct z_item, n_list),
     .max_items = 8},
    {0},
};
static const struct fmc_schema item_schema = {"item", sizeof(struct z_item), item_fields,
                                              offsetof(struct z_item, line)};
static const struct fmc_field sub_fields[] = {
    {.key = "x", .type = FMC_DOUBLE, .offset = offsetof(struct z_sub, x), .def = "0.5"},
    {.key = "size", .type = FMC_SIZE, .offset = offsetof(struct z_sub, size), .def = "1MiB"},
    {0},
};
static const struct fmc_schema sub_schema = {"sub", sizeof(struct z_sub), sub_fields, FMC_NO_LINE};
static const struct fmc_field root_fields[] = {
    {.key = "id", .type = FMC_STR, .offset = offsetof(struct z_root, id)},
    {.key = "u", .type = FMC_UINT, .offset = offsetof(struct z_root, u), .min = 0, .max = 100},
    {.key = "b", .type = FMC_BOOL, .offset = offsetof(struct z_root, b)},
    {.key = "e", .type = FMC_ENUM, .offset = offsetof(struct z_root, e), .enum_names = z_enum},
    {.key = "d", .type = FMC_DURATION, .offset = offsetof(struct z_root, d), .def = "1s"},
    {.key = "sub", .type = FMC_MAP, .offset = offsetof(struct z_root, sub), .sub = &sub_schema},
    {.key = "items",
     .type = FMC_SEQ,
     .offset = offsetof(struct z_root, items),
     .sub = &item_schema,
     .count_offset = offsetof(struct z_root, n_items),
     .max_items = 64},
    {.key = "kv",
     .type = FMC_STRMAP,
     .offset = offsetof(struct z_root, kv),
     .count_offset = offsetof(struct z_root, n_kv),
     .max_items = 64},
    {0},
};
static const struct fmc_schema root_schema = {"root", sizeof(struct z_root), root_fields,
                                              FMC_NO_LINE};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct z_root r;
    fmc_doc_t *doc = NULL;
    char err[512];

    if (size > 65536)
        return 0;
    if (fmc_load_string("fuzz.yaml", (const char *)data, size, &root_schema, &r, &doc, err,
                        sizeof(err)) == 0) {
        (void)fmc_doc_line(doc, "items[0].list");
        (void)fmc_errorf(doc, err, sizeof(err), "sub.x", "check");
        fmc_doc_free(doc);
        fmc_free(&root_schema, &r);
    } else if (strncmp(err, "fuzz.yaml", 9) != 0) {
        abort();
    }
    return 0;
}
