/*
 * test_checkpoint.c - events reach LMDB (bindings + history), removals
 * delete, recovery loads into the owning worker, history is trimmed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "aor_hash.h"
#include "binding_table.h"
#include "bindings_batch.h"
#include "checkpoint.h"
#include "event_ring.h"
#include "recovery.h"
#include "store_test_util.h"

#define MAX_WORKERS 4

struct fixture {
	char *dir;
	struct store_lmdb *lmdb;
	struct event_ring *rings[MAX_WORKERS];
	struct binding_table *tables[MAX_WORKERS];
	struct checkpoint *cp;
	uint32_t n_workers;
	struct store_policy policy;
};

static void
open_all(struct fixture *f, uint32_t n_workers)
{
	struct store_lmdb_config cfg = { .state_dir = f->dir, .no_sync = true,
					 .bindings_map_bytes = 64 << 20,
					 .history_map_bytes = 64 << 20 };

	f->n_workers = n_workers;
	assert_int_equal(store_lmdb_open(&cfg, &f->lmdb), 0);
	for (uint32_t w = 0; w < n_workers; w++) {
		f->rings[w] = event_ring_create(4096);
		f->tables[w] = binding_table_create(1024, (uint16_t)w, f->rings[w], T0);
		assert_non_null(f->tables[w]);
	}
	f->cp = checkpoint_create(f->lmdb, NULL, f->rings, n_workers);
	assert_non_null(f->cp);
}

static void
close_all(struct fixture *f)
{
	checkpoint_destroy(f->cp);
	f->cp = NULL;
	for (uint32_t w = 0; w < f->n_workers; w++) {
		binding_table_destroy(f->tables[w]);
		event_ring_destroy(f->rings[w]);
		f->tables[w] = NULL;
		f->rings[w] = NULL;
	}
	store_lmdb_close(f->lmdb);
	f->lmdb = NULL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = make_state_dir("ckpt");
	store_policy_defaults(&f->policy);
	*state = f;
	return f->dir ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->lmdb)
		close_all(f);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* REGISTER aor with one contact on its owner worker. */
static void
register_on_owner(struct fixture *f, const char *aor, const char *uri, uint32_t cseq,
		  int expires, int64_t now_s)
{
	struct test_register r;
	struct registration_result res;
	uint32_t w = store_aor_owner(aor, strlen(aor), f->n_workers);

	reg_init(&r, aor, "call-1", cseq, now_s);
	reg_contact(&r, uri, expires);
	binding_table_apply_register(f->tables[w], &f->policy, &r.req, &res);
	assert_int_equal(res.status_code, 200);
}

static uint64_t
count_records(MDB_env *env, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_stat st;

	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

static uint64_t
count_loaded(struct fixture *f)
{
	uint64_t n = 0;
	struct binding_table_stats st;

	for (uint32_t w = 0; w < f->n_workers; w++) {
		binding_table_get_stats(f->tables[w], &st);
		n += st.bindings;
	}
	return n;
}

static void
test_checkpoint_writes_bindings_and_history(void **state)
{
	struct fixture *f = *state;
	MDB_txn *txn;
	MDB_val k, v;
	char key[128];
	struct store_binding_value_header hdr;

	open_all(f, 2);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0);
	register_on_owner(f, "sip:bob@example.com", "sip:bob@198.18.0.2", 1, 600, T0);
	register_on_owner(f, "sip:bob@example.com", "sip:bob@198.18.0.2", 2, 600, T0 + 1);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 1), 3);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 2);
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 3);
	/* key AOR '\0' contact; value = header + binding */
	memcpy(key, "sip:bob@example.com\0sip:bob@198.18.0.2", 38);
	k.mv_data = key;
	k.mv_size = 38;
	assert_int_equal(mdb_txn_begin(store_lmdb_bindings_env(f->lmdb), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_get(txn, store_lmdb_bindings_dbi(f->lmdb), &k, &v), 0);
	memcpy(&hdr, v.mv_data, sizeof(hdr));
	assert_int_equal(hdr.version, STORE_RECORD_VERSION);
	mdb_txn_abort(txn);
	/* rings are empty after a successful commit */
	assert_int_equal(event_ring_count(f->rings[0]) + event_ring_count(f->rings[1]), 0);
	/* bob's two events are the last on his worker's ring (alice's may share it) */
	{
		uint32_t bob = store_aor_owner("sip:bob@example.com", 19, 2);
		uint32_t alice = store_aor_owner("sip:alice@example.com", 21, 2);

		assert_int_equal(checkpoint_committed_seq(f->cp, bob), bob == alice ? 3 : 2);
	}
}

