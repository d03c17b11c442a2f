/*
 * expiry_wheel.h - timer wheel of binding expiries, one per binding table.
 *
 * Entries are binding slot numbers (0 .. capacity-1); the wheel keeps its own
 * link arrays so it can be read on its own.  Granularity is one second,
 * STORE_WHEEL_SLOTS slots (68 minutes per lap); an entry due later than one
 * lap sits in its slot and is skipped on earlier laps.
 *
 * Lazy refresh: a refresh that pushes the expiry later does NOT move the
 * entry (no writes to neighbours' links, which at 1M bindings are cache
 * misses); when the tick reaches the old slot it finds the binding not yet
 * due and re-files it under its real expiry.  Invariant: an entry's
 * scheduled time <= its binding's expires_at, so no binding is missed.
 * Moving an expiry earlier does move the entry (expiry_wheel_schedule).
 *
 * Single-threaded: owned by the table's worker.
 */
#ifndef SIPREG_STORE_EXPIRY_WHEEL_H
#define SIPREG_STORE_EXPIRY_WHEEL_H

#include <stdint.h>

#define STORE_WHEEL_SLOTS 4096u   /* power of two */
#define STORE_WHEEL_NONE UINT32_MAX

struct expiry_wheel {
	uint32_t *slot_head;   /* STORE_WHEEL_SLOTS */
	uint32_t *prev;        /* capacity */
	uint32_t *next;        /* capacity */
	int64_t *at_s;         /* capacity: scheduled time, valid while linked */
	int64_t last_tick_s;   /* every slot <= this has been processed */
	uint32_t capacity;
};

/* 0 or -ENOMEM. */
int expiry_wheel_init(struct expiry_wheel *w, uint32_t capacity, int64_t now_s);
void expiry_wheel_free(struct expiry_wheel *w);
/* Fault in the link arrays of entries from..capacity-1, never linked yet
 * (see binding_table_prefault). */
void expiry_wheel_prefault(struct expiry_wheel *w, uint32_t from);

/* Link entry (not linked) to fire at at_s. */
void expiry_wheel_add(struct expiry_wheel *w, uint32_t entry, int64_t at_s);
void expiry_wheel_remove(struct expiry_wheel *w, uint32_t entry);

/* Expiry of a linked entry changed to expires_at_s (lazy when later). */
void expiry_wheel_schedule(struct expiry_wheel *w, uint32_t entry, int64_t expires_at_s);

/*
 * Advance to now_s.  For every entry whose slot comes due, calls
 * due(ctx, entry) which returns the binding's current expires_at_s, or a
 * value <= now_s after it has removed the entry (expired).  Entries not yet
 * due are re-filed.  Returns the number of entries removed by `due`.
 */
uint32_t expiry_wheel_advance(struct expiry_wheel *w, int64_t now_s,
			      int64_t (*due)(void *ctx, uint32_t entry), void *ctx);

#endif
