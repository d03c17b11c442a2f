/*
 * test_register_rules.c - RFC 3261 §10.3 / DESIGN.md steps 5-7 on the
 * binding table: one test per rule, named after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "aor_hash.h"
#include "binding_table.h"
#include "event_ring.h"
#include "expiry_wheel.h"
#include "store_test_util.h"

#define AOR "sip:alice@example.com"

struct fixture {
	struct binding_table *table;
	struct event_ring *ring;
	struct store_policy policy;
	struct test_register r;
	struct registration_result res;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ring = event_ring_create(1024);
	f->table = binding_table_create(64, 0, f->ring, T0);
	store_policy_defaults(&f->policy);
	*state = f;
	return f->ring && f->table ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	binding_table_destroy(f->table);
	event_ring_destroy(f->ring);
	free(f);
	return 0;
}

static void
apply(struct fixture *f)
{
	binding_table_apply_register(f->table, &f->policy, &f->r.req, &f->res);
}

/* REGISTER one contact, expect 200. */
static void
register_contact(struct fixture *f, const char *call_id, uint32_t cseq, const char *uri,
		 int expires, int64_t now_s)
{
	reg_init(&f->r, AOR, call_id, cseq, now_s);
	reg_contact(&f->r, uri, expires);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
}

/* ---- step 5: wildcard ------------------------------------------------ */

