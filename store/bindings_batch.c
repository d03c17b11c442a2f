/*
 * bindings_batch.c - sorted, last-change-wins writes to `bindings`.
 *
 * Why sorted: consecutive puts then land on the same or the next leaf
 * (LMDB's cursor skips the search from the root when the key is on the page
 * it is on), each dirty page is copied once, and a binding changed many
 * times in the batch is written once.  Why big batches (checkpoint.c): a
 * random AOR dirties about one 4 KiB leaf per change, so the pages a batch
 * rewrites per change fall as the batch grows.
 */
#include "bindings_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* prefix = the key's first 16 bytes, big-endian, zero-padded: ordering by
 * it, then by the whole key, is LMDB's memcmp order. */
struct binding_change {
	uint64_t prefix[2];
	uint64_t order;
	uint64_t data_off;
	uint32_t key_off;
	uint16_t key_len;
	uint16_t data_len;             /* 0 for a removal */
};

/* One change in the radix sort: its 16-byte prefix and its index. */
struct sort_item {
	uint64_t prefix[2];
	uint32_t index;
};

struct bindings_batch {
	struct binding_change *changes;
	struct binding_change **sorted;
	struct sort_item *items, *items_tmp;
	uint32_t n, cap;
	char *keys;
	size_t keys_used, keys_cap;
	char *data;
	size_t data_used, data_cap;
};

struct bindings_batch *
bindings_batch_create(void)
{
	return calloc(1, sizeof(struct bindings_batch));
}

void
bindings_batch_destroy(struct bindings_batch *b)
{
	if (b == NULL)
		return;
	free(b->changes);
	free(b->sorted);
	free(b->items);
	free(b->items_tmp);
	free(b->keys);
	free(b->data);
	free(b);
}

uint32_t
bindings_batch_count(const struct bindings_batch *b)
{
	return b->n;
}

void
bindings_batch_clear(struct bindings_batch *b)
{
	b->n = 0;
	b->keys_used = 0;
	b->data_used = 0;
}

void
bindings_batch_truncate(struct bindings_batch *b, uint32_t count)
{
	if (count >= b->n)
		return;
	b->n = count;
	if (count == 0) {
		bindings_batch_clear(b);
		return;
	}
	/* arenas are filled in add order: the first dropped change starts
	 * where the kept ones end */
	b->keys_used = b->changes[count].key_off;
	b->data_used = b->changes[count].data_off;
}

/* Room for `more` bytes after *used in *buf (doubling); false on ENOMEM. */
static bool
arena_reserve(char **buf, size_t *cap, size_t used, size_t more)
{
	size_t want = used + more, c = *cap ? *cap : 64 * 1024;
	char *p;

	if (want <= *cap)
		return true;
	while (c < want)
		c *= 2;
	p = realloc(*buf, c);
	if (p == NULL)
		return false;
	*buf = p;
	*cap = c;
	return true;
}

static uint64_t
load_be64(const char *p, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v = (v << 8) | (i < len ? (uint8_t)p[i] : 0);
	return v;
}

int
bindings_batch_add(struct bindings_batch *b, const struct store_event *ev, uint64_t order)
{
	struct binding_change *c;
	size_t used = store_binding_data_used_size(&ev->binding), len;
	bool removes = store_event_removes((enum store_event_type)ev->type);
	char *key;

	if (!store_event_touches_binding((enum store_event_type)ev->type))
		return 0;       /* security events live in history only */
	if (used > sizeof(struct store_binding_data))
		return 0;       /* malformed event: nothing sane to write */
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? 2 * b->cap : 4096;
		struct binding_change *nc = realloc(b->changes, (size_t)cap * sizeof(*nc));
		struct binding_change **ns;

		if (nc == NULL)
			return ENOMEM;
		b->changes = nc;
		ns = realloc(b->sorted, (size_t)cap * sizeof(*ns));
		if (ns == NULL)
			return ENOMEM;
		b->sorted = ns;
		for (int i = 0; i < 2; i++) {
			struct sort_item **it = i == 0 ? &b->items : &b->items_tmp;
			struct sort_item *ni = realloc(*it, (size_t)cap * sizeof(*ni));

			if (ni == NULL)
				return ENOMEM;
			*it = ni;
		}
		b->cap = cap;
	}
	if (!arena_reserve(&b->keys, &b->keys_cap, b->keys_used, STORE_BINDING_KEY_MAX) ||
	    (!removes && !arena_reserve(&b->data, &b->data_cap, b->data_used, used)))
		return ENOMEM;
	key = b->keys + b->keys_used;
	len = store_binding_lmdb_key_build(&ev->binding, key, STORE_BINDING_KEY_MAX);
	if (len == 0)
		return 0;
	c = &b->changes[b->n++];
	c->prefix[0] = load_be64(key, len);
	c->prefix[1] = len > 8 ? load_be64(key + 8, len - 8) : 0;
	c->order = order;
	c->key_off = (uint32_t)b->keys_used;
	c->key_len = (uint16_t)len;
	c->data_off = b->data_used;
	c->data_len = removes ? 0 : (uint16_t)used;
	b->keys_used += len;
	if (!removes) {
		memcpy(b->data + b->data_used, &ev->binding, used);
		b->data_used += used;
	}
	return 0;
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

