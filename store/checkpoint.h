/*
 * checkpoint.h - LMDB environments of the state dir, and the checkpoint
 * writer that moves binding changes from the workers' event rings into them.
 *
 * State dir layout: <state_dir>/bindings/, <state_dir>/history/ and
 * <state_dir>/checkpoint/, each an LMDB environment (data.mdb + lock.mdb), one
 * unnamed database each.  Keys and values: lmdb_records.h.  sipreg-control
 * opens bindings and history read-only (MDB_RDONLY) and reads MVCC snapshots
 * with no coordination.
 *
 * History is the write-ahead log.  Every commit window the writer appends
 * the rings' events to `history` and commits: from then on they are
 * durable, and they leave the rings.  It copies their binding changes into a
 * batch and writes the batch into `bindings` (sorted, the last change of
 * each binding only) when the rings are idle after a commit, which at
 * ordinary load is the same window, or else once the oldest change in the
 * batch is bindings_max_lag_ms old or the batch holds max_pending_changes.
 * Why: a random AOR dirties about one 4 KiB page of `bindings` per change,
 * so under a storm a batch of a second rewrites each page once instead of
 * once per window (perf/bench-store: checkpoint.c has the figures).  The
 * price: during a storm `bindings`, and so what sipreg-control lists, trails
 * the workers by up to bindings_max_lag_ms.  After a bindings commit the
 * `checkpoint` environment records how far `bindings` has got
 * (store_applied_mark_record); recovery.h replays the rest of history.
 *
 * Thread rules: open the envs once per process (LMDB forbids opening an env
 * twice in one process); store_recover() (recovery.h) runs before the
 * checkpoint thread starts; after checkpoint_start() only the checkpoint
 * thread touches the rings' consumer side and writes the envs.
 *
 * Durability: each group commit is one write transaction per environment.
 * LMDB's copy-on-write B-tree and two meta pages mean a kill -9 at any
 * moment leaves the last committed transaction intact
 * (tests/store/test_crash_recovery.c); with sync on (default) an OS crash or
 * power loss also keeps every commit that returned.  At most the last
 * commit window of changes is lost.  The mark is written after the
 * bindings commit it describes, so a stale mark only makes recovery replay
 * more (replaying a change `bindings` already has is harmless: the last
 * change of each binding decides).
 */
#ifndef SIPREG_STORE_CHECKPOINT_H
#define SIPREG_STORE_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "event_ring.h"

struct store_lmdb_config {
	const char *state_dir;         /* created if missing */
	uint64_t bindings_map_bytes;   /* 0: 8 GiB (sparse; grows on MDB_MAP_FULL) */
	uint64_t history_map_bytes;    /* 0: 32 GiB */
	bool no_sync;                  /* true: no fsync per commit (tests, benches) */
	bool write_map;                /* MDB_WRITEMAP: commit writes through the map */
};

struct store_lmdb;

/*
 * Open (creating) the three environments.  Returns 0, a negative errno (mkdir),
 * or a positive LMDB error code (mdb_strerror).  *out is NULL on failure.
 */
int store_lmdb_open(const struct store_lmdb_config *cfg, struct store_lmdb **out);
void store_lmdb_close(struct store_lmdb *l);
MDB_env *store_lmdb_bindings_env(struct store_lmdb *l);
MDB_env *store_lmdb_history_env(struct store_lmdb *l);
MDB_dbi store_lmdb_bindings_dbi(struct store_lmdb *l);
MDB_dbi store_lmdb_history_dbi(struct store_lmdb *l);

struct store_applied_mark {
	uint64_t applied_seq;
	int64_t replay_from_s;
};

/* The `checkpoint` environment's mark (lmdb_records.h).  Read: 0,
 * MDB_NOTFOUND when none was written (or it is of another version), or an
 * LMDB code.  Write: 0 or an LMDB code. */
int store_applied_mark_read(struct store_lmdb *l, struct store_applied_mark *out);
int store_applied_mark_write(struct store_lmdb *l, const struct store_applied_mark *m);

struct checkpoint_config {
	uint32_t commit_window_ms;       /* 0: 10 ms */
	uint32_t history_retention_s;    /* 0: 7 days */
	uint32_t max_changes_per_commit; /* 0: 262144 */
	/* How long binding changes may wait for `bindings` while the rings are
	 * busy.  0: 1000 ms; CHECKPOINT_APPLY_EVERY_COMMIT: every commit. */
	uint32_t bindings_max_lag_ms;
	uint32_t max_pending_changes;    /* 0: 1048576 (then written at once) */
};

#define CHECKPOINT_APPLY_EVERY_COMMIT UINT32_MAX

struct checkpoint_stats {
	uint64_t commits;
	uint64_t changes;                /* events committed (to history) */
	uint64_t applies;                /* `bindings` commits */
	uint64_t applied;                /* binding changes written to `bindings` */
	uint64_t pending;                /* binding changes committed, not yet in `bindings` */
	uint64_t history_trimmed;
	uint64_t errors;                 /* failed commits (retried next window) */
	int last_error;                  /* LMDB code of the last failure */
};

struct checkpoint;

/*
 * Writer over n_rings worker rings (ring i = worker i).  The rings must
 * outlive the checkpoint.  NULL on ENOMEM/EINVAL (n_rings 0 or > 1024).
 */
struct checkpoint *checkpoint_create(struct store_lmdb *l, const struct checkpoint_config *cfg,
				     struct event_ring *const *rings, uint32_t n_rings);
void checkpoint_destroy(struct checkpoint *cp);

/*
 * One group commit: drain what the rings hold (up to max_changes_per_commit),
 * append it to `history` and commit; then write the pending binding changes
 * to `bindings` if they are due (see the top of this file); trim history
 * older than the retention (at most once a second, bounded, and only with
 * nothing pending).  Events leave the rings only after their history commit
 * succeeded.  Returns the number of changes committed, or a negative value
 * on failure (stats.last_error has the LMDB code).  Called by the checkpoint
 * thread, or directly by tests and tools.
 */
int checkpoint_run_once(struct checkpoint *cp, int64_t now_s);

/* Write every pending binding change to `bindings` now, and the mark.
 * 0, or a negative LMDB code (the changes stay pending). */
int checkpoint_flush(struct checkpoint *cp);

/* Start / stop the checkpoint thread (one commit per window).  Stop drains
 * the rings, commits and flushes before returning.  0 or a negative errno. */
int checkpoint_start(struct checkpoint *cp);
void checkpoint_stop(struct checkpoint *cp);

/* Highest event seq of ring i known committed to history (0 = none). */
uint64_t checkpoint_committed_seq(const struct checkpoint *cp, uint32_t ring);

void checkpoint_get_stats(const struct checkpoint *cp, struct checkpoint_stats *out);

#endif
