/* replay_cache.c — 4-way set-associative (nonce, cnonce) -> highest nc. */
#include "replay_cache.h"

#include "jhash_bytes.h"
#include <rte_malloc.h>
#include <rte_prefetch.h>

#define WAYS 4

struct replay_entry {
	uint64_t key;        /* 0: empty */
	uint32_t nc;
	uint32_t seen_at_s;
	uint32_t request_hash;
	uint32_t pad;
};

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
	uint32_t h1 = jhash_bytes(nonce, nonce_len, 0x5eed);
	uint32_t h2 = jhash_bytes(cnonce, cnonce_len, h1);

	return (struct replay_key){
		.key = ((uint64_t)h1 << 32 | h2) | 1,   /* never 0 (empty) */
		.set = h2 & c->set_mask,
	};
}

void replay_cache_prefetch(const struct replay_cache *c, struct replay_key k)
{
	/* a set is 4 x 24 bytes: it may straddle two lines */
	const struct replay_entry *set = &c->entries[(k.set & c->set_mask) * WAYS];

	rte_prefetch0(set);
	rte_prefetch0(&set[WAYS - 1]);
}

enum replay_verdict replay_cache_check_key(struct replay_cache *c, struct replay_key k, uint32_t nc,
					   uint32_t request_hash, uint32_t now_s)
{
	struct replay_entry *set = &c->entries[(k.set & c->set_mask) * WAYS];
	struct replay_entry *victim = &set[0];
	uint64_t key = k.key;

	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == key) {
			if (nc == set[i].nc && request_hash == set[i].request_hash)
				return REPLAY_RETRANSMISSION;
			if (nc <= set[i].nc)
				return REPLAY_REPLAYED;
			set[i].nc = nc;
			set[i].request_hash = request_hash;
			set[i].seen_at_s = now_s;
			return REPLAY_NEW;
		}
		if (set[i].key == 0 || set[i].seen_at_s < victim->seen_at_s)
			victim = &set[i];
	}
	victim->key = key;
	victim->nc = nc;
	victim->request_hash = request_hash;
	victim->seen_at_s = now_s;
	return REPLAY_NEW;
}

enum replay_verdict replay_cache_check(struct replay_cache *c, const char *nonce, size_t nonce_len,
				       const char *cnonce, size_t cnonce_len, uint32_t nc,
				       uint32_t request_hash, uint32_t now_s)
{
	return replay_cache_check_key(c, replay_cache_key(c, nonce, nonce_len, cnonce, cnonce_len),
				      nc, request_hash, now_s);
}
