/* alarm_state: what the agent has told the collector is wrong, kept in a
 * file so that a restart remembers it.
 *
 * The set holds three kinds of records: raised alarms of points (device,
 * point, table-row labels, code, level, limit, since), raised comm_loss
 * alarms of devices, and devices reported unreachable. The threshold stage
 * (alarm_sink.h) fills a set from its memory and saves it after every loop
 * iteration that reported a transition, and loads it at start, so that an
 * alarm raised before a restart starts raised and its clear is sent once
 * the device is normal again (docs/operations.md, "What survives a
 * restart").
 *
 * The file is JSON (jansson, which the agent links already): names and
 * table-row labels come from devices and configurations and may hold any
 * character, which JSON's string escapes carry without a format of our
 * own; a cut-off file does not parse; operators can read it with jq. It is
 * one object, format name and version first:
 *
 *   {"format": "fieldmon-agent alarm state", "version": 1,
 *    "unreachable": [{"device": "cam-3", "since_ms": 1700000000000, "fails": 3}],
 *    "comm_loss": [{"device": "cam-3", "since_ms": 1700000000000, "fails": 3}],
 *    "alarms": [{"device": "ups-1", "point": "upsBatteryTemperature",
 *                "labels": [["line", "1"]], "code": "high_warning",
 *                "level": "ALARM_LEVEL_WARNING", "limit": 30, "since_ms": 1700000000000}]}
 *
 * Saving writes a temporary file beside it, fdatasyncs it, renames it over
 * the old one and fsyncs the directory, so the file is always either the
 * old or the new set, whole. Loading checks every field (types, lengths
 * against fmwire's limits, known levels, no unknown keys) and refuses the
 * whole file on the first fault, naming it.
 *
 * No threads, no loop: plain functions, called from the loop thread. */
#ifndef ALARM_STATE_H
#define ALARM_STATE_H

#include "fmwire.h"

#include <stddef.h>
#include <stdint.h>

/* A file larger than this is refused unread, and a set that would be
 * larger is not saved (-EFBIG): about 80,000 raised alarms. */
#define ALARM_STATE_MAX_BYTES (16u << 20)
/* The file's name in the state directory (the spool directory). */
#define ALARM_STATE_FILE "alarms.state"

enum alarm_state_kind {
    ALARM_STATE_RULE = 0,        /* a raised alarm of a point */
    ALARM_STATE_COMM = 1,        /* a device's raised comm_loss */
    ALARM_STATE_UNREACHABLE = 2, /* a device reported unreachable */
};

struct alarm_state_rec {
    int kind; /* enum alarm_state_kind */
    char *device;
    char *point;       /* RULE; "" otherwise */
    Fm__Label *labels; /* RULE: the table row's labels */
    Fm__Label **label_ptrs;
    size_t n_labels;
    char *code;       /* RULE; "" otherwise */
    int level;        /* RULE: Fm__AlarmLevel */
    double limit;     /* RULE: the rule's limit (state value, bit number) */
    int64_t since_ms; /* when the condition began */
    uint64_t fails;   /* COMM, UNREACHABLE: failed polls when it was reported */
};

/* A set of records; zero it (or alarm_state_init) before use. */
struct alarm_state {
    struct alarm_state_rec *recs;
    size_t n, cap;
};

void alarm_state_init(struct alarm_state *st);

/* Frees every record and leaves st empty and reusable. */
void alarm_state_clear(struct alarm_state *st);

/* Appends a record of kind for device, copying device, point (NULL: ""),
 * labels (borrowed; n_labels at most FMW_MAX_LABELS) and code (NULL: "").
 * Returns the record for the caller to fill in level, limit, since_ms and
 * fails; it stays valid until the next add or clear. */
struct alarm_state_rec *alarm_state_add(struct alarm_state *st, int kind, const char *device,
                                        const char *point, Fm__Label *const *labels,
                                        size_t n_labels, const char *code);

/* Parses a file's bytes (buf need not end in NUL) into st (empty on entry).
 * Returns 0, or -EINVAL with what is wrong in why (st is then empty again);
 * -ENOMEM if jansson cannot allocate. */
int alarm_state_parse(const void *buf, size_t len, struct alarm_state *st, char *why,
                      size_t whylen);

/* The text of st, a NUL-terminated string; returns new memory (free()) or
 * NULL when a string is not valid UTF-8 or memory is short. */
char *alarm_state_format(const struct alarm_state *st);

/* Reads and parses path into st (empty on entry). Returns 0; -ENOENT when
 * the file does not exist (a first start); -EINVAL with the fault in why
 * (unparsable, truncated, too large); another negative errno when it
 * cannot be read, with the failed call in why. Logs nothing. */
int alarm_state_load(const char *path, struct alarm_state *st, char *why, size_t whylen);

/* Writes st to path atomically: path.tmp written, fdatasync'ed, renamed
 * over path, directory fsync'ed. Returns 0 or a negative errno, with the
 * step that failed ("open", "write", "fdatasync", "close", "rename",
 * "fsync of the directory", "format") in *step (static). -EFBIG when the
 * text would pass ALARM_STATE_MAX_BYTES. A failed save leaves the previous
 * file as it was. Logs nothing. */
int alarm_state_save(const char *path, const struct alarm_state *st, const char **step);

#endif
