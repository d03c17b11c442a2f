/* Unit tests for dataplane/packet.c: L2-L4 decode, every drop reason, and
 * the in-place reply. Frames are built here with DPDK's header structs in
 * an mbuf over a static buffer, so no EAL is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "inet_checksum.h"
#include "packet.h"

/* RTE_IPV4 shifts an int past its sign bit for addresses above 127.x
 * (UBSan); this one shifts unsigned values. */
static uint32_t ipv4_addr(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	return a << 24 | b << 16 | c << 8 | d;
}

static uint8_t buffer[RTE_PKTMBUF_HEADROOM + 2048];
static struct rte_mbuf mbuf;

static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0, 2 };
static const uint8_t server_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
static const char payload[] = "REGISTER sip:sipreg.test SIP/2.0\r\n\r\n";

static struct rte_mbuf *empty_mbuf(void)
{
	memset(&mbuf, 0, sizeof(mbuf));
	memset(buffer, 0, sizeof(buffer));
	mbuf.buf_addr = buffer;
	mbuf.buf_len = sizeof(buffer);
	mbuf.data_off = RTE_PKTMBUF_HEADROOM;
	mbuf.nb_segs = 1;
	return &mbuf;
}

static uint8_t *frame(void) { return buffer + RTE_PKTMBUF_HEADROOM; }

/* Builds eth [vlan] ipv4 udp payload; returns the frame length. */
static uint16_t build_ipv4(int vlan, uint16_t dst_port)
{
	struct rte_mbuf *m = empty_mbuf();
	uint8_t *p = frame();
	struct rte_ether_hdr *eth = (void *)p;
	uint16_t off = sizeof(*eth);

	memcpy(eth->dst_addr.addr_bytes, server_mac, 6);
	memcpy(eth->src_addr.addr_bytes, client_mac, 6);
	if (vlan) {
		struct rte_vlan_hdr *v = (void *)(p + off);
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		v->vlan_tci = rte_cpu_to_be_16(100);
		v->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		off += sizeof(*v);
	} else {
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	}
	struct rte_ipv4_hdr *ip = (void *)(p + off);
	struct rte_udp_hdr *udp = (void *)(ip + 1);
	uint16_t plen = sizeof(payload) - 1;

	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + plen));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(ipv4_addr(198, 18, 0, 2));
	ip->dst_addr = rte_cpu_to_be_32(ipv4_addr(198, 18, 0, 1));
	udp->src_port = rte_cpu_to_be_16(40000);
	udp->dst_port = rte_cpu_to_be_16(dst_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + plen));
	memcpy(udp + 1, payload, plen);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	m->data_len = (uint16_t)(off + sizeof(*ip) + sizeof(*udp) + plen);
	m->pkt_len = m->data_len;
	return m->data_len;
}

static uint16_t build_ipv6(void)
{
	struct rte_mbuf *m = empty_mbuf();
	uint8_t *p = frame();
	struct rte_ether_hdr *eth = (void *)p;
	struct rte_ipv6_hdr *ip = (void *)(eth + 1);
	struct rte_udp_hdr *udp = (void *)(ip + 1);
	uint16_t plen = sizeof(payload) - 1;
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	memcpy(eth->dst_addr.addr_bytes, server_mac, 6);
	memcpy(eth->src_addr.addr_bytes, client_mac, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + plen));
	ip->proto = IPPROTO_UDP;
	ip->hop_limits = 64;
	memcpy(ip->src_addr, src, 16);
	memcpy(ip->dst_addr, dst, 16);
	udp->src_port = rte_cpu_to_be_16(40000);
	udp->dst_port = rte_cpu_to_be_16(5060);
	udp->dgram_len = ip->payload_len;
	memcpy(udp + 1, payload, plen);
	udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
	m->data_len = (uint16_t)(sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + plen);
	m->pkt_len = m->data_len;
	return m->data_len;
}

static struct rte_ipv4_hdr *ipv4_at(uint16_t off) { return (void *)(frame() + off); }

static void test_ipv4_udp_decodes_addresses_ports_and_payload(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	assert_int_equal(d.ip_version, 4);
	assert_int_equal(d.src_port, 40000);
	assert_int_equal(d.dst_port, 5060);
	assert_int_equal(d.src.v4, rte_cpu_to_be_32(ipv4_addr(198, 18, 0, 2)));
	assert_int_equal(d.payload_len, sizeof(payload) - 1);
	assert_memory_equal(d.payload, payload, d.payload_len);
}

static void test_vlan_tagged_frame_decodes(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(1, 5060);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	assert_int_equal(d.l3_offset, sizeof(struct rte_ether_hdr) + sizeof(struct rte_vlan_hdr));
}

static void test_ipv6_udp_decodes(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv6();
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	assert_int_equal(d.ip_version, 6);
	assert_int_equal(d.src.v6[15], 2);
	assert_int_equal(d.payload_len, sizeof(payload) - 1);
}

