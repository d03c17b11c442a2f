/*
 * checkpoint.c - LMDB state dir and the group-commit writer.
 *
 * One commit = one write txn on `bindings` then one on `history`.
 * `bindings` first: it is what recovery reads; a crash between the two loses
 * history lines of the last window, never bindings.
 *
 * Cost (perf/bench-store, 1M AORs registered in random order, 8192 changes
 * per commit): a random key dirties about one 4 KiB leaf page of `bindings`
 * per change, so a durable commit writes ~4.9 KB per change (4.9 GB of
 * device writes for 1M changes, /proc/diskstats) and the disk bounds
 * throughput (~40-70 k changes/s with fsync on this shared VM, varying with
 * the other tenants' I/O; ~230-310 k/s with no_sync / write_map).
 * `history` alone, being append-only, commits ~2 M changes/s with fsync in
 * the same bench (bindings apply switched off): it is `bindings` that costs.
 *
 * CPU per change (callgrind, checkpoint_run_once): each commit writes its
 * `bindings` changes sorted by key through one cursor, the last change of
 * each binding only, and appends history through one cursor instead of an
 * mdb_put (a search from the root) per record:
 *   100k AORs, commits of 8192:   5.8 k -> 5.05 k instructions per change
 *   200k AORs, commits of 65536:  6.1 k -> 4.7 k (bigger batches share pages)
 */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bindings_batch.h"
#include "lmdb_records.h"

#define DEFAULT_BINDINGS_MAP (8ull << 30)
#define DEFAULT_HISTORY_MAP (32ull << 30)
#define HISTORY_TRIM_PER_COMMIT 20000u

struct store_lmdb {
	MDB_env *bindings;
	MDB_env *history;
	MDB_env *marks;
	MDB_dbi bindings_dbi;
	MDB_dbi history_dbi;
	MDB_dbi marks_dbi;
};

static int
open_env(const char *state_dir, const char *name, uint64_t map_bytes, unsigned flags,
	 MDB_env **env, MDB_dbi *dbi)
{
	char path[PATH_MAX];
	MDB_txn *txn;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return -errno;
	rc = mdb_env_create(env);
	if (rc != 0)
		return rc;
	rc = mdb_env_set_mapsize(*env, map_bytes);
	if (rc == 0)
		rc = mdb_env_open(*env, path, MDB_NOTLS | flags, 0640);
	if (rc == 0)
		rc = mdb_txn_begin(*env, NULL, 0, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, 0, dbi);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		mdb_env_close(*env);
		*env = NULL;
	}
	return rc;
}