static void
test_register_star_with_nonzero_expires_is_400(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	reg_init(&f->r, AOR, "c1", 2, T0);
	f->r.req.wildcard = true;
	reg_expires_header(&f->r, 60);
	apply(f);
	assert_int_equal(f->res.status_code, 400);
	assert_int_equal(f->res.status, STORE_APPLY_WILDCARD_NEEDS_EXPIRES_0);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

static void
test_register_star_without_expires_header_is_400(void **state)
{
	struct fixture *f = *state;

	reg_init(&f->r, AOR, "c1", 1, T0);
	f->r.req.wildcard = true;
	apply(f);
	assert_int_equal(f->res.status_code, 400);
	assert_int_equal(f->res.status, STORE_APPLY_WILDCARD_NEEDS_EXPIRES_0);
}

static void
test_register_star_with_other_contacts_is_400(void **state)
{
	struct fixture *f = *state;

	reg_init(&f->r, AOR, "c1", 1, T0);
	f->r.req.wildcard = true;
	reg_expires_header(&f->r, 0);
	reg_contact(&f->r, "sip:alice@198.18.0.1", -1);
	apply(f);
	assert_int_equal(f->res.status_code, 400);
	assert_int_equal(f->res.status, STORE_APPLY_WILDCARD_NOT_ALONE);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_register_star_with_expires_0_removes_every_binding(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	reg_init(&f->r, AOR, "c3", 1, T0 + 1);
	f->r.req.wildcard = true;
	reg_expires_header(&f->r, 0);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(f->res.n_contacts, 0);
	assert_int_equal(count_events(&f->res, STORE_EVENT_UNREGISTERED), 2);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_register_star_with_same_call_id_and_old_cseq_is_500(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 5, "sip:alice@198.18.0.1", 600, T0);
	reg_init(&f->r, AOR, "c1", 5, T0 + 1);
	f->r.req.wildcard = true;
	reg_expires_header(&f->r, 0);
	apply(f);
	assert_int_equal(f->res.status_code, 500);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

/* ---- step 5: expiry ---------------------------------------------------- */

static void
test_expiry_from_contact_param_wins_over_expires_header(void **state)
{
	struct fixture *f = *state;

	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_expires_header(&f->r, 1800);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 300);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(f->res.n_contacts, 1);
	assert_int_equal(f->res.contacts[0].expires_s, 300);
}

static void
test_expiry_from_expires_header_when_contact_has_no_param(void **state)
{
	struct fixture *f = *state;

	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_expires_header(&f->r, 1800);
	reg_contact(&f->r, "sip:alice@198.18.0.1", -1);
	apply(f);
	assert_int_equal(f->res.contacts[0].expires_s, 1800);
}

static void
test_expiry_default_when_no_param_and_no_header(void **state)
{
	struct fixture *f = *state;

	f->policy.default_expires_s = 900;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", -1, T0);
	assert_int_equal(f->res.contacts[0].expires_s, 900);
}

static void
test_expiry_above_max_is_clamped_to_max(void **state)
{
	struct fixture *f = *state;

	f->policy.max_expires_s = 3600;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 86400, T0);
	assert_int_equal(f->res.contacts[0].expires_s, 3600);
}

static void
test_expiry_below_min_is_423_with_min_expires_and_nothing_changed(void **state)
{
	struct fixture *f = *state;

	f->policy.min_expires_s = 120;
	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	reg_contact(&f->r, "sip:alice@198.18.0.2", 30);
	apply(f);
	assert_int_equal(f->res.status_code, 423);
	assert_int_equal(f->res.min_expires_s, 120);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_nat_binding_expiry_is_capped_by_nat_max_expires(void **state)
{
	struct fixture *f = *state;

	f->policy.nat_max_expires_s = 120;
	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, "sip:alice@192.168.1.10", 3600)->nat = true;
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(f->res.contacts[0].expires_s, 120);
	assert_true(binding_table_get(f->table, f->res.contacts[0].binding)->flags &
		    STORE_BINDING_NAT);
}

static void
test_private_contact_behind_other_source_is_nat(void **state)
{
	struct store_addr contact = { .family = AF_INET }, source = { .family = AF_INET };

	(void)state;
	inet_pton(AF_INET, "192.168.1.10", contact.addr);
	inet_pton(AF_INET, "198.18.0.1", source.addr);
	assert_true(store_contact_is_nat(&contact, &source));
	inet_pton(AF_INET, "100.64.3.4", contact.addr);
	assert_true(store_contact_is_nat(&contact, &source));
	memcpy(source.addr, contact.addr, 4);           /* same address: not NAT */
	assert_false(store_contact_is_nat(&contact, &source));
	inet_pton(AF_INET, "198.18.0.9", contact.addr);  /* public: not NAT */
	assert_false(store_contact_is_nat(&contact, &source));
	assert_false(store_contact_is_nat(NULL, &source));
}

/* ---- step 6: Call-ID / CSeq, add / refresh / remove --------------------- */

static void
test_same_call_id_with_equal_cseq_is_500_and_nothing_changed(void **state)
{
	struct fixture *f = *state;
	const struct store_binding_data *b;

	register_contact(f, "c1", 7, "sip:alice@198.18.0.1", 600, T0);
	reg_init(&f->r, AOR, "c1", 7, T0 + 10);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 1200);
	reg_contact(&f->r, "sip:alice@198.18.0.2", 1200);
	apply(f);
	assert_int_equal(f->res.status_code, 500);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	b = find_contact(f->table, AOR, "sip:alice@198.18.0.1");
	assert_int_equal(b->expires_at_s, T0 + 600);
}

static void
test_same_call_id_with_lower_cseq_is_500(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 7, "sip:alice@198.18.0.1", 600, T0);
	reg_init(&f->r, AOR, "c1", 6, T0 + 10);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 0);
	apply(f);
	assert_int_equal(f->res.status_code, 500);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

static void
test_same_call_id_with_higher_cseq_refreshes(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 7, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c1", 8, "sip:alice@198.18.0.1", 600, T0 + 10);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
}

static void
test_other_call_id_with_lower_cseq_refreshes(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 7, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.1", 600, T0 + 10);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	assert_int_equal(find_contact(f->table, AOR, "sip:alice@198.18.0.1")->cseq, 1);
}

static void
test_new_contact_adds_binding_with_registered_event(void **state)
{
	struct fixture *f = *state;
	const struct store_binding_data *b;
	const struct store_event *ev;
	const char *s;
	size_t len;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REGISTERED), 1);
	b = find_contact(f->table, AOR, "sip:alice@198.18.0.1");
	assert_non_null(b);
	assert_int_equal(b->registered_at_s, T0);
	assert_int_equal(b->refreshed_at_s, T0);
	assert_int_equal(b->expires_at_s, T0 + 600);
	assert_int_equal(b->source.port, 5060);
	s = store_binding_string(b, STORE_STR_USER_AGENT, &len);
	assert_int_equal(len, strlen("test-phone/1.0"));
	assert_memory_equal(s, "test-phone/1.0", len);
	assert_int_equal(event_ring_peek(f->ring, &ev, 8), 1);
	assert_int_equal(ev->type, STORE_EVENT_REGISTERED);
	assert_int_equal(ev->seq, 1);
	assert_int_equal(ev->binding.expires_at_s, T0 + 600);
}

