/*
 * binding_table.c - per-worker location table and REGISTER semantics.
 *
 * Layout (all preallocated by binding_table_create):
 *   bindings[capacity]   432-byte records: chain link + struct store_binding_data
 *   index[2^k >= 2*cap]  open-addressing AOR index {hash tag, head binding}
 *   wheel                expiry_wheel over binding slots
 * Free records are chained through aor_next; slots above high_water were
 * never touched, so an unused table costs address space, not RSS.
 */
#include "binding_table.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aor_hash.h"
#include "big_alloc.h"
#include "expiry_wheel.h"

struct binding {
	uint32_t aor_next;     /* next binding of this AOR / next free record */
	uint32_t aor_tag;      /* low 32 bits of store_aor_hash(AOR) */
	struct store_binding_data data;
};

struct index_entry {
	uint32_t tag;
	uint32_t head;         /* STORE_NO_BINDING: empty */
};

struct binding_table {
	struct binding *bindings;
	struct index_entry *index;
	uint32_t index_mask;
	uint32_t capacity;
	uint32_t high_water;
	uint32_t free_head;
	uint32_t n_bindings;
	uint32_t n_aors;
	uint16_t worker;
	uint64_t event_seq;
	struct event_ring *events;
	struct expiry_wheel wheel;
	int64_t tick_now_s;
	uint64_t events_unsent;
	uint64_t apply_status[STORE_APPLY_STATUS_COUNT];
};

static const struct {
	uint16_t code;
	const char *reason;
	const char *name;
} apply_status_info[STORE_APPLY_STATUS_COUNT] = {
	[STORE_APPLY_OK] = { 200, "OK", "ok" },
	[STORE_APPLY_WILDCARD_NOT_ALONE] = { 400, "Wildcard Contact Not Alone", "wildcard-not-alone" },
	[STORE_APPLY_WILDCARD_NEEDS_EXPIRES_0] = { 400, "Wildcard Contact Needs Expires 0", "wildcard-needs-expires-0" },
	[STORE_APPLY_BAD_REQUEST] = { 400, "Bad Request", "bad-request" },
	[STORE_APPLY_FIELD_TOO_LONG] = { 400, "Contact Fields Too Long", "field-too-long" },
	[STORE_APPLY_INTERVAL_TOO_BRIEF] = { 423, "Interval Too Brief", "interval-too-brief" },
	/* Not "CSeq ..." in the reason: sipp 3.6.1 takes the first "CSeq" of a
	 * message, status line included, and then cannot match the reply. */
	[STORE_APPLY_CSEQ_OUT_OF_ORDER] = { 500, "Request Out Of Order", "cseq-out-of-order" },
	[STORE_APPLY_TOO_MANY_BINDINGS] = { 403, "Too Many Bindings", "too-many-bindings" },
	[STORE_APPLY_TABLE_FULL] = { 503, "Location Table Full", "table-full" },
};

const char *
store_apply_status_name(enum store_apply_status status)
{
	if ((unsigned)status >= STORE_APPLY_STATUS_COUNT)
		return "unknown";
	return apply_status_info[status].name;
}

void
store_policy_defaults(struct store_policy *p)
{
	p->default_expires_s = 3600;
	p->min_expires_s = 60;
	p->max_expires_s = 7200;
	p->max_bindings = 10;
	p->register_replace = true;
	p->nat_max_expires_s = 120;
}

/* ---- index ---------------------------------------------------------- */

static bool
slice_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

static bool
binding_aor_eq(const struct binding *b, const char *aor, uint32_t len)
{
	/* the AOR is the first string of the record */
	return b->data.str_len[STORE_STR_AOR] == len && memcmp(b->data.str, aor, len) == 0;
}

/* Index position of aor, or UINT32_MAX. */
static uint32_t
index_find(const struct binding_table *t, uint32_t tag, const char *aor, uint32_t len)
{
	uint32_t pos = tag & t->index_mask;

	for (;;) {
		const struct index_entry *e = &t->index[pos];

		if (e->head == STORE_NO_BINDING)
			return UINT32_MAX;
		if (e->tag == tag && binding_aor_eq(&t->bindings[e->head], aor, len))
			return pos;
		pos = (pos + 1) & t->index_mask;
	}
}

static void
index_insert(struct binding_table *t, uint32_t tag, uint32_t head)
{
	uint32_t pos = tag & t->index_mask;

	while (t->index[pos].head != STORE_NO_BINDING)
		pos = (pos + 1) & t->index_mask;
	t->index[pos].tag = tag;
	t->index[pos].head = head;
	t->n_aors++;
}

