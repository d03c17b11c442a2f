/*
 * binding_table.h - a worker's location table: everything a caller may do.
 *
 * One table per dataplane worker.  Exactly one thread (the owning worker)
 * calls any function here that takes a non-const table; there are no locks.
 * Other threads never read the table: stats and exports read the LMDB
 * `bindings` snapshot written by the checkpoint thread (at most one commit
 * window behind), and admin actions (force-unregister) reach the owner as
 * messages on its command ring.  That is the "snapshot via LMDB" choice of
 * DESIGN.md; no RCU is needed because nothing else dereferences the table.
 *
 * Memory: all bindings, the AOR index and the wheel are allocated by
 * binding_table_create() for `capacity` bindings; nothing allocates after.
 * A full table refuses new bindings with STORE_APPLY_TABLE_FULL (503).
 *
 * Index: open addressing, linear probing, AOR hash tag + head binding slot,
 * 8 bytes per entry at load <= 0.5 (16 bytes/binding).  Hand-written rather
 * than rte_hash because rte_hash stores fixed-length keys: AORs of up to a
 * few hundred bytes would cost key_len + 8 bytes per entry in its key store
 * on top of the 448-byte record, past the 512 bytes/binding budget, and it
 * needs the EAL up for its allocations, which the unit tests and
 * sipreg-control tooling avoid.  Bindings of one AOR are chained from the head.
 *
 * Registration semantics: RFC 3261 §10.3 steps 5-7 of DESIGN.md, RFC 5626
 * binding keys.  See binding_table_apply_register().
 */
#ifndef SIPREG_STORE_BINDING_TABLE_H
#define SIPREG_STORE_BINDING_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "event_ring.h"
#include "lmdb_records.h"

/* Largest max_bindings (and contacts in one REGISTER) the table accepts. */
#define STORE_MAX_BINDINGS_PER_AOR 32u
#define STORE_NO_BINDING UINT32_MAX

/* A (pointer, length) view into the received packet; need not be terminated. */
struct store_slice {
	const char *ptr;
	uint32_t len;
};

/* One Contact of a REGISTER, filled by the dataplane from the parser result. */
struct registration_contact {
	struct store_slice uri;        /* contact URI without <> */
	bool has_expires;              /* ;expires= present */
	uint32_t expires_s;
	bool has_q;
	uint16_t q_milli;              /* q * 1000 */
	struct store_slice instance;   /* +sip.instance value (len 0: absent) */
	bool has_reg_id;
	uint32_t reg_id;
	bool nat;                      /* store_contact_is_nat(): contact host private/CGNAT != source */
};

/* A REGISTER that passed steps 1-4 (domain, Require, auth, AOR ownership). */
struct registration_request {
	struct store_slice aor;        /* canonical To AOR */
	uint64_t aor_hash;             /* store_aor_hash(aor) if the caller has it
					* (it chose the owner with it), else 0 */
	struct store_slice call_id;
	uint32_t cseq;
	bool has_expires_header;
	uint32_t expires_header_s;
	bool wildcard;                 /* a Contact: * was present */
	uint32_t n_contacts;           /* contacts other than '*' */
	const struct registration_contact *contacts;
	struct store_addr source;      /* received address and port */
	uint8_t transport;             /* enum store_transport */
	struct store_slice user_agent;
	struct store_slice path;       /* Path header values, as received */
	struct store_slice account;    /* account name from step 3 */
	int64_t now_s;
};

/* Per-account registrar policy (global defaults, per-account overrides). */
struct store_policy {
	uint32_t default_expires_s;    /* no contact param, no Expires header */
	uint32_t min_expires_s;        /* below: 423 Min-Expires */
	uint32_t max_expires_s;        /* above: clamped */
	uint32_t max_bindings;         /* per AOR, 1..STORE_MAX_BINDINGS_PER_AOR */
	bool register_replace;         /* on: evict LRU binding (kicked); off: 403 */
	uint32_t nat_max_expires_s;    /* cap for NAT bindings; 0 = no cap */
};

