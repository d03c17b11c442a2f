/* rate_table.c — token buckets keyed by source address. */
#include "rate_table.h"

#include <string.h>

#include <rte_malloc.h>

#include "aor_hash.h"

#define WAYS 4

struct rate_entry {
	uint8_t addr[16];
	uint8_t len;              /* 0: empty */
	uint8_t pad[7];
	struct xdp_bucket bucket;
};

struct rate_table {
	uint32_t set_mask;
	struct rate_entry *entries;
};

struct rate_table *rate_table_create(uint32_t entries, int socket_id)
{
	uint32_t sets = 16;
	struct rate_table *t = rte_zmalloc_socket("rate_table", sizeof(*t), 0, socket_id);

	if (!t)
		return NULL;
	while (sets * WAYS < entries && sets < (1u << 26))
		sets <<= 1;
	t->set_mask = sets - 1;
	t->entries = rte_zmalloc_socket("rate_entries", sizeof(struct rate_entry) * sets * WAYS,
					RTE_CACHE_LINE_SIZE, socket_id);
	if (!t->entries) {
		rte_free(t);
		return NULL;
	}
	return t;
}

void rate_table_free(struct rate_table *t)
{
	if (!t)
		return;
	rte_free(t->entries);
	rte_free(t);
}

bool rate_table_take(struct rate_table *t, const uint8_t *addr, uint8_t len, uint64_t now_ns,
		     uint32_t rate_pps, uint32_t burst)
{
	struct rate_entry *set, *victim;

	if (rate_pps == 0)
		return true;
	set = &t->entries[((uint32_t)store_hash_bytes(addr, len, 0x7a7e) & t->set_mask) * WAYS];
	victim = &set[0];
	for (int i = 0; i < WAYS; i++) {
		if (set[i].len == len && memcmp(set[i].addr, addr, len) == 0)
			return xdp_bucket_take(&set[i].bucket, now_ns, rate_pps, burst);
		if (set[i].len == 0 || set[i].bucket.last_ns < victim->bucket.last_ns)
			victim = &set[i];
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, addr, len);
	victim->len = len;
	return xdp_bucket_take(&victim->bucket, now_ns, rate_pps, burst);
}