/*
 * b->sorted = the changes in change_cmp order.  An LSD radix sort on the
 * 16-byte prefix (byte digits; digits every change shares, like "sip:",
 * cost no pass), then change_cmp inside the runs of equal prefixes (several
 * bindings of one AOR, several changes of one binding).  Why not qsort_r
 * alone: 1M changes took 222 ms in it, most of a 1M-change apply's sort
 * (perf/bench-store, checkpoint thread).
 */
static void
sort_changes(struct bindings_batch *b)
{
	uint32_t n = b->n, count[16][256];
	struct sort_item *in = b->items, *out = b->items_tmp;

	memset(count, 0, sizeof(count));
	for (uint32_t i = 0; i < n; i++) {
		in[i].prefix[0] = b->changes[i].prefix[0];
		in[i].prefix[1] = b->changes[i].prefix[1];
		in[i].index = i;
		for (int d = 0; d < 16; d++)
			count[d][(uint8_t)(in[i].prefix[1 - d / 8] >> (8 * (d % 8)))]++;
	}
	for (int d = 0; d < 16; d++) {      /* least significant byte first */
		uint32_t pos[256], sum = 0;
		int word = 1 - d / 8, shift = 8 * (d % 8);
		struct sort_item *t;
		bool one_bucket = false;

		for (int v = 0; v < 256; v++) {
			if (count[d][v] == n)
				one_bucket = true;
			pos[v] = sum;
			sum += count[d][v];
		}
		if (one_bucket)
			continue;
		for (uint32_t i = 0; i < n; i++)
			out[pos[(uint8_t)(in[i].prefix[word] >> shift)]++] = in[i];
		t = in;
		in = out;
		out = t;
	}
	for (uint32_t i = 0; i < n; i++)
		b->sorted[i] = &b->changes[in[i].index];
	for (uint32_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && in[j].prefix[0] == in[i].prefix[0] &&
				in[j].prefix[1] == in[i].prefix[1]; j++)
			;
		if (j - i > 1)
			qsort_r(b->sorted + i, j - i, sizeof(*b->sorted), change_cmp, b->keys);
	}
}

static int
apply(struct bindings_batch *b, MDB_txn *txn, MDB_dbi dbi)
{
	struct store_binding_value_header hdr = { .version = STORE_RECORD_VERSION };
	MDB_cursor *cur;
	uint32_t n = b->n;
	int rc;

	sort_changes(b);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct binding_change *c = b->sorted[i];
		MDB_val k = { .mv_size = c->key_len, .mv_data = b->keys + c->key_off };
		MDB_val v;

		if (i + 1 < n && b->sorted[i + 1]->key_len == c->key_len &&
		    memcmp(b->keys + b->sorted[i + 1]->key_off, k.mv_data, c->key_len) == 0)
			continue;       /* a later change of this binding decides */
		if (c->data_len == 0) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
			rc = rc == 0 ? mdb_cursor_del(cur, 0) : rc == MDB_NOTFOUND ? 0 : rc;
			continue;
		}
		/* MDB_RESERVE: the value is written straight into the page */
		v.mv_size = sizeof(hdr) + c->data_len;
		rc = mdb_cursor_put(cur, &k, &v, MDB_RESERVE);
		if (rc == 0) {
			memcpy(v.mv_data, &hdr, sizeof(hdr));
			memcpy((char *)v.mv_data + sizeof(hdr), b->data + c->data_off, c->data_len);
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

int
bindings_batch_commit(struct bindings_batch *b, MDB_env *env, MDB_dbi dbi)
{
	MDB_txn *txn;
	int rc;

	/* Nothing to write (sorted may not even be allocated yet: qsort_r
	 * must not see NULL, UBSan). */
	if (b->n == 0)
		return 0;
	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = apply(b, txn, dbi);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}
