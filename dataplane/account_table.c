/* account_table.c — an array of struct store_account and a read-only
 * open-addressing index by username.
 *
 * Hand-written rather than rte_hash, measured: rte_hash keeps a copy of
 * every 64-byte zero-padded key in its key store (~100 MB for 1 M
 * accounts), so a lookup took three dependent cache misses (bucket, key,
 * account) and a CRC over all 64 bytes. Here an index entry is 8 bytes
 * (tag, position; 16 MB for 1 M accounts) and the key is compared with
 * the account's own username, whose line the registrar reads next anyway:
 * two dependent misses, and a hash over the name's bytes only: ~260 ->
 * ~120 instructions a request for the lookup (callgrind), and
 * perf/bench-pipeline (1 M users) x1.04 (1.029-1.067 in six runs of a
 * scratch build holding both tables, which alternated between them every
 * 8,192 users so that both saw the same noise; 2026-11-27).
 * The table is built once and only read after, so linear probing at a
 * load of at most 1/2 needs no deletion or resizing. Its entries come from
 * the operator's accounts, never from the wire, so no sender can lengthen
 * its probe runs: a name from the wire is one probe run at worst.
 *
 * Each account sits in a 64-byte aligned slot of 512 bytes (its 468, then
 * padding), so the lines a REGISTER reads are always the same three:
 * the username (line 0), the account name (line 1) and the MD5 HA1 (line
 * 3), each prefetched once. Packed at 468 bytes, the records' lines
 * shifted by 20 bytes from one to the next, and about half of the
 * account names and HA1s straddled a line the prefetch did not cover
 * (perf record: 93 % of the samples in the account name's strnlen on its
 * first load). perf/bench-pipeline (1 M users, in one process alternating
 * every 8,192 users between a 468- and a 512-byte table): x1.04 in six
 * runs (1.033-1.044), for 44 MB more per million accounts. */
#include "account_table.h"

#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "aor_hash.h"

#define NO_ACCOUNT UINT32_MAX
/* The usernames' hash seed: any constant other than the AORs' (0). */
#define ACCOUNT_HASH_SEED 0x6163636f756e7473ULL

#define ACCOUNT_SLOT_BYTES 512

union account_slot {
	struct store_account account;
	char bytes[ACCOUNT_SLOT_BYTES];
};

_Static_assert(sizeof(struct store_account) <= ACCOUNT_SLOT_BYTES, "an account fits its slot");
_Static_assert(offsetof(struct store_account, ha1_md5) / 64 ==
		       (offsetof(struct store_account, ha1_md5) + sizeof(((struct store_account *)0)->ha1_md5) - 1) / 64,
	       "the MD5 HA1 sits in one line of its slot");
_Static_assert(offsetof(struct store_account, account) / 64 == (offsetof(struct store_account, account) + 31) / 64,
	       "an account name's first 32 bytes sit in one line of its slot");

struct index_entry {
	uint32_t tag;            /* the hash's high 32 bits */
	uint32_t account;        /* position in slots[]; NO_ACCOUNT: empty */
};

struct account_table {
	uint32_t n;
	uint32_t capacity;
	uint32_t index_mask;
	struct index_entry *index;
	union account_slot *slots;   /* 64-byte aligned */
};

static struct account_table *table_alloc(uint32_t capacity, int socket_id)
{
	struct account_table *t = rte_zmalloc_socket("account_table", sizeof(*t), 0, socket_id);
	uint64_t slots = 64;

	if (!t)
		return NULL;
	while (slots < 2ull * capacity)
		slots <<= 1;
	if (slots > (1ull << 32)) {
		rte_free(t);
		return NULL;
	}
	t->capacity = capacity;
	t->index_mask = (uint32_t)(slots - 1);
	t->index = rte_malloc_socket("account_index", sizeof(struct index_entry) * slots, 64, socket_id);
	t->slots = rte_zmalloc_socket("accounts", sizeof(union account_slot) * (capacity ? capacity : 1),
				      64, socket_id);
	if (!t->index || !t->slots) {
		account_table_free(t);
		return NULL;
	}
	memset(t->index, 0xff, sizeof(struct index_entry) * slots);
	return t;
}

static bool name_is(const struct store_account *a, const char *user, uint32_t len)
{
	return a->username[len] == '\0' && memcmp(a->username, user, len) == 0;
}

static uint32_t tag_of(uint64_t hash)
{
	return (uint32_t)(hash >> 32);
}

static uint32_t home_slot(const struct account_table *t, uint64_t hash)
{
	return (uint32_t)hash & t->index_mask;
}

