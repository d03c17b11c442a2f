/* Unit tests for dataplane/nat_keepalive.c: the sweep's schedule, misses
 * and removal, answers, the OPTIONS frame (decoded back with packet.c and
 * the parser), and branch parsing. No EAL: mbufs over a static buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <rte_mbuf.h>

#include "nat_keepalive.h"
#include "packet.h"

#define NOW 1800000000LL
#define NOW_MS (NOW * 1000)

static struct binding_table *table;
static struct nat_keepalive *ka;
static const struct packet_path path = {
	.ip_version = 4, .local_port = 5060,
	.local_mac = { 2, 0, 0, 0, 0, 1 }, .peer_mac = { 2, 0, 0, 0, 0, 2 },
	.local_ip = { 198, 18, 0, 1 },
};

/* Registers aor with one contact from 198.18.0.2:port; returns its slot. */
static uint32_t register_binding(const char *aor, const char *contact, uint16_t port, bool nat)
{
	struct registration_contact c = { .uri = { contact, (uint32_t)strlen(contact) }, .nat = nat };
	struct registration_request req = {
		.aor = { aor, (uint32_t)strlen(aor) },
		.call_id = { "cid", 3 }, .cseq = 1,
		.n_contacts = 1, .contacts = &c,
		.source = { .family = AF_INET, .port = port, .addr = { 198, 18, 0, 2 } },
		.now_s = NOW,
	};
	struct store_policy policy;
	static struct registration_result res;

	store_policy_defaults(&policy);
	binding_table_apply_register(table, &policy, &req, &res);
	assert_int_equal(res.status_code, 200);
	return res.contacts[0].binding;
}

static int setup(void **state)
{
	(void)state;
	table = binding_table_create(1024, 0, NULL, NOW);
	ka = nat_keepalive_create(1024, 3);
	return table && ka ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nat_keepalive_destroy(ka);
	binding_table_destroy(table);
	return 0;
}

static unsigned sweep(int64_t at_ms, struct nat_keepalive_probe *probes, unsigned max,
		      uint32_t *removed)
{
	return nat_keepalive_sweep(ka, table, at_ms, 10, 2, probes, max, removed);
}

/* Sweeps every 100 ms over (from_ms, to_ms], as the worker loop would (it
 * calls far more often); returns the probes, the last one in *last. */
static unsigned sweep_range(int64_t from_ms, int64_t to_ms, struct nat_keepalive_probe *last,
			    uint32_t *removed)
{
	struct nat_keepalive_probe p[8];
	unsigned total = 0;

	for (int64_t t = from_ms + 100; t <= to_ms; t += 100) {
		unsigned n = sweep(t, p, 8, removed);
		if (n)
			*last = p[n - 1];
		total += n;
	}
	return total;
}

/* Unanswered probes: the binding survives misses - 1 of them and is
 * removed at the next round; an answer in between starts the count again.
 * One round is 10 s; the single slot is visited at its end. */
static void test_unanswered_keepalives_remove_the_binding(void **state)
{
	struct nat_keepalive_probe p;
	uint32_t removed = 0;
	uint32_t slot = register_binding("sip:a@x", "sip:a@10.0.0.5:5062", 40000, true);

	(void)state;
	assert_true(nat_keepalive_track(ka, slot, binding_table_get(table, slot), &path));
	assert_int_equal(sweep(NOW_MS, &p, 1, &removed), 0);                    /* round starts */
	assert_int_equal(sweep_range(NOW_MS, NOW_MS + 10000, &p, &removed), 1);  /* probe 1 */
	assert_int_equal(p.slot, slot);
	assert_true(nat_keepalive_answered(ka, slot, p.token));
	assert_int_equal(sweep_range(NOW_MS + 10000, NOW_MS + 20500, &p, &removed), 1); /* probe 2 */
	assert_int_equal(sweep_range(NOW_MS + 20500, NOW_MS + 31000, &p, &removed), 1); /* miss 1 */
	assert_int_equal(removed, 0);
	assert_non_null(binding_table_get(table, slot));
	assert_int_equal(sweep_range(NOW_MS + 31000, NOW_MS + 41500, &p, &removed), 0); /* miss 2 */
	assert_int_equal(removed, 1);
	assert_null(binding_table_get(table, slot));
	assert_int_equal(nat_keepalive_tracked(ka), 0);
}

/* A REGISTER refresh proves the phone alive: misses start over. */
static void test_refresh_resets_misses(void **state)
{
	struct nat_keepalive_probe p;
	uint32_t removed = 0;
	uint32_t slot = register_binding("sip:a@x", "sip:a@10.0.0.5:5062", 40000, true);
	const struct store_binding_data *b = binding_table_get(table, slot);

	(void)state;
	nat_keepalive_track(ka, slot, b, &path);
	sweep(NOW_MS, &p, 1, &removed);
	sweep_range(NOW_MS, NOW_MS + 10000, &p, &removed);          /* probe 1 */
	sweep_range(NOW_MS + 10000, NOW_MS + 20500, &p, &removed);  /* miss 1 */
	nat_keepalive_track(ka, slot, b, &path);                    /* the phone refreshed */
	assert_int_equal(sweep_range(NOW_MS + 20500, NOW_MS + 31000, &p, &removed), 1);
	assert_int_equal(removed, 0);
	assert_false(nat_keepalive_answered(ka, slot, p.token + 1));   /* wrong token */
	assert_true(nat_keepalive_answered(ka, slot, p.token));
	assert_false(nat_keepalive_answered(ka, slot, p.token));       /* a second copy */
}