static void
test_checkpoint_removal_deletes_the_binding_record(void **state)
{
	struct fixture *f = *state;

	open_all(f, 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.2", 2, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 2);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 3, 0, T0 + 1);
	assert_int_equal(binding_table_expire(f->tables[0], T0 + 600), 1);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 600), 2);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 0);
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 4);
}

/* The `bindings` record of (aor, contact): 0 and *out, or MDB_NOTFOUND. */
static int
read_binding(struct fixture *f, const char *aor, const char *uri, struct store_binding_data *out)
{
	char key[256];
	size_t alen = strlen(aor), ulen = strlen(uri);
	MDB_txn *txn;
	MDB_val k = { .mv_size = alen + 1 + ulen, .mv_data = key }, v;
	int rc;

	memcpy(key, aor, alen);
	key[alen] = '\0';
	memcpy(key + alen + 1, uri, ulen);
	assert_int_equal(mdb_txn_begin(store_lmdb_bindings_env(f->lmdb), NULL, MDB_RDONLY, &txn), 0);
	rc = mdb_get(txn, store_lmdb_bindings_dbi(f->lmdb), &k, &v);
	if (rc == 0)
		assert_int_equal(store_binding_value_decode(v.mv_data, v.mv_size, out), 0);
	mdb_txn_abort(txn);
	return rc;
}

static void
test_one_commit_writes_only_the_last_change_of_each_binding(void **state)
{
	struct fixture *f = *state;
	struct store_binding_data b;

	open_all(f, 1);
	register_on_owner(f, "sip:carol@example.com", "sip:carol@198.18.0.3", 1, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 1);
	/* one commit: alice registers then refreshes; bob registers then
	 * unregisters; carol (stored) unregisters then registers again */
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0 + 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 2, 900, T0 + 2);
	register_on_owner(f, "sip:bob@example.com", "sip:bob@198.18.0.2", 1, 600, T0 + 1);
	register_on_owner(f, "sip:bob@example.com", "sip:bob@198.18.0.2", 2, 0, T0 + 2);
	register_on_owner(f, "sip:carol@example.com", "sip:carol@198.18.0.3", 2, 0, T0 + 1);
	register_on_owner(f, "sip:carol@example.com", "sip:carol@198.18.0.3", 3, 700, T0 + 2);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 2), 6);
	assert_int_equal(read_binding(f, "sip:alice@example.com", "sip:alice@198.18.0.1", &b), 0);
	assert_int_equal(b.cseq, 2);
	assert_int_equal(b.expires_at_s, T0 + 2 + 900);
	assert_int_equal(read_binding(f, "sip:bob@example.com", "sip:bob@198.18.0.2", &b),
			 MDB_NOTFOUND);
	assert_int_equal(read_binding(f, "sip:carol@example.com", "sip:carol@198.18.0.3", &b), 0);
	assert_int_equal(b.cseq, 3);
	assert_int_equal(b.registered_at_s, T0 + 2);
	/* history keeps every change, not only the last */
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 7);
}

static void
test_one_commit_of_many_bindings_in_random_order_writes_each(void **state)
{
	struct fixture *f = *state;
	struct store_binding_data b;
	uint32_t ids[600];
	char aor[64], uri[64];

	open_all(f, 2);
	for (uint32_t i = 0; i < 600; i++)
		ids[i] = i;
	for (uint32_t i = 599; i > 0; i--) {    /* fixed shuffle */
		uint32_t j = (i * 2654435761u) % (i + 1), t = ids[i];

		ids[i] = ids[j];
		ids[j] = t;
	}
	for (uint32_t i = 0; i < 600; i++) {
		snprintf(aor, sizeof(aor), "sip:%u@example.com", ids[i]);
		snprintf(uri, sizeof(uri), "sip:%u@198.18.%u.%u", ids[i], ids[i] >> 8, ids[i] & 255);
		register_on_owner(f, aor, uri, 1, 600 + (int)ids[i], T0);
	}
	assert_int_equal(checkpoint_run_once(f->cp, T0), 600);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 600);
	for (uint32_t i = 0; i < 600; i++) {
		snprintf(aor, sizeof(aor), "sip:%u@example.com", i);
		snprintf(uri, sizeof(uri), "sip:%u@198.18.%u.%u", i, i >> 8, i & 255);
		assert_int_equal(read_binding(f, aor, uri, &b), 0);
		assert_int_equal(b.expires_at_s, T0 + 600 + i);
	}
}