static void test_bad_udp_checksum_is_dropped(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	frame()[sizeof(struct rte_ether_hdr) + 28] ^= 0x20; /* flip a payload bit */
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_CHECKSUM);
	build_ipv6();
	frame()[sizeof(struct rte_ether_hdr) + 48] ^= 0x20;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_CHECKSUM);
}

static void test_nic_checksum_verdict_is_trusted_when_present(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	frame()[sizeof(struct rte_ether_hdr) + 28] ^= 0x20;   /* sum now wrong */
	mbuf.ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	build_ipv4(0, 5060);                                  /* sum right */
	mbuf.ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_CHECKSUM);
}

static void test_zero_udp_checksum_is_accepted_on_ipv4_only(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	((struct rte_udp_hdr *)(ipv4_at(14) + 1))->dgram_cksum = 0;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	build_ipv6();
	((struct rte_udp_hdr *)(frame() + 14 + 40))->dgram_cksum = 0;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_CHECKSUM);
}

static void test_bad_ipv4_header_checksum_is_dropped(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	ipv4_at(14)->hdr_checksum ^= 1;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_IP_HEADER);
}

static void test_ipv4_fragment_is_dropped(void **state)
{
	struct udp_datagram d;
	struct rte_ipv4_hdr *ip;
	(void)state;
	build_ipv4(0, 5060);
	ip = ipv4_at(14);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_BAD_IP_HEADER);
}

static void test_lengths_beyond_the_frame_are_truncated(void **state)
{
	struct udp_datagram d;
	(void)state;
	for (uint16_t len = build_ipv4(0, 5060); len > 0; len--) {
		mbuf.data_len = (uint16_t)(len - 1);
		assert_int_not_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	}
	build_ipv4(0, 5060);
	((struct rte_udp_hdr *)(ipv4_at(14) + 1))->dgram_len = rte_cpu_to_be_16(4000);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_TRUNCATED);
}

static void test_arp_is_not_ip(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	((struct rte_ether_hdr *)frame())->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_NOT_IP);
}

static void test_tcp_is_not_udp(void **state)
{
	struct udp_datagram d;
	struct rte_ipv4_hdr *ip;
	(void)state;
	build_ipv4(0, 5060);
	ip = ipv4_at(14);
	ip->next_proto_id = IPPROTO_TCP;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_NOT_UDP);
}

static void test_chained_mbuf_is_not_read_past_first_segment(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	mbuf.nb_segs = 2;
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_TRUNCATED);
}

static void test_reply_goes_back_to_the_source_with_valid_checksums(void **state)
{
	struct udp_datagram d, r;
	static const char answer[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		if (v6)
			build_ipv6();
		else
			build_ipv4(0, 5060);
		assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
		memcpy(d.payload, answer, sizeof(answer) - 1);
		assert_int_equal(packet_make_reply(&mbuf, &d, sizeof(answer) - 1), 0);
		assert_int_equal(packet_decode_udp(&mbuf, &r), PACKET_OK);
		assert_int_equal(r.src_port, 5060);
		assert_int_equal(r.dst_port, 40000);
		assert_int_equal(r.payload_len, sizeof(answer) - 1);
		if (v6)
			assert_int_equal(r.dst.v6[15], 2);
		else
			assert_int_equal(r.dst.v4, rte_cpu_to_be_32(ipv4_addr(198, 18, 0, 2)));
		assert_memory_equal(((struct rte_ether_hdr *)frame())->dst_addr.addr_bytes,
				    client_mac, 6);
	}
}

static void test_reply_larger_than_the_buffer_is_refused(void **state)
{
	struct udp_datagram d;
	(void)state;
	build_ipv4(0, 5060);
	assert_int_equal(packet_decode_udp(&mbuf, &d), PACKET_OK);
	uint16_t cap = packet_reply_capacity(&mbuf, &d);
	assert_int_equal(packet_make_reply(&mbuf, &d, (uint16_t)(cap + 1)), -1);
	assert_int_equal(packet_make_reply(&mbuf, &d, cap), 0);
}

/* ipv4_header_checksum equals rte_ipv4_cksum for random headers of every
 * length (IHL 5 to 15), and gives 0 over a header carrying it. */
static void test_ipv4_header_checksum_matches_dpdk(void **state)
{
	static uint8_t buf[64] __attribute__((aligned(8)));
	struct rte_ipv4_hdr *ip = (void *)buf;
	uint32_t seed = 777;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		ip->version_ihl = (uint8_t)(0x40 | (5 + round % 11));
		ip->hdr_checksum = 0;
		uint16_t ours = ipv4_header_checksum(ip), ref = rte_ipv4_cksum(ip);
		if (ours != ref)
			fail_msg("IHL %d: ours %04x, DPDK %04x", 5 + round % 11, ours, ref);
		ip->hdr_checksum = ours;
		assert_int_equal(ipv4_header_checksum(ip), 0);
		ip->hdr_checksum ^= 0x0100;
		assert_int_not_equal(ipv4_header_checksum(ip), 0);
	}
}