/* Linear-probing delete by backward shift (no tombstones). */
static void
index_delete(struct binding_table *t, uint32_t pos)
{
	uint32_t mask = t->index_mask;
	uint32_t hole = pos, i = pos;

	for (;;) {
		uint32_t home;

		i = (i + 1) & mask;
		if (t->index[i].head == STORE_NO_BINDING)
			break;
		home = t->index[i].tag & mask;
		/* entry at i may move to hole if home is not in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			t->index[hole] = t->index[i];
			hole = i;
		}
	}
	t->index[hole].head = STORE_NO_BINDING;
	t->n_aors--;
}

/* ---- create / destroy ---------------------------------------------- */

struct binding_table *
binding_table_create(uint32_t capacity, uint16_t worker, struct event_ring *events,
		     int64_t now_s)
{
	struct binding_table *t;
	uint64_t index_size = 2;

	if (capacity == 0 || capacity > (1u << 30))
		return NULL;
	while (index_size < 2ull * capacity)
		index_size <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->capacity = capacity;
	t->worker = worker;
	t->events = events;
	t->free_head = STORE_NO_BINDING;
	t->tick_now_s = now_s;
	t->index_mask = (uint32_t)(index_size - 1);
	/* untouched records stay unmapped zero pages */
	t->bindings = store_big_alloc((size_t)capacity * sizeof(struct binding));
	t->index = store_big_alloc(index_size * sizeof(struct index_entry));
	if (t->bindings == NULL || t->index == NULL ||
	    expiry_wheel_init(&t->wheel, capacity, now_s) != 0) {
		store_big_free(t->bindings, (size_t)capacity * sizeof(struct binding));
		store_big_free(t->index, index_size * sizeof(struct index_entry));
		free(t);
		return NULL;
	}
	memset(t->index, 0xff, index_size * sizeof(struct index_entry));
	return t;
}

void
binding_table_destroy(struct binding_table *t)
{
	if (t == NULL)
		return;
	expiry_wheel_free(&t->wheel);
	store_big_free(t->bindings, (size_t)t->capacity * sizeof(struct binding));
	store_big_free(t->index, ((size_t)t->index_mask + 1) * sizeof(struct index_entry));
	free(t);
}

void
binding_table_prefault(struct binding_table *t)
{
	/* records above the high-water mark were never used and are zero:
	 * writing zero faults their pages in; used records are left alone */
	memset(&t->bindings[t->high_water], 0,
	       (size_t)(t->capacity - t->high_water) * sizeof(struct binding));
	expiry_wheel_prefault(&t->wheel, t->high_water);
}

/* ---- records -------------------------------------------------------- */

/* The record the next record_alloc returns: the first free one, else the
 * first never used; STORE_NO_BINDING when the table is full. */
static uint32_t
record_next(const struct binding_table *t)
{
	if (t->free_head != STORE_NO_BINDING)
		return t->free_head;
	return t->high_water < t->capacity ? t->high_water : STORE_NO_BINDING;
}

static uint32_t
record_alloc(struct binding_table *t)
{
	uint32_t slot = record_next(t);

	if (slot == STORE_NO_BINDING)
		return slot;
	if (slot == t->free_head)
		t->free_head = t->bindings[slot].aor_next;
	else
		t->high_water++;
	/* Start loading, for writing, the record the next allocation will
	 * return: a new binding writes its whole record (~7 lines), each line
	 * a miss that held up the stores after it. perf/bench-pipeline, 1 M
	 * users: x1.014 (median of nine runs of a scratch build that
	 * alternated with and without it every 8,192 users, so that both saw
	 * the same noise; 2026-11-27). */
	uint32_t next = record_next(t);
	if (next != STORE_NO_BINDING) {
		const char *r = (const char *)&t->bindings[next];
		for (size_t off = 0; off < sizeof(struct binding); off += 64)
			__builtin_prefetch(r + off, 1);
	}
	return slot;
}

static uint32_t
records_free(const struct binding_table *t)
{
	return t->capacity - t->n_bindings;
}

/* Push one change; used = store_binding_data_used_size(b), which a caller
 * that has just filled b knows without summing the lengths again. */
static void
emit_sized(struct binding_table *t, enum store_event_type type,
	   const struct store_binding_data *b, size_t used, int64_t now_s,
	   struct registration_result *res)
{
	struct store_event *ev;

	if (res != NULL && res->n_events < sizeof(res->events))
		res->events[res->n_events++] = (uint8_t)type;
	t->event_seq++;
	if (t->events == NULL) {
		t->events_unsent++;
		return;
	}
	ev = event_ring_reserve(t->events);
	if (ev == NULL)
		return;          /* counted by the ring */
	ev->version = STORE_RECORD_VERSION;
	ev->type = (uint8_t)type;
	ev->reason = 0;
	ev->worker = t->worker;
	ev->pad2 = 0;
	ev->seq = t->event_seq;
	ev->at_s = now_s;
	memcpy(&ev->binding, b, used);
	event_ring_commit(t->events);
}

static void
emit(struct binding_table *t, enum store_event_type type, const struct store_binding_data *b,
     int64_t now_s, struct registration_result *res)
{
	emit_sized(t, type, b, store_binding_data_used_size(b), now_s, res);
}

/* Link a filled record into its AOR chain (creating the AOR) and the wheel. */
static void
link_binding(struct binding_table *t, uint32_t slot, uint32_t tag)
{
	struct binding *b = &t->bindings[slot];
	uint32_t pos = index_find(t, tag, b->data.str, b->data.str_len[STORE_STR_AOR]);

	b->aor_tag = tag;
	if (pos == UINT32_MAX) {
		b->aor_next = STORE_NO_BINDING;
		index_insert(t, tag, slot);
	} else {
		/* second in the chain: the index entry keeps its head */
		struct binding *head = &t->bindings[t->index[pos].head];

		b->aor_next = head->aor_next;
		head->aor_next = slot;
	}
	expiry_wheel_add(&t->wheel, slot, b->data.expires_at_s);
	t->n_bindings++;
}

static void
remove_binding(struct binding_table *t, uint32_t slot, enum store_event_type why,
	       int64_t now_s, struct registration_result *res)
{
	struct binding *b = &t->bindings[slot];
	uint32_t pos = index_find(t, b->aor_tag, b->data.str, b->data.str_len[STORE_STR_AOR]);
	uint32_t head = t->index[pos].head;

	emit(t, why, &b->data, now_s, res);
	if (head == slot) {
		if (b->aor_next == STORE_NO_BINDING)
			index_delete(t, pos);
		else
			t->index[pos].head = b->aor_next;
	} else {
		uint32_t prev = head;

		while (t->bindings[prev].aor_next != slot)
			prev = t->bindings[prev].aor_next;
		t->bindings[prev].aor_next = b->aor_next;
	}
	expiry_wheel_remove(&t->wheel, slot);
	b->data.str_len[STORE_STR_AOR] = 0;      /* marks the record free */
	b->aor_next = t->free_head;
	t->free_head = slot;
	t->n_bindings--;
}

/* ---- keys ---------------------------------------------------------- */

static bool
key_matches_contact(const struct store_binding_data *b, const struct registration_contact *c)
{
	size_t len;
	const char *s;

	if (c->instance.len != 0) {
		s = store_binding_string(b, STORE_STR_INSTANCE, &len);
		if (!slice_eq(s, len, c->instance.ptr, c->instance.len))
			return false;
		if (c->has_reg_id != ((b->flags & STORE_BINDING_HAS_REG_ID) != 0))
			return false;
		return !c->has_reg_id || c->reg_id == b->reg_id;
	}
	if (b->str_len[STORE_STR_INSTANCE] != 0)
		return false;
	s = store_binding_string(b, STORE_STR_CONTACT, &len);
	return slice_eq(s, len, c->uri.ptr, c->uri.len);
}

static bool
key_equal(const struct store_binding_data *a, const struct store_binding_data *b)
{
	struct registration_contact c;
	size_t len;

	memset(&c, 0, sizeof(c));
	c.instance.ptr = store_binding_string(b, STORE_STR_INSTANCE, &len);
	c.instance.len = (uint32_t)len;
	c.uri.ptr = store_binding_string(b, STORE_STR_CONTACT, &len);
	c.uri.len = (uint32_t)len;
	c.has_reg_id = (b->flags & STORE_BINDING_HAS_REG_ID) != 0;
	c.reg_id = b->reg_id;
	return key_matches_contact(a, &c);
}

static bool
contacts_same_key(const struct registration_contact *a, const struct registration_contact *b)
{
	if (a->instance.len != 0 || b->instance.len != 0)
		return slice_eq(a->instance.ptr, a->instance.len, b->instance.ptr, b->instance.len) &&
		       a->has_reg_id == b->has_reg_id && (!a->has_reg_id || a->reg_id == b->reg_id);
	return slice_eq(a->uri.ptr, a->uri.len, b->uri.ptr, b->uri.len);
}

size_t
store_binding_key_build(const struct store_binding_data *b, char *buf, size_t cap)
{
	static const char inst[] = "+sip.instance=";
	size_t len, n;
	const char *s;

	if (b->str_len[STORE_STR_INSTANCE] == 0) {
		s = store_binding_string(b, STORE_STR_CONTACT, &len);
		if (len > cap)
			return 0;
		memcpy(buf, s, len);
		return len;
	}
	s = store_binding_string(b, STORE_STR_INSTANCE, &len);
	if (sizeof(inst) - 1 + len + 20 > cap)
		return 0;
	memcpy(buf, inst, sizeof(inst) - 1);
	memcpy(buf + sizeof(inst) - 1, s, len);
	n = sizeof(inst) - 1 + len;
	if (b->flags & STORE_BINDING_HAS_REG_ID) {
		char digits[10];
		int d = 0;
		uint32_t v = b->reg_id;

		memcpy(buf + n, ";reg-id=", 8);
		n += 8;
		do {
			digits[d++] = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		while (d > 0)
			buf[n++] = digits[--d];
	}
	return n;
}

size_t
store_binding_lmdb_key_build(const struct store_binding_data *b, char *buf, size_t cap)
{
	size_t aor_len, key_len;
	const char *aor = store_binding_string(b, STORE_STR_AOR, &aor_len);

	if (aor_len + 1 > cap)
		return 0;
	memcpy(buf, aor, aor_len);
	buf[aor_len] = '\0';
	key_len = store_binding_key_build(b, buf + aor_len + 1, cap - aor_len - 1);
	if (key_len == 0)
		return 0;
	return aor_len + 1 + key_len;
}

const char *
store_auth_failure_name(enum store_auth_failure reason)
{
	static const char *const names[STORE_AUTH_FAILURE_COUNT] = {
		[STORE_AUTH_FAILURE_NONE] = "",
		[STORE_AUTH_FAILURE_WRONG_CREDENTIALS] = "wrong-credentials",
		[STORE_AUTH_FAILURE_WRONG_USER] = "wrong-user",
		[STORE_AUTH_FAILURE_REPLAY] = "replay",
		[STORE_AUTH_FAILURE_IP_DENIED] = "ip-denied",
	};

	return (unsigned)reason < STORE_AUTH_FAILURE_COUNT ? names[reason] : "";
}

const char *
store_event_type_name(enum store_event_type type)
{
	static const char *const names[STORE_EVENT_TYPE_COUNT] = {
		[STORE_EVENT_REGISTERED] = "registered",
		[STORE_EVENT_REFRESHED] = "refreshed",
		[STORE_EVENT_UNREGISTERED] = "unregistered",
		[STORE_EVENT_EXPIRED] = "expired",
		[STORE_EVENT_KICKED] = "kicked",
		[STORE_EVENT_FORCE_UNREGISTERED] = "force-unregistered",
		[STORE_EVENT_UNREACHABLE] = "unreachable",
		[STORE_EVENT_AUTH_FAILED] = "auth-failed",
		[STORE_EVENT_LOCKED_OUT] = "locked-out",
	};

	if ((unsigned)type >= STORE_EVENT_TYPE_COUNT || names[type] == NULL)
		return "unknown";
	return names[type];
}

/* ---- REGISTER ------------------------------------------------------ */

static size_t
request_string_bytes(const struct registration_request *req, const struct registration_contact *c)
{
	return (size_t)req->aor.len + c->uri.len + req->call_id.len + req->user_agent.len +
	       req->account.len + req->path.len + c->instance.len;
}

/*
 * Fill every field a REGISTER sets; registered_at_s is left to the caller.
 * Strings before `first` are known to hold the request's bytes already (a
 * refresh found its binding by them) and are not copied again.  Returns
 * the record's used size (store_binding_data_used_size).
 */
static size_t
fill_binding(struct store_binding_data *d, const struct registration_request *req,
	     const struct registration_contact *c, uint32_t expires_s, enum store_string first)
{
	const struct store_slice parts[STORE_STR_COUNT] = {
		[STORE_STR_AOR] = req->aor,
		[STORE_STR_CONTACT] = c->uri,
		[STORE_STR_CALL_ID] = req->call_id,
		[STORE_STR_USER_AGENT] = req->user_agent,
		[STORE_STR_ACCOUNT] = req->account,
		[STORE_STR_PATH] = req->path,
		[STORE_STR_INSTANCE] = c->instance,
	};
	char *p = d->str;

	d->expires_at_s = req->now_s + expires_s;
	d->refreshed_at_s = req->now_s;
	d->cseq = req->cseq;
	d->reg_id = c->has_reg_id ? c->reg_id : 0;
	d->expires_s = expires_s;
	d->q_milli = c->has_q ? c->q_milli : 1000;
	d->flags = (uint8_t)((c->nat ? STORE_BINDING_NAT : 0) |
			     (c->has_reg_id ? STORE_BINDING_HAS_REG_ID : 0) |
			     (c->has_q ? STORE_BINDING_HAS_Q : 0));
	d->transport = req->transport;
	d->source = req->source;
	for (int i = 0; i < (int)first; i++)
		p += d->str_len[i];
	for (int i = (int)first; i < STORE_STR_COUNT; i++) {
		d->str_len[i] = (uint16_t)parts[i].len;
		if (parts[i].len != 0)
			memcpy(p, parts[i].ptr, parts[i].len);
		p += parts[i].len;
	}
	return offsetof(struct store_binding_data, str) + (size_t)(p - d->str);
}

static void
set_status(struct binding_table *t, struct registration_result *res, enum store_apply_status s)
{
	res->status = s;
	res->status_code = apply_status_info[s].code;
	res->reason = apply_status_info[s].reason;
	t->apply_status[s]++;
}

static void
list_contacts(const struct binding_table *t, uint32_t head, int64_t now_s,
	      struct registration_result *res)
{
	for (uint32_t s = head; s != STORE_NO_BINDING; s = t->bindings[s].aor_next) {
		const struct store_binding_data *d = &t->bindings[s].data;

		if (d->expires_at_s <= now_s || res->n_contacts >= STORE_MAX_BINDINGS_PER_AOR)
			continue;
		res->contacts[res->n_contacts].binding = s;
		res->contacts[res->n_contacts].expires_s = (uint32_t)(d->expires_at_s - now_s);
		res->n_contacts++;
	}
}

static uint32_t
aor_head(const struct binding_table *t, uint32_t tag, struct store_slice aor)
{
	uint32_t pos = index_find(t, tag, aor.ptr, aor.len);

	return pos == UINT32_MAX ? STORE_NO_BINDING : t->index[pos].head;
}

/* Step 6 for '*': any binding with this Call-ID and a CSeq >= ours fails it. */
static void
apply_wildcard(struct binding_table *t, const struct registration_request *req,
	       uint32_t tag, struct registration_result *res)
{
	uint32_t head = aor_head(t, tag, req->aor);

	for (uint32_t s = head; s != STORE_NO_BINDING; s = t->bindings[s].aor_next) {
		const struct store_binding_data *d = &t->bindings[s].data;
		size_t len;
		const char *cid = store_binding_string(d, STORE_STR_CALL_ID, &len);

		if (slice_eq(cid, len, req->call_id.ptr, req->call_id.len) && req->cseq <= d->cseq) {
			set_status(t, res, STORE_APPLY_CSEQ_OUT_OF_ORDER);
			return;
		}
	}
	while (head != STORE_NO_BINDING) {
		uint32_t next = t->bindings[head].aor_next;

		remove_binding(t, head, STORE_EVENT_UNREGISTERED, req->now_s, res);
		head = next;
	}
	set_status(t, res, STORE_APPLY_OK);
}

struct plan_entry {
	uint32_t existing;     /* binding slot or STORE_NO_BINDING */
	uint32_t expires_s;    /* granted; 0 = remove */
	bool skip;             /* a later contact has the same key */
};

/* Expiry granted to contact c (step 5), before the min check: 0 removes. */
static uint32_t
contact_expires_s(const struct store_policy *policy, const struct registration_request *req,
		  const struct registration_contact *c)
{
	uint32_t e = c->has_expires ? c->expires_s :
		     req->has_expires_header ? req->expires_header_s :
		     policy->default_expires_s;

	if (e != 0 && e > policy->max_expires_s)
		e = policy->max_expires_s;
	return e;
}

/*
 * The hot case: one Contact, not '*', refreshing a binding it names, with
 * an expiry the policy accepts and a CSeq in order.  Same outcome as the
 * general path below (steps 5-7 reduce to "refresh in place"), minus its
 * per-request planning arrays and second passes, and with the AOR (and,
 * for a URI key, the contact) not copied onto the identical bytes.
 * Returns false, having changed and counted nothing, for anything else:
 * the general path then decides.
 * perf/bench-store --only table: 830 -> 594 instructions per apply
 * (callgrind, --bindings 100000); staged refresh at 1M 4.77 -> 5.12 M/s
 * per core (median of 5 interleaved runs, 2-core VM, other load on it).
 */
static bool
refresh_single(struct binding_table *t, const struct store_policy *policy,
	       const struct registration_request *req, uint32_t tag,
	       struct registration_result *res)
{
	const struct registration_contact *c = &req->contacts[0];
	uint32_t e = contact_expires_s(policy, req, c);
	uint32_t head, n = 0;

	if (e == 0 || e < policy->min_expires_s ||
	    request_string_bytes(req, c) > STORE_BINDING_STRING_BYTES)
		return false;
	if (c->nat && policy->nat_max_expires_s != 0 && e > policy->nat_max_expires_s)
		e = policy->nat_max_expires_s;
	head = aor_head(t, tag, req->aor);
	for (uint32_t s = head; s != STORE_NO_BINDING && n < STORE_MAX_BINDINGS_PER_AOR;
	     s = t->bindings[s].aor_next, n++) {
		struct store_binding_data *d = &t->bindings[s].data;
		int64_t old_expires_at_s = d->expires_at_s;
		size_t len, used;
		const char *cid;

		if (!key_matches_contact(d, c))
			continue;
		cid = store_binding_string(d, STORE_STR_CALL_ID, &len);
		if (req->cseq <= d->cseq && slice_eq(cid, len, req->call_id.ptr, req->call_id.len))
			return false;   /* 500, from the general path */
		used = fill_binding(d, req, c, e,
				    c->instance.len != 0 ? STORE_STR_CONTACT : STORE_STR_CALL_ID);
		if (d->expires_at_s < old_expires_at_s)
			expiry_wheel_schedule(&t->wheel, s, d->expires_at_s);
		emit_sized(t, STORE_EVENT_REFRESHED, d, used, req->now_s, res);
		res->outbound = c->instance.len != 0 && c->has_reg_id;
		set_status(t, res, STORE_APPLY_OK);
		list_contacts(t, head, req->now_s, res);
		return true;
	}
	return false;
}

void
binding_table_apply_register(struct binding_table *t, const struct store_policy *policy,
			     const struct registration_request *req,
			     struct registration_result *res)
{
	struct plan_entry plan[STORE_MAX_BINDINGS_PER_AOR];
	uint32_t existing[STORE_MAX_BINDINGS_PER_AOR];
	bool named[STORE_MAX_BINDINGS_PER_AOR];
	uint32_t victims[STORE_MAX_BINDINGS_PER_AOR];
	uint32_t n_existing = 0, n_victims = 0, adds = 0, removes = 0;
	uint32_t max_bindings, tag, head;
	int64_t now_s = req->now_s;

	res->n_contacts = 0;
	res->n_events = 0;
	res->min_expires_s = 0;
	res->outbound = false;

	if (req->aor.len == 0 || req->n_contacts > STORE_MAX_BINDINGS_PER_AOR) {
		set_status(t, res, STORE_APPLY_BAD_REQUEST);
		return;
	}
	tag = (uint32_t)(req->aor_hash ? req->aor_hash : store_aor_hash(req->aor.ptr, req->aor.len));

	/* Step 5: '*' only alone and with Expires: 0. */
	if (req->wildcard) {
		if (req->n_contacts != 0)
			set_status(t, res, STORE_APPLY_WILDCARD_NOT_ALONE);
		else if (!req->has_expires_header || req->expires_header_s != 0)
			set_status(t, res, STORE_APPLY_WILDCARD_NEEDS_EXPIRES_0);
		else
			apply_wildcard(t, req, tag, res);
		return;
	}
	if (req->n_contacts == 1 && refresh_single(t, policy, req, tag, res))
		return;

	/* Step 5: expiry of each contact; 423 fails the whole request. */
	for (uint32_t i = 0; i < req->n_contacts; i++) {
		const struct registration_contact *c = &req->contacts[i];
		uint32_t e = contact_expires_s(policy, req, c);

		if (e != 0) {
			if (e < policy->min_expires_s) {
				res->min_expires_s = policy->min_expires_s;
				set_status(t, res, STORE_APPLY_INTERVAL_TOO_BRIEF);
				return;
			}
			if (c->nat && policy->nat_max_expires_s != 0 && e > policy->nat_max_expires_s)
				e = policy->nat_max_expires_s;
		}
		if (request_string_bytes(req, c) > STORE_BINDING_STRING_BYTES) {
			set_status(t, res, STORE_APPLY_FIELD_TOO_LONG);
			return;
		}
		plan[i].expires_s = e;
		plan[i].existing = STORE_NO_BINDING;
		plan[i].skip = false;
		for (uint32_t j = i + 1; j < req->n_contacts; j++) {
			if (contacts_same_key(c, &req->contacts[j])) {
				plan[i].skip = true;
				break;
			}
		}
		if (c->instance.len != 0 && c->has_reg_id)
			res->outbound = true;
	}

	head = aor_head(t, tag, req->aor);
	for (uint32_t s = head; s != STORE_NO_BINDING; s = t->bindings[s].aor_next) {
		if (n_existing == STORE_MAX_BINDINGS_PER_AOR)
			break;
		named[n_existing] = false;
		existing[n_existing++] = s;
	}

	/* Step 6: match keys; same Call-ID with CSeq not higher -> 500. */
	for (uint32_t i = 0; i < req->n_contacts; i++) {
		if (plan[i].skip)
			continue;
		for (uint32_t k = 0; k < n_existing; k++) {
			const struct store_binding_data *d = &t->bindings[existing[k]].data;
			size_t len;
			const char *cid;

			if (!key_matches_contact(d, &req->contacts[i]))
				continue;
			cid = store_binding_string(d, STORE_STR_CALL_ID, &len);
			if (slice_eq(cid, len, req->call_id.ptr, req->call_id.len) &&
			    req->cseq <= d->cseq) {
				set_status(t, res, STORE_APPLY_CSEQ_OUT_OF_ORDER);
				return;
			}
			plan[i].existing = existing[k];
			named[k] = true;
			break;
		}
		if (plan[i].existing == STORE_NO_BINDING && plan[i].expires_s != 0)
			adds++;
		else if (plan[i].existing != STORE_NO_BINDING && plan[i].expires_s == 0)
			removes++;
	}

	/* Step 7: binding limit, checked only when the request adds. */
	max_bindings = policy->max_bindings;
	if (max_bindings == 0 || max_bindings > STORE_MAX_BINDINGS_PER_AOR)
		max_bindings = STORE_MAX_BINDINGS_PER_AOR;
	if (adds > 0 && n_existing - removes + adds > max_bindings) {
		uint32_t excess = n_existing - removes + adds - max_bindings;

		if (!policy->register_replace) {
			set_status(t, res, STORE_APPLY_TOO_MANY_BINDINGS);
			return;
		}
		/* least recently refreshed first, among bindings this request keeps */
		while (n_victims < excess) {
			uint32_t best = UINT32_MAX;

			for (uint32_t k = 0; k < n_existing; k++) {
				if (named[k])
					continue;
				if (best == UINT32_MAX ||
				    t->bindings[existing[k]].data.refreshed_at_s <
					    t->bindings[existing[best]].data.refreshed_at_s)
					best = k;
			}
			if (best == UINT32_MAX) {
				/* the request alone names more than the limit */
				set_status(t, res, STORE_APPLY_TOO_MANY_BINDINGS);
				return;
			}
			named[best] = true;
			victims[n_victims++] = existing[best];
		}
	}
	if (adds > records_free(t) + removes + n_victims) {
		set_status(t, res, STORE_APPLY_TABLE_FULL);
		return;
	}

	/* Apply: kicks and removals first so their records can be reused. */
	for (uint32_t v = 0; v < n_victims; v++)
		remove_binding(t, victims[v], STORE_EVENT_KICKED, now_s, res);
	for (uint32_t i = 0; i < req->n_contacts; i++) {
		if (!plan[i].skip && plan[i].existing != STORE_NO_BINDING && plan[i].expires_s == 0)
			remove_binding(t, plan[i].existing, STORE_EVENT_UNREGISTERED, now_s, res);
	}
	for (uint32_t i = 0; i < req->n_contacts; i++) {
		uint32_t slot = plan[i].existing;
		struct binding *b;

		if (plan[i].skip || plan[i].expires_s == 0)
			continue;
		if (slot != STORE_NO_BINDING) {
			int64_t old_expires_at_s;

			size_t used;

			b = &t->bindings[slot];
			old_expires_at_s = b->data.expires_at_s;
			used = fill_binding(&b->data, req, &req->contacts[i], plan[i].expires_s,
					    STORE_STR_AOR);
			/* wheel time <= old expiry <= new expiry: nothing to move,
			 * and no cache miss on the wheel's arrays */
			if (b->data.expires_at_s < old_expires_at_s)
				expiry_wheel_schedule(&t->wheel, slot, b->data.expires_at_s);
			emit_sized(t, STORE_EVENT_REFRESHED, &b->data, used, now_s, res);
			continue;
		}
		slot = record_alloc(t);     /* cannot fail: checked above */
		b = &t->bindings[slot];
		fill_binding(&b->data, req, &req->contacts[i], plan[i].expires_s, STORE_STR_AOR);
		b->data.registered_at_s = now_s;
		link_binding(t, slot, tag);
		emit(t, STORE_EVENT_REGISTERED, &b->data, now_s, res);
	}
	set_status(t, res, STORE_APPLY_OK);
	if (adds != 0 || removes != 0 || n_victims != 0)
		head = aor_head(t, tag, req->aor);
	list_contacts(t, head, now_s, res);
}

void
binding_table_prefetch_index(const struct binding_table *t, uint64_t aor_hash)
{
	uint32_t tag = (uint32_t)aor_hash;

	__builtin_prefetch(&t->index[tag & t->index_mask]);
}

void
binding_table_prefetch_aor(const struct binding_table *t, uint64_t aor_hash)
{
	uint32_t tag = (uint32_t)aor_hash;
	const struct index_entry *e = &t->index[tag & t->index_mask];
	const char *b;

	if (e->head == STORE_NO_BINDING || e->tag != tag)
		return;
	/* header, AOR, contact and Call-ID sit in the first 256 bytes */
	b = (const char *)&t->bindings[e->head];
	__builtin_prefetch(b, 1);
	__builtin_prefetch(b + 64, 1);
	__builtin_prefetch(b + 128, 1);
	__builtin_prefetch(b + 192, 1);
}

/* ---- expiry, admin, recovery ---------------------------------------- */

static int64_t
expire_due(void *ctx, uint32_t slot)
{
	struct binding_table *t = ctx;
	int64_t at = t->bindings[slot].data.expires_at_s;

	if (at <= t->tick_now_s)
		remove_binding(t, slot, STORE_EVENT_EXPIRED, t->tick_now_s, NULL);
	return at;
}

uint32_t
binding_table_expire(struct binding_table *t, int64_t now_s)
{
	t->tick_now_s = now_s;
	return expiry_wheel_advance(&t->wheel, now_s, expire_due, t);
}

uint32_t
binding_table_force_unregister(struct binding_table *t, struct store_slice aor,
			       struct store_slice binding_key, int64_t now_s)
{
	uint32_t tag, s, removed = 0;
	char key[STORE_BINDING_KEY_MAX];

	if (aor.len == 0)
		return 0;
	tag = (uint32_t)store_aor_hash(aor.ptr, aor.len);
	s = aor_head(t, tag, aor);
	while (s != STORE_NO_BINDING) {
		uint32_t next = t->bindings[s].aor_next;
		size_t n = binding_key.len ? store_binding_key_build(&t->bindings[s].data, key,
								     sizeof(key)) : 0;

		if (binding_key.len == 0 || slice_eq(key, n, binding_key.ptr, binding_key.len)) {
			remove_binding(t, s, STORE_EVENT_FORCE_UNREGISTERED, now_s, NULL);
			removed++;
		}
		s = next;
	}
	return removed;
}

int
binding_table_remove_unreachable(struct binding_table *t, uint32_t binding, int64_t now_s)
{
	if (binding_table_get(t, binding) == NULL)
		return -ENOENT;
	remove_binding(t, binding, STORE_EVENT_UNREACHABLE, now_s, NULL);
	return 0;
}

int
binding_table_restore(struct binding_table *t, const struct store_binding_data *b)
{
	size_t total = 0;
	uint32_t tag, head, n = 0, slot;

	for (int i = 0; i < STORE_STR_COUNT; i++)
		total += b->str_len[i];
	if (b->str_len[STORE_STR_AOR] == 0 || total > STORE_BINDING_STRING_BYTES)
		return -EINVAL;
	tag = (uint32_t)store_aor_hash(b->str, b->str_len[STORE_STR_AOR]);
	head = aor_head(t, tag, (struct store_slice){ b->str, b->str_len[STORE_STR_AOR] });
	for (uint32_t s = head; s != STORE_NO_BINDING; s = t->bindings[s].aor_next, n++) {
		struct store_binding_data *d = &t->bindings[s].data;

		if (!key_equal(d, b))
			continue;
		if (b->refreshed_at_s > d->refreshed_at_s) {
			memcpy(d, b, store_binding_data_used_size(b));
			expiry_wheel_schedule(&t->wheel, s, d->expires_at_s);
		}
		return -EEXIST;
	}
	if (n >= STORE_MAX_BINDINGS_PER_AOR)
		return -ENOSPC;
	slot = record_alloc(t);
	if (slot == STORE_NO_BINDING)
		return -ENOSPC;
	memcpy(&t->bindings[slot].data, b, store_binding_data_used_size(b));
	link_binding(t, slot, tag);
	return 0;
}

/* ---- queries ------------------------------------------------------- */

const struct store_binding_data *
binding_table_get(const struct binding_table *t, uint32_t binding)
{
	if (binding >= t->high_water || t->bindings[binding].data.str_len[STORE_STR_AOR] == 0)
		return NULL;
	return &t->bindings[binding].data;
}

uint32_t
binding_table_find_aor(const struct binding_table *t, struct store_slice aor)
{
	if (aor.len == 0)
		return STORE_NO_BINDING;
	return aor_head(t, (uint32_t)store_aor_hash(aor.ptr, aor.len), aor);
}

uint32_t
binding_table_next_of_aor(const struct binding_table *t, uint32_t binding)
{
	return t->bindings[binding].aor_next;
}

uint32_t
binding_table_slots_used(const struct binding_table *t)
{
	return t->high_water;
}

void
binding_table_get_stats(const struct binding_table *t, struct binding_table_stats *out)
{
	out->capacity = t->capacity;
	out->bindings = t->n_bindings;
	out->aors = t->n_aors;
	out->events_lost = t->events ? event_ring_lost(t->events) : 0;
	out->events_unsent = t->events_unsent;
	memcpy(out->apply_status, t->apply_status, sizeof(out->apply_status));
}

enum store_binding_status
store_binding_status(const struct store_binding_data *b, int64_t now_s, uint32_t expiring_window_s)
{
	int64_t left = b->expires_at_s - now_s;

	if (left <= 0)
		return STORE_BINDING_EXPIRED;
	if (left < (int64_t)expiring_window_s || left * 10 < (int64_t)b->expires_s)
		return STORE_BINDING_EXPIRING;
	return STORE_BINDING_REGISTERED;
}

static bool
addr_is_private(const struct store_addr *a)
{
	const uint8_t *p = a->addr;

	if (a->family == AF_INET)
		return p[0] == 10 || (p[0] == 172 && (p[1] & 0xf0) == 16) ||
		       (p[0] == 192 && p[1] == 168) || (p[0] == 100 && (p[1] & 0xc0) == 64);
	if (a->family == AF_INET6)
		return (p[0] & 0xfe) == 0xfc;
	return false;
}

bool
store_contact_is_nat(const struct store_addr *contact_host, const struct store_addr *source)
{
	size_t n;

	if (contact_host == NULL || !addr_is_private(contact_host))
		return false;
	if (contact_host->family != source->family)
		return true;
	n = contact_host->family == AF_INET ? 4 : 16;
	return memcmp(contact_host->addr, source->addr, n) != 0;
}
