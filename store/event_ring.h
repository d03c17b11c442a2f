/*
 * event_ring.h - single-producer single-consumer ring of store events.
 *
 * One ring per worker: the worker (producer) pushes one fixed-size
 * struct store_event per binding change; the checkpoint thread (consumer)
 * drains it.  A full ring never blocks the worker: the push fails, the loss
 * is counted (events_lost) and the worker goes on.  The checkpoint thread
 * then misses that change; the binding is written again by its next change.
 *
 * Why not rte_ring: the store library is built and unit-tested without the
 * DPDK EAL (rte_ring_create needs a memzone), and an SPSC ring of
 * fixed-size records is thirty lines of C11 atomics.  Slots hold the record
 * itself, not a pointer, so there is no mempool either.
 *
 * Thread rules: event_ring_push and event_ring_lost from the producer thread
 * only; event_ring_peek/release from the consumer thread only; counters may be
 * read from anywhere (relaxed).
 */
#ifndef SIPREG_STORE_EVENT_RING_H
#define SIPREG_STORE_EVENT_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "lmdb_records.h"

struct event_ring;

/* capacity is rounded up to a power of two (>= 2).  NULL on ENOMEM/EINVAL. */
struct event_ring *event_ring_create(uint32_t capacity);
void event_ring_destroy(struct event_ring *ring);

/*
 * Producer: reserve the next slot, or NULL when full (the loss is counted).
 * Fill the returned record, then event_ring_commit().  Avoids one copy of the
 * 456-byte record on the hot path.
 */
struct store_event *event_ring_reserve(struct event_ring *ring);
void event_ring_commit(struct event_ring *ring);

/* Producer: copy ev in; false when full (counted in events_lost). */
bool event_ring_push(struct event_ring *ring, const struct store_event *ev);

/*
 * Consumer: up to max records are readable at *first .. (contiguous, so the
 * count may stop at the ring's end); returns the count.  Release them after
 * use with event_ring_release(ring, count).
 */
uint32_t event_ring_peek(struct event_ring *ring, const struct store_event **first,
			 uint32_t max);
/* Same, starting `skip` records after the oldest unreleased one (a consumer
 * that holds records across the ring's end reads the rest this way). */
uint32_t event_ring_peek_at(struct event_ring *ring, uint32_t skip,
			    const struct store_event **first, uint32_t max);
void event_ring_release(struct event_ring *ring, uint32_t count);

uint64_t event_ring_lost(const struct event_ring *ring);
uint64_t event_ring_pushed(const struct event_ring *ring);
uint32_t event_ring_count(const struct event_ring *ring);
uint32_t event_ring_capacity(const struct event_ring *ring);

#endif
