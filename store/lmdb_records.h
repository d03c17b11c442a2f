/*
 * lmdb_records.h - every layout that crosses a boundary, defined once.
 *
 * The same binding layout is used in three places:
 *   - inside a worker's binding table (struct binding embeds it),
 *   - inside an event record on the worker -> checkpoint ring,
 *   - as the value of the `bindings` LMDB environment (truncated after the
 *     last used string byte) and inside `history` values,
 * so a change is copied, never translated.  sipreg-control reads the LMDB
 * values with this header; bump STORE_RECORD_VERSION on any layout change.
 *
 * Strings are packed back to back in str[] in the order of enum
 * store_string (no terminators); str_len[] gives each length.  Their total is
 * bounded by STORE_BINDING_STRING_BYTES: that bound keeps a binding record at
 * 448 bytes, inside the 512 bytes/binding budget (perf/bench-store).  A
 * request whose strings do not fit is refused (STORE_APPLY_FIELD_TOO_LONG),
 * never truncated.
 *
 * Layouts are host-endian (the files never leave the machine) except the
 * history key, which is big-endian so LMDB's byte order is time order.
 *
 * LMDB keys:
 *   bindings: AOR '\0' binding-key   (store_binding_key_build)
 *   history:  be64 event time (s) . be64 writer sequence   (16 bytes)
 *   checkpoint: "bindings-applied" -> struct store_applied_mark_record
 */
#ifndef SIPREG_STORE_LMDB_RECORDS_H
#define SIPREG_STORE_LMDB_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_RECORD_VERSION 1u

enum store_string {
	STORE_STR_AOR,
	STORE_STR_CONTACT,     /* contact URI, without <> */
	STORE_STR_CALL_ID,
	STORE_STR_USER_AGENT,
	STORE_STR_ACCOUNT,
	STORE_STR_PATH,        /* Path header value(s), echoed in the 200 */
	STORE_STR_INSTANCE,    /* +sip.instance value, empty when absent */
	STORE_STR_COUNT
};

#define STORE_BINDING_STRING_BYTES 350u

enum store_transport {
	STORE_TRANSPORT_UDP = 0,
	STORE_TRANSPORT_TCP = 1,
	STORE_TRANSPORT_TLS = 2,
	STORE_TRANSPORT_SCTP = 3,
	STORE_TRANSPORT_WS = 4,
	STORE_TRANSPORT_WSS = 5,
};

/* Source address of the REGISTER (RFC 3581 received/rport). */
struct store_addr {
	uint8_t family;        /* AF_INET or AF_INET6 */
	uint8_t pad;
	uint16_t port;         /* host order */
	uint8_t addr[16];      /* IPv4 in the first 4 bytes, network order */
};

enum store_binding_flag {
	STORE_BINDING_NAT = 1u << 0,        /* contact address private/CGNAT and != source */
	STORE_BINDING_HAS_REG_ID = 1u << 1, /* reg_id is meaningful (RFC 5626) */
	STORE_BINDING_HAS_Q = 1u << 2,      /* q_milli came from the contact */
};

/* One binding.  Times are Unix seconds. */
struct store_binding_data {
	int64_t expires_at_s;
	int64_t registered_at_s;   /* first REGISTER that created it */
	int64_t refreshed_at_s;    /* last REGISTER that refreshed it */
	uint32_t cseq;
	uint32_t reg_id;
	uint32_t expires_s;        /* expiry granted by the last refresh */
	uint16_t q_milli;          /* q * 1000, 0..1000 */
	uint8_t flags;             /* enum store_binding_flag */
	uint8_t transport;         /* enum store_transport */
	struct store_addr source;
	uint16_t str_len[STORE_STR_COUNT];
	char str[STORE_BINDING_STRING_BYTES];
};

/* Bytes of a record up to its last used string byte (the LMDB value size). */
static inline size_t
store_binding_data_used_size(const struct store_binding_data *b)
{
	size_t n = 0;

	for (int i = 0; i < STORE_STR_COUNT; i++)
		n += b->str_len[i];
	return offsetof(struct store_binding_data, str) + n;
}

/* Start of string `which` inside b->str. */
static inline const char *
store_binding_string(const struct store_binding_data *b, enum store_string which,
		     size_t *len)
{
	size_t off = 0;

	for (int i = 0; i < (int)which; i++)
		off += b->str_len[i];
	*len = b->str_len[which];
	return b->str + off;
}

enum store_event_type {
	STORE_EVENT_REGISTERED = 1,
	STORE_EVENT_REFRESHED,
	STORE_EVENT_UNREGISTERED,       /* by the phone: expires 0 or '*' */
	STORE_EVENT_EXPIRED,
	STORE_EVENT_KICKED,             /* evicted by max_bindings + register_replace */
	STORE_EVENT_FORCE_UNREGISTERED, /* admin */
	STORE_EVENT_UNREACHABLE,        /* NAT keepalives unanswered */
	/* Security events: history only, the bindings are untouched. The
	 * binding part holds what is known of the request (AOR, source,
	 * Call-ID, User-Agent, first contact); reason says why. */
	STORE_EVENT_AUTH_FAILED,        /* a failed authentication (403) */
	STORE_EVENT_LOCKED_OUT,         /* the source crossed lockout.failures */
	STORE_EVENT_TYPE_COUNT
};

