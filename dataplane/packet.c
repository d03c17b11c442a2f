/* packet.c — L2-L4 decode and in-place reply for UDP datagrams. */
#include "packet.h"

#include <stdbool.h>
#include <string.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "inet_checksum.h"

#define IPV4_FRAGMENT_MASK (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)

static enum packet_status decode_udp_header(uint8_t *frame, uint32_t frame_len,
					    uint32_t l4_offset, uint32_t l4_len,
					    struct udp_datagram *out)
{
	const struct rte_udp_hdr *udp = (const void *)(frame + l4_offset);
	uint16_t udp_len;

	if (l4_len < sizeof(*udp) || l4_offset + l4_len > frame_len)
		return PACKET_TRUNCATED;
	udp_len = rte_be_to_cpu_16(udp->dgram_len);
	if (udp_len < sizeof(*udp) || udp_len > l4_len)
		return PACKET_TRUNCATED;
	out->l4_offset = (uint16_t)l4_offset;
	out->src_port = rte_be_to_cpu_16(udp->src_port);
	out->dst_port = rte_be_to_cpu_16(udp->dst_port);
	out->payload = frame + l4_offset + sizeof(*udp);
	out->payload_len = (uint16_t)(udp_len - sizeof(*udp));
	return PACKET_OK;
}

/* A NIC that verified the checksum says so in ol_flags; only frames it
 * did not look at (AF_XDP, af_packet, NICs without the offload) are summed
 * here (inet_checksum.h). */
static bool l4_checksum_ok(const struct rte_mbuf *m, const void *ip,
			   const struct rte_udp_hdr *udp, int version)
{
	uint64_t flags = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (flags == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return true;
	if (flags == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return false;
	return udp_checksum_ok(ip, version, udp);
}

static enum packet_status decode_ipv4(const struct rte_mbuf *m, uint8_t *frame, uint32_t frame_len,
				      struct udp_datagram *out)
{
	const struct rte_ipv4_hdr *ip = (const void *)(frame + out->l3_offset);
	uint32_t ihl, total_len;
	enum packet_status st;

	if (out->l3_offset + sizeof(*ip) > frame_len)
		return PACKET_TRUNCATED;
	ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip))
		return PACKET_BAD_IP_HEADER;
	total_len = rte_be_to_cpu_16(ip->total_length);
	if (total_len < ihl || out->l3_offset + total_len > frame_len)
		return PACKET_TRUNCATED;
	/* Summing a header that carries its correct checksum gives 0. */
	if (ipv4_header_checksum(ip) != 0)
		return PACKET_BAD_IP_HEADER;
	if (rte_be_to_cpu_16(ip->fragment_offset) & IPV4_FRAGMENT_MASK)
		return PACKET_BAD_IP_HEADER;
	if (ip->next_proto_id != IPPROTO_UDP)
		return PACKET_NOT_UDP;
	out->ip_version = 4;
	out->src.v4 = ip->src_addr;
	out->dst.v4 = ip->dst_addr;
	st = decode_udp_header(frame, frame_len, out->l3_offset + ihl, total_len - ihl, out);
	if (st != PACKET_OK)
		return st;
	const struct rte_udp_hdr *udp = (const void *)(frame + out->l4_offset);
	if (udp->dgram_cksum != 0 && !l4_checksum_ok(m, ip, udp, 4))
		return PACKET_BAD_CHECKSUM;
	return PACKET_OK;
}

static enum packet_status decode_ipv6(const struct rte_mbuf *m, uint8_t *frame, uint32_t frame_len,
				      struct udp_datagram *out)
{
	const struct rte_ipv6_hdr *ip = (const void *)(frame + out->l3_offset);
	uint32_t payload_len;
	enum packet_status st;