static void
test_recovery_loads_every_unexpired_binding_into_its_owner(void **state)
{
	struct fixture *f = *state;
	struct store_recovery_stats st;
	char aor[64], uri[64];

	open_all(f, 2);
	for (int i = 0; i < 100; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		snprintf(uri, sizeof(uri), "sip:user%d@198.18.0.1", i);
		register_on_owner(f, aor, uri, 1, 600, T0);
	}
	assert_int_equal(checkpoint_run_once(f->cp, T0), 100);
	close_all(f);
	open_all(f, 2);
	assert_int_equal(store_recover(f->lmdb, f->tables, 2, T0 + 10, &st), 0);
	assert_int_equal(st.loaded, 100);
	for (int i = 0; i < 100; i++) {
		uint32_t w;

		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		w = store_aor_owner(aor, strlen(aor), 2);
		assert_int_equal(aor_binding_count(f->tables[w], aor), 1);
		assert_int_equal(aor_binding_count(f->tables[1 - w], aor), 0);
	}
}

static void
test_recovery_with_a_different_worker_count_recovers_everything(void **state)
{
	struct fixture *f = *state;
	struct store_recovery_stats st;
	char aor[64];

	open_all(f, 3);
	for (int i = 0; i < 200; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		register_on_owner(f, aor, "sip:u@198.18.0.1", 1, 600, T0);
	}
	assert_int_equal(checkpoint_run_once(f->cp, T0), 200);
	close_all(f);
	open_all(f, 4);
	assert_int_equal(store_recover(f->lmdb, f->tables, 4, T0 + 10, &st), 0);
	assert_int_equal(st.loaded, 200);
	assert_int_equal(count_loaded(f), 200);
	for (int i = 0; i < 200; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		assert_int_equal(aor_binding_count(f->tables[store_aor_owner(aor, strlen(aor), 4)], aor), 1);
	}
}

static void
test_recovery_skips_and_deletes_expired_records(void **state)
{
	struct fixture *f = *state;
	struct store_recovery_stats st;

	open_all(f, 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 60, T0);
	register_on_owner(f, "sip:bob@example.com", "sip:bob@198.18.0.1", 1, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 2);
	close_all(f);
	open_all(f, 1);
	assert_int_equal(store_recover(f->lmdb, f->tables, 1, T0 + 100, &st), 0);
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(aor_binding_count(f->tables[0], "sip:bob@example.com"), 1);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 1);
	/* 2 registered + 1 expired */
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 3);
}

static void
test_recovered_binding_keeps_every_field_and_expires_on_time(void **state)
{
	struct fixture *f = *state;
	const struct store_binding_data *b;
	size_t len;
	const char *s;

	open_all(f, 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 9, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 1);
	close_all(f);
	open_all(f, 1);
	assert_int_equal(store_recover(f->lmdb, f->tables, 1, T0 + 1, NULL), 0);
	b = find_contact(f->tables[0], "sip:alice@example.com", "sip:alice@198.18.0.1");
	assert_non_null(b);
	assert_int_equal(b->cseq, 9);
	assert_int_equal(b->expires_at_s, T0 + 600);
	assert_int_equal(b->registered_at_s, T0);
	s = store_binding_string(b, STORE_STR_CALL_ID, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(s, "call-1", 6);
	assert_int_equal(binding_table_expire(f->tables[0], T0 + 599), 0);
	assert_int_equal(binding_table_expire(f->tables[0], T0 + 600), 1);
}

static void
test_history_older_than_retention_is_trimmed(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_config cc = { .history_retention_s = 3600 };
	struct checkpoint_stats st;

	open_all(f, 1);
	checkpoint_destroy(f->cp);
	f->cp = checkpoint_create(f->lmdb, &cc, f->rings, 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 2, 600, T0 + 100);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 100), 2);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 3, 600, T0 + 3650);
	/* T0 is older than an hour at T0+3650, T0+100 is not */
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 3650), 1);
	checkpoint_get_stats(f->cp, &st);
	assert_int_equal(st.history_trimmed, 1);
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 2);
}

