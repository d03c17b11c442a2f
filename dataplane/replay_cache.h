/* replay_cache.h — refuses a replayed (nonce, nc, cnonce) (DESIGN.md step 3).
 *
 * Nonces are stateless, so replays are caught here: for each (nonce,
 * cnonce) seen with qop=auth the highest nc is kept; a request whose nc is
 * not higher is a replay. The cache is per worker (the owner of the AOR
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

/* Returns true when (nonce, cnonce) was already seen with an nc >= nc (a
 * replay: nothing changes); otherwise records nc and returns false. nc is
 * the 8-hex-digit nonce count already converted to a number. */
bool replay_cache_seen(struct replay_cache *c, const char *nonce, size_t nonce_len,
		       const char *cnonce, size_t cnonce_len, uint32_t nc, uint32_t now_s);

#endif
