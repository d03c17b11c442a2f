/* lockout_table.c — 4-way set-associative source -> failure count/lock. */
#include "lockout_table.h"

#include <string.h>

#include "aor_hash.h"
#include <rte_malloc.h>

#define WAYS 4

struct lockout_entry {
	uint8_t addr[16];
	uint8_t len;             /* 0: empty */
	uint8_t pad[3];
	uint32_t failures;
	int64_t window_start_s;
	int64_t locked_until_s;
	int64_t touched_s;
};

struct lockout_table {
	uint32_t set_mask;
	struct lockout_entry *entries;
};

struct lockout_table *lockout_table_create(uint32_t entries, int socket_id)
{
	uint32_t sets = 16;
	struct lockout_table *t = rte_zmalloc_socket("lockout_table", sizeof(*t), 0, socket_id);

	if (!t)
		return NULL;
	while (sets * WAYS < entries && sets < (1u << 26))
		sets <<= 1;
	t->set_mask = sets - 1;
	t->entries = rte_zmalloc_socket("lockout_entries", sizeof(struct lockout_entry) * sets * WAYS,
					RTE_CACHE_LINE_SIZE, socket_id);
	if (!t->entries) {
		rte_free(t);
		return NULL;
	}
	return t;
}

void lockout_table_free(struct lockout_table *t)
{
	if (!t)
		return;
	rte_free(t->entries);
	rte_free(t);
}

static struct lockout_entry *set_of(const struct lockout_table *t, const uint8_t *addr, uint8_t len)
{
	return &t->entries[((uint32_t)store_hash_bytes(addr, len, 0x10c0) & t->set_mask) * WAYS];
}

static struct lockout_entry *find(const struct lockout_table *t, const uint8_t *addr, uint8_t len)
{
	struct lockout_entry *set = set_of(t, addr, len);

	for (int i = 0; i < WAYS; i++)
		if (set[i].len == len && memcmp(set[i].addr, addr, len) == 0)
			return &set[i];
	return NULL;
}

/* The entry of addr, taking over the least recently touched one. */
static struct lockout_entry *find_or_take(struct lockout_table *t, const uint8_t *addr, uint8_t len,
					  int64_t now_s)
{
	struct lockout_entry *e = find(t, addr, len), *set, *victim;

	if (e)
		return e;
	set = victim = set_of(t, addr, len);
	for (int i = 1; i < WAYS; i++)
		if (set[i].len == 0 || set[i].touched_s < victim->touched_s)
			victim = &set[i];
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, addr, len);
	victim->len = len;
	victim->window_start_s = now_s;
	victim->touched_s = now_s;
	return victim;
}

bool lockout_table_is_locked(const struct lockout_table *t, const uint8_t *addr, uint8_t len,
			     int64_t now_s)
{
	const struct lockout_entry *e = find(t, addr, len);

	return e && e->locked_until_s > now_s;
}

bool lockout_table_fail(struct lockout_table *t, const struct lockout_policy *p,
			const uint8_t *addr, uint8_t len, int64_t now_s)
{
	struct lockout_entry *e;

	if (p->failures == 0)
		return false;
	e = find_or_take(t, addr, len, now_s);
	e->touched_s = now_s;
	if (e->locked_until_s > now_s)
		return false;                 /* already locked */
	if (now_s - e->window_start_s >= (int64_t)p->window_s) {
		e->window_start_s = now_s;
		e->failures = 0;
	}
	if (++e->failures < p->failures)
		return false;
	e->locked_until_s = now_s + p->duration_s;
	e->failures = 0;
	return true;
}

void lockout_table_set(struct lockout_table *t, const uint8_t *addr, uint8_t len, int64_t until_s)
{
	struct lockout_entry *e = until_s ? find_or_take(t, addr, len, 0) : find(t, addr, len);

	if (!e)
		return;
	e->locked_until_s = until_s;
	e->touched_s = until_s;
	e->failures = 0;
}
