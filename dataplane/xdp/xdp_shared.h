/* xdp_shared.h — layouts shared by the XDP program and user space.
 *
 * The single source of truth for every map the XDP program exposes: the
 * kernel side (sip_prefilter.bpf.c) and user space (dataplane, control)
 * both include this file. Bump XDP_SHARED_VERSION on any layout change.
 */
#ifndef SIPREG_XDP_SHARED_H
#define SIPREG_XDP_SHARED_H

#define XDP_SHARED_VERSION 1

/* Name the net_af_xdp PMD looks up to insert its sockets (DPDK 22.11,
 * drivers/net/af_xdp: "Failed to find xsks_map"). */
#define XDP_XSKS_MAP_NAME "xsks_map"
#define XDP_CONFIG_MAP_NAME "xdp_config"
#define XDP_COUNTERS_MAP_NAME "xdp_counters"

#define XDP_MAX_QUEUES 64
#define XDP_DEFAULT_SIP_PORT 5060

/* Value of the single-entry array map XDP_CONFIG_MAP_NAME. A zero port
 * means XDP_DEFAULT_SIP_PORT, so the program works before user space
 * writes the map. Ports are in host byte order. */
struct xdp_config {
	__u32 version;
	__u16 sip_port;
	__u16 reserved;
};

/* Index into the per-CPU array XDP_COUNTERS_MAP_NAME: one counter per
 * verdict, so every frame the program sees is counted exactly once. */
enum xdp_counter {
	XDP_COUNT_PASS_NOT_SIP,       /* ARP, ICMP, TCP, other UDP: to the kernel */
	XDP_COUNT_REDIRECT_SIP,       /* to the AF_XDP socket of the queue */
	XDP_COUNT_PASS_NO_SOCKET,     /* SIP but no socket on this queue yet */
	XDP_COUNT_MAX
};

#endif