int
store_lmdb_open(const struct store_lmdb_config *cfg, struct store_lmdb **out)
{
	struct store_lmdb *l;
	unsigned flags;
	int rc;

	*out = NULL;
	if (cfg->state_dir == NULL)
		return -EINVAL;
	if (mkdir(cfg->state_dir, 0750) != 0 && errno != EEXIST)
		return -errno;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	/* NOMETASYNC: one fsync per commit instead of two; an OS crash may undo
	 * the last commit (one window), never corrupt: DESIGN.md "Storage". */
	flags = (cfg->no_sync ? MDB_NOSYNC : MDB_NOMETASYNC) | (cfg->write_map ? MDB_WRITEMAP : 0);
	rc = open_env(cfg->state_dir, "bindings",
		      cfg->bindings_map_bytes ? cfg->bindings_map_bytes : DEFAULT_BINDINGS_MAP,
		      flags, &l->bindings, &l->bindings_dbi);
	if (rc == 0)
		rc = open_env(cfg->state_dir, "history",
			      cfg->history_map_bytes ? cfg->history_map_bytes : DEFAULT_HISTORY_MAP,
			      flags, &l->history, &l->history_dbi);
	if (rc == 0)
		rc = open_env(cfg->state_dir, "checkpoint", 1u << 20, flags & ~MDB_WRITEMAP,
			      &l->marks, &l->marks_dbi);
	if (rc != 0) {
		store_lmdb_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

void
store_lmdb_close(struct store_lmdb *l)
{
	if (l == NULL)
		return;
	if (l->bindings)
		mdb_env_close(l->bindings);
	if (l->history)
		mdb_env_close(l->history);
	if (l->marks)
		mdb_env_close(l->marks);
	free(l);
}

MDB_env *store_lmdb_bindings_env(struct store_lmdb *l) { return l->bindings; }
MDB_env *store_lmdb_history_env(struct store_lmdb *l) { return l->history; }
MDB_dbi store_lmdb_bindings_dbi(struct store_lmdb *l) { return l->bindings_dbi; }
MDB_dbi store_lmdb_history_dbi(struct store_lmdb *l) { return l->history_dbi; }

int
store_applied_mark_read(struct store_lmdb *l, struct store_applied_mark *out)
{
	struct store_applied_mark_record rec;
	MDB_val k = { .mv_size = sizeof(STORE_APPLIED_MARK_KEY) - 1,
		      .mv_data = (void *)STORE_APPLIED_MARK_KEY }, v;
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->marks, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return rc;
	rc = mdb_get(txn, l->marks_dbi, &k, &v);
	if (rc == 0 && v.mv_size != sizeof(rec))
		rc = MDB_NOTFOUND;
	if (rc == 0) {
		memcpy(&rec, v.mv_data, sizeof(rec));
		if (rec.version != STORE_RECORD_VERSION)
			rc = MDB_NOTFOUND;
		out->applied_seq = rec.applied_seq;
		out->replay_from_s = rec.replay_from_s;
	}
	mdb_txn_abort(txn);
	return rc;
}

int
store_applied_mark_write(struct store_lmdb *l, const struct store_applied_mark *m)
{
	struct store_applied_mark_record rec = {
		.version = STORE_RECORD_VERSION,
		.applied_seq = m->applied_seq,
		.replay_from_s = m->replay_from_s,
	};
	MDB_val k = { .mv_size = sizeof(STORE_APPLIED_MARK_KEY) - 1,
		      .mv_data = (void *)STORE_APPLIED_MARK_KEY };
	MDB_val v = { .mv_size = sizeof(rec), .mv_data = &rec };
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->marks, NULL, 0, &txn);

	if (rc != 0)
		return rc;
	rc = mdb_put(txn, l->marks_dbi, &k, &v, 0);
	if (rc == 0)
		return mdb_txn_commit(txn);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- checkpoint writer -------------------------------------------- */

/* A mark at most this often: a stale one only lengthens recovery's replay
 * (by at most this much history), a fresh one costs an fsync. */
#define MARK_INTERVAL_MS 1000
/* replay_from_s is this much before the oldest event time the checkpoint
 * knows of: events of other workers a little older do not need a new mark.
 * An older one (a wall clock stepped back, a ring that waited) gets a new
 * mark before its history commit (run_once), so the bound is never wrong,
 * and recovery scans at most a few seconds more history than it replays. */
#define REPLAY_SLACK_S 2

struct checkpoint {
	struct store_lmdb *lmdb;
	struct checkpoint_config cfg;
	struct event_ring **rings;
	uint32_t n_rings;
	_Atomic uint64_t *committed_seq;   /* per ring */
	uint32_t *taken;                   /* per ring, this commit */
	struct bindings_batch *pending;    /* committed to history, not yet to `bindings` */
	int64_t pending_since_ms;          /* when the batch got its first change */
	int64_t last_mark_ms;
	bool mark_stale;                   /* an apply since the last mark */
	uint64_t applied_seq;              /* history seq the last apply covered */
	int64_t applied_max_at_s;          /* newest event time that apply covered */
	int64_t pending_max_at_s;
	int64_t mark_from_s;               /* replay_from_s of the last mark written */
	uint64_t history_seq;              /* next history key sequence */
	uint8_t history_last_key[STORE_HISTORY_KEY_BYTES];
	int64_t last_trim_s;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	_Atomic uint64_t commits, changes, trimmed, errors, applies, applied, pending_count;
	_Atomic int last_error;
};

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last history key of the checkpoint (admin records of sipreg-control
 * carry STORE_HISTORY_SEQ_ADMIN_BIT and are skipped). */
static void
history_load_last(struct checkpoint *cp)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;

	memset(cp->history_last_key, 0, sizeof(cp->history_last_key));
	cp->history_seq = 1;
	if (mdb_txn_begin(cp->lmdb->history, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, cp->lmdb->history_dbi, &cur) == 0) {
		int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);

		if (rc == 0 && k.mv_size == STORE_HISTORY_KEY_BYTES)
			memcpy(cp->history_last_key, k.mv_data, STORE_HISTORY_KEY_BYTES);
		for (int steps = 0; rc == 0 && steps < 100000; steps++) {
			if (k.mv_size == STORE_HISTORY_KEY_BYTES &&
			    !(store_history_key_seq(k.mv_data) & STORE_HISTORY_SEQ_ADMIN_BIT)) {
				cp->history_seq = store_history_key_seq(k.mv_data) + 1;
				break;
			}
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

struct checkpoint *
checkpoint_create(struct store_lmdb *l, const struct checkpoint_config *cfg,
		  struct event_ring *const *rings, uint32_t n_rings)
{
	struct store_applied_mark mark;
	struct checkpoint *cp;

	if (l == NULL || n_rings == 0 || n_rings > 1024)
		return NULL;
	cp = calloc(1, sizeof(*cp));
	if (cp == NULL)
		return NULL;
	cp->lmdb = l;
	if (cfg)
		cp->cfg = *cfg;
	if (cp->cfg.commit_window_ms == 0)
		cp->cfg.commit_window_ms = 10;
	if (cp->cfg.history_retention_s == 0)
		cp->cfg.history_retention_s = 7 * 24 * 3600;
	if (cp->cfg.max_changes_per_commit == 0)
		cp->cfg.max_changes_per_commit = 262144;
	if (cp->cfg.bindings_max_lag_ms == 0)
		cp->cfg.bindings_max_lag_ms = 1000;
	if (cp->cfg.max_pending_changes == 0)
		cp->cfg.max_pending_changes = 1048576;
	cp->n_rings = n_rings;
	cp->rings = calloc(n_rings, sizeof(*cp->rings));
	cp->committed_seq = calloc(n_rings, sizeof(*cp->committed_seq));
	cp->taken = calloc(n_rings, sizeof(*cp->taken));
	cp->pending = bindings_batch_create();
	if (!cp->rings || !cp->committed_seq || !cp->taken || !cp->pending) {
		checkpoint_destroy(cp);
		return NULL;
	}
	memcpy(cp->rings, rings, n_rings * sizeof(*cp->rings));
	history_load_last(cp);
	/* Recovery has replayed history into `bindings` (recovery.h) and
	 * left a mark.  None: a new state dir, or one written before history
	 * was the log (`bindings` complete then): mark what history holds,
	 * before any change can be pending. */
	if (store_applied_mark_read(l, &mark) == 0) {
		cp->applied_seq = mark.applied_seq;
	} else {
		mark.applied_seq = cp->history_seq - 1;
		mark.replay_from_s = 0;
		if (store_applied_mark_write(l, &mark) != 0) {
			checkpoint_destroy(cp);
			return NULL;
		}
		cp->applied_seq = mark.applied_seq;
	}
	cp->mark_from_s = mark.replay_from_s;
	cp->applied_max_at_s = mark.replay_from_s + REPLAY_SLACK_S;
	cp->pending_max_at_s = INT64_MIN;
	cp->last_mark_ms = monotonic_ms();
	return cp;
}

void
checkpoint_destroy(struct checkpoint *cp)
{
	if (cp == NULL)
		return;
	checkpoint_stop(cp);
	free(cp->rings);
	free((void *)cp->committed_seq);
	free(cp->taken);
	bindings_batch_destroy(cp->pending);
	free(cp);
}

static int
apply_history(MDB_cursor *cur, const struct store_event *ev,
	      uint64_t *seq, uint8_t last_key[STORE_HISTORY_KEY_BYTES])
{
	uint8_t key[STORE_HISTORY_KEY_BYTES];
	MDB_val k = { .mv_size = sizeof(key), .mv_data = key };
	MDB_val v = { .mv_size = store_event_used_size(ev), .mv_data = (void *)ev };
	unsigned flags = 0;
	int rc;

	store_history_key_build(ev->at_s, (*seq)++, key);
	/* Append is the fast path; events of another worker a second older
	 * fall back to an ordinary insert. */
	if (memcmp(key, last_key, sizeof(key)) > 0) {
		flags = MDB_APPEND;
		memcpy(last_key, key, sizeof(key));
	}
	rc = mdb_cursor_put(cur, &k, &v, flags);
	/* Another writer (sipreg-control's admin records) may have put a key
	 * above ours: MDB_APPEND then refuses, an ordinary insert does not. */
	if (rc == MDB_KEYEXIST && flags == MDB_APPEND)
		rc = mdb_cursor_put(cur, &k, &v, 0);
	return rc;
}

static uint32_t
history_trim(struct checkpoint *cp, MDB_txn *txn, int64_t now_s)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint32_t n = 0;
	int64_t cutoff = now_s - (int64_t)cp->cfg.history_retention_s;

	if (mdb_cursor_open(txn, cp->lmdb->history_dbi, &cur) != 0)
		return 0;
	while (n < HISTORY_TRIM_PER_COMMIT && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
		if (k.mv_size != STORE_HISTORY_KEY_BYTES ||
		    store_history_key_time(k.mv_data) >= cutoff)
			break;
		if (mdb_cursor_del(cur, 0) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	return n;
}

static void
grow_map(MDB_env *env)
{
	MDB_envinfo info;

	if (mdb_env_info(env, &info) == 0)
		mdb_env_set_mapsize(env, info.me_mapsize * 2);
}

static void
count_error(struct checkpoint *cp, int rc, MDB_env *env)
{
	atomic_fetch_add(&cp->errors, 1);
	atomic_store(&cp->last_error, rc);
	if (rc == MDB_MAP_FULL)
		grow_map(env);
}

/* The replay bound for events from at_s on: REPLAY_SLACK_S earlier. */
static int64_t
replay_bound(int64_t at_s)
{
	return at_s > REPLAY_SLACK_S ? at_s - REPLAY_SLACK_S : 0;
}

/* replay_from_s for a mark after an apply: the oldest of the rings' heads
 * (not yet taken) and the newest applied event.  An event older than that
 * still to come gets a new mark (run_once). */
static int64_t
replay_from(struct checkpoint *cp)
{
	int64_t from = cp->applied_max_at_s;

	for (uint32_t r = 0; r < cp->n_rings; r++) {
		const struct store_event *ev;

		if (event_ring_peek_at(cp->rings[r], 0, &ev, 1) == 1 && ev->at_s < from)
			from = ev->at_s;
	}
	return replay_bound(from);
}

static int
flush(struct checkpoint *cp, bool force_mark)
{
	uint32_t n = bindings_batch_count(cp->pending);
	int64_t now_ms = monotonic_ms();
	int rc = 0;

	if (n > 0) {
		rc = bindings_batch_commit(cp->pending, cp->lmdb->bindings, cp->lmdb->bindings_dbi);
		if (rc != 0) {
			count_error(cp, rc, cp->lmdb->bindings);
			return -rc;
		}
		bindings_batch_clear(cp->pending);
		cp->applied_seq = cp->history_seq - 1;   /* the batch holds all history has */
		cp->applied_max_at_s = cp->pending_max_at_s;
		cp->pending_max_at_s = INT64_MIN;
		atomic_fetch_add(&cp->applies, 1);
		atomic_fetch_add(&cp->applied, n);
		atomic_store(&cp->pending_count, 0);
		cp->mark_stale = true;
	}
	if (cp->mark_stale &&
	    (now_ms - cp->last_mark_ms >= MARK_INTERVAL_MS || force_mark)) {
		struct store_applied_mark mark = {
			.applied_seq = cp->applied_seq, .replay_from_s = replay_from(cp),
		};

		/* a failed mark write only lengthens the next replay */
		if (store_applied_mark_write(cp->lmdb, &mark) == 0) {
			cp->mark_from_s = mark.replay_from_s;
			cp->last_mark_ms = now_ms;
			cp->mark_stale = false;
		}
	}
	return 0;
}

int
checkpoint_flush(struct checkpoint *cp)
{
	return flush(cp, true);
}

/* Nothing in the rings beyond this commit's events: ordinary load. */
static bool
rings_idle(const struct checkpoint *cp)
{
	for (uint32_t r = 0; r < cp->n_rings; r++) {
		if (event_ring_count(cp->rings[r]) > cp->taken[r])
			return false;
	}
	return true;
}

/* Is the pending batch due for `bindings` after this commit?  idle: see
 * rings_idle; then `bindings` keeps up every window. */
static bool
apply_due(const struct checkpoint *cp, bool idle)
{
	uint32_t n = bindings_batch_count(cp->pending);
	int64_t now_ms = monotonic_ms();

	if (n == 0)
		return cp->mark_stale && now_ms - cp->last_mark_ms >= MARK_INTERVAL_MS;
	return idle || cp->cfg.bindings_max_lag_ms == CHECKPOINT_APPLY_EVERY_COMMIT ||
	       n >= cp->cfg.max_pending_changes ||
	       now_ms - cp->pending_since_ms >= (int64_t)cp->cfg.bindings_max_lag_ms;
}

int
checkpoint_run_once(struct checkpoint *cp, int64_t now_s)
{
	MDB_txn *htxn = NULL;
	MDB_cursor *hcur = NULL;
	uint32_t budget = cp->cfg.max_changes_per_commit, total = 0, trimmed = 0;
	uint32_t pending_before = bindings_batch_count(cp->pending);
	int64_t min_at_s = INT64_MAX, max_at_s = INT64_MIN;
	uint64_t seq = cp->history_seq;
	uint8_t last_key[STORE_HISTORY_KEY_BYTES];
	bool trim = now_s - cp->last_trim_s >= 1 && pending_before == 0;
	int rc = 0, apply_rc = 0;
	bool idle, due;

	for (uint32_t r = 0; r < cp->n_rings; r++)
		cp->taken[r] = 0;
	for (uint32_t r = 0; r < cp->n_rings && budget > 0; r++) {
		const struct store_event *ev;
		uint32_t n;

		/* two chunks: the records may wrap around the ring's end */
		for (int chunk = 0; chunk < 2 && budget > 0; chunk++) {
			n = event_ring_peek_at(cp->rings[r], cp->taken[r], &ev, budget);
			cp->taken[r] += n;
			budget -= n;
			total += n;
		}
	}
	if (total > 0 || trim) {
		memcpy(last_key, cp->history_last_key, sizeof(last_key));
		rc = mdb_txn_begin(cp->lmdb->history, NULL, 0, &htxn);
		if (rc == 0)
			rc = mdb_cursor_open(htxn, cp->lmdb->history_dbi, &hcur);
		for (uint32_t r = 0; r < cp->n_rings && rc == 0; r++) {
			const struct store_event *ev;

			for (uint32_t done = 0, n; done < cp->taken[r] && rc == 0; done += n) {
				n = event_ring_peek_at(cp->rings[r], done, &ev, cp->taken[r] - done);
				for (uint32_t i = 0; i < n && rc == 0; i++) {
					rc = bindings_batch_add(cp->pending, &ev[i], seq);
					if (rc == 0)
						rc = apply_history(hcur, &ev[i], &seq, last_key);
					if (ev[i].at_s < min_at_s)
						min_at_s = ev[i].at_s;
					if (ev[i].at_s > max_at_s)
						max_at_s = ev[i].at_s;
				}
			}
		}
		if (hcur != NULL)
			mdb_cursor_close(hcur);
		if (rc == 0 && trim)
			trimmed = history_trim(cp, htxn, now_s);
		if (rc == 0 && min_at_s < cp->mark_from_s) {
			/* recovery would not scan back to these: move the mark's
			 * bound first (rare: see REPLAY_SLACK_S) */
			struct store_applied_mark mark = {
				.applied_seq = cp->applied_seq,
				.replay_from_s = replay_bound(min_at_s),
			};

			rc = store_applied_mark_write(cp->lmdb, &mark);
			if (rc == 0)
				cp->mark_from_s = mark.replay_from_s;
		}
		if (rc == 0) {
			rc = mdb_txn_commit(htxn);
			htxn = NULL;
		}
		if (htxn)
			mdb_txn_abort(htxn);
		if (rc != 0) {
			/* the events stay in the rings for the next window */
			bindings_batch_truncate(cp->pending, pending_before);
			count_error(cp, rc, cp->lmdb->history);
			return rc > 0 ? -rc : rc;
		}
		if (total > 0 && pending_before == 0)
			cp->pending_since_ms = monotonic_ms();
		/* before committed_seq: a reader that sees the seq sees the
		 * changes pending too */
		atomic_store(&cp->pending_count, bindings_batch_count(cp->pending));
		if (max_at_s > cp->pending_max_at_s)
			cp->pending_max_at_s = max_at_s;
		cp->history_seq = seq;
		memcpy(cp->history_last_key, last_key, sizeof(last_key));
		if (trim)
			cp->last_trim_s = now_s;
		/* Idle, the batch goes to `bindings` before the events leave the
		 * rings: at ordinary load a held 200 OK (reply_after_commit)
		 * still means "in `bindings`", as readers of LMDB expect.  Busy,
		 * after: the replies need only history.  A failure leaves the
		 * changes pending: history has them. */
		idle = rings_idle(cp);
		due = apply_due(cp, idle);
		if (due && idle)
			apply_rc = flush(cp, false);
		for (uint32_t r = 0; r < cp->n_rings; r++) {
			const struct store_event *ev;

			if (cp->taken[r] == 0)
				continue;
			event_ring_peek_at(cp->rings[r], cp->taken[r] - 1, &ev, 1);
			atomic_store(&cp->committed_seq[r], ev->seq);
			event_ring_release(cp->rings[r], cp->taken[r]);
		}
		atomic_fetch_add(&cp->commits, 1);
		atomic_fetch_add(&cp->changes, total);
		atomic_fetch_add(&cp->trimmed, trimmed);
		if (due && !idle)
			apply_rc = flush(cp, false);
	} else if (apply_due(cp, true)) {
		apply_rc = flush(cp, false);
	}
	return apply_rc != 0 ? apply_rc : (int)total;
}

static void *
checkpoint_thread(void *arg)
{
	struct checkpoint *cp = arg;
	struct timespec next;
	long window_ns = (long)cp->cfg.commit_window_ms * 1000000L;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&cp->stop)) {
		int n;

		do {    /* a window's backlog may need more than one commit */
			n = checkpoint_run_once(cp, time(NULL));
		} while (n >= (int)cp->cfg.max_changes_per_commit && !atomic_load(&cp->stop));
		next.tv_nsec += window_ns;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	/* final drain (checkpoint_stop flushes) */
	while (checkpoint_run_once(cp, time(NULL)) > 0)
		;
	return NULL;
}

int
checkpoint_start(struct checkpoint *cp)
{
	int rc;

	if (cp->thread_started)
		return -EALREADY;
	atomic_store(&cp->stop, false);
	rc = pthread_create(&cp->thread, NULL, checkpoint_thread, cp);
	if (rc != 0)
		return -rc;
	cp->thread_started = true;
	return 0;
}

void
checkpoint_stop(struct checkpoint *cp)
{
	if (cp->thread_started) {
		atomic_store(&cp->stop, true);
		pthread_join(cp->thread, NULL);
		cp->thread_started = false;
	}
	/* what is pending is in history already: a failure here is replayed
	 * by the next start's recovery */
	if (cp->pending != NULL && cp->rings != NULL)
		flush(cp, true);
}

uint64_t
checkpoint_committed_seq(const struct checkpoint *cp, uint32_t ring)
{
	if (ring >= cp->n_rings)
		return 0;
	return atomic_load(&cp->committed_seq[ring]);
}

void
checkpoint_get_stats(const struct checkpoint *cp, struct checkpoint_stats *out)
{
	struct checkpoint *c = (struct checkpoint *)cp;

	out->commits = atomic_load(&c->commits);
	out->changes = atomic_load(&c->changes);
	out->history_trimmed = atomic_load(&c->trimmed);
	out->errors = atomic_load(&c->errors);
	out->applies = atomic_load(&c->applies);
	out->applied = atomic_load(&c->applied);
	out->pending = atomic_load(&c->pending_count);
	out->last_error = atomic_load(&c->last_error);
}
