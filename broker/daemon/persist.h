/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the state file (state.h is the file format): the
 * records loaded at start, each guest given its record back when it
 * appears, and every guest's record written back, including those of
 * guests not here now. Records are found by name in O(1).
 */
#ifndef RAMM_PERSIST_H
#define RAMM_PERSIST_H

struct guest;
struct rammd;

/*
 * persist_load - read the state file at start. A missing file is a first
 * start; a bad one is set aside as FILE.bad, never trusted in part: every
 * guest then starts afresh. Logs what happened; never fails.
 */
void persist_load(struct rammd *d);

/* persist_restore - give @g what the state file kept for it (overrides,
 * account and the UUID of the VM they belong to), logging it. Nothing if
 * it has no record. */
void persist_restore(struct rammd *d, struct guest *g);

/* persist_keep - copy @g's record into the saved records (not written
 * yet). When they are full, a record of a guest not managed now is
 * dropped for it. O(1), O(records) when full. Never fails. */
void persist_keep(struct rammd *d, struct guest *g);

/*
 * persist_save - write every managed guest's record and the records of
 * guests not here now. The records are copied as file text on the loop
 * and written (temp file, fsync, rename) on a worker thread, so a slow
 * disk never holds the loop; its end comes back to the loop through an
 * idle source. One save at a time: called while one runs, it saves again
 * when that one ends, with the records as they are then. Logs a failure;
 * the next save tries again.
 */
void persist_save(struct rammd *d);

/*
 * persist_flush - at exit, once the loop has stopped: wait for a save in
 * flight, then write the records as they are now, on this thread. Logs a
 * failure.
 */
void persist_flush(struct rammd *d);

/* persist_free - wait for a save in flight, free the saved records. Safe
 * if never loaded. */
void persist_free(struct rammd *d);

#endif /* RAMM_PERSIST_H */