/* store_event.reason of STORE_EVENT_AUTH_FAILED / _LOCKED_OUT. */
enum store_auth_failure {
	STORE_AUTH_FAILURE_NONE = 0,
	STORE_AUTH_FAILURE_WRONG_CREDENTIALS,  /* wrong password or unknown user: one reason, on purpose */
	STORE_AUTH_FAILURE_WRONG_USER,         /* authenticated user does not own the To AOR */
	STORE_AUTH_FAILURE_REPLAY,             /* (nonce, nc, cnonce) seen before */
	STORE_AUTH_FAILURE_IP_DENIED,          /* IP-authenticated account, source not allowed */
	STORE_AUTH_FAILURE_COUNT
};

/* "wrong-credentials", "wrong-user", "replay", "ip-denied"; "" for none. */
const char *store_auth_failure_name(enum store_auth_failure reason);

/* Event names as shown by sipregctl and the admin JSON. */
const char *store_event_type_name(enum store_event_type type);

/* Does this event change the `bindings` environment at all? */
static inline int
store_event_touches_binding(enum store_event_type type)
{
	return type >= STORE_EVENT_REGISTERED && type <= STORE_EVENT_UNREACHABLE;
}

/* Does this event remove the binding from `bindings`? */
static inline int
store_event_removes(enum store_event_type type)
{
	return store_event_touches_binding(type) && type != STORE_EVENT_REGISTERED &&
	       type != STORE_EVENT_REFRESHED;
}

/*
 * One change, fixed size: the unit on the worker -> checkpoint ring and the
 * value of a `history` record (truncated after the binding's last string).
 */
struct store_event {
	uint16_t version;        /* STORE_RECORD_VERSION */
	uint8_t type;            /* enum store_event_type */
	uint8_t reason;          /* enum store_auth_failure for security events, else 0 */
	uint16_t worker;         /* table (worker) that produced it */
	uint16_t pad2;
	uint64_t seq;            /* per table, from 1, never reused within a run */
	int64_t at_s;            /* when the change happened */
	struct store_binding_data binding; /* the binding after (or, for removals, before) */
};

static inline size_t
store_event_used_size(const struct store_event *ev)
{
	return offsetof(struct store_event, binding) +
	       store_binding_data_used_size(&ev->binding);
}

/* bindings value = one version byte pair then the binding (used part). */
struct store_binding_value_header {
	uint16_t version;        /* STORE_RECORD_VERSION */
	uint16_t pad[3];
};

/* Longest key of the `bindings` environment (AOR '\0' key) */
#define STORE_BINDING_KEY_MAX (STORE_BINDING_STRING_BYTES + 48u)

/*
 * Binding key (RFC 3261 / RFC 5626): the contact URI, or, when the contact
 * carried +sip.instance, "+sip.instance=<instance>;reg-id=<n>" (";reg-id" only
 * when present).  Writes the key alone (without AOR) to buf; returns its
 * length, or 0 when cap is too small.
 */
size_t store_binding_key_build(const struct store_binding_data *b, char *buf,
			       size_t cap);

/* `bindings` LMDB key: AOR '\0' binding-key.  Returns length or 0. */
size_t store_binding_lmdb_key_build(const struct store_binding_data *b,
				    char *buf, size_t cap);

#define STORE_HISTORY_KEY_BYTES 16u

static inline void
store_history_key_build(int64_t at_s, uint64_t seq,
			uint8_t key[STORE_HISTORY_KEY_BYTES])
{
	uint64_t t = (uint64_t)at_s;

	for (int i = 0; i < 8; i++) {
		key[i] = (uint8_t)(t >> (56 - 8 * i));
		key[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
}

static inline int64_t
store_history_key_time(const uint8_t key[STORE_HISTORY_KEY_BYTES])
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = (t << 8) | key[i];
	return (int64_t)t;
}

static inline uint64_t
store_history_key_seq(const uint8_t key[STORE_HISTORY_KEY_BYTES])
{
	uint64_t s = 0;

	for (int i = 8; i < 16; i++)
		s = (s << 8) | key[i];
	return s;
}

/* Sequences at or above this bit are sipreg-control's admin records
 * (control/history.h); the checkpoint's stay below it. */
#define STORE_HISTORY_SEQ_ADMIN_BIT (1ULL << 63)

/*
 * The `checkpoint` environment's one record: how far `bindings` has caught up
 * with `history`, which is the write-ahead log (checkpoint.h).  Every
 * checkpoint record of `history` with seq <= applied_seq is in `bindings`;
 * the later ones may not be, and none of those has a key time before
 * replay_from_s.
 */
#define STORE_APPLIED_MARK_KEY "bindings-applied"

struct store_applied_mark_record {
	uint16_t version;        /* STORE_RECORD_VERSION */
	uint16_t pad[3];
	uint64_t applied_seq;
	int64_t replay_from_s;
};

/* The `config` environment (accounts) has its own record header:
 * account_store.h. */

#endif