/* Our checksum equals DPDK's reference for every datagram length up to
 * 1472 bytes (odd ones too), random contents, IPv4 and IPv6, and verifies
 * what it filled. */
static void test_udp_checksum_matches_dpdk_for_every_length(void **state)
{
	static uint8_t buf[2048] __attribute__((aligned(8)));
	struct rte_ipv4_hdr *v4 = (void *)buf;
	struct rte_ipv6_hdr *v6 = (void *)buf;
	uint32_t seed = 12345;

	(void)state;
	for (int version = 4; version <= 6; version += 2) {
		size_t l3 = version == 4 ? sizeof(*v4) : sizeof(*v6);
		/* Offset 1 too: datagrams need not start aligned. */
		for (size_t shift = 0; shift < 2; shift++) {
			for (uint16_t len = sizeof(struct rte_udp_hdr); len <= 1472; len++) {
				struct rte_udp_hdr *udp;
				uint16_t ours, ref;

				memset(buf, 0, sizeof(buf));
				for (size_t i = 0; i < l3 + shift + len; i++) {
					seed = seed * 1103515245u + 12345u;
					buf[i] = (uint8_t)(seed >> 16);
				}
				if (version == 4) {
					v4->version_ihl = RTE_IPV4_VHL_DEF;
					v4->next_proto_id = IPPROTO_UDP;
					v4->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*v4) + len));
				} else {
					v6->vtc_flow = rte_cpu_to_be_32(6u << 28);
					v6->proto = IPPROTO_UDP;
					v6->payload_len = rte_cpu_to_be_16(len);
				}
				/* DPDK reads the L4 header right after the IP header. */
				udp = (void *)(buf + l3);
				if (shift) {
					memmove(buf + l3 + shift, buf + l3, len);
					udp = (void *)(buf + l3 + shift);
				}
				udp->dgram_len = rte_cpu_to_be_16(len);
				udp_checksum_fill(buf, version, udp);
				ours = udp->dgram_cksum;
				udp->dgram_cksum = 0;
				ref = version == 4 ? rte_ipv4_udptcp_cksum(v4, udp)
						   : rte_ipv6_udptcp_cksum(v6, udp);
				if (ours != ref)
					fail_msg("IPv%d length %u shift %zu: ours %04x, DPDK %04x", version, len,
						 shift, ours, ref);
				udp->dgram_cksum = ours;
				assert_true(udp_checksum_ok(buf, version, udp));
				udp->dgram_cksum ^= 0x0100;
				assert_false(udp_checksum_ok(buf, version, udp));
			}
		}
	}
}

/* The AVX2 sum folds to the scalar one at every length, alignment and
 * with every byte 0xff (the most carries). */
static void test_wide_sum_equals_scalar_sum(void **state)
{
	static uint8_t buf[4200];

	(void)state;
	for (int fill = 0; fill < 2; fill++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = fill ? 0xff : (uint8_t)(i * 131 + 7);
		for (size_t shift = 0; shift < 3; shift++)
			for (size_t len = 0; len + shift <= 4096; len++)
				assert_int_equal(inet_fold(inet_sum_wide(buf + shift, len, 0xfffe)),
						 inet_fold(inet_sum(buf + shift, len, 0xfffe)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_udp_decodes_addresses_ports_and_payload),
		cmocka_unit_test(test_vlan_tagged_frame_decodes),
		cmocka_unit_test(test_ipv6_udp_decodes),
		cmocka_unit_test(test_wide_sum_equals_scalar_sum),
		cmocka_unit_test(test_bad_udp_checksum_is_dropped),
		cmocka_unit_test(test_nic_checksum_verdict_is_trusted_when_present),
		cmocka_unit_test(test_zero_udp_checksum_is_accepted_on_ipv4_only),
		cmocka_unit_test(test_bad_ipv4_header_checksum_is_dropped),
		cmocka_unit_test(test_ipv4_fragment_is_dropped),
		cmocka_unit_test(test_lengths_beyond_the_frame_are_truncated),
		cmocka_unit_test(test_arp_is_not_ip),
		cmocka_unit_test(test_tcp_is_not_udp),
		cmocka_unit_test(test_chained_mbuf_is_not_read_past_first_segment),
		cmocka_unit_test(test_reply_goes_back_to_the_source_with_valid_checksums),
		cmocka_unit_test(test_reply_larger_than_the_buffer_is_refused),
		cmocka_unit_test(test_udp_checksum_matches_dpdk_for_every_length),
		cmocka_unit_test(test_ipv4_header_checksum_matches_dpdk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
