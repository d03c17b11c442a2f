/*
 * recovery.h - load the `bindings` environment into the workers' tables.
 *
 * First, the binding changes history holds beyond the checkpoint's applied
 * mark (the write-ahead log, checkpoint.h) are written into `bindings`.
 * Call once at start, after store_lmdb_open() and binding_table_create() for
 * every worker, and before checkpoint_create() (the writer continues the
 * history sequence this function may extend) and before the workers run.  Each
 * unexpired record goes to tables[store_aor_owner(AOR, n_workers)], so a
 * different worker count than the previous run is fine.  Records already
 * expired at now_s are deleted from `bindings` (one `expired` history line
 * each).  No events are pushed to the rings.
 */
#ifndef SIPREG_STORE_RECOVERY_H
#define SIPREG_STORE_RECOVERY_H

#include <stdint.h>

#include "binding_table.h"
#include "checkpoint.h"

struct store_recovery_stats {
	uint64_t records;        /* read from LMDB */
	uint64_t loaded;         /* inserted into a table */
	uint64_t expired;        /* expired at now_s, deleted */
	uint64_t duplicates;     /* same AOR+key twice (kept the newest) */
	uint64_t no_space;       /* owner table full / AOR over the per-AOR max */
	uint64_t malformed;      /* wrong version or size: skipped, kept in LMDB */
	uint64_t replayed;       /* history records written into `bindings` first */
};

/* 0, or an LMDB error code.  stats may be NULL. */
int store_recover(struct store_lmdb *l, struct binding_table *const *tables,
		  uint32_t n_workers, int64_t now_s, struct store_recovery_stats *stats);

/* Decodes one `bindings` LMDB value (header + used part of the binding)
 * into *b. Returns 0, or -1 for a record of another version, a wrong
 * size or an empty AOR. Shared by recovery, sipreg-control and tools. */
int store_binding_value_decode(const void *value, size_t size, struct store_binding_data *b);

#endif
