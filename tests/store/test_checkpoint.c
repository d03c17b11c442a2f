/*
 * test_checkpoint.c - events reach LMDB (bindings + history), removals
 * delete, recovery loads into the owning worker, history is trimmed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aor_hash.h"
#include "binding_table.h"
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
	};

	return cmocka_run_group_tests_name("store-checkpoint", tests, NULL, NULL);
}