	if (out->l3_offset + sizeof(*ip) > frame_len)
		return PACKET_TRUNCATED;
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6)
		return PACKET_BAD_IP_HEADER;
	/* Extension headers (fragments, hop-by-hop) are not SIP over UDP as
	 * phones send it; they are counted as not UDP. */
	if (ip->proto != IPPROTO_UDP)
		return PACKET_NOT_UDP;
	payload_len = rte_be_to_cpu_16(ip->payload_len);
	if (out->l3_offset + sizeof(*ip) + payload_len > frame_len)
		return PACKET_TRUNCATED;
	out->ip_version = 6;
	memcpy(out->src.v6, ip->src_addr, 16);
	memcpy(out->dst.v6, ip->dst_addr, 16);
	st = decode_udp_header(frame, frame_len, out->l3_offset + sizeof(*ip), payload_len, out);
	if (st != PACKET_OK)
		return st;
	const struct rte_udp_hdr *udp = (const void *)(frame + out->l4_offset);
	if (udp->dgram_cksum == 0 || !l4_checksum_ok(m, ip, udp, 6))
		return PACKET_BAD_CHECKSUM;
	return PACKET_OK;
}

enum packet_status packet_decode_udp(struct rte_mbuf *m, struct udp_datagram *out)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t frame_len = rte_pktmbuf_data_len(m);
	const struct rte_ether_hdr *eth = (const void *)frame;
	uint16_t ether_type;

	if (m->nb_segs != 1 || frame_len < sizeof(*eth))
		return PACKET_TRUNCATED;
	ether_type = rte_be_to_cpu_16(eth->ether_type);
	out->l3_offset = sizeof(*eth);
	if (ether_type == RTE_ETHER_TYPE_VLAN || ether_type == RTE_ETHER_TYPE_QINQ) {
		const struct rte_vlan_hdr *vlan = (const void *)(frame + sizeof(*eth));

		if (frame_len < sizeof(*eth) + sizeof(*vlan))
			return PACKET_TRUNCATED;
		ether_type = rte_be_to_cpu_16(vlan->eth_proto);
		out->l3_offset += sizeof(*vlan);
	}
	if (ether_type == RTE_ETHER_TYPE_IPV4)
		return decode_ipv4(m, frame, frame_len, out);
	if (ether_type == RTE_ETHER_TYPE_IPV6)
		return decode_ipv6(m, frame, frame_len, out);
	return PACKET_NOT_IP;
}

uint16_t packet_reply_capacity(const struct rte_mbuf *m, const struct udp_datagram *d)
{
	uint32_t headers = d->l4_offset + sizeof(struct rte_udp_hdr);
	uint32_t room = m->buf_len - m->data_off;

	if (room <= headers)
		return 0;
	room -= headers;
	return room > UINT16_MAX ? UINT16_MAX : (uint16_t)room;
}

int packet_make_reply(struct rte_mbuf *m, const struct udp_datagram *d,
		      uint16_t payload_len)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (void *)frame;
	struct rte_udp_hdr *udp = (void *)(frame + d->l4_offset);
	struct rte_ether_addr mac;
	uint16_t port;

	if (payload_len > packet_reply_capacity(m, d))
		return -1;

	rte_ether_addr_copy(&eth->src_addr, &mac);
	rte_ether_addr_copy(&eth->dst_addr, &eth->src_addr);
	rte_ether_addr_copy(&mac, &eth->dst_addr);

	port = udp->src_port;
	udp->src_port = udp->dst_port;
	udp->dst_port = port;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + payload_len));
	udp->dgram_cksum = 0;

	m->data_len = (uint16_t)(d->l4_offset + sizeof(*udp) + payload_len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;

	if (d->ip_version == 4) {
		struct rte_ipv4_hdr *ip = (void *)(frame + d->l3_offset);
		uint32_t addr = ip->src_addr;
		uint16_t ihl = (uint16_t)((ip->version_ihl & 0x0f) * 4);

		ip->src_addr = ip->dst_addr;
		ip->dst_addr = addr;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(ihl + sizeof(*udp) + payload_len));
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = ipv4_header_checksum(ip);
		udp_checksum_fill(ip, 4, udp);
	} else {
		struct rte_ipv6_hdr *ip = (void *)(frame + d->l3_offset);
		uint8_t addr[16];

		memcpy(addr, ip->src_addr, 16);
		memcpy(ip->src_addr, ip->dst_addr, 16);
		memcpy(ip->dst_addr, addr, 16);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + payload_len));
		ip->hop_limits = 64;
		udp_checksum_fill(ip, 6, udp);
	}
	return 0;
}