static void
test_checkpoint_thread_commits_and_drains_on_stop(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_stats st;
	char aor[64];

	open_all(f, 1);
	assert_int_equal(checkpoint_start(f->cp), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		register_on_owner(f, aor, "sip:u@198.18.0.1", 1, 600, T0);
	}
	checkpoint_stop(f->cp);
	checkpoint_get_stats(f->cp, &st);
	assert_int_equal(st.changes, 500);
	assert_int_equal(st.errors, 0);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 500);
}

static void
test_history_continues_its_sequence_after_reopen(void **state)
{
	struct fixture *f = *state;

	open_all(f, 1);
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 1);
	close_all(f);
	open_all(f, 1);
	/* same second, new run: event seq restarts at 1, the history key must not */
	register_on_owner(f, "sip:alice@example.com", "sip:alice@198.18.0.1", 1, 600, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 1);
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 2);
}

/* A commit with nothing to write (an idle window, before any change)
 * succeeds and writes nothing; under UBSan it must not hand qsort_r a NULL
 * array either. */
static void
test_an_empty_commit_writes_nothing(void **state)
{
	struct fixture *f = *state;

	open_all(f, 1);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 0);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 1), 0);
	assert_int_equal(count_records(store_lmdb_bindings_env(f->lmdb),
				       store_lmdb_bindings_dbi(f->lmdb)), 0);
}

/* Replace f->cp by a checkpoint with config cc. */
static void
reconfigure(struct fixture *f, const struct checkpoint_config *cc)
{
	checkpoint_destroy(f->cp);
	f->cp = checkpoint_create(f->lmdb, cc, f->rings, f->n_workers);
	assert_non_null(f->cp);
}

static void
register_users(struct fixture *f, int from, int to, int64_t now_s)
{
	char aor[64];

	for (int i = from; i < to; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		register_on_owner(f, aor, "sip:u@198.18.0.1", 1, 600, now_s);
	}
}

static uint64_t
bindings_records(struct fixture *f)
{
	return count_records(store_lmdb_bindings_env(f->lmdb), store_lmdb_bindings_dbi(f->lmdb));
}

/* Busy rings (more queued than a commit takes): the changes are durable in
 * history and leave the rings, `bindings` follows once the rings are idle. */
static void
test_busy_rings_commit_history_first_and_bindings_when_idle(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_config cc = { .max_changes_per_commit = 4, .bindings_max_lag_ms = 60000 };
	struct checkpoint_stats st;

	open_all(f, 1);
	reconfigure(f, &cc);
	register_users(f, 0, 10, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 4);
	assert_int_equal(checkpoint_committed_seq(f->cp, 0), 4);
	assert_int_equal(event_ring_count(f->rings[0]), 6);
	assert_int_equal(bindings_records(f), 0);
	assert_int_equal(count_records(store_lmdb_history_env(f->lmdb),
				       store_lmdb_history_dbi(f->lmdb)), 4);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 4);
	checkpoint_get_stats(f->cp, &st);
	assert_int_equal(st.pending, 8);
	assert_int_equal(st.applies, 0);
	assert_int_equal(bindings_records(f), 0);
	/* the last 2: the rings are idle now */
	assert_int_equal(checkpoint_run_once(f->cp, T0), 2);
	checkpoint_get_stats(f->cp, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.applies, 1);
	assert_int_equal(st.applied, 10);
	assert_int_equal(bindings_records(f), 10);
}

/* ... and once the oldest pending change is bindings_max_lag_ms old even
 * while they stay busy. */
static void
test_busy_rings_get_bindings_after_the_max_lag(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_config cc = { .max_changes_per_commit = 4, .bindings_max_lag_ms = 50 };
	const struct timespec lag = { .tv_nsec = 60 * 1000000L };

	open_all(f, 1);
	reconfigure(f, &cc);
	register_users(f, 0, 10, T0);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 4);
	assert_int_equal(bindings_records(f), 0);
	nanosleep(&lag, NULL);
	assert_int_equal(checkpoint_run_once(f->cp, T0), 4);
	assert_int_equal(bindings_records(f), 8);
}

/* A writer killed with changes only history held (simulated: a child that
 * exits without stopping its checkpoint): recovery writes them into
 * `bindings` and loads them, with another worker count. */
