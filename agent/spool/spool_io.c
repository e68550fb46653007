/* spool_io: the system calls the spool writes through, and how their
 * failures are reported (see spool_int.h).
 *
 * Why a table of function pointers and not an LD_PRELOAD shim for tests:
 * the tests need to fail one call on one spool on demand (the third
 * fdatasync, a rename) while everything else in the process (cmocka's
 * output, libuv) keeps working; a shim would have to map file descriptors
 * back to paths and would fight the sanitizers' own interposition, which
 * must come first in the library list. One indirect call per write or sync
 * costs nothing next to the system call itself. */
#include "spool_int.h"

#include "fm_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct spool__io_ops spool__io = {
    .write = write,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .renameat = renameat,
    .ftruncate = ftruncate,
    .close = close,
};

static const char *const op_names[] = {
    [SPOOL_OP_WRITE] = "write",
    [SPOOL_OP_FDATASYNC] = "fdatasync",
    [SPOOL_OP_FSYNC_DIR] = "fsync of the directory",
    [SPOOL_OP_RENAME] = "rename",
    [SPOOL_OP_TRUNCATE] = "truncate",
    [SPOOL_OP_CREATE] = "create",
    [SPOOL_OP_OPEN] = "open",
    [SPOOL_OP_CLOSE] = "close",
    [SPOOL_OP_READ] = "read",
};

int spool__io_fail(spool_t *sp, enum spool__op op, const char *name, int rc)
{
    unsigned bit = 1u << op;

    sp->stats.io_errors++;
    sp->io_streak++;
    if (!(sp->io_logged & bit)) {
        sp->io_logged |= bit;
        FM_ERR("spool: %s%s%s: %s: %s", sp->cfg->dir, name ? "/" : "", name ? name : "",
               op_names[op], strerror(-rc));
    }
    return rc;
}

int spool__sync_fd(int fd, bool data_only)
{
    int r = data_only ? spool__io.fdatasync(fd) : spool__io.fsync(fd);

    return r == 0 ? 0 : -errno;
}