/* Sensible defaults (3600, 60, 7200, 10, on, 120). */
void store_policy_defaults(struct store_policy *p);

enum store_apply_status {
	STORE_APPLY_OK = 0,                /* 200 */
	STORE_APPLY_WILDCARD_NOT_ALONE,    /* 400 */
	STORE_APPLY_WILDCARD_NEEDS_EXPIRES_0, /* 400 */
	STORE_APPLY_BAD_REQUEST,           /* 400: empty AOR, too many contacts */
	STORE_APPLY_FIELD_TOO_LONG,        /* 400: strings exceed a binding record */
	STORE_APPLY_INTERVAL_TOO_BRIEF,    /* 423, min_expires_s set */
	STORE_APPLY_CSEQ_OUT_OF_ORDER,     /* 500, nothing changed */
	STORE_APPLY_TOO_MANY_BINDINGS,     /* 403, register_replace off */
	STORE_APPLY_TABLE_FULL,            /* 503 */
	STORE_APPLY_STATUS_COUNT
};

struct registration_result_contact {
	uint32_t binding;              /* slot: binding_table_get() */
	uint32_t expires_s;            /* remaining, for the 200's ;expires= */
};

struct registration_result {
	enum store_apply_status status;
	uint16_t status_code;          /* 200, 400, 403, 423, 500, 503 */
	const char *reason;            /* reason phrase (static) */
	uint32_t min_expires_s;        /* for 423 Min-Expires */
	bool outbound;                 /* a contact used reg-id: Require: outbound */
	/* 200 only: every current binding of the AOR */
	uint32_t n_contacts;
	struct registration_result_contact contacts[STORE_MAX_BINDINGS_PER_AOR];
	/* events produced (also pushed to the table's ring), in order */
	uint32_t n_events;
	uint8_t events[2 * STORE_MAX_BINDINGS_PER_AOR];   /* enum store_event_type */
};

struct binding_table_stats {
	uint32_t capacity;
	uint32_t bindings;
	uint32_t aors;
	uint64_t events_lost;          /* ring full */
	uint64_t events_unsent;        /* no ring attached */
	uint64_t apply_status[STORE_APPLY_STATUS_COUNT];
};

enum store_binding_status {
	STORE_BINDING_REGISTERED,
	STORE_BINDING_EXPIRING,        /* < expiring_window_s or < 10% of expiry left */
	STORE_BINDING_EXPIRED,
};

struct binding_table;

/*
 * Allocate a table for `capacity` bindings (1 .. 2^30).  worker is stamped on
 * events.  events may be NULL (events are then only counted).  now_s starts
 * the wheel.  NULL on EINVAL/ENOMEM.
 */
struct binding_table *binding_table_create(uint32_t capacity, uint16_t worker,
					   struct event_ring *events, int64_t now_s);
void binding_table_destroy(struct binding_table *t);

/*
 * Touch every page of the table now (start-up, before the worker polls), so
 * no binding insert takes a page fault (with huge pages, possibly a
 * compaction stall) on the packet path.  RSS becomes the full capacity.
 * Records in use are not touched, so calling it late is harmless.
 */
void binding_table_prefault(struct binding_table *t);

/*
 * Apply one REGISTER (DESIGN.md "SIP behaviour" steps 5-7), in this order:
 *  - '*' must be alone (else 400) and come with Expires: 0 (else 400);
 *  - expiry per contact: ;expires, else Expires header, else default; clamped
 *    to max; nonzero and below min -> 423 with min_expires_s; NAT contacts
 *    then capped at nat_max_expires_s;
 *  - all strings of each new binding must fit a record (else 400);
 *  - a binding with the same Call-ID and a stored CSeq >= the request's
 *    fails the request: 500, nothing changed;
 *  - expires 0 removes (unregistered), an existing key refreshes
 *    (refreshed), a new key adds (registered);
 *  - more than max_bindings: register_replace evicts the least recently
 *    refreshed bindings not named in this request (kicked), otherwise 403
 *    with nothing changed; no free record -> 503 with nothing changed.
 * Either the whole request applies or nothing does.  On 200, res lists every
 * binding of the AOR with its remaining expiry.  Contacts with duplicate keys:
 * the last one wins.  Events go to the table's ring.
 */