/* Slots whose binding is gone or not NAT any more get no probe. */
static void test_gone_or_non_nat_bindings_are_dropped(void **state)
{
	struct nat_keepalive_probe p[4];
	uint32_t removed = 0;
	uint32_t nat = register_binding("sip:a@x", "sip:a@10.0.0.5:5062", 40000, true);
	uint32_t plain = register_binding("sip:b@x", "sip:b@198.18.0.2:5062", 5062, false);

	(void)state;
	nat_keepalive_track(ka, nat, binding_table_get(table, nat), &path);
	nat_keepalive_track(ka, plain, binding_table_get(table, plain), &path);
	assert_int_equal(nat_keepalive_tracked(ka), 2);
	binding_table_force_unregister(table, (struct store_slice){ "sip:a@x", 7 },
				       (struct store_slice){ NULL, 0 }, NOW);
	sweep(NOW_MS, p, 4, &removed);
	assert_int_equal(sweep_range(NOW_MS, NOW_MS + 10000, p, &removed), 0);
	assert_int_equal(nat_keepalive_tracked(ka), 0);
	assert_int_equal(removed, 0);
}

/* Probes are spread over the interval, not sent at once. */
static void test_sweep_spreads_probes_over_the_interval(void **state)
{
	struct nat_keepalive_probe p[64];
	uint32_t removed = 0, total = 0;
	char aor[32], contact[48];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(aor, sizeof(aor), "sip:u%d@x", i);
		snprintf(contact, sizeof(contact), "sip:u%d@10.0.0.5:%d", i, 5000 + i);
		uint32_t slot = register_binding(aor, contact, (uint16_t)(40000 + i), true);
		nat_keepalive_track(ka, slot, binding_table_get(table, slot), &path);
	}
	sweep(NOW_MS, p, 64, &removed);
	unsigned half = sweep(NOW_MS + 5000, p, 64, &removed);
	assert_in_range(half, 15, 25);
	total = half + sweep(NOW_MS + 9999, p, 64, &removed);
	total += sweep(NOW_MS + 10000, p, 64, &removed);
	assert_int_equal(total, 40);
}

static uint8_t buffer[RTE_PKTMBUF_HEADROOM + 2048];

/* The probe is a complete frame: valid headers and checksums to the
 * binding's received address, and an OPTIONS the parser accepts whose
 * branch names this worker, slot and token. */
static void test_probe_frame_is_an_options_to_the_received_address(void **state)
{
	struct nat_keepalive_probe p[1];
	struct rte_mbuf m = { .buf_addr = buffer, .buf_len = sizeof(buffer),
			      .data_off = RTE_PKTMBUF_HEADROOM, .nb_segs = 1 };
	struct udp_datagram d;
	struct sip_msg msg;
	uint32_t removed = 0, worker, slot_out, token;
	uint32_t slot = register_binding("sip:a@x", "sip:a@10.0.0.5:5062;ob", 40000, true);

	(void)state;
	nat_keepalive_track(ka, slot, binding_table_get(table, slot), &path);
	sweep(NOW_MS, p, 1, &removed);
	assert_int_equal(sweep(NOW_MS + 10000, p, 1, &removed), 1);
	assert_int_equal(nat_keepalive_build(ka, table, &p[0], "sipreg.test", &m), 0);
	assert_int_equal(packet_decode_udp(&m, &d), PACKET_OK);
	assert_int_equal(d.ip_version, 4);
	static const uint8_t server[4] = { 198, 18, 0, 1 }, phone[4] = { 198, 18, 0, 2 };
	assert_memory_equal(&d.src.v4, server, 4);
	assert_memory_equal(&d.dst.v4, phone, 4);
	assert_int_equal(d.src_port, 5060);
	assert_int_equal(d.dst_port, 40000);
	assert_int_equal(sip_parse((const char *)d.payload, d.payload_len, &msg), SIP_PARSE_OK);
	assert_true(msg.is_request);
	assert_int_equal(msg.method, SIP_METHOD_OPTIONS);
	assert_int_equal(msg.request_uri.raw.len, strlen("sip:a@10.0.0.5:5062;ob"));
	assert_true(nat_keepalive_parse_branch(msg.via[0].branch, &worker, &slot_out, &token));
	assert_int_equal(worker, 3);
	assert_int_equal(slot_out, slot);
	assert_int_equal(token, p[0].token);
}

static void test_branch_parsing(void **state)
{
	uint32_t w, s, t;
#define B(text) ((struct sip_slice){ text, sizeof(text) - 1 })
	(void)state;
	assert_true(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1-ff-abc"), &w, &s, &t));
	assert_int_equal(w, 1);
	assert_int_equal(s, 0xff);
	assert_int_equal(t, 0xabc);
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1-ff"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1-ff-"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1--1"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1-ff-abcx"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-1-ff-100000000"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK-sipreg-ka-"), &w, &s, &t));
	assert_false(nat_keepalive_parse_branch(B("z9hG4bK776asdhds"), &w, &s, &t));
#undef B
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_unanswered_keepalives_remove_the_binding),
		T(test_refresh_resets_misses),
		T(test_gone_or_non_nat_bindings_are_dropped),
		T(test_sweep_spreads_probes_over_the_interval),
		T(test_probe_frame_is_an_options_to_the_received_address),
		T(test_branch_parsing),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
