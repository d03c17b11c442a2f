/* lockout_table.h — brute-force lockout state per source address
 * (DESIGN.md "Protection": lockout.failures failed authentications within
 * lockout.window seconds block the source for lockout.duration).
 *
 * One table per worker, written only by it. Fixed size, 4-way set
 * associative, the least recently touched entry of a set is reused: an
 * attacker spraying from millions of addresses can push out counts, but
 * each of those addresses then has few attempts anyway, and a locked
 * source is also blocked in the XDP map, which does not forget.
 * Hand-written for the same reason as replay_cache.h: it must evict, not
 * refuse, when full.
 */
#ifndef SIPREG_LOCKOUT_TABLE_H
#define SIPREG_LOCKOUT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct lockout_policy {
	uint32_t failures;      /* 0: lockout disabled */
	uint32_t window_s;
	uint32_t duration_s;
};

struct lockout_table;

/* A table of at least `entries` entries (power of two, minimum 64) on the
 * given NUMA socket. NULL when out of memory. */
struct lockout_table *lockout_table_create(uint32_t entries, int socket_id);
void lockout_table_free(struct lockout_table *t);

/* Returns true when addr (4 or 16 bytes) is locked out at now_s. */
bool lockout_table_is_locked(const struct lockout_table *t, const uint8_t *addr, uint8_t len,
			     int64_t now_s);

/* Counts one failed authentication of addr. Returns true when this
 * failure crossed the threshold (the source is locked from now until
 * now_s + duration; the caller blocks it elsewhere too). */
bool lockout_table_fail(struct lockout_table *t, const struct lockout_policy *p,
			const uint8_t *addr, uint8_t len, int64_t now_s);

/* Locks addr until until_s (a lockout decided by another worker), or
 * unlocks it when until_s is 0. */
void lockout_table_set(struct lockout_table *t, const uint8_t *addr, uint8_t len, int64_t until_s);

#endif
