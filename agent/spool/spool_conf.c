/* spool_conf: the `spool` key of the agent configuration. */
#include "spool_conf.h"

#include <stddef.h>

static const char *const fsync_names[] = {"always", "interval", "never", NULL};

static const struct fmc_field spool_fields[] = {
    {.key = "max_size",
     .type = FMC_SIZE,
     .offset = offsetof(struct spool_cfg, max_bytes),
     .def = "0",
     .min = 0,
     .max = 1e15,
     .doc = "size cap; 0: enough for 24 h of events at the configured poll rate "
            "(printed at start)"},
    {.key = "segment_size",
     .type = FMC_SIZE,
     .offset = offsetof(struct spool_cfg, segment_bytes),
     .def = "0",
     .min = 0,
     .max = 1073741824,
     .doc = "size of one segment file; 0: cap / 16 within 64KiB..16MiB"},
    {.key = "fsync",
     .type = FMC_ENUM,
     .offset = offsetof(struct spool_cfg, fsync),
     .def = "interval",
     .enum_names = fsync_names,
     .doc = "always: fdatasync every flush (survives power loss); interval: every "
            "fsync_interval; never: leave it to the kernel. All survive kill -9"},
    {.key = "fsync_interval",
     .type = FMC_DURATION,
     .offset = offsetof(struct spool_cfg, fsync_interval_ms),
     .def = "1s",
     .min = 10,
     .max = 3600000,
     .doc = "period of fdatasync under fsync: interval"},
    {.key = "write_buffer",
     .type = FMC_SIZE,
     .offset = offsetof(struct spool_cfg, write_buffer),
     .def = "256KiB",
     .min = 4096,
     .max = 67108864,
     .doc = "events buffered between two writes; a full buffer is written at once"},
    {.key = "hold_size",
     .type = FMC_SIZE,
     .offset = offsetof(struct spool_cfg, hold_bytes),
     .def = "1MiB",
     .min = 0,
     .max = 268435456,
     .doc = "alarm transitions and other kept events held in memory beyond write_buffer while "
            "the disk refuses writes (full or failing); written first, in order, when it "
            "works again"},
    {0},
};

const struct fmc_schema spool_cfg_schema = {
    .name = "spool",
    .size = sizeof(struct spool_cfg),
    .fields = spool_fields,
    .line_offset = FMC_NO_LINE,
};
