/* packet.h — decode Ethernet/VLAN/IPv4/IPv6/UDP frames and turn a request
 * frame into its reply in place.
 *
 * Works on single-segment mbufs (what every PMD we run gives for frames of
 * SIP size); a chained mbuf is reported as truncated rather than read past
 * its first segment.
 */
#ifndef SIPREG_PACKET_H
#define SIPREG_PACKET_H

#include <stdint.h>
#include <rte_mbuf.h>

enum packet_status {
	PACKET_OK,
	PACKET_NOT_IP,            /* ARP or any non-IP ethertype */
	PACKET_NOT_UDP,
	PACKET_TRUNCATED,         /* a header or length beyond the frame */
	PACKET_BAD_IP_HEADER,     /* version, IHL, fragment, IPv4 header sum */
	PACKET_BAD_CHECKSUM,      /* UDP checksum */
};

struct udp_datagram {
	uint8_t ip_version;       /* 4 or 6 */
	uint16_t l3_offset;       /* from frame start: after Ethernet and VLAN */
	uint16_t l4_offset;       /* UDP header */
	uint16_t src_port;        /* host order */
	uint16_t dst_port;
	union {
		uint32_t v4;          /* network order */
		uint8_t v6[16];
	} src, dst;
	uint8_t *payload;         /* into the mbuf */
	uint16_t payload_len;
};

/* Decodes frame m. Returns PACKET_OK and fills out, or the reason the frame
 * is not a well-formed UDP datagram (out is then undefined). Verifies the
 * IPv4 header checksum and the UDP checksum (IPv4 checksum 0 means none;
 * on IPv6 it is mandatory), trusting the NIC's RX_L4_CKSUM_GOOD/BAD flags
 * when it set them. Never reads beyond the first segment. */
enum packet_status packet_decode_udp(struct rte_mbuf *m, struct udp_datagram *out);

/* Rewrites m, decoded as d, into a reply to its sender: swaps MAC, IP
 * addresses and UDP ports, sets the payload length to payload_len (the
 * caller has already written the payload at d->payload), recomputes
 * lengths and checksums. Returns 0, or -1 when payload_len does not fit
 * in the mbuf's buffer (m is then unchanged). */
int packet_make_reply(struct rte_mbuf *m, const struct udp_datagram *d,
		      uint16_t payload_len);

/* Returns the payload capacity available to packet_make_reply for m. */
uint16_t packet_reply_capacity(const struct rte_mbuf *m, const struct udp_datagram *d);

/* The way back to a peer as one received frame showed it: our MAC and IP
 * (the frame's destination), the next hop's MAC (its source), the VLAN
 * tag. Requests we originate (NAT keepalives) reuse it, because a worker
 * has no ARP, ND or routing table of its own. Compare with memcmp. */
struct packet_path {
	uint8_t ip_version;        /* 4 or 6 */
	uint8_t has_vlan;
	uint16_t vlan_tci;         /* network order */
	uint16_t local_port;       /* host order */
	uint8_t local_mac[6];
	uint8_t peer_mac[6];
	uint8_t local_ip[16];      /* IPv4 in the first 4 bytes */
};

/* Fills out from frame m, decoded as d (never fails on a decoded frame). */
void packet_path_of(const struct rte_mbuf *m, const struct udp_datagram *d,
		    struct packet_path *out);

/* Bytes of Ethernet, VLAN, IP and UDP header packet_build_udp puts before
 * the payload: write the payload at rte_pktmbuf_mtod(m, char *) + this. */
uint16_t packet_path_header_len(const struct packet_path *p);

/* Turns the empty mbuf m, whose payload of payload_len bytes is already
 * written after packet_path_header_len(p) bytes, into a UDP datagram from
 * p's local address to peer_ip:peer_port (IPv4 in the first 4 bytes,
 * network order; port in host order), checksums included. Returns 0, or
 * -1 when the datagram does not fit m's buffer (m is then unchanged). */
int packet_build_udp(struct rte_mbuf *m, const struct packet_path *p, const uint8_t *peer_ip,
		     uint16_t peer_port, uint16_t payload_len);

#endif