static void
test_recovery_replays_history_that_bindings_had_not_caught_up_with(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_config cc = { .max_changes_per_commit = 4, .bindings_max_lag_ms = 60000 };
	struct binding_table *tables[2];
	struct store_recovery_stats rst;
	struct store_applied_mark mark;
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		open_all(f, 1);
		reconfigure(f, &cc);
		register_users(f, 0, 10, T0);
		if (checkpoint_run_once(f->cp, T0) != 4 || checkpoint_run_once(f->cp, T0) != 4 ||
		    bindings_records(f) != 0)
			_exit(1);
		_exit(0);       /* no checkpoint_stop: the batch dies with us */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	struct store_lmdb_config cfg = { .state_dir = f->dir, .no_sync = true,
					 .bindings_map_bytes = 64 << 20,
					 .history_map_bytes = 64 << 20 };
	assert_int_equal(store_lmdb_open(&cfg, &f->lmdb), 0);
	assert_int_equal(bindings_records(f), 0);
	for (int w = 0; w < 2; w++)
		tables[w] = binding_table_create(1024, (uint16_t)w, NULL, T0);
	assert_int_equal(store_recover(f->lmdb, tables, 2, T0, &rst), 0);
	assert_int_equal(rst.replayed, 8);
	assert_int_equal(rst.loaded, 8);
	assert_int_equal(bindings_records(f), 8);
	assert_int_equal(store_applied_mark_read(f->lmdb, &mark), 0);
	assert_int_equal(mark.applied_seq, 8);
	/* a second start has nothing left to replay */
	for (int w = 0; w < 2; w++) {
		binding_table_destroy(tables[w]);
		tables[w] = binding_table_create(1024, (uint16_t)w, NULL, T0);
	}
	assert_int_equal(store_recover(f->lmdb, tables, 2, T0, &rst), 0);
	assert_int_equal(rst.replayed, 0);
	assert_int_equal(rst.loaded, 8);
	for (int w = 0; w < 2; w++)
		binding_table_destroy(tables[w]);
	store_lmdb_close(f->lmdb);
	f->lmdb = NULL;
}

/* An event older than the mark's replay bound (a clock stepped back) moves
 * the bound back before its history commit, so recovery's scan finds it. */
static void
test_an_event_older_than_the_mark_moves_the_mark_back(void **state)
{
	struct fixture *f = *state;
	struct checkpoint_config cc = { .max_changes_per_commit = 1, .bindings_max_lag_ms = 60000 };
	struct store_applied_mark mark;

	open_all(f, 1);
	reconfigure(f, &cc);
	register_users(f, 0, 1, T0 + 1000);
	assert_int_equal(checkpoint_run_once(f->cp, T0 + 1000), 1);
	assert_int_equal(checkpoint_flush(f->cp), 0);
	assert_int_equal(store_applied_mark_read(f->lmdb, &mark), 0);
	assert_true(mark.replay_from_s > T0 + 900);
	register_users(f, 1, 3, T0);            /* two: the rings stay busy */
	assert_int_equal(checkpoint_run_once(f->cp, T0), 1);
	assert_int_equal(store_applied_mark_read(f->lmdb, &mark), 0);
	assert_true(mark.replay_from_s <= T0);
	assert_int_equal(mark.applied_seq, 1);
}

/* A store_event for aor/contact (AOR and contact strings only). */
static void
make_event(struct store_event *ev, enum store_event_type type, const char *aor,
	   const char *contact, uint32_t cseq)
{
	size_t la = strlen(aor), lc = strlen(contact);

	memset(ev, 0, sizeof(*ev));
	ev->version = STORE_RECORD_VERSION;
	ev->type = (uint8_t)type;
	ev->at_s = T0;
	ev->binding.cseq = cseq;
	ev->binding.expires_at_s = T0 + 600;
	ev->binding.str_len[STORE_STR_AOR] = (uint16_t)la;
	ev->binding.str_len[STORE_STR_CONTACT] = (uint16_t)lc;
	memcpy(ev->binding.str, aor, la);
	memcpy(ev->binding.str + la, contact, lc);
}

/* The highest order wins whatever the add order (recovery adds in key-time
 * order); keys sharing their first 16 bytes sort right (the radix sort's
 * runs); truncate drops the later adds. */
