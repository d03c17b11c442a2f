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

#endif
