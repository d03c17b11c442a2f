/* Unit tests for dataplane/account_table: lookups by username, alone and
 * in bulk, including names whose hashes share the index's tag and slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "account_table.h"
#include "test_eal.h"

#define MANY 20000u

static struct store_account *account_named(struct store_account *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->version = STORE_ACCOUNT_VERSION;
	a->auth_mode = STORE_AUTH_DIGEST;
	memcpy(a->username, name, strnlen(name, sizeof(a->username) - 1));
	return a;
}

static const struct store_account *find_one_in_bulk(const struct account_table *t, const char *name)
{
	struct account_key k;
	const struct account_key *keys[1] = { &k };
	const struct store_account *out[1];

	if (!account_table_key(name, strlen(name), &k))
		return NULL;
	account_table_find_bulk(t, keys, 1, out);
	return out[0];
}

static void test_every_account_is_found_alone_and_in_bulk_and_no_other_name(void **state)
{
	static struct store_account a[MANY];
	char name[80];

	(void)state;
	for (uint32_t i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "user%05u", i);
		account_named(&a[i], name);
	}
	struct account_table *t = account_table_from_array(a, MANY, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_int_equal(account_table_size(t), MANY);
	for (uint32_t i = 0; i < MANY; i++) {
		const struct store_account *f = account_table_find(t, a[i].username, strlen(a[i].username));
		assert_non_null(f);
		assert_string_equal(f->username, a[i].username);
	}
	/* bulk: groups of 64, each key twice in a row, present and absent
	 * names mixed */
	for (uint32_t base = 0; base < 2 * MANY; base += ACCOUNT_TABLE_BULK_MAX) {
		static char names[ACCOUNT_TABLE_BULK_MAX][16];
		struct account_key k[ACCOUNT_TABLE_BULK_MAX];
		const struct account_key *keys[ACCOUNT_TABLE_BULK_MAX];
		const struct store_account *out[ACCOUNT_TABLE_BULK_MAX];
		for (uint32_t j = 0; j < ACCOUNT_TABLE_BULK_MAX; j++) {
			uint32_t i = (base + j) / 2;
			snprintf(names[j], sizeof(names[j]), "user%05u", i);
			assert_true(account_table_key(names[j], strlen(names[j]), &k[j]));
			keys[j] = &k[j];
		}
		account_table_find_bulk(t, keys, ACCOUNT_TABLE_BULK_MAX, out);
		for (uint32_t j = 0; j < ACCOUNT_TABLE_BULK_MAX; j++) {
			if ((base + j) / 2 < MANY) {
				assert_non_null(out[j]);
				assert_string_equal(out[j]->username, names[j]);
			} else {
				assert_null(out[j]);
			}
		}
	}
	/* prefixes and extensions of present names, the empty name, and one
	 * longer than any username */
	static const char *absent[] = { "user0000", "user000001", "user00000 ", "USER00000", "user" };
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		assert_null(account_table_find(t, absent[i], strlen(absent[i])));
		assert_null(find_one_in_bulk(t, absent[i]));
	}
	assert_null(account_table_find(t, "", 0));
	memset(name, 'u', sizeof(name));
	assert_null(account_table_find(t, name, STORE_ACCOUNT_NAME_MAX));
	assert_null(account_table_find(t, "user00000\0", 10));
	account_table_free(t);
}

struct hashed_name {
	uint64_t where;     /* tag and home slot of a 64-slot index */
	uint32_t i;
};

static int by_where(const void *a, const void *b)
{
	const struct hashed_name *x = a, *y = b;

	return x->where < y->where ? -1 : x->where > y->where;
}

/* Two names whose keys have the same tag and the same home slot in the
 * smallest index (64 slots): found by hashing two million names. */
static void colliding_names(char a[32], char b[32])
{
	enum { N = 2000000 };
	struct hashed_name *h = malloc(sizeof(*h) * N);
	char name[32];

	assert_non_null(h);
	for (uint32_t i = 0; i < N; i++) {
		struct account_key k;
		snprintf(name, sizeof(name), "c%u", i);
		assert_true(account_table_key(name, strlen(name), &k));
		h[i] = (struct hashed_name){ (k.hash >> 32) << 6 | (k.hash & 63), i };
	}
	qsort(h, N, sizeof(*h), by_where);
	for (uint32_t i = 1; i < N; i++)
		if (h[i].where == h[i - 1].where) {
			snprintf(a, 32, "c%u", h[i - 1].i);
			snprintf(b, 32, "c%u", h[i].i);
			free(h);
			return;
		}
	free(h);
	fail_msg("no two of the names collide");
}

