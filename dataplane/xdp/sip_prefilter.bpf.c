/* sip_prefilter.bpf.c — XDP program loaded by the net_af_xdp PMD.
 *
 * Only SIP (UDP to the configured port, IPv4 or IPv6, optionally one VLAN
 * tag) goes to the AF_XDP socket; everything else (ARP, ICMP, neighbour
 * discovery, SSH, ...) passes to the kernel so the host stays reachable.
 * SIP from blocked sources (manual blocks and lockouts, exact or CIDR,
 * IPv4 and IPv6) and over the per-source or global rate is dropped here,
 * before it costs the dataplane anything. Allowlisted sources (carrier
 * trunks) skip blocks and rates.
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

#define LPM_MAP(name, key_t, value_t)                     \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);      \
		__uint(max_entries, XDP_MAX_BLOCKS);      \
		__uint(map_flags, BPF_F_NO_PREALLOC);     \
		__type(key, key_t);                       \
		__type(value, value_t);                   \
	} name SEC(".maps")

LPM_MAP(block_v4, struct xdp_v4_key, struct xdp_block);
LPM_MAP(block_v6, struct xdp_v6_key, struct xdp_block);
LPM_MAP(allow_v4, struct xdp_v4_key, __u8);
LPM_MAP(allow_v6, struct xdp_v6_key, __u8);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDP_MAX_RATE_SOURCES);
	__type(key, __u32);
	__type(value, struct xdp_bucket);
} rate_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDP_MAX_RATE_SOURCES);
	__type(key, struct xdp_v6_key);
	__type(value, struct xdp_bucket);
} rate_v6 SEC(".maps");

/* The global cap: one bucket per CPU (no cross-CPU atomics). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_bucket);
} rate_global SEC(".maps");

static __always_inline int count(__u32 reason, int verdict)
{
	__u64 *c = bpf_map_lookup_elem(&xdp_counters, &reason);

	if (c)
		*c += 1;
	return verdict;
}

static __always_inline int rate_ok(void *map, void *key, __u64 now, __u32 rate, __u32 burst)
{
	struct xdp_bucket *b;

	if (!rate)
		return 1;
	b = bpf_map_lookup_elem(map, key);
	if (!b) {
		struct xdp_bucket fresh = { 0, 0 };

		xdp_bucket_take(&fresh, now, rate, burst);
		bpf_map_update_elem(map, key, &fresh, BPF_ANY);
		return burst > 0;
	}
	return xdp_bucket_take(b, now, rate, burst);
}

static __always_inline int blocked(struct xdp_block *b, __u64 now)
{
	return b && (b->expires_ns == 0 || b->expires_ns > now);
}

SEC("xdp")
int sip_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct xdp_config *cfg = bpf_map_lookup_elem(&xdp_config, &zero);
	__u16 sip_port = (cfg && cfg->sip_port) ? cfg->sip_port : XDP_DEFAULT_SIP_PORT;
	__u32 queue = ctx->rx_queue_index;    /* map keys must be on the stack */
	struct ethhdr *eth = data;
	struct udphdr *udp;
	void *l3;
	__u16 proto;
	struct xdp_v4_key k4 = { 32, { 0 } };
	struct xdp_v6_key k6 = { 128, { 0 } };
	int v6 = 0;

	if ((void *)(eth + 1) > data_end)
		return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
	proto = bpf_ntohs(eth->h_proto);
	l3 = eth + 1;
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
		proto = bpf_ntohs(vlan->encapsulated_proto);
		l3 = vlan + 1;
	}
	if (proto == ETH_P_IP) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & bpf_htons(0x1fff)) || ip->ihl < 5)
			return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
		udp = (void *)ip + ip->ihl * 4;
		__builtin_memcpy(k4.addr, &ip->saddr, 4);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP)
			return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
		udp = (void *)(ip6 + 1);
		__builtin_memcpy(k6.addr, &ip6->saddr, 16);
		v6 = 1;
	} else {
		return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
	}
	if ((void *)(udp + 1) > data_end || bpf_ntohs(udp->dest) != sip_port)
		return count(XDP_COUNT_PASS_NOT_SIP, XDP_PASS);
	if (!bpf_map_lookup_elem(&xsks_map, &queue))
		return count(XDP_COUNT_PASS_NO_SOCKET, XDP_PASS);

	if (v6 ? bpf_map_lookup_elem(&allow_v6, &k6) != NULL
	       : bpf_map_lookup_elem(&allow_v4, &k4) != NULL) {
		count(XDP_COUNT_REDIRECT_ALLOWED, XDP_PASS);
		return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
	}
	__u64 now = bpf_ktime_get_ns();
	if (blocked(v6 ? bpf_map_lookup_elem(&block_v6, &k6) : bpf_map_lookup_elem(&block_v4, &k4), now))
		return count(XDP_COUNT_DROP_BLOCKED, XDP_DROP);
	if (cfg) {
		int ok = v6 ? rate_ok(&rate_v6, &k6, now, cfg->per_ip_rate_pps, cfg->per_ip_burst)
			    : rate_ok(&rate_v4, &k4.addr, now, cfg->per_ip_rate_pps, cfg->per_ip_burst);
		if (!ok)
			return count(XDP_COUNT_DROP_RATE_IP, XDP_DROP);
		if (!rate_ok(&rate_global, &zero, now, cfg->global_rate_pps_per_cpu,
			     cfg->global_burst_per_cpu))
			return count(XDP_COUNT_DROP_RATE_GLOBAL, XDP_DROP);
	}
	count(XDP_COUNT_REDIRECT_SIP, XDP_PASS);
	return bpf_redirect_map(&xsks_map, queue, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
