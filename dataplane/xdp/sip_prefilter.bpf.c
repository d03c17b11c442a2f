/* sip_prefilter.bpf.c — XDP program loaded by the net_af_xdp PMD.
 *
 * Only SIP (UDP to the configured port, IPv4 or IPv6, optionally one VLAN
 * tag) goes to the AF_XDP socket; everything else (ARP, ICMP, neighbour
 * discovery, SSH, ...) passes to the kernel so the host stays reachable and
 * answers ARP for the address the registrar serves.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_shared.h"

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_config);
} xdp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDP_COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xdp_counters SEC(".maps");

static __always_inline int count(__u32 reason, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&xdp_counters, &reason);

	if (c)
		*c += 1;
	return verdict;
}

/* Returns the UDP destination port in host order, or 0 when the frame is
 * not UDP over IPv4/IPv6 (or is too short to tell). */
static __always_inline __u16 udp_dest_port(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	void *l3;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return 0;
	proto = bpf_ntohs(eth->h_proto);
	l3 = eth + 1;
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return 0;
		proto = bpf_ntohs(vlan->encapsulated_proto);
		l3 = vlan + 1;
	}

	struct udphdr *udp;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
			return 0;
		/* Later fragments carry no UDP header. */
		if (ip->frag_off & bpf_htons(0x1fff))
			return 0;
		udp = (void *)ip + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP)
			return 0;
		udp = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if ((void *)(udp + 1) > data_end)
		return 0;
	return bpf_ntohs(udp->dest);
}

SEC("xdp")
int sip_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct xdp_config *cfg = bpf_map_lookup_elem(&xdp_config, &zero);
	__u16 sip_port = (cfg && cfg->sip_port) ? cfg->sip_port : XDP_DEFAULT_SIP_PORT;
	__u16 port = udp_dest_port(data, data_end);
	__u32 queue = ctx->rx_queue_index;    /* map keys must be on the stack */

	if (port == 0 || port != sip_port)
		return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
	if (!bpf_map_lookup_elem(&xsks_map, &queue))
		return count(XDP_COUNT_PASS_NO_SOCKET, XDP_PASS);
	count(XDP_COUNT_REDIRECT_SIP, XDP_PASS);
	return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