static void test_names_sharing_tag_and_slot_are_told_apart(void **state)
{
	struct store_account a[2];
	char x[32], y[32];

	(void)state;
	colliding_names(x, y);
	/* only x: y reaches x's entry, whose name differs */
	struct account_table *t = account_table_from_array(account_named(&a[0], x), 1, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_null(account_table_find(t, y, strlen(y)));
	assert_null(find_one_in_bulk(t, y));
	assert_string_equal(find_one_in_bulk(t, x)->username, x);
	account_table_free(t);
	/* both: y is found past x's entry, alone and in bulk */
	account_named(&a[1], y);
	t = account_table_from_array(a, 2, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_string_equal(account_table_find(t, x, strlen(x))->username, x);
	assert_string_equal(account_table_find(t, y, strlen(y))->username, y);
	assert_string_equal(find_one_in_bulk(t, x)->username, x);
	assert_string_equal(find_one_in_bulk(t, y)->username, y);
	account_table_free(t);
}

static void test_duplicate_or_unterminated_usernames_are_refused(void **state)
{
	struct store_account a[2];

	(void)state;
	account_named(&a[0], "bob");
	account_named(&a[1], "bob");
	assert_null(account_table_from_array(a, 2, SOCKET_ID_ANY));
	memset(a[1].username, 'b', sizeof(a[1].username));
	assert_null(account_table_from_array(a, 2, SOCKET_ID_ANY));
	account_named(&a[1], "");
	assert_null(account_table_from_array(a, 2, SOCKET_ID_ANY));
}

static void test_bulk_over_its_maximum_or_without_a_table_finds_nothing(void **state)
{
	struct store_account a;
	struct account_key k;
	const struct account_key *keys[ACCOUNT_TABLE_BULK_MAX + 1];
	const struct store_account *out[ACCOUNT_TABLE_BULK_MAX + 1];

	(void)state;
	struct account_table *t = account_table_from_array(account_named(&a, "bob"), 1, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_true(account_table_key("bob", 3, &k));
	for (uint32_t i = 0; i <= ACCOUNT_TABLE_BULK_MAX; i++)
		keys[i] = &k;
	account_table_find_bulk(t, keys, ACCOUNT_TABLE_BULK_MAX, out);
	assert_non_null(out[ACCOUNT_TABLE_BULK_MAX - 1]);
	account_table_find_bulk(t, keys, ACCOUNT_TABLE_BULK_MAX + 1, out);
	for (uint32_t i = 0; i <= ACCOUNT_TABLE_BULK_MAX; i++)
		assert_null(out[i]);
	account_table_find_bulk(NULL, keys, 1, out);
	assert_null(out[0]);
	assert_null(account_table_find(NULL, "bob", 3));
	assert_int_equal(account_table_size(NULL), 0);
	account_table_prefetch(NULL, &k);
	account_table_free(t);
}

/* Every account starts a cache line, whatever its position: the registrar
 * prefetches one line for its account name and one for its MD5 HA1, which
 * a packed array of 468-byte records let straddle two lines for about
 * half the accounts. */
static void test_every_account_starts_a_cache_line(void **state)
{
	static struct store_account a[64];
	char name[32];

	(void)state;
	for (uint32_t i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "line%02u", i);
		account_named(&a[i], name);
		strcpy(a[i].account, "customer-with-a-long-account-name");
		strcpy(a[i].ha1_md5, "0123456789abcdef0123456789abcdef");
	}
	struct account_table *t = account_table_from_array(a, 64, SOCKET_ID_ANY);
	assert_non_null(t);
	for (uint32_t i = 0; i < 64; i++) {
		const struct store_account *f = account_table_find(t, a[i].username, strlen(a[i].username));
		assert_non_null(f);
		assert_int_equal((uintptr_t)f % 64, 0);
		assert_int_equal((uintptr_t)f->ha1_md5 / 64, (uintptr_t)(f->ha1_md5 + 32) / 64);
		assert_int_equal((uintptr_t)f->account / 64, (uintptr_t)(f->account + 31) / 64);
		assert_memory_equal(f, &a[i], sizeof(a[i]));
	}
	account_table_free(t);
}

/* The account prefetch reads the index: it must stop at an empty slot for
 * an absent name, take a name sharing another's tag in its stride, and
 * ignore a missing table. (What it loads cannot be seen from here; that
 * lookups still find what they did is checked after it.) */
static void test_account_prefetch_reads_only_the_index_and_changes_nothing(void **state)
{
	static struct store_account a[2];
	char x[32], y[32];
	struct account_key kx, ky, kabsent;

	(void)state;
	colliding_names(x, y);
	account_named(&a[0], x);
	struct account_table *t = account_table_from_array(a, 1, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_true(account_table_key(x, strlen(x), &kx));
	assert_true(account_table_key(y, strlen(y), &ky));
	assert_true(account_table_key("nobody", 6, &kabsent));
	account_table_prefetch_account(NULL, &kx);
	account_table_prefetch_account(t, &kx);
	account_table_prefetch_account(t, &ky);       /* y shares x's tag: x's lines */
	account_table_prefetch_account(t, &kabsent);
	assert_ptr_equal(account_table_find(t, x, strlen(x)), find_one_in_bulk(t, x));
	assert_non_null(account_table_find(t, x, strlen(x)));
	assert_null(account_table_find(t, y, strlen(y)));
	assert_null(find_one_in_bulk(t, "nobody"));
	account_table_free(t);
}

int main(void)
{
	if (test_eal_init("accounts", "256") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_account_is_found_alone_and_in_bulk_and_no_other_name),
		cmocka_unit_test(test_names_sharing_tag_and_slot_are_told_apart),
		cmocka_unit_test(test_duplicate_or_unterminated_usernames_are_refused),
		cmocka_unit_test(test_bulk_over_its_maximum_or_without_a_table_finds_nothing),
		cmocka_unit_test(test_every_account_starts_a_cache_line),
		cmocka_unit_test(test_account_prefetch_reads_only_the_index_and_changes_nothing),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
