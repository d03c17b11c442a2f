/* rate_table.h — per-source token buckets in software, for ports without
 * the XDP prefilter (vfio-pci): the same rule as the XDP program's
 * rate_v4/rate_v6 maps ([rate] per_ip_pps and per_ip_burst), on the worker
 * that receives the source.
 *
 * One table per worker, written only by it. Fixed size, 4-way set
 * associative, evicting the least recently seen source of a set (a source
 * that comes back starts with a full bucket, as with the XDP LRU map).
 */
#ifndef SIPREG_RATE_TABLE_H
#define SIPREG_RATE_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "xdp_shared.h"

struct rate_table;

/* A table of at least `entries` sources. NULL when out of memory. */
struct rate_table *rate_table_create(uint32_t entries, int socket_id);
void rate_table_free(struct rate_table *t);

/* Takes one packet of addr (4 or 16 bytes) at now_ns from its bucket
 * refilled at rate_pps up to burst. Returns true when it may pass
 * (always when rate_pps is 0). */
bool rate_table_take(struct rate_table *t, const uint8_t *addr, uint8_t len, uint64_t now_ns,
		     uint32_t rate_pps, uint32_t burst);

/* A single bucket (a worker's share of the global cap) is a struct
 * xdp_bucket, taken with xdp_bucket_take (xdp_shared.h). */

#endif
