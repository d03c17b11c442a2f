/* account_table.c — rte_hash over an array of struct store_account. */
#include "account_table.h"

#include <stdio.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

/* Keys are usernames padded with NULs to a fixed length, as rte_hash wants. */
#define KEY_LEN STORE_ACCOUNT_NAME_MAX

struct account_table {
	struct rte_hash *index;
	uint32_t n;
	struct store_account *accounts;
};

static uint32_t generation;

static struct account_table *table_alloc(uint32_t capacity, int socket_id)
{
	char name[RTE_HASH_NAMESIZE];
	struct account_table *t = rte_zmalloc_socket("account_table", sizeof(*t), 0, socket_id);

	if (!t)
		return NULL;
	snprintf(name, sizeof(name), "accounts_%u", __atomic_fetch_add(&generation, 1, __ATOMIC_RELAXED));
	struct rte_hash_parameters p = {
		.name = name,
		/* rte_hash needs at least 8 entries and some slack above n. */
		.entries = capacity < 64 ? 64 : capacity + capacity / 8,
		.key_len = KEY_LEN,
		/* CRC32C with SSE4.2: the 64-byte padded key in 8 steps; rte_jhash
		 * took ~230 instructions a lookup (callgrind,
		 * perf/bench-pipeline). Keys come from the operator's
		 * accounts, never from the wire, so the table cannot be
		 * flooded through its hash. */
		.hash_func = rte_hash_crc,
		.socket_id = socket_id,
	};
	t->index = rte_hash_create(&p);
	t->accounts = rte_zmalloc_socket("accounts", sizeof(struct store_account) * (capacity ? capacity : 1),
					 0, socket_id);
	if (!t->index || !t->accounts) {
		account_table_free(t);
		return NULL;
	}
	return t;
}

static int table_add(struct account_table *t, const struct store_account *a)
{
	_Alignas(8) char key[KEY_LEN] = { 0 };   /* rte_hash_crc reads 8 bytes at a time */
	size_t len = strnlen(a->username, KEY_LEN);

	if (len == 0 || len >= KEY_LEN)
		return -1;
	memcpy(key, a->username, len);
	int32_t pos = rte_hash_add_key_data(t->index, key, (void *)(uintptr_t)t->n);
	if (pos < 0)
		return -1;
	t->accounts[t->n++] = *a;
	return 0;
}

struct account_table *account_table_from_array(const struct store_account *accounts,
					       uint32_t n, int socket_id)
{
	struct account_table *t = table_alloc(n, socket_id);

	if (!t)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (table_add(t, &accounts[i]) != 0) {
			account_table_free(t);
			return NULL;
		}
	return t;
}

struct load_ctx {
	struct account_table *t;
	uint32_t capacity;
	int failed;
};

static int add_one(const struct store_account *a, void *arg)
{
	struct load_ctx *ctx = arg;

	if (ctx->t->n >= ctx->capacity || table_add(ctx->t, a) != 0) {
		ctx->failed = 1;
		return 1;
	}
	return 0;
}

struct account_table *account_table_load(struct store_config *c, int socket_id,
					 char *err, size_t err_len)
{
	uint64_t n = 0, skipped = 0;
	int rc = store_account_count(c, &n);

	if (rc != 0) {
		snprintf(err, err_len, "accounts: cannot count: LMDB error %d", rc);
		return NULL;
	}
	struct load_ctx ctx = { table_alloc((uint32_t)n, socket_id), (uint32_t)n, 0 };
	if (!ctx.t) {
		snprintf(err, err_len, "accounts: no memory for %llu accounts (raise [dataplane] memory_mb)",
			 (unsigned long long)n);
		return NULL;
	}
	rc = store_account_foreach(c, add_one, &ctx, &skipped);
	if (rc != 0 || ctx.failed) {
		snprintf(err, err_len, "accounts: load failed after %u of %llu (error %d)", ctx.t->n,
			 (unsigned long long)n, rc);
		account_table_free(ctx.t);
		return NULL;
	}
	if (skipped)
		snprintf(err, err_len, "accounts: skipped %llu records of another version",
			 (unsigned long long)skipped);
	return ctx.t;
}

bool account_table_key(const char *user, size_t user_len, char key[ACCOUNT_TABLE_KEY_LEN])
{
	if (user_len == 0 || user_len >= KEY_LEN)
		return false;
	memcpy(key, user, user_len);
	memset(key + user_len, 0, KEY_LEN - user_len);
	return true;
}

const struct store_account *account_table_find(const struct account_table *t,
					       const char *user, size_t user_len)
{
	_Alignas(8) char key[KEY_LEN];
	void *data;

	if (!t || !account_table_key(user, user_len, key))
		return NULL;
	if (rte_hash_lookup_data(t->index, key, &data) < 0)
		return NULL;
	return &t->accounts[(uintptr_t)data];
}

void account_table_find_bulk(const struct account_table *t, const void **keys, uint32_t n,
			     const struct store_account **out)
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;

	if (!t || n == 0 || n > RTE_HASH_LOOKUP_BULK_MAX) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = NULL;
		return;
	}
	if (rte_hash_lookup_bulk_data(t->index, keys, n, &hits, data) < 0)
		hits = 0;
	for (uint32_t i = 0; i < n; i++)
		out[i] = (hits >> i & 1) ? &t->accounts[(uintptr_t)data[i]] : NULL;
}

uint32_t account_table_size(const struct account_table *t)
{
	return t ? t->n : 0;
}

void account_table_free(struct account_table *t)
{
	if (!t)
		return;
	rte_hash_free(t->index);
	rte_free(t->accounts);
	rte_free(t);
}