/* The first slot from pos on that is empty or holds tag. */
static uint32_t next_with_tag(const struct account_table *t, uint32_t pos, uint32_t tag)
{
	while (t->index[pos].account != NO_ACCOUNT && t->index[pos].tag != tag)
		pos = (pos + 1) & t->index_mask;
	return pos;
}

/* The index slot where key's probe looks first: the first from its home
 * slot that is empty or holds its tag. */
static uint32_t first_with_tag(const struct account_table *t, const struct account_key *key)
{
	return next_with_tag(t, home_slot(t, key->hash), tag_of(key->hash));
}

/* The position in slots[] of user, starting the probe at slot pos;
 * NO_ACCOUNT when absent. */
static uint32_t probe_from(const struct account_table *t, uint32_t pos, const struct account_key *k)
{
	for (;;) {
		pos = next_with_tag(t, pos, tag_of(k->hash));
		uint32_t a = t->index[pos].account;
		if (a == NO_ACCOUNT || name_is(&t->slots[a].account, k->user, k->len))
			return a;
		pos = (pos + 1) & t->index_mask;
	}
}

static int table_add(struct account_table *t, const struct store_account *a)
{
	struct account_key k;

	if (t->n >= t->capacity ||
	    !account_table_key(a->username, strnlen(a->username, STORE_ACCOUNT_NAME_MAX), &k))
		return -1;
	uint32_t pos = home_slot(t, k.hash);
	if (probe_from(t, pos, &k) != NO_ACCOUNT)
		return -1;                       /* the same username twice */
	while (t->index[pos].account != NO_ACCOUNT)
		pos = (pos + 1) & t->index_mask;
	t->slots[t->n].account = *a;
	t->index[pos] = (struct index_entry){ tag_of(k.hash), t->n };
	t->n++;
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
	int failed;
};

static int add_one(const struct store_account *a, void *arg)
{
	struct load_ctx *ctx = arg;

	if (table_add(ctx->t, a) != 0) {
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
	struct load_ctx ctx = { n <= UINT32_MAX / 2 ? table_alloc((uint32_t)n, socket_id) : NULL, 0 };
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

bool account_table_key(const char *user, size_t user_len, struct account_key *key)
{
	if (user_len == 0 || user_len >= STORE_ACCOUNT_NAME_MAX)
		return false;
	key->user = user;
	key->len = (uint32_t)user_len;
	key->hash = store_hash_bytes(user, user_len, ACCOUNT_HASH_SEED);
	return true;
}

void account_table_prefetch(const struct account_table *t, const struct account_key *key)
{
	if (t)
		rte_prefetch0(&t->index[home_slot(t, key->hash)]);
}

void account_table_prefetch_account(const struct account_table *t, const struct account_key *key)
{
	if (!t)
		return;
	uint32_t a = t->index[first_with_tag(t, key)].account;
	if (a == NO_ACCOUNT)
		return;
	const struct store_account *account = &t->slots[a].account;
	rte_prefetch0(account);
	rte_prefetch0(account->account);
	rte_prefetch0(account->ha1_md5);
}

const struct store_account *account_table_find(const struct account_table *t,
					       const char *user, size_t user_len)
{
	struct account_key k;

	if (!t || !account_table_key(user, user_len, &k))
		return NULL;
	uint32_t i = probe_from(t, home_slot(t, k.hash), &k);
	return i == NO_ACCOUNT ? NULL : &t->slots[i].account;
}

void account_table_find_bulk(const struct account_table *t, const struct account_key *const *keys, uint32_t n,
			     const struct store_account **out)
{
	uint32_t pos[ACCOUNT_TABLE_BULK_MAX];

	if (!t || n > ACCOUNT_TABLE_BULK_MAX) {
		for (uint32_t i = 0; i < n; i++)
			out[i] = NULL;
		return;
	}
	/* First every key's first entry with its tag, and a prefetch of that
	 * account, so the accounts' misses overlap; then the names. */
	for (uint32_t i = 0; i < n; i++) {
		pos[i] = first_with_tag(t, keys[i]);
		uint32_t a = t->index[pos[i]].account;
		out[i] = a == NO_ACCOUNT ? NULL : &t->slots[a].account;
		if (out[i])
			rte_prefetch0(out[i]);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!out[i] || name_is(out[i], keys[i]->user, keys[i]->len))
			continue;
		/* another name with the same tag: the rest of the probe */
		uint32_t a = probe_from(t, (pos[i] + 1) & t->index_mask, keys[i]);
		out[i] = a == NO_ACCOUNT ? NULL : &t->slots[a].account;
	}
}

uint32_t account_table_size(const struct account_table *t)
{
	return t ? t->n : 0;
}

void account_table_free(struct account_table *t)
{
	if (!t)
		return;
	rte_free(t->index);
	rte_free(t->slots);
	rte_free(t);
}