static void
test_a_bindings_batch_writes_the_highest_order_of_each_binding(void **state)
{
	struct fixture *f = *state;
	struct bindings_batch *b = bindings_batch_create();
	const char *aor = "sip:the-same-first-sixteen-bytes@example.com";
	struct store_event ev;
	char contact[64];
	MDB_txn *txn;
	MDB_val k, v;
	struct store_binding_data got;
	char key[STORE_BINDING_KEY_MAX];

	assert_non_null(b);
	open_all(f, 1);
	for (int i = 0; i < 300; i++) {
		snprintf(contact, sizeof(contact), "sip:c%d@198.18.0.1", i);
		make_event(&ev, STORE_EVENT_REGISTERED, aor, contact, 1);
		assert_int_equal(bindings_batch_add(b, &ev, 1000 - (uint64_t)i), 0);
	}
	/* c0: refreshed (order 2000), then an older removal (order 1500) */
	make_event(&ev, STORE_EVENT_REFRESHED, aor, "sip:c0@198.18.0.1", 7);
	assert_int_equal(bindings_batch_add(b, &ev, 2000), 0);
	make_event(&ev, STORE_EVENT_UNREGISTERED, aor, "sip:c0@198.18.0.1", 6);
	assert_int_equal(bindings_batch_add(b, &ev, 1500), 0);
	/* c1: removed last */
	make_event(&ev, STORE_EVENT_UNREGISTERED, aor, "sip:c1@198.18.0.1", 2);
	assert_int_equal(bindings_batch_add(b, &ev, 3000), 0);
	/* security events are not binding changes */
	make_event(&ev, STORE_EVENT_AUTH_FAILED, aor, "sip:c2@198.18.0.1", 9);
	assert_int_equal(bindings_batch_add(b, &ev, 4000), 0);
	assert_int_equal(bindings_batch_count(b), 303);
	/* taken back: a failed history commit */
	make_event(&ev, STORE_EVENT_REGISTERED, aor, "sip:late@198.18.0.1", 1);
	assert_int_equal(bindings_batch_add(b, &ev, 5000), 0);
	bindings_batch_truncate(b, 303);
	assert_int_equal(bindings_batch_count(b), 303);

	assert_int_equal(bindings_batch_commit(b, store_lmdb_bindings_env(f->lmdb),
					       store_lmdb_bindings_dbi(f->lmdb)), 0);
	assert_int_equal(bindings_records(f), 299);      /* c1 removed, "late" dropped */

	make_event(&ev, STORE_EVENT_REFRESHED, aor, "sip:c0@198.18.0.1", 7);
	k.mv_size = store_binding_lmdb_key_build(&ev.binding, key, sizeof(key));
	k.mv_data = key;
	assert_int_equal(mdb_txn_begin(store_lmdb_bindings_env(f->lmdb), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_get(txn, store_lmdb_bindings_dbi(f->lmdb), &k, &v), 0);
	assert_int_equal(store_binding_value_decode(v.mv_data, v.mv_size, &got), 0);
	assert_int_equal(got.cseq, 7);
	mdb_txn_abort(txn);
	bindings_batch_destroy(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_an_empty_commit_writes_nothing),
		T(test_checkpoint_writes_bindings_and_history),
		T(test_checkpoint_removal_deletes_the_binding_record),
		T(test_one_commit_writes_only_the_last_change_of_each_binding),
		T(test_one_commit_of_many_bindings_in_random_order_writes_each),
		T(test_recovery_loads_every_unexpired_binding_into_its_owner),
		T(test_recovery_with_a_different_worker_count_recovers_everything),
		T(test_recovery_skips_and_deletes_expired_records),
		T(test_recovered_binding_keeps_every_field_and_expires_on_time),
		T(test_history_older_than_retention_is_trimmed),
		T(test_checkpoint_thread_commits_and_drains_on_stop),
		T(test_history_continues_its_sequence_after_reopen),
		T(test_busy_rings_commit_history_first_and_bindings_when_idle),
		T(test_busy_rings_get_bindings_after_the_max_lag),
		T(test_recovery_replays_history_that_bindings_had_not_caught_up_with),
		T(test_an_event_older_than_the_mark_moves_the_mark_back),
		T(test_a_bindings_batch_writes_the_highest_order_of_each_binding),
	};

	return cmocka_run_group_tests_name("store-checkpoint", tests, NULL, NULL);
}
