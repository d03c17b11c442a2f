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

#include "lmdb_records.h"

#define DEFAULT_BINDINGS_MAP (8ull << 30)
#define DEFAULT_HISTORY_MAP (32ull << 30)
#define HISTORY_TRIM_PER_COMMIT 20000u

struct store_lmdb {
	MDB_env *bindings;
	MDB_env *history;
	MDB_dbi bindings_dbi;
	MDB_dbi history_dbi;
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
	free(l);
}

MDB_env *store_lmdb_bindings_env(struct store_lmdb *l) { return l->bindings; }
MDB_env *store_lmdb_history_env(struct store_lmdb *l) { return l->history; }
MDB_dbi store_lmdb_bindings_dbi(struct store_lmdb *l) { return l->bindings_dbi; }
MDB_dbi store_lmdb_history_dbi(struct store_lmdb *l) { return l->history_dbi; }

/* ---- checkpoint writer -------------------------------------------- */

struct checkpoint {
	struct store_lmdb *lmdb;
	struct checkpoint_config cfg;
	struct event_ring **rings;
	uint32_t n_rings;
	_Atomic uint64_t *committed_seq;   /* per ring */
	uint32_t *taken;                   /* per ring, this commit */
	struct binding_change *pending;   /* this commit's `bindings` changes */
	struct binding_change **sorted;    /* the same, in key order */
	uint32_t changes_cap;
	char *keys;                        /* their LMDB keys, back to back */
	size_t keys_cap;
	uint64_t history_seq;              /* next history key sequence */
	uint8_t history_last_key[STORE_HISTORY_KEY_BYTES];
	int64_t last_trim_s;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	_Atomic uint64_t commits, changes, trimmed, errors;
	_Atomic int last_error;
};

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
		if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 &&
		    k.mv_size == STORE_HISTORY_KEY_BYTES) {
			memcpy(cp->history_last_key, k.mv_data, STORE_HISTORY_KEY_BYTES);
			cp->history_seq = store_history_key_seq(k.mv_data) + 1;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

struct checkpoint *
checkpoint_create(struct store_lmdb *l, const struct checkpoint_config *cfg,
		  struct event_ring *const *rings, uint32_t n_rings)
{
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
	cp->n_rings = n_rings;
	cp->rings = calloc(n_rings, sizeof(*cp->rings));
	cp->committed_seq = calloc(n_rings, sizeof(*cp->committed_seq));
	cp->taken = calloc(n_rings, sizeof(*cp->taken));
	if (!cp->rings || !cp->committed_seq || !cp->taken) {
		checkpoint_destroy(cp);
		return NULL;
	}
	memcpy(cp->rings, rings, n_rings * sizeof(*cp->rings));
	history_load_last(cp);
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
	free(cp->pending);
	free(cp->sorted);
	free(cp->keys);
	free(cp);
}

/*
 * One change to `bindings` in this commit.  A commit applies its changes
 * sorted by LMDB key, and only the last change of each key: consecutive
 * puts then land on the same or the next leaf (LMDB's cursor skips the
 * search from the root when the key is on the page it is on), each dirty
 * page is copied once, and a binding changed twice in one commit is
 * written once.  prefix = the key's first 16 bytes, big-endian, zero-padded:
 * ordering by it, then by the whole key, is LMDB's memcmp order.
 */
struct binding_change {
	uint64_t prefix[2];
	uint32_t key_off;
	uint32_t key_len;
	uint32_t order;                /* position in the commit: the last wins */
	const struct store_event *ev;
};

static uint64_t
load_be64(const char *p, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v = (v << 8) | (i < len ? (uint8_t)p[i] : 0);
	return v;
}

static int
change_cmp(const void *pa, const void *pb, void *keys_arg)
{
	const char *keys = keys_arg;
	const struct binding_change *a = *(const struct binding_change *const *)pa;
	const struct binding_change *b = *(const struct binding_change *const *)pb;
	uint32_t n;
	int c;

	if (a->prefix[0] != b->prefix[0])
		return a->prefix[0] < b->prefix[0] ? -1 : 1;
	if (a->prefix[1] != b->prefix[1])
		return a->prefix[1] < b->prefix[1] ? -1 : 1;
	n = a->key_len < b->key_len ? a->key_len : b->key_len;
	c = memcmp(keys + a->key_off, keys + b->key_off, n);
	if (c != 0)
		return c;
	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Room for n changes; false on ENOMEM. */
static bool
changes_reserve(struct checkpoint *cp, uint32_t n)
{
	if (n > cp->changes_cap) {
		struct binding_change *c = realloc(cp->pending, (size_t)n * sizeof(*c));
		struct binding_change **p;

		if (c == NULL)
			return false;
		cp->pending = c;
		p = realloc(cp->sorted, (size_t)n * sizeof(*p));
		if (p == NULL)
			return false;
		cp->sorted = p;
		cp->changes_cap = n;
	}
	return true;
}

/* Queue ev's change to `bindings` (if it has one) for apply_bindings.
 * 0 or ENOMEM. */
static int
collect_binding(struct checkpoint *cp, const struct store_event *ev, uint32_t *n,
		size_t *keys_used)
{
	struct binding_change *c = &cp->pending[*n];
	char *key;
	size_t len;

	if (!store_event_touches_binding((enum store_event_type)ev->type))
		return 0;       /* security events live in history only */
	if (store_binding_data_used_size(&ev->binding) > sizeof(struct store_binding_data))
		return 0;       /* malformed event: nothing sane to write */
	if (*keys_used + STORE_BINDING_KEY_MAX > cp->keys_cap) {
		size_t cap = cp->keys_cap ? 2 * cp->keys_cap : 64 * STORE_BINDING_KEY_MAX;
		char *k = realloc(cp->keys, cap);

		if (k == NULL)
			return ENOMEM;
		cp->keys = k;
		cp->keys_cap = cap;
	}
	key = cp->keys + *keys_used;
	len = store_binding_lmdb_key_build(&ev->binding, key, STORE_BINDING_KEY_MAX);
	if (len == 0)
		return 0;
	c->prefix[0] = load_be64(key, len);
	c->prefix[1] = len > 8 ? load_be64(key + 8, len - 8) : 0;
	c->key_off = (uint32_t)*keys_used;
	c->key_len = (uint32_t)len;
	c->order = *n;
	c->ev = ev;
	*keys_used += len;
	(*n)++;
	return 0;
}

/* Sort, keep the last change of each key, write them through one cursor. */
static int
apply_bindings(struct checkpoint *cp, MDB_txn *txn, uint32_t n)
{
	_Alignas(8) unsigned char value[sizeof(struct store_binding_value_header) +
					sizeof(struct store_binding_data)];
	struct store_binding_value_header hdr = { .version = STORE_RECORD_VERSION };
	MDB_cursor *cur;
	int rc;

	/* Nothing to write (sorted may not even be allocated yet: qsort_r
	 * must not see NULL, UBSan). */
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		cp->sorted[i] = &cp->pending[i];
	qsort_r(cp->sorted, n, sizeof(*cp->sorted), change_cmp, cp->keys);
	rc = mdb_cursor_open(txn, cp->lmdb->bindings_dbi, &cur);
	if (rc != 0)
		return rc;
	memcpy(value, &hdr, sizeof(hdr));
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct binding_change *c = cp->sorted[i];
		const struct store_event *ev = c->ev;
		MDB_val k = { .mv_size = c->key_len, .mv_data = cp->keys + c->key_off };
		MDB_val v;

		if (i + 1 < n && cp->sorted[i + 1]->key_len == c->key_len &&
		    memcmp(cp->keys + cp->sorted[i + 1]->key_off, k.mv_data, c->key_len) == 0)
			continue;       /* a later change of this binding decides */
		if (store_event_removes((enum store_event_type)ev->type)) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
			rc = rc == 0 ? mdb_cursor_del(cur, 0) : rc == MDB_NOTFOUND ? 0 : rc;
			continue;
		}
		v.mv_size = sizeof(hdr) + store_binding_data_used_size(&ev->binding);
		memcpy(value + sizeof(hdr), &ev->binding, v.mv_size - sizeof(hdr));
		v.mv_data = value;
		rc = mdb_cursor_put(cur, &k, &v, 0);
	}
	mdb_cursor_close(cur);
	return rc;
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

int
checkpoint_run_once(struct checkpoint *cp, int64_t now_s)
{
	MDB_txn *btxn = NULL, *htxn = NULL;
	MDB_cursor *hcur = NULL;
	uint32_t budget = cp->cfg.max_changes_per_commit, total = 0, trimmed = 0, n_changes = 0;
	size_t keys_used = 0;
	uint64_t seq = cp->history_seq;
	uint8_t last_key[STORE_HISTORY_KEY_BYTES];
	bool trim = now_s - cp->last_trim_s >= 1;
	int rc = 0;

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
	if (total == 0 && !trim)
		return 0;

	memcpy(last_key, cp->history_last_key, sizeof(last_key));
	rc = mdb_txn_begin(cp->lmdb->bindings, NULL, 0, &btxn);
	if (rc == 0)
		rc = mdb_txn_begin(cp->lmdb->history, NULL, 0, &htxn);
	if (rc == 0 && !changes_reserve(cp, total))
		rc = ENOMEM;
	if (rc == 0)
		rc = mdb_cursor_open(htxn, cp->lmdb->history_dbi, &hcur);
	for (uint32_t r = 0; r < cp->n_rings && rc == 0; r++) {
		const struct store_event *ev;

		for (uint32_t done = 0, n; done < cp->taken[r] && rc == 0; done += n) {
			n = event_ring_peek_at(cp->rings[r], done, &ev, cp->taken[r] - done);
			for (uint32_t i = 0; i < n && rc == 0; i++) {
				rc = collect_binding(cp, &ev[i], &n_changes, &keys_used);
				if (rc == 0)
					rc = apply_history(hcur, &ev[i], &seq, last_key);
			}
		}
	}
	if (hcur != NULL)
		mdb_cursor_close(hcur);
	if (rc == 0)
		rc = apply_bindings(cp, btxn, n_changes);
	if (rc == 0 && trim)
		trimmed = history_trim(cp, htxn, now_s);
	if (rc == 0) {
		rc = mdb_txn_commit(btxn);
		btxn = NULL;
	}
	if (rc == 0) {
		rc = mdb_txn_commit(htxn);
		htxn = NULL;
		/* bindings are durable already: history loss is tolerable */
	}
	if (btxn)
		mdb_txn_abort(btxn);
	if (htxn)
		mdb_txn_abort(htxn);
	if (rc != 0) {
		atomic_fetch_add(&cp->errors, 1);
		atomic_store(&cp->last_error, rc);
		if (rc == MDB_MAP_FULL) {
			grow_map(cp->lmdb->bindings);
			grow_map(cp->lmdb->history);
		}
		return rc > 0 ? -rc : rc;
	}
	cp->history_seq = seq;
	memcpy(cp->history_last_key, last_key, sizeof(last_key));
	if (trim)
		cp->last_trim_s = now_s;
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
	return (int)total;
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
	/* final drain */
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
	if (!cp->thread_started)
		return;
	atomic_store(&cp->stop, true);
	pthread_join(cp->thread, NULL);
	cp->thread_started = false;
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
	out->last_error = atomic_load(&c->last_error);
}
