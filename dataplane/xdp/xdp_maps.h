/* xdp_maps.h — user-space access to the maps of a running sip_prefilter.
 *
 * The net_af_xdp PMD loads and attaches the program; this finds it through
 * the interface it is attached to (bpf_xdp_query_id -> program info -> map
 * ids), which works inside `ip netns exec` where no bpffs is mounted
 * (DESIGN.md, "Facts measured"). Used by the dataplane (config, lockouts)
 * and by sipreg-control (blocklist, allowlist, counters); run it in the
 * network namespace of the interface.
 *
 * Thread rules: every function is a plain bpf() syscall on its own fds;
 * callers on different threads may share a struct xdp_maps. Never call
 * from a poll core.
 */
#ifndef SIPREG_XDP_MAPS_H
#define SIPREG_XDP_MAPS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xdp_shared.h"

struct xdp_maps {
	int config, counters, block_v4, block_v6, allow_v4, allow_v6;
	uint32_t prog_id;
};

/* An address block for the tries: family 4 or 6, prefix length, address
 * in network order. */
struct xdp_prefix {
	uint8_t family;
	uint8_t prefix_len;
	uint8_t addr[16];
};

/* Finds the maps of the program attached to ifname. Returns 0, or -1 with
 * a one-line reason in err (no such interface, no XDP program, not ours,
 * no permission). */
int xdp_maps_open(const char *ifname, struct xdp_maps *m, char *err, size_t err_len);

/* Closes the map fds; the program and maps stay as long as it is attached. */
void xdp_maps_close(struct xdp_maps *m);

/* Writes the config map. Returns 0 or a negative errno. */
int xdp_maps_set_config(const struct xdp_maps *m, const struct xdp_config *cfg);

/* Blocks p until expires_ns (CLOCK_MONOTONIC ns; 0 = until removed).
 * Returns 0 or a negative errno (-E2BIG: the trie is full). */
int xdp_maps_block(const struct xdp_maps *m, const struct xdp_prefix *p, uint64_t expires_ns,
		   enum xdp_block_reason reason);

/* Removes a block or allow entry. Returns 0, -ENOENT, or a negative errno. */
int xdp_maps_unblock(const struct xdp_maps *m, const struct xdp_prefix *p);
int xdp_maps_allow(const struct xdp_maps *m, const struct xdp_prefix *p);
int xdp_maps_disallow(const struct xdp_maps *m, const struct xdp_prefix *p);

/* Sums the per-CPU counters into out[XDP_COUNT_MAX]. Returns 0 or a
 * negative errno. */
int xdp_maps_counters(const struct xdp_maps *m, uint64_t out[XDP_COUNT_MAX]);

/* Detaches a sip_prefilter left on ifname by a dataplane that was killed
 * (kill -9 skips the PMD's cleanup, and the PMD refuses an interface that
 * already has a program). Any other program is left alone. Returns 1 when
 * one was detached, 0 when there was none of ours, -1 with a reason in err
 * (another program is attached, or the detach failed). */
int xdp_detach_stale(const char *ifname, char *err, size_t err_len);

/* Returns the name of counter c, or NULL when out of range. */
const char *xdp_counter_name(unsigned c);

#endif
