/*
 * bindings_batch.h - a batch of binding changes, written to the `bindings`
 * environment in key order with the last change of each binding winning.
 *
 * The checkpoint collects the changes of many commit windows into one batch
 * (history is the write-ahead log, checkpoint.h), and recovery collects the
 * history records a crash left unapplied; both write through
 * bindings_batch_commit.  The batch copies what it is given, so the events may
 * leave their ring right after bindings_batch_add.
 *
 * One thread at a time.  Memory grows with the batch (malloc: the checkpoint
 * thread and recovery are not the packet path) and is kept for the next one.
 */
#ifndef SIPREG_STORE_BINDINGS_BATCH_H
#define SIPREG_STORE_BINDINGS_BATCH_H

#include <stdint.h>

#include <lmdb.h>

#include "lmdb_records.h"

struct bindings_batch;

/* NULL on ENOMEM. */
struct bindings_batch *bindings_batch_create(void);
void bindings_batch_destroy(struct bindings_batch *b);

/*
 * Add ev's change to `bindings` (a copy of its key and binding).  order
 * decides between changes of the same binding: the highest wins (the
 * history sequence).  Events that do not touch `bindings` (security events)
 * and malformed ones (strings longer than the record, empty key) are
 * skipped and return 0.  Returns 0 or ENOMEM (the batch is unchanged).
 */
int bindings_batch_add(struct bindings_batch *b, const struct store_event *ev, uint64_t order);

/* Changes held (skipped events not counted). */
uint32_t bindings_batch_count(const struct bindings_batch *b);

/* Drop every change added after the first `count` (a failed history
 * commit takes its events back).  count above the size: no-op. */
void bindings_batch_truncate(struct bindings_batch *b, uint32_t count);

/*
 * Write the batch into dbi of env in one write transaction, committed:
 * sorted by key, the last change of each binding only (a put, or a delete
 * for removals; deleting a missing key is not an error).  The batch is left
 * as it was: clear it after a success.  An empty batch writes nothing.
 * Returns 0 or an LMDB error code (nothing was written).
 */
int bindings_batch_commit(struct bindings_batch *b, MDB_env *env, MDB_dbi dbi);

void bindings_batch_clear(struct bindings_batch *b);

#endif
