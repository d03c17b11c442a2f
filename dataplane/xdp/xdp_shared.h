/* xdp_shared.h — layouts shared by the XDP program and user space.
 *
 * The single source of truth for every map the XDP program exposes: the
 * kernel side (sip_prefilter.bpf.c) and user space (dataplane, control)
 * both include this file. Bump XDP_SHARED_VERSION on any layout change.
 *
 * Times in maps are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns), the
 * clock user space reads with clock_gettime(CLOCK_MONOTONIC).
 */
#ifndef SIPREG_XDP_SHARED_H
#define SIPREG_XDP_SHARED_H

#define XDP_SHARED_VERSION 2

/* Name the net_af_xdp PMD looks up to insert its sockets (DPDK 22.11,
 * drivers/net/af_xdp: "Failed to find xsks_map"). */
#define XDP_XSKS_MAP_NAME "xsks_map"
#define XDP_CONFIG_MAP_NAME "xdp_config"
#define XDP_COUNTERS_MAP_NAME "xdp_counters"
#define XDP_BLOCK_V4_MAP_NAME "block_v4"
#define XDP_BLOCK_V6_MAP_NAME "block_v6"
#define XDP_ALLOW_V4_MAP_NAME "allow_v4"
#define XDP_ALLOW_V6_MAP_NAME "allow_v6"
#define XDP_RATE_V4_MAP_NAME "rate_v4"
#define XDP_RATE_V6_MAP_NAME "rate_v6"

#define XDP_MAX_QUEUES 64
#define XDP_DEFAULT_SIP_PORT 5060
#define XDP_MAX_BLOCKS 65536      /* entries per block/allow trie */
#define XDP_MAX_RATE_SOURCES 262144 /* LRU: the busiest sources keep buckets */

/* Value of the single-entry array map XDP_CONFIG_MAP_NAME. A zero port
 * means XDP_DEFAULT_SIP_PORT, so the program works before user space
 * writes the map; a zero rate means "no limit". Ports in host order. */
struct xdp_config {
	__u32 version;
	__u16 sip_port;
	__u16 reserved;
	__u32 per_ip_rate_pps;      /* token refill per source per second */
	__u32 per_ip_burst;         /* bucket depth */
	__u32 global_rate_pps_per_cpu; /* global cap divided by the receiving CPUs */
	__u32 global_burst_per_cpu;
};

/* LPM trie keys: prefixlen first, as BPF_MAP_TYPE_LPM_TRIE requires. */
struct xdp_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xdp_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

enum xdp_block_reason {
	XDP_BLOCK_MANUAL = 1,     /* operator block */
	XDP_BLOCK_LOCKOUT = 2,    /* too many failed authentications */
};

/* Value of the block tries. An expired entry no longer blocks (user space
 * deletes it); expires_ns 0 blocks until removed. */
struct xdp_block {
	__u64 expires_ns;
	__u32 reason;             /* enum xdp_block_reason */
	__u32 reserved;
};

/* Token bucket of one source (rate maps), tokens in 1/1000 packet. */
struct xdp_bucket {
	__u64 tokens_milli;
	__u64 last_ns;            /* 0: never used (starts full) */
};

/* Takes one packet from b at now_ns, refilled at rate_pps up to burst.
 * Returns 1 when the packet may pass (always when rate_pps is 0). One
 * definition for the XDP program and the workers' software path
 * (rate_table.h). Races between CPUs on one bucket only make the limit
 * slightly loose, never block legitimate traffic. */
static inline int xdp_bucket_take(struct xdp_bucket *b, __u64 now_ns, __u32 rate_pps, __u32 burst)
{
	__u64 cap = (__u64)burst * 1000;
	__u64 elapsed = now_ns - b->last_ns;
	__u64 tokens = b->tokens_milli;

	if (rate_pps == 0)
		return 1;
	/* rate_pps * elapsed_ns / 1e6 = tokens in 1/1000 packet. */
	if (b->last_ns == 0 || elapsed > 10000000000ULL)
		tokens = cap;
	else
		tokens += elapsed * rate_pps / 1000000;
	if (tokens > cap)
		tokens = cap;
	b->last_ns = now_ns;
	if (tokens < 1000) {
		b->tokens_milli = tokens;
		return 0;
	}
	b->tokens_milli = tokens - 1000;
	return 1;
}

/* Index into the per-CPU array XDP_COUNTERS_MAP_NAME: one counter per
 * verdict, so every frame the program sees is counted exactly once. */
enum xdp_counter {
	XDP_COUNT_PASS_NOT_SIP,       /* ARP, ICMP, TCP, other UDP: to the kernel */
	XDP_COUNT_REDIRECT_SIP,       /* to the AF_XDP socket of the queue */
	XDP_COUNT_PASS_NO_SOCKET,     /* SIP but no socket on this queue yet */
	XDP_COUNT_DROP_BLOCKED,       /* source in a block trie */
	XDP_COUNT_DROP_RATE_IP,       /* source over rate.per_ip */
	XDP_COUNT_DROP_RATE_GLOBAL,   /* all sources over the global cap */
	XDP_COUNT_REDIRECT_ALLOWED,   /* allowlisted source: no block, no rate */
	XDP_COUNT_MAX
};

#define XDP_COUNTER_NAMES { "pass_not_sip", "redirect_sip", "pass_no_socket", \
	"drop_blocked", "drop_rate_ip", "drop_rate_global", "redirect_allowlisted" }

#endif
