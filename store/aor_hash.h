/*
 * aor_hash.h - the one hash of an address-of-record, and the owner rule.
 *
 * Every place that needs to know which worker owns an AOR (the dataplane's
 * hand-off ring, recovery from LMDB, the control process routing a kick)
 * calls store_aor_owner().  Nothing else may hash an AOR for that purpose,
 * so the rule can never disagree between writers and readers.
 *
 * The AOR must be canonical before it is hashed (the dataplane builds
 * "sip:user@domain" with the domain lower-cased); the store compares bytes.
 *
 * The hash is 64-bit FNV-1a: short keys (20-60 bytes), no table, no seed, and
 * stable across builds and machines, which recovery needs because owners are
 * recomputed from what LMDB holds.  The owner uses the high 32 bits and the
 * binding table's index uses the low bits: if both used the same bits, every
 * AOR of worker k would have hash % n == k and crowd into 1/n of the index.
 */
#ifndef SIPREG_STORE_AOR_HASH_H
#define SIPREG_STORE_AOR_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
store_aor_hash(const char *aor, size_t aor_len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < aor_len; i++) {
		h ^= (uint8_t)aor[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV's high bits mix poorly for short keys; finish like splitmix64. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Worker (0 .. n_workers-1) that owns the AOR; n_workers must be >= 1. */
static inline uint32_t
store_aor_owner(const char *aor, size_t aor_len, uint32_t n_workers)
{
	return (uint32_t)((store_aor_hash(aor, aor_len) >> 32) % n_workers);
}

#endif