void binding_table_apply_register(struct binding_table *t,
				  const struct store_policy *policy,
				  const struct registration_request *req,
				  struct registration_result *res);

/*
 * Burst staging (optional, speed only; aor_hash = store_aor_hash(), as
 * computed for the owner).  For a burst of n REGISTERs (an rx burst, 32):
 *
 *	for (k = 0; k < n; k++) binding_table_prefetch_index(t, hash[k]);
 *	for (k = 0; k < 8 && k < n; k++) binding_table_prefetch_aor(t, hash[k]);
 *	for (k = 0; k < n; k++) {
 *		if (k + 8 < n) binding_table_prefetch_aor(t, hash[k + 8]);
 *		binding_table_apply_register(t, policy, &req[k], &res[k]);
 *	}
 *
 * The two cache misses of a lookup (index entry, then the binding) then
 * overlap with other requests' work instead of adding up: perf/bench-store
 * "refresh at N, staged" (this pattern, per burst of 32) ~5 M/s per core
 * vs "one by one" ~2 M/s at 1M bindings.
 */
void binding_table_prefetch_index(const struct binding_table *t, uint64_t aor_hash);
void binding_table_prefetch_aor(const struct binding_table *t, uint64_t aor_hash);

/*
 * Housekeeping tick: remove every binding with expires_at_s <= now_s
 * (event `expired`).  Call at least once a second.  Returns bindings removed.
 */
uint32_t binding_table_expire(struct binding_table *t, int64_t now_s);

/*
 * Admin: remove every binding of aor (binding_key.len == 0) or the one whose
 * binding key (store_binding_key_build) equals binding_key.  Event
 * `force-unregistered`.  Returns bindings removed.
 */
uint32_t binding_table_force_unregister(struct binding_table *t, struct store_slice aor,
					struct store_slice binding_key, int64_t now_s);

/* NAT keepalive gave up on this binding slot: remove it (event `unreachable`).
 * Returns 0, or -ENOENT when the slot holds no binding. */
int binding_table_remove_unreachable(struct binding_table *t, uint32_t binding, int64_t now_s);

/*
 * Recovery: insert a binding read from LMDB, without producing an event.
 * Returns 0, -EEXIST (same AOR and key already loaded: replaced if newer),
 * -ENOSPC (table full), -EINVAL (malformed record).
 */
int binding_table_restore(struct binding_table *t, const struct store_binding_data *b);

/* Binding in slot, or NULL when the slot is free.  Valid until the next change. */
const struct store_binding_data *binding_table_get(const struct binding_table *t,
						   uint32_t binding);

/* First binding slot of aor (STORE_NO_BINDING if none); then _next. */
uint32_t binding_table_find_aor(const struct binding_table *t, struct store_slice aor);
uint32_t binding_table_next_of_aor(const struct binding_table *t, uint32_t binding);

/* Number of slots to walk with binding_table_get (the high-water mark). */
uint32_t binding_table_slots_used(const struct binding_table *t);

void binding_table_get_stats(const struct binding_table *t, struct binding_table_stats *out);

/* Status as an operator sees it. */
enum store_binding_status store_binding_status(const struct store_binding_data *b,
					       int64_t now_s, uint32_t expiring_window_s);

/*
 * RFC 3581 / DESIGN.md NAT rule helper: true when the contact's host address
 * is private (RFC 1918, RFC 4193 fc00::/7) or CGNAT (100.64/10) and differs
 * from the source address.  contact_host may be NULL (host is a name): false.
 */
bool store_contact_is_nat(const struct store_addr *contact_host,
			  const struct store_addr *source);

const char *store_apply_status_name(enum store_apply_status status);

#endif
