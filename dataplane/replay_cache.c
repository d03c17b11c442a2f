/* replay_cache.c — 4-way set-associative (nonce, cnonce) -> highest nc. */
#include "replay_cache.h"

#include "aor_hash.h"
#include <rte_malloc.h>
#include <rte_prefetch.h>

#define WAYS 4

/* 16 bytes, so a set is one cache line: one miss per request instead of
 * two (the 24-byte entries' sets straddled lines; the prefetch of the
 * second line was 3.4 % of perf/bench-pipeline). 47 bits of the key are
 * kept, besides the set index: a false match, 2^-47 a lookup, costs one
 * 403 to a legitimate request. */
struct replay_entry {
	uint32_t key_hi;     /* with key_lo 0: empty */
	uint16_t key_lo;     /* odd when used */
	uint16_t seen_s;     /* now_s mod 2^16: ages compare across its wrap */
	uint32_t nc;
	uint32_t request_hash;
};

_Static_assert(sizeof(struct replay_entry) * WAYS == 64, "a set is one cache line");

struct replay_cache {
	uint32_t set_mask;
	struct replay_entry *entries;  /* sets of WAYS entries */
};

struct replay_cache *replay_cache_create(uint32_t entries, int socket_id)
{
	uint32_t sets = 16;
	struct replay_cache *c = rte_zmalloc_socket("replay_cache", sizeof(*c), 0, socket_id);

	if (!c)
		return NULL;
	while (sets * WAYS < entries && sets < (1u << 28))
		sets <<= 1;
	c->set_mask = sets - 1;
	c->entries = rte_zmalloc_socket("replay_entries", sizeof(struct replay_entry) * sets * WAYS,
					RTE_CACHE_LINE_SIZE, socket_id);
	if (!c->entries) {
		rte_free(c);
		return NULL;
	}
	return c;
}

void replay_cache_free(struct replay_cache *c)
{
	if (!c)
		return;
	rte_free(c->entries);
	rte_free(c);
}

struct replay_key replay_cache_key(const struct replay_cache *c, const char *nonce,
				   size_t nonce_len, const char *cnonce, size_t cnonce_len)
{
	uint64_t n = store_hash_bytes(nonce, nonce_len, 0x5eed);
	uint32_t h1 = (uint32_t)(n >> 32);
	uint32_t h2 = (uint32_t)store_hash_bytes(cnonce, cnonce_len, n);

	return (struct replay_key){
		.key = ((uint64_t)h1 << 32 | h2) | 1,   /* never 0 (empty) */
		.set = h2 & c->set_mask,
	};
}

void replay_cache_prefetch(const struct replay_cache *c, struct replay_key k)
{
	rte_prefetch0(&c->entries[(k.set & c->set_mask) * WAYS]);
}

enum replay_verdict replay_cache_check_key(struct replay_cache *c, struct replay_key k, uint32_t nc,
					   uint32_t request_hash, uint32_t now_s)
{
	struct replay_entry *set = &c->entries[(k.set & c->set_mask) * WAYS];
	struct replay_entry *victim = &set[0];
	uint32_t key_hi = (uint32_t)(k.key >> 32);
	uint16_t key_lo = (uint16_t)(k.key >> 16) | 1;
	uint16_t now16 = (uint16_t)now_s;
	uint32_t victim_age = 0;

	for (int i = 0; i < WAYS; i++) {
		struct replay_entry *e = &set[i];
		if (e->key_hi == key_hi && e->key_lo == key_lo) {
			if (nc == e->nc && request_hash == e->request_hash)
				return REPLAY_RETRANSMISSION;
			if (nc <= e->nc)
				return REPLAY_REPLAYED;
			e->nc = nc;
			e->request_hash = request_hash;
			e->seen_s = now16;
			return REPLAY_NEW;
		}
		/* an empty way, else the one seen longest ago */
		uint32_t age = e->key_lo == 0 ? 0x10000u : (uint16_t)(now16 - e->seen_s);
		if (i == 0 || age > victim_age) {
			victim = e;
			victim_age = age;
		}
	}
	*victim = (struct replay_entry){ .key_hi = key_hi, .key_lo = key_lo, .seen_s = now16,
					 .nc = nc, .request_hash = request_hash };
	return REPLAY_NEW;
}