static void
test_existing_contact_refreshes_keeping_registered_at(void **state)
{
	struct fixture *f = *state;
	const struct store_binding_data *b;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 900, T0 + 100);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	b = find_contact(f->table, AOR, "sip:alice@198.18.0.1");
	assert_int_equal(b->registered_at_s, T0);
	assert_int_equal(b->refreshed_at_s, T0 + 100);
	assert_int_equal(b->expires_at_s, T0 + 100 + 900);
	assert_int_equal(b->cseq, 2);
}

/* Drop every event the ring holds (the tests below look at the next one). */
static void
ring_clear(struct event_ring *ring)
{
	const struct store_event *ev;
	uint32_t n;

	while ((n = event_ring_peek(ring, &ev, UINT32_MAX)) > 0)
		event_ring_release(ring, n);
}

static void
assert_string(const struct store_binding_data *b, enum store_string which, const char *want)
{
	size_t len;
	const char *got = store_binding_string(b, which, &len);

	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
}

/* The one event in the ring is `type` and carries exactly binding b. */
static void
assert_single_event_carries(struct event_ring *ring, enum store_event_type type,
			    const struct store_binding_data *b)
{
	const struct store_event *ev;

	assert_int_equal(event_ring_peek(ring, &ev, UINT32_MAX), 1);
	assert_int_equal(ev->type, type);
	assert_int_equal(store_binding_data_used_size(&ev->binding),
			 store_binding_data_used_size(b));
	assert_memory_equal(&ev->binding, b, store_binding_data_used_size(b));
}

static void
test_refresh_stores_new_call_id_user_agent_path_and_source(void **state)
{
	struct fixture *f = *state;
	const struct store_binding_data *b;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	ring_clear(f->ring);
	reg_init(&f->r, AOR, "a-longer-call-id@phone", 1, T0 + 5);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	f->r.req.user_agent = S("ua/2");
	f->r.req.path = S("<sip:edge.example.com;lr>");
	f->r.req.source.port = 5070;
	f->r.req.transport = STORE_TRANSPORT_TCP;
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	b = find_contact(f->table, AOR, "sip:alice@198.18.0.1");
	assert_non_null(b);
	assert_string(b, STORE_STR_AOR, AOR);
	assert_string(b, STORE_STR_CALL_ID, "a-longer-call-id@phone");
	assert_string(b, STORE_STR_USER_AGENT, "ua/2");
	assert_string(b, STORE_STR_ACCOUNT, "acme");
	assert_string(b, STORE_STR_PATH, "<sip:edge.example.com;lr>");
	assert_int_equal(b->source.port, 5070);
	assert_int_equal(b->transport, STORE_TRANSPORT_TCP);
	assert_int_equal(b->registered_at_s, T0);
	assert_single_event_carries(f->ring, STORE_EVENT_REFRESHED, b);
}

static void
test_refresh_by_instance_stores_the_new_contact_and_later_fields(void **state)
{
	struct fixture *f = *state;
	const char *instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
	struct registration_contact *c;
	const struct store_binding_data *b;

	reg_init(&f->r, AOR, "c1", 1, T0);
	c = reg_contact(&f->r, "sip:alice@198.18.0.1:5060;ob", 600);
	c->instance = S(instance);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	ring_clear(f->ring);
	/* a shorter contact URI: every later string moves */
	reg_init(&f->r, AOR, "c1", 2, T0 + 5);
	c = reg_contact(&f->r, "sip:a@198.18.0.9", 600);
	c->instance = S(instance);
	f->r.req.user_agent = S("ua/3");
	apply(f);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	b = find_contact(f->table, AOR, "sip:a@198.18.0.9");
	assert_non_null(b);
	assert_string(b, STORE_STR_CALL_ID, "c1");
	assert_string(b, STORE_STR_USER_AGENT, "ua/3");
	assert_string(b, STORE_STR_INSTANCE, instance);
	assert_int_equal(b->cseq, 2);
	assert_single_event_carries(f->ring, STORE_EVENT_REFRESHED, b);
}

