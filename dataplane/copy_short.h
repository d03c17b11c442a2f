/* copy_short.h — memcpy for the short, varying-length pieces the packet
 * path assembles (response text, digest messages), inline.
 *
 * Not rte_memcpy: measured in its place on perf/bench-pipeline, DPDK's
 * inline copy cost 2.3 % more instructions (callgrind) and 8 % of the
 * throughput, as it inlines its alignment test and its long-copy loops at
 * every one of the ~50 appends of a response. */
#ifndef SIPREG_COPY_SHORT_H
#define SIPREG_COPY_SHORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies n (w..2w) bytes as the first and the last w; w is a constant
 * (4, 8, 16) at every call, so each memcpy is one load or store. Always
 * inlined: left to GCC it was not, each memcpy became a libc call, and
 * perf/bench-pipeline lost 12 %. */
static inline __attribute__((always_inline)) void
copy_short_ends(char *d, const char *s, size_t n, size_t w)
{
	char head[16], tail[16];

	memcpy(head, s, w);
	memcpy(tail, s + n - w, w);
	memcpy(d, head, w);
	memcpy(d + n - w, tail, w);
}

/* Copies n bytes with at most two overlapping loads and stores per size
 * class, inline: the appends are short and of varying length, and a libc
 * memcpy call for each cost ~460 instructions a response (callgrind,
 * perf/bench-pipeline). Longer copies still go to memcpy. */
static inline void copy_short(char *d, const char *s, size_t n)
{
	if (n > 32)
		memcpy(d, s, n);
	else if (n >= 16)
		copy_short_ends(d, s, n, 16);
	else if (n >= 8)
		copy_short_ends(d, s, n, 8);
	else if (n >= 4)
		copy_short_ends(d, s, n, 4);
	else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

/* The eight bytes of w with ASCII capitals made small and every other
 * byte (digits, punctuation, bytes >= 0x80) unchanged, without a branch
 * (a constant-time compare uses it): a byte is a capital when its low
 * seven bits are in 'A'..'Z' and its top bit is clear; adding to the low
 * seven bits cannot carry into the next byte. */
static inline uint64_t lower_ascii_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, top = 0x8080808080808080ULL;
	uint64_t low7 = w & ~top;
	uint64_t capital = ((low7 + (0x80 - 'A') * ones) ^ (low7 + (0x80 - 'Z' - 1) * ones)) & ~w & top;

	return w | (capital >> 2);
}

/* Copies n bytes from s to d (not overlapping) with ASCII capitals made
 * small, eight bytes a step (the last step overlapping the one before):
 * a host name lower-cased byte by byte was ~160 instructions a REGISTER
 * (callgrind, perf/bench-pipeline). */
static inline void copy_lower_ascii(char *d, const char *s, size_t n)
{
	uint64_t w;

	if (n < 8) {
		for (size_t i = 0; i < n; i++) {
			char c = s[i];
			d[i] = c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
		}
		return;
	}
	for (size_t i = 0; i + 8 < n; i += 8) {
		memcpy(&w, s + i, 8);
		w = lower_ascii_word(w);
		memcpy(d + i, &w, 8);
	}
	memcpy(&w, s + n - 8, 8);
	w = lower_ascii_word(w);
	memcpy(d + n - 8, &w, 8);
}

#endif
