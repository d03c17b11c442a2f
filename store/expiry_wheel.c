/*
 * expiry_wheel.c - one-level hashed timer wheel with lazy re-filing.
 * See expiry_wheel.h.
 */
#include "expiry_wheel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"

#define SLOT_OF(t) ((uint32_t)((uint64_t)(t) & (STORE_WHEEL_SLOTS - 1)))

int
expiry_wheel_init(struct expiry_wheel *w, uint32_t capacity, int64_t now_s)
{
	w->capacity = capacity;
	w->last_tick_s = now_s;
	w->slot_head = malloc(STORE_WHEEL_SLOTS * sizeof(uint32_t));
	/* untouched pages stay unmapped until bindings use them */
	w->prev = store_big_alloc((size_t)capacity * sizeof(uint32_t));
	w->next = store_big_alloc((size_t)capacity * sizeof(uint32_t));
	w->at_s = store_big_alloc((size_t)capacity * sizeof(int64_t));
	if (!w->slot_head || !w->prev || !w->next || !w->at_s) {
		expiry_wheel_free(w);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < STORE_WHEEL_SLOTS; i++)
		w->slot_head[i] = STORE_WHEEL_NONE;
	return 0;
}

void
expiry_wheel_free(struct expiry_wheel *w)
{
	free(w->slot_head);
	store_big_free(w->prev, (size_t)w->capacity * sizeof(uint32_t));
	store_big_free(w->next, (size_t)w->capacity * sizeof(uint32_t));
	store_big_free(w->at_s, (size_t)w->capacity * sizeof(int64_t));
	w->slot_head = w->prev = w->next = NULL;
	w->at_s = NULL;
}

void
expiry_wheel_prefault(struct expiry_wheel *w, uint32_t from)
{
	size_t n = w->capacity - from;

	memset(w->prev + from, 0, n * sizeof(uint32_t));
	memset(w->next + from, 0, n * sizeof(uint32_t));
	memset(w->at_s + from, 0, n * sizeof(int64_t));
}

void
expiry_wheel_add(struct expiry_wheel *w, uint32_t entry, int64_t at_s)
{
	uint32_t slot;

	/* Never file into the past: it would wait a full lap. */
	if (at_s <= w->last_tick_s)
		at_s = w->last_tick_s + 1;
	slot = SLOT_OF(at_s);
	w->at_s[entry] = at_s;
	w->prev[entry] = STORE_WHEEL_NONE;
	w->next[entry] = w->slot_head[slot];
	if (w->slot_head[slot] != STORE_WHEEL_NONE)
		w->prev[w->slot_head[slot]] = entry;
	w->slot_head[slot] = entry;
}

void
expiry_wheel_remove(struct expiry_wheel *w, uint32_t entry)
{
	uint32_t p = w->prev[entry], n = w->next[entry];

	if (p != STORE_WHEEL_NONE)
		w->next[p] = n;
	else
		w->slot_head[SLOT_OF(w->at_s[entry])] = n;
	if (n != STORE_WHEEL_NONE)
		w->prev[n] = p;
}

void
expiry_wheel_schedule(struct expiry_wheel *w, uint32_t entry, int64_t expires_at_s)
{
	if (expires_at_s >= w->at_s[entry])
		return;     /* lazy: re-filed when its current slot comes due */
	expiry_wheel_remove(w, entry);
	expiry_wheel_add(w, entry, expires_at_s);
}

uint32_t
expiry_wheel_advance(struct expiry_wheel *w, int64_t now_s,
		     int64_t (*due)(void *ctx, uint32_t entry), void *ctx)
{
	uint32_t removed = 0;
	int64_t from = w->last_tick_s + 1;

	/* More than a lap behind: every slot once is enough. */
	if (now_s - from >= (int64_t)STORE_WHEEL_SLOTS)
		from = now_s - STORE_WHEEL_SLOTS + 1;
	for (int64_t t = from; t <= now_s; t++) {
		uint32_t slot = SLOT_OF(t);
		/* Re-filed entries go to a slot's head, behind this cursor. */
		uint32_t e = w->slot_head[slot];

		w->last_tick_s = t;
		while (e != STORE_WHEEL_NONE) {
			uint32_t next = w->next[e];
			int64_t expires;

			if (w->at_s[e] > now_s) {   /* a later lap */
				e = next;
				continue;
			}
			expires = due(ctx, e);
			if (expires <= now_s) {
				removed++;      /* due() removed it */
			} else {
				expiry_wheel_remove(w, e);
				expiry_wheel_add(w, e, expires);
			}
			e = next;
		}
	}
	if (now_s > w->last_tick_s)
		w->last_tick_s = now_s;
	return removed;
}