static void
test_contact_with_expires_0_removes_binding_with_unregistered_event(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 0, T0 + 1);
	assert_int_equal(count_events(&f->res, STORE_EVENT_UNREGISTERED), 1);
	assert_int_equal(f->res.n_contacts, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_expires_0_for_unknown_contact_changes_nothing(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.9", 0, T0);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_register_without_contacts_lists_current_bindings(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	reg_init(&f->r, AOR, "c3", 1, T0 + 100);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(f->res.n_contacts, 2);
	assert_int_equal(f->res.contacts[0].expires_s, 500);
	assert_int_equal(f->res.contacts[1].expires_s, 500);
}

static void
test_ok_lists_every_contact_of_the_aor_with_remaining_expires(void **state)
{
	struct fixture *f = *state;
	uint32_t e0, e1;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 300, T0 + 60);
	assert_int_equal(f->res.n_contacts, 2);
	e0 = f->res.contacts[0].expires_s;
	e1 = f->res.contacts[1].expires_s;
	assert_true((e0 == 540 && e1 == 300) || (e0 == 300 && e1 == 540));
}

static void
test_instance_and_reg_id_key_the_binding_not_the_contact_uri(void **state)
{
	struct fixture *f = *state;
	struct registration_contact *c;

	reg_init(&f->r, AOR, "c1", 1, T0);
	c = reg_contact(&f->r, "sip:alice@198.18.0.1:5060;ob", 600);
	c->instance = S("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	c->has_reg_id = true;
	c->reg_id = 1;
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_true(f->res.outbound);
	/* same instance and reg-id from a new address: a refresh, not an add */
	reg_init(&f->r, AOR, "c2", 1, T0 + 10);
	c = reg_contact(&f->r, "sip:alice@198.18.0.7:5070;ob", 600);
	c->instance = S("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	c->has_reg_id = true;
	c->reg_id = 1;
	apply(f);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	assert_non_null(find_contact(f->table, AOR, "sip:alice@198.18.0.7:5070;ob"));
}

static void
test_different_reg_id_is_a_different_binding(void **state)
{
	struct fixture *f = *state;
	struct registration_contact *c;

	for (uint32_t id = 1; id <= 2; id++) {
		reg_init(&f->r, AOR, "c1", id, T0);
		c = reg_contact(&f->r, "sip:alice@198.18.0.1:5060;ob", 600);
		c->instance = S("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
		c->has_reg_id = true;
		c->reg_id = id;
		apply(f);
		assert_int_equal(count_events(&f->res, STORE_EVENT_REGISTERED), 1);
	}
	assert_int_equal(aor_binding_count(f->table, AOR), 2);
}

static void
test_duplicate_contact_in_one_request_last_one_wins(void **state)
{
	struct fixture *f = *state;

	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 300);
	apply(f);
	assert_int_equal(f->res.status_code, 200);
	assert_int_equal(f->res.n_contacts, 1);
	assert_int_equal(f->res.contacts[0].expires_s, 300);
}

/* ---- step 7: binding limit ---------------------------------------------- */

static void
test_max_bindings_with_replace_on_kicks_least_recently_refreshed(void **state)
{
	struct fixture *f = *state;

	f->policy.max_bindings = 2;
	f->policy.register_replace = true;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0 + 10);
	/* .1 refreshed later than .2: .2 is now the least recently refreshed */
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 600, T0 + 20);
	register_contact(f, "c3", 1, "sip:alice@198.18.0.3", 600, T0 + 30);
	assert_int_equal(count_events(&f->res, STORE_EVENT_KICKED), 1);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REGISTERED), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 2);
	assert_null(find_contact(f->table, AOR, "sip:alice@198.18.0.2"));
	assert_non_null(find_contact(f->table, AOR, "sip:alice@198.18.0.1"));
	assert_non_null(find_contact(f->table, AOR, "sip:alice@198.18.0.3"));
}

