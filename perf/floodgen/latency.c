/*
 * latency.c — log-linear latency histogram (HdrHistogram's layout, cut down).
 *
 * Values below 64 us have their own bucket; above, each power of two is
 * split into 64 sub-buckets, so a quantile is exact to 1/64 (1.6 %). Fixed
 * size, no allocation, adding a value is a few instructions.
 */
#include "flood.h"

static unsigned bucket_of(uint64_t v)
{
	if (v < (1u << LAT_SUB_BITS))
		return (unsigned)v;
	/* v >> shift lands in [64, 128): 64 sub-buckets per power of two. */
	unsigned shift = 63u - (unsigned)__builtin_clzll(v) - LAT_SUB_BITS;
	unsigned idx = ((shift + 1) << LAT_SUB_BITS) + (unsigned)(v >> shift) - (1u << LAT_SUB_BITS);
	return idx < LAT_BUCKETS ? idx : LAT_BUCKETS - 1;
}

static uint64_t bucket_upper(unsigned idx)
{
	if (idx < (1u << LAT_SUB_BITS))
		return idx;
	unsigned shift = (idx >> LAT_SUB_BITS) - 1;
	uint64_t sub = (idx & ((1u << LAT_SUB_BITS) - 1)) + (1u << LAT_SUB_BITS);
	return ((sub + 1) << shift) - 1;
}

void latency_add(struct latency_hist *h, uint64_t us)
{
	h->buckets[bucket_of(us)]++;
	h->count++;
	h->sum_us += (double)us;
	if (us > h->max_us)
		h->max_us = us;
}

uint64_t latency_quantile(const struct latency_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > rank) {
			uint64_t up = bucket_upper(i);
			return up < h->max_us ? up : h->max_us;
		}
	}
	return h->max_us;
}