void packet_path_of(const struct rte_mbuf *m, const struct udp_datagram *d,
		    struct packet_path *out)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eth = (const void *)frame;

	memset(out, 0, sizeof(*out));
	out->ip_version = d->ip_version;
	out->local_port = d->dst_port;
	memcpy(out->local_mac, &eth->dst_addr, 6);
	memcpy(out->peer_mac, &eth->src_addr, 6);
	if (d->l3_offset > sizeof(*eth)) {
		const struct rte_vlan_hdr *vlan = (const void *)(frame + sizeof(*eth));
		out->has_vlan = 1;
		out->vlan_tci = vlan->vlan_tci;
	}
	if (d->ip_version == 4)
		memcpy(out->local_ip, &d->dst.v4, 4);
	else
		memcpy(out->local_ip, d->dst.v6, 16);
}

uint16_t packet_path_header_len(const struct packet_path *p)
{
	return (uint16_t)(sizeof(struct rte_ether_hdr) + (p->has_vlan ? sizeof(struct rte_vlan_hdr) : 0) +
			  (p->ip_version == 4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr)) +
			  sizeof(struct rte_udp_hdr));
}

int packet_build_udp(struct rte_mbuf *m, const struct packet_path *p, const uint8_t *peer_ip,
		     uint16_t peer_port, uint16_t payload_len)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t headers = packet_path_header_len(p);
	uint16_t l3 = (uint16_t)(sizeof(struct rte_ether_hdr) + (p->has_vlan ? sizeof(struct rte_vlan_hdr) : 0));
	struct rte_ether_hdr *eth = (void *)frame;
	struct rte_udp_hdr *udp = (void *)(frame + headers - sizeof(struct rte_udp_hdr));

	if ((uint32_t)headers + payload_len > (uint32_t)(m->buf_len - m->data_off))
		return -1;
	memcpy(&eth->dst_addr, p->peer_mac, 6);
	memcpy(&eth->src_addr, p->local_mac, 6);
	if (p->has_vlan) {
		struct rte_vlan_hdr *vlan = (void *)(frame + sizeof(*eth));
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		vlan->vlan_tci = p->vlan_tci;
		vlan->eth_proto = rte_cpu_to_be_16(p->ip_version == 4 ? RTE_ETHER_TYPE_IPV4
									: RTE_ETHER_TYPE_IPV6);
	} else {
		eth->ether_type = rte_cpu_to_be_16(p->ip_version == 4 ? RTE_ETHER_TYPE_IPV4
								     : RTE_ETHER_TYPE_IPV6);
	}
	udp->src_port = rte_cpu_to_be_16(p->local_port);
	udp->dst_port = rte_cpu_to_be_16(peer_port);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + payload_len));
	udp->dgram_cksum = 0;
	if (p->ip_version == 4) {
		struct rte_ipv4_hdr *ip = (void *)(frame + l3);
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + payload_len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		memcpy(&ip->src_addr, p->local_ip, 4);
		memcpy(&ip->dst_addr, peer_ip, 4);
		ip->hdr_checksum = ipv4_header_checksum(ip);
		udp_checksum_fill(ip, 4, udp);
	} else {
		struct rte_ipv6_hdr *ip = (void *)(frame + l3);
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + payload_len));
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, p->local_ip, 16);
		memcpy(ip->dst_addr, peer_ip, 16);
		udp_checksum_fill(ip, 6, udp);
	}
	m->data_len = (uint16_t)(headers + payload_len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
	return 0;
}
