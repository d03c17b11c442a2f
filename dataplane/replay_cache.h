/* replay_cache.h — refuses a replayed (nonce, nc, cnonce) (DESIGN.md step 3).
 *
 * Nonces are stateless, so replays are caught here: for each (nonce,
 * cnonce) seen with qop=auth the highest nc is kept; a request whose nc is
 * not higher is a replay, unless it is the very request that used that nc
 * again (a UDP retransmission: RFC 3261 §17.2 wants it answered, not
 * refused). The cache is per worker (the owner of the AOR
 * sees every request of that AOR) and has fixed size: a 4-way
 * set-associative array that overwrites its oldest entry. An entry can only
 * be lost to overwriting after newer ones took its set; an entry older than
 * the nonce validity is useless anyway (the nonce is stale), so sets are
 * sized for the expected rate x validity. Hand-written because rte_hash
 * refuses inserts when full instead of evicting, which here would turn a
 * busy minute into 403s.
 */
#ifndef SIPREG_REPLAY_CACHE_H
#define SIPREG_REPLAY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replay_cache;

/* Creates a cache of at least `entries` entries (rounded up to a power of
 * two, minimum 64) on the given NUMA socket. NULL when out of memory. */
struct replay_cache *replay_cache_create(uint32_t entries, int socket_id);
void replay_cache_free(struct replay_cache *c);

enum replay_verdict {
	REPLAY_NEW,               /* first use of this nc: recorded */
	REPLAY_RETRANSMISSION,    /* same nc from the same request (Call-ID, CSeq,
				   * branch): the client did not get our answer */
	REPLAY_REPLAYED,          /* nc not higher, from another request: refuse */
};

/* The key of (nonce, cnonce) and its set, computed while the request is
 * staged (the worker's staging), so the set can be prefetched and loaded
 * while other requests are worked on. */
struct replay_key {
	uint64_t key;
	uint32_t set;
};

struct replay_key replay_cache_key(const struct replay_cache *c, const char *nonce,
				   size_t nonce_len, const char *cnonce, size_t cnonce_len);
void replay_cache_prefetch(const struct replay_cache *c, struct replay_key k);

/* Checks (nonce, cnonce, nc), by the key of (nonce, cnonce), of a request
 * whose Call-ID, CSeq and top Via branch hash to request_hash. A higher nc
 * than recorded is new and is recorded with request_hash. nc is the
 * 8-hex-digit nonce count already converted to a number. */
enum replay_verdict replay_cache_check_key(struct replay_cache *c, struct replay_key k, uint32_t nc,
					   uint32_t request_hash, uint32_t now_s);

#endif