static void
test_max_bindings_with_replace_off_is_403_and_keeps_old(void **state)
{
	struct fixture *f = *state;

	f->policy.max_bindings = 2;
	f->policy.register_replace = false;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	reg_init(&f->r, AOR, "c3", 1, T0 + 1);
	reg_contact(&f->r, "sip:alice@198.18.0.3", 600);
	apply(f);
	assert_int_equal(f->res.status_code, 403);
	assert_int_equal(f->res.status, STORE_APPLY_TOO_MANY_BINDINGS);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 2);
	assert_null(find_contact(f->table, AOR, "sip:alice@198.18.0.3"));
}

static void
test_max_bindings_does_not_stop_refresh_of_existing(void **state)
{
	struct fixture *f = *state;

	f->policy.max_bindings = 2;
	f->policy.register_replace = false;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 600, T0 + 5);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
}

static void
test_more_new_contacts_than_max_bindings_is_403(void **state)
{
	struct fixture *f = *state;

	f->policy.max_bindings = 1;
	f->policy.register_replace = true;
	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	reg_contact(&f->r, "sip:alice@198.18.0.2", 600);
	apply(f);
	assert_int_equal(f->res.status_code, 403);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

/* ---- table limits ----------------------------------------------------- */

static void
test_full_table_is_503_and_nothing_changed(void **state)
{
	struct fixture *f = *state;
	char aor[64];
	struct registration_result res;

	for (int i = 0; i < 64; i++) {
		snprintf(aor, sizeof(aor), "sip:user%d@example.com", i);
		reg_init(&f->r, aor, "c", 1, T0);
		reg_contact(&f->r, "sip:u@198.18.0.1", 600);
		binding_table_apply_register(f->table, &f->policy, &f->r.req, &res);
		assert_int_equal(res.status_code, 200);
	}
	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	apply(f);
	assert_int_equal(f->res.status_code, 503);
	assert_int_equal(f->res.status, STORE_APPLY_TABLE_FULL);
	assert_int_equal(f->res.n_events, 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_too_long_field_is_refused_not_truncated(void **state)
{
	struct fixture *f = *state;
	char uri[STORE_BINDING_STRING_BYTES + 16];

	memset(uri, 'a', sizeof(uri) - 1);
	memcpy(uri, "sip:", 4);
	uri[sizeof(uri) - 1] = '\0';
	reg_init(&f->r, AOR, "c1", 1, T0);
	reg_contact(&f->r, uri, 600);
	apply(f);
	assert_int_equal(f->res.status_code, 400);
	assert_int_equal(f->res.status, STORE_APPLY_FIELD_TOO_LONG);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

/* ---- expiry ----------------------------------------------------------- */

static void
test_expired_binding_is_removed_within_1s_with_expired_event(void **state)
{
	struct fixture *f = *state;
	const struct store_event *ev;
	uint32_t n;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	for (int64_t now = T0 + 1; now < T0 + 600; now++)
		assert_int_equal(binding_table_expire(f->table, now), 0);
	assert_int_equal(binding_table_expire(f->table, T0 + 600), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
	n = event_ring_peek(f->ring, &ev, 8);
	assert_int_equal(n, 2);
	assert_int_equal(ev[1].type, STORE_EVENT_EXPIRED);
}

static void
test_refreshed_binding_outlives_its_old_expiry(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 600, T0 + 300);
	assert_int_equal(binding_table_expire(f->table, T0 + 899), 0);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	assert_int_equal(binding_table_expire(f->table, T0 + 900), 1);
}

static void
test_shortened_expiry_expires_at_the_new_time(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 3600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.1", 60, T0 + 10);
	assert_int_equal(binding_table_expire(f->table, T0 + 69), 0);
	assert_int_equal(binding_table_expire(f->table, T0 + 70), 1);
}

static void
test_expiry_longer_than_a_wheel_lap(void **state)
{
	struct fixture *f = *state;

	f->policy.max_expires_s = 3 * STORE_WHEEL_SLOTS;
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 2 * STORE_WHEEL_SLOTS + 5, T0);
	for (int64_t now = T0 + 1; now < T0 + 2 * STORE_WHEEL_SLOTS + 5; now += 7)
		assert_int_equal(binding_table_expire(f->table, now), 0);
	assert_int_equal(binding_table_expire(f->table, T0 + 2 * STORE_WHEEL_SLOTS + 5), 1);
}

static void
test_status_is_expiring_within_window_or_last_10_percent(void **state)
{
	struct store_binding_data b = { .expires_at_s = T0 + 3600, .expires_s = 3600 };

	(void)state;
	assert_int_equal(store_binding_status(&b, T0, 30), STORE_BINDING_REGISTERED);
	/* 10 % of 3600 = 360 s left */
	assert_int_equal(store_binding_status(&b, T0 + 3600 - 361, 30), STORE_BINDING_REGISTERED);
	assert_int_equal(store_binding_status(&b, T0 + 3600 - 359, 30), STORE_BINDING_EXPIRING);
	/* window larger than 10 % */
	assert_int_equal(store_binding_status(&b, T0 + 3600 - 500, 600), STORE_BINDING_EXPIRING);
	assert_int_equal(store_binding_status(&b, T0 + 3600, 30), STORE_BINDING_EXPIRED);
}

/* ---- events, admin ------------------------------------------------------ */

static void
test_full_event_ring_counts_loss_and_never_blocks(void **state)
{
	struct fixture *f = *state;
	struct event_ring *ring = event_ring_create(2);
	struct binding_table *t = binding_table_create(16, 3, ring, T0);
	struct binding_table_stats st;
	char uri[64];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(uri, sizeof(uri), "sip:alice@198.18.0.%d", i + 1);
		reg_init(&f->r, AOR, "c", (uint32_t)i + 1, T0);
		reg_contact(&f->r, uri, 600);
		binding_table_apply_register(t, &f->policy, &f->r.req, &f->res);
		assert_int_equal(f->res.status_code, 200);
	}
	binding_table_get_stats(t, &st);
	assert_int_equal(st.bindings, 5);
	assert_int_equal(st.events_lost, 3);
	assert_int_equal(event_ring_count(ring), 2);
	binding_table_destroy(t);
	event_ring_destroy(ring);
}

static void
test_force_unregister_aor_removes_every_binding(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	assert_int_equal(binding_table_force_unregister(f->table, S(AOR), S(NULL), T0 + 1), 2);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
}

static void
test_force_unregister_one_binding_by_key(void **state)
{
	struct fixture *f = *state;
	const struct store_event *ev;
	uint32_t n;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	assert_int_equal(binding_table_force_unregister(f->table, S(AOR),
							S("sip:alice@198.18.0.2"), T0 + 1), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
	assert_null(find_contact(f->table, AOR, "sip:alice@198.18.0.2"));
	n = event_ring_peek(f->ring, &ev, 8);
	assert_int_equal(n, 3);
	assert_int_equal(ev[2].type, STORE_EVENT_FORCE_UNREGISTERED);
}

static void
test_unreachable_binding_is_removed_with_unreachable_event(void **state)
{
	struct fixture *f = *state;
	const struct store_event *ev;

	register_contact(f, "c1", 1, "sip:alice@192.168.1.10", 600, T0);
	assert_int_equal(binding_table_remove_unreachable(f->table, f->res.contacts[0].binding, T0 + 5), 0);
	assert_int_equal(binding_table_remove_unreachable(f->table, f->res.contacts[0].binding, T0 + 5),
			 -ENOENT);
	assert_int_equal(aor_binding_count(f->table, AOR), 0);
	assert_int_equal(event_ring_peek(f->ring, &ev, 8), 2);
	assert_int_equal(ev[1].type, STORE_EVENT_UNREACHABLE);
}

static void
test_binding_key_is_contact_or_instance_and_reg_id(void **state)
{
	struct fixture *f = *state;
	struct registration_contact *c;
	char key[STORE_BINDING_KEY_MAX];
	size_t n;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	n = store_binding_key_build(binding_table_get(f->table, f->res.contacts[0].binding),
				    key, sizeof(key));
	assert_int_equal(n, strlen("sip:alice@198.18.0.1"));
	assert_memory_equal(key, "sip:alice@198.18.0.1", n);
	reg_init(&f->r, "sip:bob@example.com", "c1", 1, T0);
	c = reg_contact(&f->r, "sip:bob@198.18.0.1;ob", 600);
	c->instance = S("<urn:uuid:1>");
	c->has_reg_id = true;
	c->reg_id = 42;
	apply(f);
	n = store_binding_key_build(binding_table_get(f->table, f->res.contacts[0].binding),
				    key, sizeof(key));
	assert_int_equal(n, strlen("+sip.instance=<urn:uuid:1>;reg-id=42"));
	assert_memory_equal(key, "+sip.instance=<urn:uuid:1>;reg-id=42", n);
}

static void
test_owner_is_stable_and_in_range(void **state)
{
	(void)state;
	for (uint32_t n = 1; n <= 8; n++) {
		uint32_t o = store_aor_owner(AOR, strlen(AOR), n);

		assert_true(o < n);
		assert_int_equal(o, store_aor_owner(AOR, strlen(AOR), n));
	}
	/* the hash is part of the on-disk contract: pin it */
	assert_int_equal(store_aor_hash("", 0), store_aor_hash("", 0));
	assert_true(store_aor_hash("sip:a@x", 7) != store_aor_hash("sip:b@x", 7));
}

/* ---- hash hand-over, burst staging, restore ----------------------------- */

static void
test_caller_supplied_aor_hash_finds_the_same_bindings(void **state)
{
	struct fixture *f = *state;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	reg_init(&f->r, AOR, "c1", 2, T0 + 1);
	f->r.req.aor_hash = store_aor_hash(AOR, strlen(AOR));
	reg_contact(&f->r, "sip:alice@198.18.0.1", 600);
	apply(f);
	assert_int_equal(count_events(&f->res, STORE_EVENT_REFRESHED), 1);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

static void
test_burst_prefetch_changes_nothing(void **state)
{
	struct fixture *f = *state;
	uint64_t h = store_aor_hash(AOR, strlen(AOR));

	binding_table_prefetch_index(f->table, h);
	binding_table_prefetch_aor(f->table, h);          /* AOR absent */
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	binding_table_prefetch_index(f->table, h);
	binding_table_prefetch_aor(f->table, h);          /* AOR present */
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

static void
test_restore_keeps_the_newest_record_of_a_binding(void **state)
{
	struct fixture *f = *state;
	struct store_binding_data b;
	const struct store_binding_data *got;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	memcpy(&b, binding_table_get(f->table, f->res.contacts[0].binding), sizeof(b));
	b.refreshed_at_s = T0 + 50;
	b.expires_at_s = T0 + 650;
	b.cseq = 2;
	assert_int_equal(binding_table_restore(f->table, &b), -EEXIST);
	got = find_contact(f->table, AOR, "sip:alice@198.18.0.1");
	assert_int_equal(got->cseq, 2);
	b.refreshed_at_s = T0 - 50;      /* older: ignored */
	b.cseq = 1;
	assert_int_equal(binding_table_restore(f->table, &b), -EEXIST);
	assert_int_equal(find_contact(f->table, AOR, "sip:alice@198.18.0.1")->cseq, 2);
	assert_int_equal(aor_binding_count(f->table, AOR), 1);
}

static void
test_prefault_keeps_the_bindings_in_use(void **state)
{
	struct fixture *f = *state;

	binding_table_prefault(f->table);
	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c2", 1, "sip:alice@198.18.0.2", 600, T0);
	binding_table_prefault(f->table);
	assert_int_equal(aor_binding_count(f->table, AOR), 2);
	assert_non_null(find_contact(f->table, AOR, "sip:alice@198.18.0.2"));
	assert_int_equal(binding_table_expire(f->table, T0 + 600), 2);
}

static void
test_restore_into_a_full_table_is_enospc(void **state)
{
	struct fixture *f = *state;
	struct binding_table *t = binding_table_create(1, 0, NULL, T0);
	struct store_binding_data b;

	register_contact(f, "c1", 1, "sip:alice@198.18.0.1", 600, T0);
	register_contact(f, "c1", 2, "sip:alice@198.18.0.2", 600, T0);
	memcpy(&b, find_contact(f->table, AOR, "sip:alice@198.18.0.1"), sizeof(b));
	assert_int_equal(binding_table_restore(t, &b), 0);
	memcpy(&b, find_contact(f->table, AOR, "sip:alice@198.18.0.2"), sizeof(b));
	assert_int_equal(binding_table_restore(t, &b), -ENOSPC);
	b.str_len[STORE_STR_AOR] = 0;
	assert_int_equal(binding_table_restore(t, &b), -EINVAL);
	binding_table_destroy(t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_register_star_with_nonzero_expires_is_400),
		T(test_register_star_without_expires_header_is_400),
		T(test_register_star_with_other_contacts_is_400),
		T(test_register_star_with_expires_0_removes_every_binding),
		T(test_register_star_with_same_call_id_and_old_cseq_is_500),
		T(test_expiry_from_contact_param_wins_over_expires_header),
		T(test_expiry_from_expires_header_when_contact_has_no_param),
		T(test_expiry_default_when_no_param_and_no_header),
		T(test_expiry_above_max_is_clamped_to_max),
		T(test_expiry_below_min_is_423_with_min_expires_and_nothing_changed),
		T(test_nat_binding_expiry_is_capped_by_nat_max_expires),
		T(test_private_contact_behind_other_source_is_nat),
		T(test_same_call_id_with_equal_cseq_is_500_and_nothing_changed),
		T(test_same_call_id_with_lower_cseq_is_500),
		T(test_same_call_id_with_higher_cseq_refreshes),
		T(test_other_call_id_with_lower_cseq_refreshes),
		T(test_new_contact_adds_binding_with_registered_event),
		T(test_existing_contact_refreshes_keeping_registered_at),
		T(test_refresh_stores_new_call_id_user_agent_path_and_source),
		T(test_refresh_by_instance_stores_the_new_contact_and_later_fields),
		T(test_contact_with_expires_0_removes_binding_with_unregistered_event),
		T(test_expires_0_for_unknown_contact_changes_nothing),
		T(test_register_without_contacts_lists_current_bindings),
		T(test_ok_lists_every_contact_of_the_aor_with_remaining_expires),
		T(test_instance_and_reg_id_key_the_binding_not_the_contact_uri),
		T(test_different_reg_id_is_a_different_binding),
		T(test_duplicate_contact_in_one_request_last_one_wins),
		T(test_max_bindings_with_replace_on_kicks_least_recently_refreshed),
		T(test_max_bindings_with_replace_off_is_403_and_keeps_old),
		T(test_max_bindings_does_not_stop_refresh_of_existing),
		T(test_more_new_contacts_than_max_bindings_is_403),
		T(test_full_table_is_503_and_nothing_changed),
		T(test_too_long_field_is_refused_not_truncated),
		T(test_expired_binding_is_removed_within_1s_with_expired_event),
		T(test_refreshed_binding_outlives_its_old_expiry),
		T(test_shortened_expiry_expires_at_the_new_time),
		T(test_expiry_longer_than_a_wheel_lap),
		T(test_status_is_expiring_within_window_or_last_10_percent),
		T(test_full_event_ring_counts_loss_and_never_blocks),
		T(test_force_unregister_aor_removes_every_binding),
		T(test_force_unregister_one_binding_by_key),
		T(test_unreachable_binding_is_removed_with_unreachable_event),
		T(test_binding_key_is_contact_or_instance_and_reg_id),
		T(test_owner_is_stable_and_in_range),
		T(test_caller_supplied_aor_hash_finds_the_same_bindings),
		T(test_burst_prefetch_changes_nothing),
		T(test_restore_keeps_the_newest_record_of_a_binding),
		T(test_restore_into_a_full_table_is_enospc),
		T(test_prefault_keeps_the_bindings_in_use),
	};

	return cmocka_run_group_tests_name("store-register-rules", tests, NULL, NULL);
}
