/* Unit tests for dataplane/worker.c: what happens to a frame between the
 * RX burst and the TX queue. A hand-off carries its parse to the owner
 * (which does not parse again); a REGISTER's 200 is held until the
 * checkpoint has taken its binding changes ([store] reply_after_commit);
 * other replies are not. EAL without hugepages; the TX queue is a ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "account_import.h"
#include "test_eal.h"
#include "worker.h"

#define REALM "sipreg.test"
#define NOW 1800000000

static struct registrar_config cfg;
static struct account_table *accounts;
static uint64_t counters[STATS_SHM_MAX_COUNTERS];
static struct rte_mempool *mbufs, *handoffs;
static struct rte_ring *tx;
static struct event_ring *events;
static struct worker w;

static const char register_text[] =
	"REGISTER sip:" REALM " SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bK-1;rport\r\n"
	"From: <sip:trunk@" REALM ">;tag=abc\r\n"
	"To: <sip:trunk@" REALM ">\r\n"
	"Call-ID: w1\r\n"
	"CSeq: 1 REGISTER\r\n"
	"Contact: <sip:trunk@198.18.0.2:5062>\r\n"
	"Content-Length: 0\r\n\r\n";

static const char options_text[] =
	"OPTIONS sip:" REALM " SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.18.0.2:5062;branch=z9hG4bK-2\r\n"
	"From: <sip:trunk@" REALM ">;tag=abc\r\n"
	"To: <sip:" REALM ">\r\n"
	"Call-ID: w2\r\n"
	"CSeq: 1 OPTIONS\r\n"
	"Content-Length: 0\r\n\r\n";

#define HEADERS (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))

/* An Ethernet/IPv4/UDP frame from 198.18.0.2:5062 to 198.18.0.1:5060
 * (UDP checksum 0: none, which IPv4 allows). */
static struct rte_mbuf *frame(const char *payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
	size_t len = strlen(payload);
	uint8_t *p;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(HEADERS + len));
	struct rte_ether_hdr *eth = (void *)p;
	struct rte_ipv4_hdr *ip = (void *)(eth + 1);
	struct rte_udp_hdr *udp = (void *)(ip + 1);
	memset(p, 0, HEADERS);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(198u << 24 | 18u << 16 | 2);
	ip->dst_addr = rte_cpu_to_be_32(198u << 24 | 18u << 16 | 1);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(5062);
	udp->dst_port = rte_cpu_to_be_16(5060);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + len));
	memcpy(p + HEADERS, payload, len);
	return m;
}

static const char *payload_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, const char *, HEADERS);
}

