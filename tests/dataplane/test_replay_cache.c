/* Unit tests for dataplane/replay_cache: the verdicts of DESIGN.md step 3
 * and which entry a full set gives up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "replay_cache.h"
#include "test_eal.h"

static struct replay_cache *cache;

/* Keys of one set: the set index is given, the stored bits differ. */
static struct replay_key key_in_set0(uint32_t i)
{
	return (struct replay_key){ .key = (uint64_t)(0x1000 + i) << 32 | 0x10001u, .set = 0 };
}

static void test_new_replayed_retransmitted_and_higher_nc(void **state)
{
	struct replay_key k = replay_cache_key(cache, "nonce-a", 7, "cnonce-a", 8);

	(void)state;
	assert_int_equal(replay_cache_check_key(cache, k, 1, 111, 1000), REPLAY_NEW);
	assert_int_equal(replay_cache_check_key(cache, k, 1, 111, 1001), REPLAY_RETRANSMISSION);
	assert_int_equal(replay_cache_check_key(cache, k, 1, 222, 1001), REPLAY_REPLAYED);
	assert_int_equal(replay_cache_check_key(cache, k, 2, 333, 1002), REPLAY_NEW);
	assert_int_equal(replay_cache_check_key(cache, k, 1, 444, 1002), REPLAY_REPLAYED);
	/* another cnonce of the same nonce is its own entry */
	assert_int_equal(replay_cache_check_key(cache, replay_cache_key(cache, "nonce-a", 7, "cnonce-b", 8),
						1, 555, 1003),
			 REPLAY_NEW);
}

/* A full set gives up the entry seen longest ago, also when the seconds
 * counter it keeps (16 bits) wrapped in between. */
static void test_full_set_gives_up_its_oldest_entry_across_the_wrap(void **state)
{
	static const uint32_t seen[4] = { 65534, 65535, 65536, 65537 };

	(void)state;
	for (int round = 0; round < 2; round++) {
		uint32_t base = round * 100000u;
		for (uint32_t i = 0; i < 4; i++)
			assert_int_equal(replay_cache_check_key(cache, key_in_set0(base + i), 5, i,
								base + seen[i]),
					 REPLAY_NEW);
		/* all four are kept: an old nc of each is still refused */
		for (uint32_t i = 0; i < 4; i++)
			assert_int_equal(replay_cache_check_key(cache, key_in_set0(base + i), 5, 99,
								base + 65538),
					 REPLAY_REPLAYED);
		/* a fifth takes the place of the first (seen at 65534) */
		assert_int_equal(replay_cache_check_key(cache, key_in_set0(base + 4), 5, 4,
							base + 65539), REPLAY_NEW);
		assert_int_equal(replay_cache_check_key(cache, key_in_set0(base + 1), 5, 99,
							base + 65539), REPLAY_REPLAYED);
		assert_int_equal(replay_cache_check_key(cache, key_in_set0(base), 5, 99,
							base + 65539), REPLAY_NEW);
	}
}

int main(void)
{
	if (test_eal_init("replay", "64") != 0)
		return 1;
	cache = replay_cache_create(1024, SOCKET_ID_ANY);
	if (!cache)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_replayed_retransmitted_and_higher_nc),
		cmocka_unit_test(test_full_set_gives_up_its_oldest_entry_across_the_wrap),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	replay_cache_free(cache);
	rte_eal_cleanup();
	return rc;
}
