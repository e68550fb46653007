/* inventory: what the agent tells the collector in Hello: its devices and
 * their points (from the configuration), and the SHA-256 digest of the
 * configuration file. Built once per (re)load. Loop thread only. */
#ifndef AGENT_INVENTORY_H
#define AGENT_INVENTORY_H

#include "config.h"
#include "fmwire.h"

#include <stdint.h>

struct inventory {
    Fm__Inventory inv;
    uint8_t digest[FMW_DIGEST_LEN];
    double events_per_s; /* configured measurement rate (one per point and poll) */
};

/* Returns a new inventory of cfg (copies nothing: borrows cfg's strings, so
 * cfg must outlive it) with the digest of the file at path. Free with
 * inventory_destroy. */
struct inventory *inventory_create(const struct agent_cfg *cfg, const char *path);
void inventory_destroy(struct inventory *inv);

#endif