static int setup(void **state)
{
	const char *f[5] = { "trunk", "", "carrier", "ip", "198.18.0.2/32" };
	struct store_account a;
	char err[200];

	(void)state;
	if (store_account_from_fields(f, 5, REALM, &a, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	accounts = account_table_from_array(&a, 1, SOCKET_ID_ANY);
	memset(&cfg, 0, sizeof(cfg));
	registrar_config_set_domains(&cfg, REALM);
	strcpy(cfg.realm, REALM);
	cfg.realm_len = (uint32_t)strlen(cfg.realm);
	cfg.nonce_validity_s = 300;
	store_policy_defaults(&cfg.policy);
	memset(counters, 0, sizeof(counters));
	events = event_ring_create(1024);
	tx = rte_ring_create("tx", 1024, SOCKET_ID_ANY, 0);
	memset(&w, 0, sizeof(w));
	w.sip_port = 5060;
	w.mode = DATAPLANE_MODE_REGISTRAR;
	w.counters = counters;
	w.tx_via = tx;
	w.handoff_pool = handoffs;
	w.registrar = (struct registrar){
		.cfg = &cfg,
		.table = binding_table_create(1024, 0, events, NOW),
		.accounts = &accounts,
		.counters = counters,
		.events = events,
		.worker = 0,
		.n_workers = 1,
	};
	return accounts && events && tx && w.registrar.table ? 0 : -1;
}

static int teardown(void **state)
{
	struct rte_mbuf *m;

	(void)state;
	while (rte_ring_dequeue(tx, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (w.held_head != w.held_tail)
		rte_pktmbuf_free(w.held[w.held_head++ % WORKER_HELD_MAX].m);
	rte_ring_free(tx);
	binding_table_destroy(w.registrar.table);
	event_ring_destroy(events);
	account_table_free(accounts);
	return 0;
}

/* What the checkpoint does after a commit: release everything. */
static void checkpoint_commits(void)
{
	const struct store_event *first;
	uint32_t n;

	while ((n = event_ring_peek(events, &first, 64)) > 0)
		event_ring_release(events, n);
}

/* The owner answers from the parse it was handed: the frame's request
 * line is spoiled after parsing, and the answer is still the REGISTER's
 * 200 (a parse of the frame would give 400). */
static void test_handoff_carries_the_parse_to_the_owner(void **state)
{
	struct handoff *h;
	struct rte_mbuf *replies[4];

	(void)state;
	assert_int_equal(rte_mempool_get(handoffs, (void **)&h), 0);
	h->m = frame(register_text);
	assert_int_equal(packet_decode_udp(h->m, &h->d), PACKET_OK);
	assert_int_equal(sip_parse(payload_of(h->m), sizeof(register_text) - 1, &h->msg), SIP_PARSE_OK);
	memcpy(rte_pktmbuf_mtod_offset(h->m, char *, HEADERS), "\x01\x02\x03\x04", 4);
	unsigned in_pool = rte_mempool_avail_count(handoffs);
	assert_int_equal(worker_process_handoffs(&w, &h, 1, replies, NOW), 1);
	assert_memory_equal(payload_of(replies[0]), "SIP/2.0 200 OK", 14);
	assert_int_equal(counters[STAT_handoff_received], 1);
	assert_int_equal(rte_mempool_avail_count(handoffs), in_pool + 1);   /* back in the pool */
	rte_pktmbuf_free(replies[0]);
}

/* A REGISTER's 200 leaves only after the checkpoint took its events. */
static void test_register_200_is_held_until_committed(void **state)
{
	struct rte_mbuf *pkts[1] = { frame(register_text) }, *sent = NULL;

	(void)state;
	w.hold_replies = true;
	assert_int_equal(worker_process_burst(&w, pkts, 1, NOW), 0);
	assert_int_equal(counters[STAT_replies_held], 1);
	assert_int_equal(worker_release_held(&w), 0);
	assert_int_equal(rte_ring_count(tx), 0);
	checkpoint_commits();
	assert_int_equal(worker_release_held(&w), 1);
	assert_int_equal(rte_ring_dequeue(tx, (void **)&sent), 0);
	assert_memory_equal(payload_of(sent), "SIP/2.0 200 OK", 14);
	rte_pktmbuf_free(sent);
}

/* Replies that state no bindings are not held, even behind a held one;
 * with reply_after_commit off nothing is. */
static void test_other_replies_are_not_held(void **state)
{
	struct rte_mbuf *pkts[2] = { frame(register_text), frame(options_text) };

	(void)state;
	w.hold_replies = true;
	assert_int_equal(worker_process_burst(&w, pkts, 2, NOW), 1);
	assert_memory_equal(payload_of(pkts[0]), "SIP/2.0 200 OK", 14);
	assert_non_null(strstr(payload_of(pkts[0]), "CSeq: 1 OPTIONS"));
	rte_pktmbuf_free(pkts[0]);
	w.hold_replies = false;
	char refresh[sizeof(register_text)];
	memcpy(refresh, register_text, sizeof(refresh));
	strstr(refresh, "CSeq: 1")[6] = '2';
	pkts[0] = frame(refresh);
	assert_int_equal(worker_process_burst(&w, pkts, 1, NOW), 1);
	assert_memory_equal(payload_of(pkts[0]), "SIP/2.0 200 OK", 14);
	rte_pktmbuf_free(pkts[0]);
}

int main(void)
{
	if (test_eal_init("worker", "128") != 0)
		return 1;
	mbufs = rte_pktmbuf_pool_create("mbufs", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	handoffs = rte_mempool_create("handoffs", 15, sizeof(struct handoff), 0, 0, NULL, NULL, NULL,
				      NULL, SOCKET_ID_ANY, 0);
	if (!mbufs || !handoffs)
		return 1;
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_handoff_carries_the_parse_to_the_owner),
		T(test_register_200_is_held_until_committed),
		T(test_other_replies_are_not_held),
#undef T
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
