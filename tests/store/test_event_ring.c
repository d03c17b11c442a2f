/*
 * test_event_ring.c - the worker -> checkpoint SPSC ring: order, loss
 * counting, wrap-around, and one producer and one consumer thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "binding_table.h"
#include "checkpoint.h"
#include "event_ring.h"
#include "store_test_util.h"

static void
test_ring_capacity_is_rounded_to_a_power_of_two(void **state)
{
	struct event_ring *r = event_ring_create(5);

	(void)state;
	assert_int_equal(event_ring_capacity(r), 8);
	event_ring_destroy(r);
	assert_null(event_ring_create(0));
}

static void
test_full_ring_refuses_and_counts_the_loss(void **state)
{
	struct event_ring *r = event_ring_create(4);
	struct store_event ev = { .seq = 0 };

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_true(event_ring_push(r, &ev));
	assert_false(event_ring_push(r, &ev));
	assert_false(event_ring_push(r, &ev));
	assert_int_equal(event_ring_lost(r), 2);
	assert_int_equal(event_ring_count(r), 4);
	event_ring_destroy(r);
}

static void
test_peek_stops_at_the_ring_end_and_peek_at_reads_past_it(void **state)
{
	struct event_ring *r = event_ring_create(4);
	struct store_event ev = { .seq = 0 };
	const struct store_event *first;

	(void)state;
	for (uint64_t i = 1; i <= 3; i++) {
		ev.seq = i;
		assert_true(event_ring_push(r, &ev));
	}
	assert_int_equal(event_ring_peek(r, &first, 8), 3);
	event_ring_release(r, 3);
	for (uint64_t i = 4; i <= 7; i++) {
		ev.seq = i;
		assert_true(event_ring_push(r, &ev));
	}
	/* slots 3, 0, 1, 2: one record before the end, three after */
	assert_int_equal(event_ring_peek(r, &first, 8), 1);
	assert_int_equal(first->seq, 4);
	assert_int_equal(event_ring_peek_at(r, 1, &first, 8), 3);
	assert_int_equal(first[0].seq, 5);
	assert_int_equal(first[2].seq, 7);
	event_ring_destroy(r);
}

static void
test_checkpoint_commits_records_that_wrap_the_ring(void **state)
{
	char *dir = make_state_dir("ring");
	struct store_lmdb_config cfg = { .state_dir = dir, .no_sync = true,
					 .bindings_map_bytes = 16 << 20, .history_map_bytes = 16 << 20 };
	struct store_lmdb *l;
	struct event_ring *ring = event_ring_create(8);
	struct binding_table *t = binding_table_create(64, 0, ring, T0);
	struct checkpoint *cp;
	struct store_policy policy;
	struct test_register r;
	struct registration_result res;
	char aor[64];

	(void)state;
	store_policy_defaults(&policy);
	assert_int_equal(store_lmdb_open(&cfg, &l), 0);
	cp = checkpoint_create(l, NULL, &ring, 1);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 6; i++) {
			snprintf(aor, sizeof(aor), "sip:u%d@example.com", round * 6 + i);
			reg_init(&r, aor, "c", 1, T0);
			reg_contact(&r, "sip:u@198.18.0.1", 600);
			binding_table_apply_register(t, &policy, &r.req, &res);
			assert_int_equal(res.status_code, 200);
		}
		/* round 1: slots 6, 7, 0, 1, 2, 3 */
		assert_int_equal(checkpoint_run_once(cp, T0), 6);
	}
	assert_int_equal(checkpoint_committed_seq(cp, 0), 12);
	assert_int_equal(event_ring_count(ring), 0);
	checkpoint_destroy(cp);
	binding_table_destroy(t);
	event_ring_destroy(ring);
	store_lmdb_close(l);
	rm_rf(dir);
}

#define THREAD_EVENTS 200000u

static void *
producer(void *arg)
{
	struct event_ring *r = arg;
	struct store_event ev;

	memset(&ev, 0, sizeof(ev));
	for (uint64_t i = 1; i <= THREAD_EVENTS; i++) {
		ev.seq = i;
		while (!event_ring_push(r, &ev))
			;       /* the test wants no loss; a worker would count it and go on */
	}
	return NULL;
}

static void
test_one_producer_and_one_consumer_thread_see_every_event_in_order(void **state)
{
	struct event_ring *r = event_ring_create(256);
	pthread_t th;
	uint64_t expect = 1;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, producer, r), 0);
	while (expect <= THREAD_EVENTS) {
		const struct store_event *first;
		uint32_t n = event_ring_peek(r, &first, 64);

		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(first[i].seq, expect++);
		event_ring_release(r, n);
	}
	pthread_join(th, NULL);
	assert_int_equal(event_ring_pushed(r), THREAD_EVENTS);
	event_ring_destroy(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_capacity_is_rounded_to_a_power_of_two),
		cmocka_unit_test(test_full_ring_refuses_and_counts_the_loss),
		cmocka_unit_test(test_peek_stops_at_the_ring_end_and_peek_at_reads_past_it),
		cmocka_unit_test(test_checkpoint_commits_records_that_wrap_the_ring),
		cmocka_unit_test(test_one_producer_and_one_consumer_thread_see_every_event_in_order),
	};

	return cmocka_run_group_tests_name("store-event-ring", tests, NULL, NULL);
}
