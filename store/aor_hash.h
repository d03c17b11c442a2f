/*
 * aor_hash.h - the one hash of an address-of-record, and the owner rule;
 * its construction, seeded, also hashes the dataplane's other keys
 * (store_hash_bytes).
 *
 * Every place that needs to know which worker owns an AOR (the dataplane's
 * hand-off ring, recovery from LMDB, the control process routing a kick)
 * calls store_aor_owner().  Nothing else may hash an AOR for that purpose,
 * so the rule can never disagree between writers and readers.
 *
 * The AOR must be canonical before it is hashed (the dataplane builds
 * "sip:user@domain" with the domain lower-cased); the store compares bytes.
 *
 * The hash reads 8 bytes at a time and mixes with a 64x64->128 multiply
 * (the wyhash/mum construction): ~20 cycles for a 30-byte AOR where byte-wise
 * FNV-1a took ~110 (perf/bench-store refresh path).  No table, and seed 0
 * for AORs: stable across processes and restarts on the same (little-endian) machine,
 * which recovery needs because owners are recomputed from what LMDB holds.
 * The owner uses the high 32 bits and the binding table's index the low
 * bits: if both used the same bits, every AOR of worker k would have
 * hash % n == k and crowd into 1/n of the index.
 */
#ifndef SIPREG_STORE_AOR_HASH_H
#define SIPREG_STORE_AOR_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
store_aor_hash_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A 64-bit hash of len bytes at p (any alignment), chained through seed:
 * the AOR hash's construction, also used by the dataplane for its other
 * keys (replay cache, request identity, per-address tables). It replaced
 * rte_jhash there, which read 4 bytes a step and needed an aligned copy
 * of every key in the packet: callgrind on perf/bench-pipeline, ~330
 * fewer instructions an authorized REGISTER. Not a MAC: a sender can
 * make keys collide, so no table using it may let a collision do more
 * than evict or share an entry. Never fails; len 0 hashes seed alone. */
static inline uint64_t
store_hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
	const char *b = p;
	uint64_t h = k0 ^ (len * k1) ^ seed;
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, b, 8);
		h = store_aor_hash_mix(h ^ w, k1);
		b += 8;
		len -= 8;
	}
	w = 0;
	if (len > 0)
		memcpy(&w, b, len);
	h = store_aor_hash_mix(h ^ w, k0);
	return store_aor_hash_mix(h, k1 ^ 0x8ebc6af09c88c6e3ULL);
}

static inline uint64_t
store_aor_hash(const char *aor, size_t aor_len)
{
	return store_hash_bytes(aor, aor_len, 0);
}

/* Worker (0 .. n_workers-1) that owns the AOR whose store_aor_hash() is
 * hash; n_workers must be >= 1. */
static inline uint32_t
store_aor_owner_of_hash(uint64_t hash, uint32_t n_workers)
{
	return (uint32_t)((hash >> 32) % n_workers);
}

/* Worker (0 .. n_workers-1) that owns the AOR; n_workers must be >= 1. */
static inline uint32_t
store_aor_owner(const char *aor, size_t aor_len, uint32_t n_workers)
{
	return store_aor_owner_of_hash(store_aor_hash(aor, aor_len), n_workers);
}

#endif
