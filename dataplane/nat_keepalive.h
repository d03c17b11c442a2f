/* nat_keepalive.h — OPTIONS keepalives for a worker's NAT bindings
 * (DESIGN.md "SIP behaviour"): every nat_keepalive_s seconds the owning
 * worker sends each NAT binding an OPTIONS to its received address;
 * nat_keepalive_misses unanswered in a row remove the binding (event
 * `unreachable`). Any response proves the pinhole is open, and so does a
 * REGISTER from the phone.
 *
 * One struct nat_keepalive per worker, used only by that worker (no
 * locks). State is 12 bytes per binding slot, allocated at start for the
 * table's capacity. The sweep visits a share of the slots on every call
 * so that each slot is visited once per interval: no timer per binding and
 * no burst of a whole table's probes in one tick.
 *
 * A binding is tracked from the REGISTER that created or refreshed it,
 * because only a received frame tells the worker which MAC, VLAN and local
 * address lead back to the phone (struct packet_path). Bindings recovered
 * from LMDB at start are tracked from their first refresh, which NAT
 * bindings send within nat_max_expires_s.
 */
#ifndef SIPREG_NAT_KEEPALIVE_H
#define SIPREG_NAT_KEEPALIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "binding_table.h"
#include "packet.h"
#include "sip_parser.h"

/* Distinct (MAC, VLAN, local address) routes back to phones per worker;
 * one per next-hop router and local address in practice. */
#define NAT_KEEPALIVE_MAX_PATHS 64

struct nat_keepalive;

struct nat_keepalive_probe {
	uint32_t slot;            /* binding slot */
	uint32_t token;           /* in the branch; answered() checks it */
	uint8_t path;             /* index into the worker's path table */
};

/* Allocates the state for a table of `capacity` binding slots, owned by
 * worker `worker` (written into every probe's branch). NULL when capacity
 * is 0 or memory is short. */
struct nat_keepalive *nat_keepalive_create(uint32_t capacity, uint32_t worker);
void nat_keepalive_destroy(struct nat_keepalive *ka);

/* The NAT binding in slot b was just created or refreshed by a REGISTER
 * that arrived along path p: it is alive (misses reset), and its probes go
 * back along p. Returns false, leaving the slot untracked, when slot is out
 * of range or the path table is full. */
bool nat_keepalive_track(struct nat_keepalive *ka, uint32_t slot,
			 const struct store_binding_data *b, const struct packet_path *p);

/* Advances the sweep to now_ms. Every tracked slot is visited once per
 * interval_s: a binding that is gone or no longer NAT is dropped; one
 * whose previous probe is unanswered counts a miss, and at max_misses is
 * removed from t (event `unreachable`, *removed incremented); every other
 * gets a new probe, written to probes (at most max; the rest wait for the
 * next call). interval_s 0 turns keepalives off. Returns probes written. */
unsigned nat_keepalive_sweep(struct nat_keepalive *ka, struct binding_table *t, int64_t now_ms,
			     uint32_t interval_s, uint32_t max_misses,
			     struct nat_keepalive_probe *probes, unsigned max, uint32_t *removed);

/* Writes probe's OPTIONS request, from the path's local address to the
 * binding's received address, into m (an empty mbuf), as a complete
 * frame. from_domain names us in From. Returns 0; -1 when the binding is
 * gone or the request does not fit m (m is then to be freed). */
int nat_keepalive_build(const struct nat_keepalive *ka, const struct binding_table *t,
			const struct nat_keepalive_probe *probe, const char *from_domain,
			struct rte_mbuf *m);

/* If branch is one of our probes' (z9hG4bK-sipreg-ka-<worker>-<slot>-<token>,
 * hex), returns true and fills worker, slot and token; false for any other
 * branch. */
bool nat_keepalive_parse_branch(struct sip_slice branch, uint32_t *worker, uint32_t *slot,
				uint32_t *token);

/* A response to probe (slot, token) arrived. Returns true when it answers
 * the slot's outstanding probe (misses reset); false for a late, duplicate
 * or forged answer (nothing changes). */
bool nat_keepalive_answered(struct nat_keepalive *ka, uint32_t slot, uint32_t token);

/* Slots tracked now (for tests and stats). */
uint32_t nat_keepalive_tracked(const struct nat_keepalive *ka);

#endif
